// <nft-lens bundle="/bundle/" k="8"></nft-lens>: a drop-in widget that identifies an NFT image in
// the browser. One script tag + one element:
//   <script type="module" src="/nft-lens/src/nft-lens-element.js"></script>
//   <nft-lens bundle="/bundle/"></nft-lens>
// The image is decoded, embedded and searched in a Web Worker; it is never uploaded.
//
// Security: every string shown here (token names, descriptions, trait values, collection names,
// links) comes from the bundle, i.e. from whoever built it. It is rendered with textContent only;
// links are set only when they parse as http(s) URLs; image URLs only when http(s)/blob.
//
// Attributes: bundle (URL of the bundle folder; changing it reloads), k (results shown, default 8).
// Events (bubbling, composed): nftlens-ready {detail: info}, nftlens-results {detail: result},
//   nftlens-error {detail: {message}}.
// API: element.lens (NftLens | null), element.ready (Promise<NftLens>), element.search(input),
//   element.lastResult.
// Styling: --nft-lens-accent, --nft-lens-bg, --nft-lens-fg, --nft-lens-radius, --nft-lens-font,
//   --nft-lens-card-bg, and ::part(dropzone | preview | controls | url | filter | status | error |
//   heading | results | card | thumb | name | collection | token | score | rarity | link | traits).
import { NftLens } from './index.js';

const TAG = 'nft-lens';
const DEFAULT_K = 8;
const MAX_K = 100;
const MAX_FILE_BYTES = 64 * 1024 * 1024;

