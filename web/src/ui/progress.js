// The download line: a progress bar with words while the bundle loads and while the first image
// search downloads the image model (the runtime and the model, fetched side by side and shown as
// one bar). role="progressbar" with aria-valuenow (left out when the total is unknown).
import { h } from './dom.js';

const LABEL = { bundle: 'Loading the bundle', runtime: 'Downloading the image model', model: 'Downloading the image model' };
const mb = (n) => (n / 1e6).toFixed(1);

export class ProgressLine {
  #phases = new Map();  // phase -> its last report; kept until every phase shown is done

  constructor(controller) {
    this.fill = h('div', { class: 'progress-fill' });
    this.bar = h('div', { class: 'progress-bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, this.fill);
    this.text = h('span', { class: 'progress-text' });
    this.el = h('div', { class: 'progress', part: 'progress', hidden: true }, this.bar, this.text);
    controller.addEventListener('load', () => this.#reset());
    controller.addEventListener('progress', (e) => this.#update(e.detail || {}));
  }

  #reset() {
    this.#phases.clear();
    this.el.hidden = true;
    this.text.textContent = '';
  }

  #update(p) {
    if (!LABEL[p.phase]) return;
    this.#phases.set(p.phase, p);
    const all = [...this.#phases.values()];
    if (all.every((x) => x.done)) { this.#reset(); return; }
    const label = LABEL[all.find((x) => !x.done).phase];
    const loaded = all.reduce((a, x) => a + (Number(x.loaded) || 0), 0);
    const known = all.every((x) => Number(x.total) > 0);
    const total = known ? all.reduce((a, x) => a + Number(x.total), 0) : 0;
    const words = known ? `${label}: ${mb(loaded)} of ${mb(total)} MB` : `${label}: ${mb(loaded)} MB`;
    this.text.textContent = `${words}…`;
    this.bar.setAttribute('aria-label', label);
    this.bar.setAttribute('aria-valuetext', words);
    if (known) {
      const pct = Math.min(100, Math.round((loaded / total) * 100));
      this.bar.setAttribute('aria-valuenow', String(pct));
      this.fill.style.width = `${pct}%`;
      this.bar.classList.remove('indeterminate');
    } else {
      this.bar.removeAttribute('aria-valuenow');
      this.bar.classList.add('indeterminate');
    }
    this.el.hidden = false;
  }
}
