// The status line (role=status, polite) and the error alert (role=alert), from controller events.
import { h, touchFirst } from './dom.js';
import { plural, textCounts, imageVerdict, scanVerdict } from './wording.js';
import { textAvailable } from './query.js';

function took(result) {
  const t = result.timings || {};
  const ms = Number.isFinite(t.total) ? t.total : t.search;
  return Number.isFinite(ms) ? ` in ${ms < 10 ? ms.toFixed(1) : Math.round(ms).toLocaleString('en-US')} ms` : '';
}

export class StatusLine {
  constructor(controller) {
    this.status = h('p', { class: 'status', part: 'status', role: 'status', 'aria-live': 'polite' });
    this.error = h('div', { class: 'error', part: 'error', role: 'alert', hidden: true });
    const on = (type, fn) => controller.addEventListener(type, (e) => fn(e.detail || {}));
    on('load', () => { this.showError(''); this.set('Loading bundle…'); });
    let example = '';  // a text query made of the bundle's traits ('' if it has none)
    on('load', () => { example = ''; });
    on('ready', ({ info, collections, searching, traits, example: e = '' }) => {
      example = e;
      const n = Number(info.tokens) || 0;
      const image = touchFirst() ? 'Choose or take a photo' : 'Drop, paste or choose an image';
      const next = searching ? 'Searching…' : !textAvailable(info) ? `${image}.` : `${image}, or search by ${traits ? 'traits' : 'name'}.`;
      this.set(`Ready: ${n.toLocaleString('en-US')} tokens${collections.length > 1 ? ` in ${collections.length} collections` : ''}. ${next}`);
    });
    on('loaderror', () => this.set('Bundle not loaded.'));
    on('search', () => { this.showError(''); this.set('Searching…'); });
    // Screen readers hear the answer itself, then the time ("This is Noun 12, 97% sure. Identified in 721 ms.").
    on('results', ({ kind, result, k, chips = [], scan = null }) => {
      if (scan) {
        const secs = (Number(scan.ms) / 1000).toFixed(1);
        this.set(`${scanVerdict(result, scan).spoken} ${scan.bestGuess ? 'Scanned' : 'Identified'} from the camera in ${secs} s (${plural(Number(scan.frames) || 0, 'frame')}). The camera is off.`);
      } else if (kind === 'text') {
        const { shown, total } = textCounts(result, k);
        if (total === null) this.set(`${plural(shown, 'token')} shown${took(result)}.`);
        else this.set(`Found ${plural(total, 'token')}${total > shown ? `, showing ${shown.toLocaleString('en-US')},` : ''}${took(result)}.`);
      } else this.set(`${imageVerdict(result, chips.length > 0).spoken} ${result.match ? 'Identified' : 'Searched'}${took(result)}.`);
    });
    on('searchfailed', () => this.set('Search failed.'));
    on('cleared', () => this.set('Filters cleared. Type words or choose a trait to search.'));
    on('needquery', () => this.set(example ? `Type a word or a trait to search, e.g. ${example}.` : 'Type a word to search, e.g. from a token’s name.'));
    on('error', ({ message, detail }) => this.showError(message, detail));
    // The camera scan's states, announced (its answer is announced by 'results' above).
    on('scan', ({ state, reason }) => {
      if (state === 'start') { this.showError(''); this.set('Starting the camera…'); }
      else if (state === 'live') this.set('Camera on. Scanning: hold the NFT steady in front of the camera.');
      else if (state === 'pause') this.set('Scan paused while the page is hidden.');
      else if (state === 'resume') this.set('Scanning again.');
      else if (state === 'stop' && (reason === 'stopped' || reason === 'error' || reason === 'nopicture')) {
        this.set(reason === 'stopped' ? 'Scan stopped. The camera is off.' : 'Scan ended. The camera is off.');
      }
    });
  }

  set(text) { this.status.textContent = text; }

  /** Show a message ('' hides the box); detail (technical text) goes in a closed disclosure. */
  showError(message, detail = '') {
    this.error.replaceChildren(h('span', { text: message }));
    if (message && detail && detail !== message) {
      this.error.append(h('details', { class: 'error-detail' }, h('summary', { text: 'Technical details' }), h('code', { text: detail })));
    }
    this.error.hidden = !message;
  }
}