const CSS = `
:host {
  --_accent: var(--nft-lens-accent, #5b4cdb);
  --_bg: var(--nft-lens-bg, #ffffff);
  --_fg: var(--nft-lens-fg, #1d1d26);
  --_card: var(--nft-lens-card-bg, #f5f5f9);
  --_radius: var(--nft-lens-radius, 12px);
  --_muted: color-mix(in srgb, var(--_fg) 62%, var(--_bg));
  --_line: color-mix(in srgb, var(--_fg) 16%, var(--_bg));
  display: block;
  box-sizing: border-box;
  color: var(--_fg);
  background: var(--_bg);
  font: 15px/1.45 var(--nft-lens-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  border-radius: var(--_radius);
  padding: 16px;
  container-type: inline-size;
}
@media (prefers-color-scheme: dark) {
  :host {
    --_bg: var(--nft-lens-bg, #17171f);
    --_fg: var(--nft-lens-fg, #ececf4);
    --_card: var(--nft-lens-card-bg, #22222d);
    --_accent: var(--nft-lens-accent, #8f84ff);
  }
}
:host([hidden]) { display: none; }
*, *::before, *::after { box-sizing: inherit; }
[hidden] { display: none !important; }
:focus-visible { outline: 3px solid var(--_accent); outline-offset: 2px; }

.drop {
  display: flex; align-items: center; gap: 16px;
  min-height: 120px; padding: 16px 20px;
  border: 2px dashed color-mix(in srgb, var(--_accent) 55%, var(--_bg));
  border-radius: var(--_radius);
  background: color-mix(in srgb, var(--_accent) 5%, var(--_bg));
  cursor: pointer; user-select: none;
  transition: background .15s, border-color .15s;
}
.drop:hover, .drop.over { background: color-mix(in srgb, var(--_accent) 12%, var(--_bg)); border-color: var(--_accent); }
.drop:focus-visible { outline: 3px solid var(--_accent); outline-offset: 3px; border-style: solid; }
.drop.busy { cursor: progress; }
.preview {
  width: 88px; height: 88px; flex: none; object-fit: contain;
  border-radius: calc(var(--_radius) * .6); background: var(--_card);
  border: 1px solid var(--_line);
}
.drop-text { display: flex; flex-direction: column; gap: 4px; min-width: 0; }
.drop-text strong { font-size: 1.05em; }
.drop-text .hint { color: var(--_muted); font-size: .9em; }
.pill {
  align-self: flex-start; margin-top: 4px; padding: 5px 12px;
  border-radius: 999px; background: var(--_accent); color: #fff; font-weight: 600; font-size: .9em;
}

.controls { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 12px; align-items: center; }
.url { display: flex; flex: 1 1 260px; gap: 8px; min-width: 0; }
input[type=url], select {
  flex: 1 1 auto; min-width: 0; font: inherit; color: inherit;
  background: var(--_bg); border: 1px solid var(--_line); border-radius: calc(var(--_radius) * .6);
  padding: 7px 10px;
}
select { flex: 0 1 auto; max-width: 100%; }
button {
  font: inherit; font-weight: 600; cursor: pointer; color: var(--_accent);
  background: transparent; border: 1px solid var(--_accent); border-radius: calc(var(--_radius) * .6);
  padding: 7px 14px;
}
button:hover { background: color-mix(in srgb, var(--_accent) 10%, var(--_bg)); }
.camera { display: none; }
@media (pointer: coarse) { .camera { display: inline-block; } }
.visually-hidden {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}

.status { margin: 12px 0 0; color: var(--_muted); font-size: .9em; min-height: 1.45em; }
.error {
  margin: 12px 0 0; padding: 10px 12px; border-radius: calc(var(--_radius) * .6);
  background: color-mix(in srgb, #d92d20 12%, var(--_bg)); color: color-mix(in srgb, #d92d20 75%, var(--_fg));
  border: 1px solid color-mix(in srgb, #d92d20 45%, var(--_bg)); overflow-wrap: anywhere;
}
.heading { margin: 16px 0 8px; font-size: 1.1em; overflow-wrap: anywhere; }
.heading.match { color: var(--_accent); }

.results {
  list-style: none; margin: 0; padding: 0;
  display: grid; gap: 12px; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
}
.card {
  display: flex; flex-direction: column; background: var(--_card);
  border-radius: var(--_radius); overflow: hidden; border: 1px solid var(--_line); min-width: 0;
}
.card.top { border-color: var(--_accent); box-shadow: 0 0 0 1px var(--_accent); }
.thumb-box { aspect-ratio: 1; background: color-mix(in srgb, var(--_fg) 6%, var(--_bg)); display: grid; place-items: center; }
.thumb { width: 100%; height: 100%; object-fit: contain; display: block; image-rendering: var(--nft-lens-thumb-rendering, auto); }
.thumb-missing { color: var(--_muted); font-size: .85em; }
.body { padding: 10px 12px 12px; display: flex; flex-direction: column; gap: 2px; min-width: 0; }
.name { font-weight: 700; overflow-wrap: anywhere; }
.meta { color: var(--_muted); font-size: .85em; overflow-wrap: anywhere; }
.score-row { display: flex; align-items: center; gap: 8px; margin-top: 6px; font-size: .85em; }
.bar { flex: 1; height: 6px; border-radius: 3px; background: var(--_line); overflow: hidden; }
.bar > span { display: block; height: 100%; background: var(--_accent); }
.score { font-weight: 700; font-variant-numeric: tabular-nums; }
.link { margin-top: 6px; color: var(--_accent); font-size: .85em; font-weight: 600; overflow-wrap: anywhere; }
details { margin-top: 6px; font-size: .85em; }
summary { cursor: pointer; color: var(--_muted); }
dl { margin: 4px 0 0; display: grid; grid-template-columns: auto 1fr; gap: 1px 8px; }
dt { color: var(--_muted); }
dd { margin: 0; overflow-wrap: anywhere; }
@container (max-width: 420px) {
  .results { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .drop { min-height: 96px; }
  .preview { width: 64px; height: 64px; }
}
`;

let sheet = null;
function styleSheet() {
  if (sheet === null) {
    try { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); } catch { sheet = false; }
  }
  return sheet || null;
}

/** Create an element with properties (never innerHTML). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'part') el.setAttribute('part', v);
    else if (k === 'class') el.className = v;
    else if (k.startsWith('aria-') || k === 'role') el.setAttribute(k, String(v));
    else el[k] = v;
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

/** An http(s) URL string or '' (for links and remote images from the bundle: attacker-controlled). */
export function safeHttpUrl(value) {
  if (typeof value !== 'string' || !/^https?:\/\//i.test(value)) return '';
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : '';
  } catch { return ''; }
}

function isEditable(node) {
  if (!node || node.nodeType !== 1) return false;
  if (node.isContentEditable) return true;
  const tag = node.tagName;
  return tag === 'TEXTAREA' || tag === 'SELECT' || (tag === 'INPUT' && !/^(button|checkbox|radio|file|submit|reset|image|range|color)$/i.test(node.type));
}

const str = (v) => (v === undefined || v === null ? '' : String(v));

export class NftLensElement extends HTMLElement {
  static get observedAttributes() { return ['bundle', 'k']; }

  #root; #ui = {};
  #lens = null;           // NftLens once loaded
  #ready = null;          // Promise<NftLens> for the current bundle
  #generation = 0;        // bumps on every (re)load, so stale loads are dropped
  #loadedBundle = null;   // bundle attribute value of the current load
  #searchSeq = 0;         // bumps on every search, so only the newest renders
  #queue = Promise.resolve();  // searches run one at a time (the worker holds one query)
  #lastInput = null;      // re-run when the collection filter changes
  #previewUrl = '';
  #hover = false;
  #lastResult = null;
  #loadFailed = false;     // a failed load is retried by the next search
  #disconnectTimer = 0;
  #onDocPaste = (e) => this.#handlePaste(e);

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open', delegatesFocus: false });
    const s = styleSheet();
    if (s && 'adoptedStyleSheets' in this.#root) this.#root.adoptedStyleSheets = [s];
    else this.#root.append(h('style', { text: CSS }));
    this.#build();
  }

  // ---- public API ---------------------------------------------------------------------------

  /** The NftLens handle once the bundle is loaded, else null. */
  get lens() { return this.#lens; }
  /** Resolves with the NftLens once the current bundle is loaded (rejects on a bad bundle). */
  get ready() {
    if (!this.#ready) this.#load();
    return this.#ready;
  }
  /** The last search result shown, or null. */
  get lastResult() { return this.#lastResult; }

  get k() {
    const n = parseInt(this.getAttribute('k'), 10);
    return Number.isFinite(n) && n > 0 ? Math.min(n, MAX_K) : DEFAULT_K;
  }
  set k(v) { this.setAttribute('k', String(v)); }
  get bundle() { return this.getAttribute('bundle') || ''; }
  set bundle(v) { this.setAttribute('bundle', String(v)); }

  /**
   * Identify an image: File | Blob | ArrayBuffer | ImageBitmap | image URL string.
   * Shows the results and resolves with them (or with null when a newer search replaced this one
   * before it started); on failure shows the error, fires nftlens-error and rejects.
   */
  search(input) {
    return this.#search(input);
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  connectedCallback() {
    clearTimeout(this.#disconnectTimer);
    document.addEventListener('paste', this.#onDocPaste);
    if (!this.#ready || this.#loadedBundle !== this.bundle) this.#load();
  }

  disconnectedCallback() {
    document.removeEventListener('paste', this.#onDocPaste);
    // Moving the element (disconnect + connect in one task) must not reload the bundle.
    this.#disconnectTimer = setTimeout(() => {
      if (this.isConnected) return;
      this.#unload();
      this.#setPreview(null);
    }, 0);
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (name === 'bundle' && oldValue !== newValue && this.isConnected && this.#ready) this.#load();
  }

  // ---- loading ------------------------------------------------------------------------------

  #unload() {
    this.#generation++;
    if (this.#lens) { try { this.#lens.close(); } catch { /* already closed */ } }
    this.#lens = null;
    this.#ready = null;
    this.#loadedBundle = null;
  }

  #load() {
    this.#unload();
    this.#loadFailed = false;
    const gen = this.#generation;
    const bundle = this.bundle;
    this.#loadedBundle = bundle;
    this.#clearResults();
    this.#showError('');
    this.#fillFilter([]);
    this.#setStatus('Loading bundle…');
    this.#ui.drop.classList.add('busy');
    this.#ready = (async () => {
      if (!bundle) throw new Error('no bundle: set the bundle attribute, e.g. <nft-lens bundle="/bundle/">');
      const lens = await NftLens.open(bundle);
      if (gen !== this.#generation) { lens.close(); throw new Error('bundle changed while loading'); }
      return lens;
    })();
    this.#ready.then((lens) => {
      if (gen !== this.#generation) return;
      this.#lens = lens;
      const searching = this.hasAttribute('aria-busy');
      if (!searching) this.#ui.drop.classList.remove('busy');
      const info = lens.info();
      const cols = lens.collections() || [];
      this.#fillFilter(cols);
      const n = Number(info.tokens) || 0;
      this.#setStatus(`Ready: ${n.toLocaleString('en-US')} tokens${cols.length > 1 ? ` in ${cols.length} collections` : ''}. ${searching ? 'Searching…' : 'Drop, paste or choose an image.'}`);
      this.#emit('nftlens-ready', info);
    }, (err) => {
      if (gen !== this.#generation) return;
      this.#loadFailed = true;
      this.#ui.drop.classList.remove('busy');
      this.#setStatus('Bundle not loaded.');
      this.#fail(`Could not load the NFT bundle: ${messageOf(err)}`);
    });
    // Callers of .ready handle rejections themselves; don't report an unhandled one here.
    this.#ready.catch(() => {});
  }

  // ---- search -------------------------------------------------------------------------------

  #search(input, { remember = true } = {}) {
    try {
      this.#checkInput(input);
    } catch (err) {
      this.#fail(messageOf(err));
      return Promise.reject(err);
    }
    const seq = ++this.#searchSeq;
    if (remember) {
      // An ImageBitmap is transferred to the worker, so it cannot be searched again.
      this.#lastInput = typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap ? null : input;
      this.#setPreview(input);
    }
    if (!this.#ready || this.#loadFailed) this.#load();
    this.#showError('');
    this.#setStatus('Searching…');
    this.#ui.drop.classList.add('busy');
    this.setAttribute('aria-busy', 'true');
    const gen = this.#generation;
    const run = async () => {
      const lens = await this.#ready.catch((err) => {
        const e = new Error(`Could not load the NFT bundle: ${messageOf(err)}`);
        e.reported = true;  // the load handler already showed it and fired nftlens-error
        throw e;
      });
      if (seq !== this.#searchSeq || gen !== this.#generation) return null;  // superseded before it ran
      const collections = this.#ui.filter.value ? [this.#ui.filter.value] : [];
      if (typeof input !== 'string') return lens.searchImage(input, { k: this.k, collections });
      // The worker fetches URLs; resolve relative ones against the page, not the worker script.
      const url = new URL(input.trim(), document.baseURI).href;
      return lens.searchImage(url, { k: this.k, collections }).catch((err) => {
        if (/failed to fetch|networkerror|load failed/i.test(messageOf(err))) {
          throw new Error(`could not download ${url}: the site may not allow it (CORS), or this page's Content-Security-Policy (connect-src) blocks it. Save the image and drop the file instead.`);
        }
        throw err;
      });
    };
    const job = this.#queue.then(run);
    this.#queue = job.catch(() => {});
    return job.then((result) => {
      if (seq !== this.#searchSeq || gen !== this.#generation) return result;  // a newer search owns the UI
      this.#searchDone();
      if (!result) return result;
      this.#lastResult = result;
      this.#render(result);
      const ms = result.timings && Number.isFinite(result.timings.total) ? Math.round(result.timings.total) : null;
      this.#setStatus(ms === null ? 'Done.' : `${result.match ? 'Identified' : 'Searched'} in ${ms.toLocaleString('en-US')} ms.`);
      this.#emit('nftlens-results', result);
      return result;
    }, (err) => {
      if (seq === this.#searchSeq && gen === this.#generation) {
        this.#searchDone();
        if (err && err.reported) return Promise.reject(err);
        this.#setStatus('Search failed.');
        this.#fail(messageOf(err));
      }
      throw err;
    });
  }

  #searchDone() {
    this.#ui.drop.classList.remove('busy');
    this.removeAttribute('aria-busy');
  }

  #checkInput(input) {
    if (typeof input === 'string') {
      if (!input.trim()) throw new Error('enter an image URL');
      let u;
      try { u = new URL(input.trim(), document.baseURI); } catch { throw new Error('that is not a valid URL'); }
      if (u.protocol !== 'https:' && u.protocol !== 'http:' && u.protocol !== 'blob:' && u.protocol !== 'data:') throw new Error('image URLs must start with https://');
      return;
    }
    if (typeof Blob !== 'undefined' && input instanceof Blob) {
      if (input.size === 0) throw new Error('the image file is empty');
      if (input.size > MAX_FILE_BYTES) throw new Error(`the file is ${(input.size / 1048576).toFixed(0)} MB, over the 64 MB limit`);
      if (input.type && !/^image\//i.test(input.type)) throw new Error(`that file is not an image (${input.type})`);
      return;
    }
    if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) return;
    if (typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap) return;
    throw new Error('search() needs a File, Blob, ArrayBuffer, ImageBitmap or image URL');
  }

  #runFromUi(input) {
    this.#search(input).catch(() => { /* shown in the alert and the nftlens-error event */ });
  }

  // ---- UI -----------------------------------------------------------------------------------

  #build() {
    const ui = this.#ui;
    ui.file = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', tabIndex: -1, part: 'file-input', 'aria-hidden': 'true' });
    ui.camera = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', tabIndex: -1, 'aria-hidden': 'true' });
    ui.camera.setAttribute('capture', 'environment');
    ui.preview = h('img', { class: 'preview', part: 'preview', alt: 'Your image', hidden: true, decoding: 'async', referrerPolicy: 'no-referrer' });
    ui.preview.addEventListener('error', () => { ui.preview.hidden = true; });
    ui.dropTitle = h('strong', { text: 'Drop an NFT image here' });
    ui.drop = h('div', { class: 'drop', part: 'dropzone', role: 'button', tabIndex: 0,
      'aria-label': 'Choose an image to identify. You can also drop or paste an image here.' },
    ui.preview,
    h('div', { class: 'drop-text' },
      ui.dropTitle,
      h('span', { class: 'hint', text: 'or paste it (Ctrl/⌘+V), or' }),
      h('span', { class: 'pill', 'aria-hidden': 'true', text: 'Choose image' })));

    ui.cameraBtn = h('button', { type: 'button', class: 'camera', part: 'camera', text: 'Take photo' });
    ui.url = h('input', { type: 'url', placeholder: 'or an image URL (https://…)', autocomplete: 'off', spellcheck: false,
      'aria-label': 'Image URL', inputMode: 'url' });
    ui.urlBtn = h('button', { type: 'submit', text: 'Identify' });
    ui.urlForm = h('form', { class: 'url', part: 'url', role: 'search', 'aria-label': 'Identify an image by URL' }, ui.url, ui.urlBtn);
    ui.filterLabel = h('label', { class: 'visually-hidden', text: 'Collection' });
    ui.filter = h('select', { part: 'filter', id: 'filter' });
    ui.filterLabel.htmlFor = 'filter';
    ui.filterWrap = h('span', { hidden: true }, ui.filterLabel, ui.filter);
    ui.controls = h('div', { class: 'controls', part: 'controls' }, ui.cameraBtn, ui.urlForm, ui.filterWrap);

    ui.status = h('p', { class: 'status', part: 'status', role: 'status', 'aria-live': 'polite' });
    ui.error = h('div', { class: 'error', part: 'error', role: 'alert', hidden: true });
    ui.heading = h('h2', { class: 'heading', part: 'heading', hidden: true, id: 'heading' });
    ui.results = h('ol', { class: 'results', part: 'results', 'aria-labelledby': 'heading' });

    this.#root.append(ui.file, ui.camera, ui.drop, ui.controls, ui.status, ui.error, ui.heading, ui.results);

    // picking
    const pick = () => ui.file.click();
    ui.drop.addEventListener('click', pick);
    ui.drop.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ' || e.key === 'Spacebar') { e.preventDefault(); pick(); }
    });
    ui.cameraBtn.addEventListener('click', () => ui.camera.click());
    for (const input of [ui.file, ui.camera]) {
      input.addEventListener('change', () => {
        const f = input.files && input.files[0];
        input.value = '';  // choosing the same file again still fires change
        if (f) this.#runFromUi(f);
      });
    }
    ui.urlForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = ui.url.value.trim();
      this.#runFromUi(v);
    });
    ui.filter.addEventListener('change', () => {
      if (this.#lastInput) this.#search(this.#lastInput, { remember: false }).catch(() => {});
    });

    // drag & drop anywhere on the element
    let depth = 0;
    const over = (on) => { ui.drop.classList.toggle('over', on); ui.dropTitle.textContent = on ? 'Drop to identify' : 'Drop an NFT image here'; };
    this.addEventListener('dragenter', (e) => { if (hasDropData(e)) { e.preventDefault(); depth++; over(true); } });
    this.addEventListener('dragover', (e) => { if (hasDropData(e)) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; } });
    this.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) over(false); });
    this.addEventListener('drop', (e) => {
      depth = 0; over(false);
      const dt = e.dataTransfer;
      if (!dt) return;
      e.preventDefault();
      const file = [...(dt.files || [])].find((f) => !f.type || /^image\//i.test(f.type)) || (dt.files && dt.files[0]);
      if (file) { this.#runFromUi(file); return; }
      const url = firstUrl(dt.getData('text/uri-list')) || firstUrl(dt.getData('text/plain'));
      if (url) { ui.url.value = url; this.#runFromUi(url); return; }
      this.#fail('nothing to identify in what was dropped: drop an image file');
    });

    // paste target is active while hovered or focused
    this.addEventListener('pointerenter', () => { this.#hover = true; });
    this.addEventListener('pointerleave', () => { this.#hover = false; });
  }

  #handlePaste(e) {
    const path = e.composedPath ? e.composedPath() : [];
    const inside = path.includes(this);
    if (!inside && !this.#hover && !this.matches(':focus-within')) return;
    const target = path[0];
    const cd = e.clipboardData;
    if (!cd) return;
    const file = [...(cd.files || [])].find((f) => /^image\//i.test(f.type))
      || [...(cd.items || [])].filter((it) => it.kind === 'file' && /^image\//i.test(it.type)).map((it) => it.getAsFile()).find(Boolean);
    if (file) {
      e.preventDefault();
      this.#runFromUi(file);
      return;
    }
    // Text: typing into a field (ours or the page's) behaves normally.
    if (isEditable(target)) return;
    const url = firstUrl(cd.getData('text/plain'));
    if (url && (inside || this.#hover || this.matches(':focus-within'))) {
      e.preventDefault();
      this.#ui.url.value = url;
      this.#runFromUi(url);
    }
  }

  #setStatus(text) { this.#ui.status.textContent = text; }

  #showError(message) {
    this.#ui.error.textContent = message;
    this.#ui.error.hidden = !message;
  }

  #fail(message) {
    message = message.charAt(0).toUpperCase() + message.slice(1);
    this.#showError(message);
    this.#emit('nftlens-error', { message });
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  #fillFilter(collections) {
    const { filter, filterWrap } = this.#ui;
    const previous = filter.value;
    filter.replaceChildren(h('option', { value: '', text: 'All collections' }));
    for (const c of collections) {
      const label = `${str(c.name) || str(c.slug)}${Number.isFinite(c.count) ? ` (${c.count.toLocaleString('en-US')})` : ''}`;
      filter.append(h('option', { value: str(c.slug), text: label }));
    }
    filter.value = collections.some((c) => str(c.slug) === previous) ? previous : '';
    filterWrap.hidden = collections.length <= 1;
  }

  #setPreview(input) {
    const { preview } = this.#ui;
    if (this.#previewUrl) { URL.revokeObjectURL(this.#previewUrl); this.#previewUrl = ''; }
    let src = '';
    if (typeof Blob !== 'undefined' && input instanceof Blob) {
      src = this.#previewUrl = URL.createObjectURL(input);
    } else if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
      src = this.#previewUrl = URL.createObjectURL(new Blob([input]));
    } else if (typeof input === 'string') {
      try {
        const u = new URL(input, document.baseURI);
        if (u.protocol === 'https:' || u.protocol === 'http:') src = u.href;
      } catch { /* no preview */ }
    }
    if (src) { preview.src = src; preview.hidden = false; } else { preview.removeAttribute('src'); preview.hidden = true; }
  }

  #clearResults() {
    this.#ui.results.replaceChildren();
    this.#ui.heading.hidden = true;
    this.#ui.heading.textContent = '';
    this.#lastResult = null;
  }

  #imageUrl(r) {
    let url = '';
    try { url = this.#lens ? this.#lens.imageUrl(r) : ''; } catch { url = ''; }
    return safeHttpUrl(url);
  }

  #render(result) {
    const { heading, results } = this.#ui;
    const list = Array.isArray(result.results) ? result.results : [];
    const top = list[0];
    heading.hidden = false;
    heading.classList.toggle('match', !!(result.match && top));
    if (result.match && top) heading.textContent = `Match: ${displayName(top)}`;
    else if (list.length) heading.textContent = 'No match — closest tokens:';
    else heading.textContent = 'No match — the bundle has no tokens in this collection.';
    results.replaceChildren(...list.map((r, i) => this.#card(r, i === 0 && !!result.match)));
  }

  #card(r, isTop) {
    const name = displayName(r);
    const thumbBox = h('div', { class: 'thumb-box' });
    const src = this.#imageUrl(r);
    if (src) {
      const img = h('img', { class: 'thumb', part: 'thumb', alt: name, loading: 'lazy', decoding: 'async', referrerPolicy: 'no-referrer' });
      img.src = src;
      img.addEventListener('error', () => img.replaceWith(h('span', { class: 'thumb-missing', text: 'image unavailable' })), { once: true });
      thumbBox.append(img);
    } else {
      thumbBox.append(h('span', { class: 'thumb-missing', text: 'no image' }));
    }

    const score = Number(r.score);
    const pct = Number.isFinite(score) ? Math.max(0, Math.min(1, score)) * 100 : 0;
    const bar = h('span');
    bar.style.width = `${pct.toFixed(1)}%`;
    const body = h('div', { class: 'body' },
      h('span', { class: 'name', part: 'name', text: name }),
      h('span', { class: 'meta', part: 'collection', text: str(r.collection_name) || str(r.collection) }),
      h('span', { class: 'meta', part: 'token', text: `Token #${str(r.token_id)}` }),
      h('div', { class: 'score-row', title: 'visual similarity' },
        h('div', { class: 'bar', 'aria-hidden': 'true' }, bar),
        h('span', { class: 'score', part: 'score', text: `${pct.toFixed(1)}%`, 'aria-label': `similarity ${pct.toFixed(1)} percent` })));
    const rank = Number(r.rarity_rank);
    if (Number.isFinite(rank) && rank > 0) {
      const size = Number(r.collection_size);
      body.append(h('span', { class: 'meta', part: 'rarity', text: `Rarity #${rank.toLocaleString('en-US')}${Number.isFinite(size) && size > 0 ? ` of ${size.toLocaleString('en-US')}` : ''}` }));
    }
    const attrs = Array.isArray(r.attributes) ? r.attributes : [];
    if (attrs.length) {
      const dl = h('dl');
      for (const a of attrs.slice(0, 30)) {
        if (!a || typeof a !== 'object') continue;
        dl.append(h('dt', { text: str(a.trait_type) || 'trait' }), h('dd', { text: str(a.value) }));
      }
      body.append(h('details', { part: 'traits' }, h('summary', { text: `Traits (${attrs.length})` }), dl));
    }
    const href = safeHttpUrl(r.link);
    if (href) {
      let host = '';
      try { host = new URL(href).hostname; } catch { /* checked above */ }
      const a = h('a', { class: 'link', part: 'link', target: '_blank', rel: 'noopener noreferrer nofollow', text: `View on ${host} ↗` });
      a.href = href;
      body.append(a);
    }
    return h('li', { class: isTop ? 'card top' : 'card', part: isTop ? 'card card-match' : 'card' }, thumbBox, body);
  }
}

function displayName(r) {
  const n = str(r.name).trim();
  if (n) return n;
  return `${str(r.collection_name) || str(r.collection) || 'Token'} #${str(r.token_id)}`;
}

function messageOf(err) {
  return String(err && err.message ? err.message : err || 'unknown error');
}

function hasDropData(e) {
  const types = e.dataTransfer ? [...e.dataTransfer.types] : [];
  return types.includes('Files') || types.includes('text/uri-list') || types.includes('text/plain');
}

function firstUrl(text) {
  if (!text) return '';
  for (const line of String(text).split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    return safeHttpUrl(t);
  }
  return '';
}

if (!customElements.get(TAG)) customElements.define(TAG, NftLensElement);

export { NftLens };
export default NftLensElement;
