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
// Besides images, it searches by words and traits ("pizza head red glasses", "glasses:red"): a
// combobox with trait suggestions, facets (trait values of the results) that add filter chips, and
// the chips, which also narrow an image search ("this image, but only tokens with Glasses: Red").
//
// Attributes: bundle (URL of the bundle folder; changing it reloads), k (image results shown,
//   default 8), text-k (text results shown, default 20).
// Events (bubbling, composed): nftlens-ready {detail: info}, nftlens-results {detail: result},
//   nftlens-error {detail: {message}}.
// API: element.lens (NftLens | null), element.ready (Promise<NftLens>), element.search(input),
//   element.searchText(query), element.filters, element.lastResult.
// Styling: --nft-lens-accent, --nft-lens-bg, --nft-lens-fg, --nft-lens-radius, --nft-lens-font,
//   --nft-lens-card-bg, and ::part(dropzone | preview | controls | url | filter | search |
//   search-input | suggestions | suggestion | chips | chip | status | error | heading | facets |
//   facet-group | facet | results | card | thumb | name | collection | token | score | rarity |
//   link | traits).
import { NftLens } from './index.js';

const TAG = 'nft-lens';
const DEFAULT_K = 8;
const DEFAULT_TEXT_K = 20;
const MAX_K = 100;
const SUGGEST_DELAY_MS = 120;
const SUGGESTIONS = 8;
const FACET_VALUES_SHOWN = 6;   // per trait type, before "+N more"
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

/* text search: combobox + suggestions */
.search { display: flex; gap: 8px; margin-top: 12px; align-items: flex-start; }
.combo { position: relative; flex: 1 1 auto; min-width: 0; }
.combo input {
  width: 100%; font: inherit; color: inherit;
  background: var(--_bg); border: 1px solid var(--_line); border-radius: calc(var(--_radius) * .6);
  padding: 7px 10px 7px 32px;
}
.combo .icon { position: absolute; left: 10px; top: 50%; translate: 0 -50%; color: var(--_muted); pointer-events: none; display: block; }
.suggestions {
  position: absolute; z-index: 10; left: 0; right: 0; top: calc(100% + 4px);
  margin: 0; padding: 4px; list-style: none; max-height: 300px; overflow-y: auto;
  background: var(--_bg); border: 1px solid var(--_line); border-radius: calc(var(--_radius) * .6);
  box-shadow: 0 6px 24px rgb(0 0 0 / .14);
}
.suggestion {
  display: flex; align-items: baseline; gap: 8px; padding: 6px 10px; cursor: pointer;
  border-radius: calc(var(--_radius) * .4);
}
.suggestion[aria-selected=true], .suggestion:hover { background: color-mix(in srgb, var(--_accent) 14%, var(--_bg)); }
.suggestion .value { font-weight: 600; overflow-wrap: anywhere; }
.suggestion .type { color: var(--_muted); font-size: .88em; }
.suggestion .count { margin-left: auto; color: var(--_muted); font-size: .85em; font-variant-numeric: tabular-nums; }

/* filter chips */
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 10px; align-items: center; }
.chips-label { color: var(--_muted); font-size: .85em; }
.chip {
  display: inline-flex; align-items: center; gap: 6px; padding: 3px 6px 3px 10px; font-size: .88em;
  border-radius: 999px; background: color-mix(in srgb, var(--_accent) 14%, var(--_bg)); color: var(--_fg);
  border: 1px solid color-mix(in srgb, var(--_accent) 45%, var(--_bg)); font-weight: 500;
}
.chip .x { display: inline-grid; place-items: center; width: 18px; height: 18px; border-radius: 50%; font-weight: 700; color: var(--_accent); }
.chip:hover .x { background: color-mix(in srgb, var(--_accent) 22%, var(--_bg)); }
.chip-clear { padding: 3px 10px; font-size: .85em; border-color: transparent; }
.chip-type { color: var(--_muted); }

/* facets beside (wide) or above (narrow) the results */
.area.has-facets { display: grid; gap: 16px; grid-template-columns: minmax(0, 1fr); }
@container (min-width: 700px) { .area.has-facets { grid-template-columns: 210px minmax(0, 1fr); align-items: start; } }
.facets {
  font-size: .88em; padding: 10px 12px; border: 1px solid var(--_line); border-radius: var(--_radius);
  background: color-mix(in srgb, var(--_card) 60%, var(--_bg));
}
.facets-title { margin: 0 0 6px; font-size: 1em; }
.facet-group { margin: 0 0 8px; }
.facet-group:last-child { margin-bottom: 0; }
.facet-type { margin: 0 0 3px; font-weight: 700; font-size: .95em; color: var(--_muted); overflow-wrap: anywhere; }
.facet-values { display: flex; flex-wrap: wrap; gap: 4px; }
.facet {
  display: inline-flex; gap: 6px; align-items: baseline; padding: 2px 8px; font-size: 1em; font-weight: 500;
  color: var(--_fg); border: 1px solid var(--_line); border-radius: 999px; background: var(--_bg);
  max-width: 100%; text-align: left;
}
.facet .n { color: var(--_muted); font-variant-numeric: tabular-nums; font-size: .92em; }
.facet[aria-pressed=true] { background: var(--_accent); border-color: var(--_accent); color: #fff; }
.facet[aria-pressed=true] .n { color: inherit; }
.facet-more { padding: 2px 8px; font-size: 1em; font-weight: 600; border-color: transparent; }
/* narrow: one scrollable row per trait type, so the results stay near the top */
@container (max-width: 699px) {
  .facet-group { display: flex; align-items: center; gap: 8px; margin-bottom: 6px; }
  .facet-type { flex: 0 0 5.5em; margin: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .facet-values { flex-wrap: nowrap; overflow-x: auto; scrollbar-width: thin; padding: 2px; min-width: 0; }
  .facet, .facet-more { flex: none; white-space: nowrap; }
}
.score.relevance { font-weight: 600; }
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
  #lastInput = null;      // image of the current image search (re-run by filters / the collection menu)
  #mode = null;           // 'image' | 'text': what the results on screen came from
  #textWords = '';        // the words of the current text search (what was typed, filters included)
  #chips = [];            // active trait filters [{type, value}]
  #expanded = new Set();  // trait types whose facet list shows every value
  #previewUrl = '';
  #hover = false;
  #lastResult = null;
  #loadFailed = false;     // a failed load is retried by the next search
  #disconnectTimer = 0;
  #suggestTimer = 0;
  #suggestSeq = 0;
  #options = [];          // suggestions shown: [{type, value, count}]
  #active = -1;           // highlighted suggestion
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
  /** The active trait filters (chips): [{type, value}]. */
  get filters() { return this.#chips.map((c) => ({ ...c })); }

  get k() { return kAttr(this.getAttribute('k'), DEFAULT_K); }
  set k(v) { this.setAttribute('k', String(v)); }
  get textK() { return kAttr(this.getAttribute('text-k'), DEFAULT_TEXT_K); }
  set textK(v) { this.setAttribute('text-k', String(v)); }
  get bundle() { return this.getAttribute('bundle') || ''; }
  set bundle(v) { this.setAttribute('bundle', String(v)); }

  /**
   * Identify an image: File | Blob | ArrayBuffer | ImageBitmap | image URL string.
   * A new image clears the trait filters. Shows the results and resolves with them (or with null
   * when a newer search replaced this one before it started); on failure shows the error, fires
   * nftlens-error and rejects.
   */
  search(input) {
    return this.#search(input);
  }

  /**
   * Search by words and trait filters ("pizza head red glasses", "glasses:red", "rank:1-100"),
   * together with the active filter chips. Puts the query in the search box, shows the results
   * and resolves with {results, facets, timings} (null if superseded).
   */
  searchText(query) {
    this.#ui.q.value = str(query);
    this.#closeSuggestions();
    return this.#textSearch(str(query));
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
    this.#setChips([]);
    this.#clearResults();
    this.#mode = null;
    this.#lastInput = null;
    this.#closeSuggestions();
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
      // A partitioned bundle (large collections) is fetched per image query; text search and trait
      // filters need its whole catalogue, so they are not offered.
      this.#ui.searchForm.hidden = !!info.partitioned;
      const n = Number(info.tokens) || 0;
      this.#setStatus(`Ready: ${n.toLocaleString('en-US')} tokens${cols.length > 1 ? ` in ${cols.length} collections` : ''}. ${searching ? 'Searching…' : info.partitioned ? 'Drop, paste or choose an image.' : 'Drop, paste or choose an image, or search by traits.'}`);
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

  /** Image search. remember=false re-runs the current image (filters or collection changed). */
  #search(input, { remember = true } = {}) {
    try {
      this.#checkInput(input);
    } catch (err) {
      this.#fail(messageOf(err));
      return Promise.reject(err);
    }
    if (remember) {
      // An ImageBitmap is transferred to the worker, so it cannot be searched again.
      this.#lastInput = typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap ? null : input;
      this.#setPreview(input);
      this.#setChips([]);  // a new image: identify it among all tokens
    }
    const collections = this.#ui.filter.value ? [this.#ui.filter.value] : [];
    const filter = this.#chips.map(chipFilter).join(' ');
    const k = this.k;
    return this.#run('image', async (lens) => {
      if (typeof input !== 'string') return lens.searchImage(input, { k, collections, filter });
      // The worker fetches URLs; resolve relative ones against the page, not the worker script.
      const url = new URL(input.trim(), document.baseURI).href;
      return lens.searchImage(url, { k, collections, filter }).catch((err) => {
        if (/failed to fetch|networkerror|load failed/i.test(messageOf(err))) {
          throw new Error(`could not download ${url}: the site may not allow it (CORS), or this page's Content-Security-Policy (connect-src) blocks it. Save the image and drop the file instead.`);
        }
        throw err;
      });
    });
  }

  /** Text search for `words` plus the active chips and the collection menu. */
  #textSearch(words) {
    words = str(words).trim();
    const parts = words ? [words] : [];
    for (const c of this.#chips) parts.push(chipFilter(c));
    if (this.#ui.filter.value) parts.push(`collection:${quote(this.#ui.filter.value)}`);
    if (!parts.length) {
      this.#setStatus('Type a word or a trait to search, e.g. pizza head red glasses.');
      this.#ui.q.focus();
      return Promise.resolve(null);
    }
    this.#textWords = words;
    const query = parts.join(' ');
    const k = this.textK;
    return this.#run('text', (lens) => lens.searchText(query, { k }), { words });
  }

  /** Run the current search again (after the filters or the collection changed). */
  #rerun() {
    if (this.#mode === 'image' && this.#lastInput) this.#search(this.#lastInput, { remember: false }).catch(() => {});
    else if (!this.#textWords && !this.#chips.length && !this.#ui.filter.value) {
      // The last filter of a filters-only search is gone: nothing is searched for any more.
      if (this.#mode !== 'text') return;
      this.#searchSeq++;
      this.#searchDone();
      this.#clearResults();
      this.#mode = null;
      this.#setStatus('Filters cleared. Type words or choose a trait to search.');
    } else if (this.#mode === 'text' || this.#chips.length) this.#textSearch(this.#textWords).catch(() => {});
  }

  /** Queue a search, show progress, render the newest result. */
  #run(kind, fn, context = {}) {
    const seq = ++this.#searchSeq;
    if (!this.#ready || this.#loadFailed) this.#load();
    this.#showError('');
    this.#setStatus('Searching…');
    this.#ui.drop.classList.add('busy');
    this.setAttribute('aria-busy', 'true');
    const gen = this.#generation;
    const chips = this.#chips.map((c) => ({ ...c }));
    const run = async () => {
      const lens = await this.#ready.catch((err) => {
        const e = new Error(`Could not load the NFT bundle: ${messageOf(err)}`);
        e.reported = true;  // the load handler already showed it and fired nftlens-error
        throw e;
      });
      if (seq !== this.#searchSeq || gen !== this.#generation) return null;  // superseded before it ran
      return fn(lens);
    };
    const job = this.#queue.then(run);
    this.#queue = job.catch(() => {});
    return job.then((result) => {
      if (seq !== this.#searchSeq || gen !== this.#generation) return result;  // a newer search owns the UI
      this.#searchDone();
      if (!result) return result;
      this.#mode = kind;
      this.#lastResult = result;
      this.#render(kind, result, { ...context, chips });
      const n = Array.isArray(result.results) ? result.results.length : 0;
      const t = result.timings || {};
      const ms = Number.isFinite(t.total) ? t.total : t.search;
      const took = Number.isFinite(ms) ? ` in ${ms < 10 ? ms.toFixed(1) : Math.round(ms).toLocaleString('en-US')} ms` : '';
      if (kind === 'text') this.#setStatus(`Found ${n} token${n === 1 ? '' : 's'}${took}.`);
      else this.#setStatus(`${result.match ? 'Identified' : 'Searched'}${took}.`);
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

  // ---- filters (chips) ----------------------------------------------------------------------

  #hasChip(type, value) { return this.#chips.some((c) => c.type === type && c.value === value); }

  /** Add or remove a trait filter and re-run the current search. */
  #toggleFilter(type, value) {
    if (this.#hasChip(type, value)) this.#setChips(this.#chips.filter((c) => !(c.type === type && c.value === value)));
    else this.#setChips([...this.#chips, { type, value }]);
    this.#rerun();
  }

  #setChips(chips) {
    this.#chips = chips;
    const { chips: box } = this.#ui;
    box.replaceChildren();
    if (!chips.length) { box.hidden = true; return; }
    box.hidden = false;
    box.append(h('span', { class: 'chips-label', text: 'Filters:' }));
    chips.forEach((c, i) => {
      const label = `${c.type}: ${c.value}`;
      const b = h('button', { type: 'button', class: 'chip', part: 'chip', title: `Remove the filter ${label}`, 'aria-label': `Remove filter ${label}` },
        h('span', { class: 'chip-type', text: `${c.type}:` }), h('span', { text: c.value }), h('span', { class: 'x', 'aria-hidden': 'true', text: '×' }));
      b.addEventListener('click', () => {
        this.#setChips(this.#chips.filter((x) => x !== c));
        // Keep the keyboard user's place: the next chip, else the previous one, else the search box.
        const rest = this.#ui.chips.querySelectorAll('.chip');
        (rest[Math.min(i, rest.length - 1)] || this.#ui.q).focus();
        this.#rerun();
      });
      box.append(b);
    });
    if (chips.length > 1) {
      const clear = h('button', { type: 'button', class: 'chip-clear', text: 'Clear all' });
      clear.addEventListener('click', () => { this.#setChips([]); this.#ui.q.focus(); this.#rerun(); });
      box.append(clear);
    }
  }

  // ---- suggestions (combobox) ---------------------------------------------------------------

  #scheduleSuggest() {
    clearTimeout(this.#suggestTimer);
    const seq = ++this.#suggestSeq;
    const text = this.#ui.q.value;
    // Suggest for the word being typed: nothing after a space, nothing for one letter.
    const last = lastToken(text);
    if (!this.#lens || /\s$/.test(text) || last.replace(/^[^:]*:/, '').replace(/[^\p{L}\p{N}]/gu, '').length < 2) {
      this.#closeSuggestions();
      return;
    }
    this.#suggestTimer = setTimeout(async () => {
      let list = [];
      try { list = await this.#lens.suggest(text, { n: SUGGESTIONS }); } catch { list = []; }
      if (seq !== this.#suggestSeq || this.#ui.q.value !== text) return;  // typed on meanwhile
      this.#showSuggestions(Array.isArray(list) ? list.filter((o) => o && !this.#hasChip(str(o.type), str(o.value))) : []);
    }, SUGGEST_DELAY_MS);
  }

  #showSuggestions(list) {
    const { q, listbox } = this.#ui;
    this.#options = list.map((o) => ({ type: str(o.type), value: str(o.value), count: Number(o.count) || 0 }));
    this.#active = -1;
    q.removeAttribute('aria-activedescendant');
    listbox.replaceChildren(...this.#options.map((o, i) => {
      const li = h('li', { class: 'suggestion', part: 'suggestion', role: 'option', id: `nl-option-${i}`, 'aria-selected': 'false' },
        h('span', { class: 'value', text: o.value }),
        h('span', { class: 'type', text: o.type }),
        h('span', { class: 'count', text: `${o.count.toLocaleString('en-US')}`, title: `${o.count} tokens` }));
      li.addEventListener('pointerdown', (e) => e.preventDefault());  // keep focus in the box
      li.addEventListener('click', () => this.#choose(i));
      return li;
    }));
    const open = this.#options.length > 0;
    listbox.hidden = !open;
    q.setAttribute('aria-expanded', String(open));
  }

  #closeSuggestions() {
    clearTimeout(this.#suggestTimer);
    this.#suggestSeq++;
    const { q, listbox } = this.#ui;
    this.#options = [];
    this.#active = -1;
    listbox.hidden = true;
    listbox.replaceChildren();
    q.setAttribute('aria-expanded', 'false');
    q.removeAttribute('aria-activedescendant');
  }

  #highlight(i) {
    const { q, listbox } = this.#ui;
    const items = listbox.children;
    if (!items.length) return;
    this.#active = (i + items.length) % items.length;
    for (let j = 0; j < items.length; j++) items[j].setAttribute('aria-selected', String(j === this.#active));
    const el = items[this.#active];
    q.setAttribute('aria-activedescendant', el.id);
    el.scrollIntoView({ block: 'nearest' });
  }

  /** A suggestion becomes a filter chip; the word it completed leaves the box; the search runs. */
  #choose(i) {
    const o = this.#options[i];
    if (!o) return;
    const { q } = this.#ui;
    q.value = dropLastToken(q.value);
    this.#closeSuggestions();
    if (!this.#hasChip(o.type, o.value)) this.#setChips([...this.#chips, { type: o.type, value: o.value }]);
    q.focus();
    this.#textSearch(q.value).catch(() => {});
  }

  #onSearchKey(e) {
    const open = !this.#ui.listbox.hidden && this.#options.length > 0;
    switch (e.key) {
      case 'ArrowDown':
        e.preventDefault();
        if (open) this.#highlight(this.#active + 1);
        else this.#scheduleSuggest();
        break;
      case 'ArrowUp':
        if (open) { e.preventDefault(); this.#highlight(this.#active < 0 ? -1 : this.#active - 1); }
        break;
      case 'Enter':
        if (open && this.#active >= 0) { e.preventDefault(); this.#choose(this.#active); }
        else this.#closeSuggestions();  // the form submits
        break;
      case 'Escape':
        if (open) { e.preventDefault(); e.stopPropagation(); this.#closeSuggestions(); }
        break;
      case 'Tab':
        this.#closeSuggestions();
        break;
      default:
    }
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

    // Text search: an ARIA 1.2 combobox (input + listbox popup).
    ui.q = h('input', { type: 'text', id: 'q', part: 'search-input', autocomplete: 'off', spellcheck: false,
      placeholder: 'Search by traits or words, e.g. pizza head red glasses', enterKeyHint: 'search',
      role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'suggestions',
      'aria-label': 'Search tokens by traits or words' });
    ui.listbox = h('ul', { class: 'suggestions', part: 'suggestions', id: 'suggestions', role: 'listbox', hidden: true,
      'aria-label': 'Trait suggestions' });
    ui.searchBtn = h('button', { type: 'submit', text: 'Search' });
    ui.searchForm = h('form', { class: 'search', part: 'search', role: 'search', 'aria-label': 'Search tokens by traits or words' },
      h('div', { class: 'combo' }, searchIcon(), ui.q, ui.listbox), ui.searchBtn);
    ui.chips = h('div', { class: 'chips', part: 'chips', role: 'group', 'aria-label': 'Active filters', hidden: true });

    ui.status = h('p', { class: 'status', part: 'status', role: 'status', 'aria-live': 'polite' });
    ui.error = h('div', { class: 'error', part: 'error', role: 'alert', hidden: true });
    ui.heading = h('h2', { class: 'heading', part: 'heading', hidden: true, id: 'heading' });
    ui.facets = h('section', { class: 'facets', part: 'facets', hidden: true, 'aria-labelledby': 'facets-title' });
    ui.results = h('ol', { class: 'results', part: 'results', 'aria-labelledby': 'heading' });
    ui.area = h('div', { class: 'area' }, ui.facets, ui.results);

    this.#root.append(ui.file, ui.camera, ui.drop, ui.controls, ui.searchForm, ui.chips, ui.status, ui.error, ui.heading, ui.area);

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
    ui.filter.addEventListener('change', () => this.#rerun());

    // text search
    ui.q.addEventListener('input', () => this.#scheduleSuggest());
    ui.q.addEventListener('keydown', (e) => this.#onSearchKey(e));
    ui.q.addEventListener('blur', () => this.#closeSuggestions());
    ui.searchForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#closeSuggestions();
      this.#textSearch(ui.q.value).catch(() => { /* shown in the alert */ });
    });

    // drag & drop anywhere on the element (text dropped on the search box is just text)
    let depth = 0;
    const over = (on) => { ui.drop.classList.toggle('over', on); ui.dropTitle.textContent = on ? 'Drop to identify' : 'Drop an NFT image here'; };
    const intoSearchBox = (e) => e.composedPath()[0] === ui.q && !(e.dataTransfer && [...e.dataTransfer.types].includes('Files'));
    this.addEventListener('dragenter', (e) => { if (hasDropData(e) && !intoSearchBox(e)) { e.preventDefault(); depth++; over(true); } });
    this.addEventListener('dragover', (e) => { if (hasDropData(e) && !intoSearchBox(e)) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; } });
    this.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) over(false); });
    this.addEventListener('drop', (e) => {
      depth = 0; over(false);
      const dt = e.dataTransfer;
      if (!dt || intoSearchBox(e)) return;
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
    this.#renderFacets(null, []);
    this.#lastResult = null;
  }

  #imageUrl(r) {
    let url = '';
    try { url = this.#lens ? this.#lens.imageUrl(r) : ''; } catch { url = ''; }
    return safeHttpUrl(url);
  }

  #render(kind, result, { words = '', chips = [] } = {}) {
    const { heading, results } = this.#ui;
    const list = Array.isArray(result.results) ? result.results : [];
    const top = list[0];
    const filtered = chips.length > 0;
    heading.hidden = false;
    const isMatch = kind === 'image' && !!(result.match && top);
    heading.classList.toggle('match', isMatch);
    if (kind === 'text') {
      const what = [words, ...chips.map((c) => `${c.type}: ${c.value}`)].filter(Boolean).join(' + ');
      heading.textContent = list.length
        ? `${list.length} token${list.length === 1 ? '' : 's'} for “${what}”${words ? '' : ', rarest first'}`
        : `No tokens found for “${what}”.`;
    } else if (isMatch) heading.textContent = `Match: ${displayName(top)}`;
    else if (list.length) heading.textContent = filtered ? 'Closest tokens with the chosen traits:' : 'No match — closest tokens:';
    else heading.textContent = filtered ? 'No token has all the chosen traits.' : 'No match — the bundle has no tokens in this collection.';

    // Relevance (text) is relative to the best hit; a filters-only search is ordered by rarity.
    const topScore = kind === 'text' && words ? Math.max(...list.map((r) => Number(r.score) || 0), 0) : 0;
    results.replaceChildren(...list.map((r, i) => this.#card(r, i === 0 && isMatch, kind, topScore)));

    // Facets: from the core for text; counted here from the results' traits for an image.
    let facets = null;
    if (kind === 'text') facets = result.facets && typeof result.facets === 'object' ? result.facets : null;
    else if (this.#lastInput) facets = countFacets(list);  // an image that can be searched again
    this.#renderFacets(facets, list);
  }

  #renderFacets(facets, list) {
    const { facets: box, area } = this.#ui;
    const focused = this.#root.activeElement;
    const refocus = focused && focused.classList.contains('facet') ? { type: focused.dataset.type, value: focused.dataset.value } : null;
    box.replaceChildren();
    // Trait types in the order tokens list them, then any others.
    const order = [];
    for (const r of list) for (const a of Array.isArray(r.attributes) ? r.attributes : []) if (a && !order.includes(str(a.trait_type))) order.push(str(a.trait_type));
    const types = facets ? Object.keys(facets) : [];
    types.sort((a, b) => (order.includes(a) ? order.indexOf(a) : 1e9) - (order.includes(b) ? order.indexOf(b) : 1e9) || a.localeCompare(b));
    for (const c of this.#chips) if (!types.includes(c.type)) types.push(c.type);  // an active filter stays removable
    const groups = [];
    types.forEach((type, ti) => {
      const counts = facets && facets[type] && typeof facets[type] === 'object' ? facets[type] : {};
      const values = Object.entries(counts).map(([v, n]) => [v, Number(n) || 0]);
      for (const c of this.#chips) if (c.type === type && !Object.hasOwn(counts, c.value)) values.push([c.value, 0]);
      if (!values.length) return;
      values.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      const expanded = this.#expanded.has(type);
      // Active filters always show; the rest up to the limit unless expanded.
      const shown = expanded ? values : values.filter(([v], i) => i < FACET_VALUES_SHOWN || this.#hasChip(type, v));
      const titleId = `facet-type-${ti}`;
      const ul = h('div', { class: 'facet-values' });
      for (const [value, n] of shown) {
        const pressed = this.#hasChip(type, value);
        const b = h('button', { type: 'button', class: 'facet', part: pressed ? 'facet facet-active' : 'facet', 'aria-pressed': String(pressed),
          title: pressed ? `Remove the filter ${type}: ${value}` : `Only tokens with ${type}: ${value}` },
        h('span', { text: value }), h('span', { class: 'n', text: String(n) }));
        b.dataset.type = type;
        b.dataset.value = value;
        b.addEventListener('click', () => this.#toggleFilter(type, value));
        ul.append(b);
      }
      if (values.length > FACET_VALUES_SHOWN) {
        const more = h('button', { type: 'button', class: 'facet-more', 'aria-expanded': String(expanded),
          text: expanded ? 'fewer' : `+${values.length - shown.length} more` });
        if (!expanded && values.length === shown.length) more.hidden = true;
        more.addEventListener('click', () => {
          if (this.#expanded.has(type)) this.#expanded.delete(type); else this.#expanded.add(type);
          this.#renderFacets(facets, list);
          const again = [...this.#ui.facets.querySelectorAll('.facet-more')].find((x) => x.dataset.type === type);
          if (again) again.focus();
        });
        more.dataset.type = type;
        ul.append(more);
      }
      groups.push(h('div', { class: 'facet-group', part: 'facet-group', role: 'group', 'aria-labelledby': titleId },
        h('h3', { class: 'facet-type', id: titleId, title: type, text: type || 'trait' }), ul));
    });
    const show = groups.length > 0 && list.length + this.#chips.length > 0;
    box.hidden = !show;
    area.classList.toggle('has-facets', show);
    if (!show) return;
    box.append(h('h3', { class: 'facets-title', id: 'facets-title', text: 'Refine by trait' }), ...groups);
    if (refocus) {
      const again = [...box.querySelectorAll('.facet')].find((b) => b.dataset.type === refocus.type && b.dataset.value === refocus.value);
      (again || box.querySelector('.facet') || this.#ui.q).focus();
    }
  }

  #card(r, isTop, kind = 'image', topScore = 0) {
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

    const body = h('div', { class: 'body' },
      h('span', { class: 'name', part: 'name', text: name }),
      h('span', { class: 'meta', part: 'collection', text: str(r.collection_name) || str(r.collection) }),
      h('span', { class: 'meta', part: 'token', text: `Token #${str(r.token_id)}` }));
    const score = Number(r.score);
    if (kind === 'image') {
      const pct = Number.isFinite(score) ? Math.max(0, Math.min(1, score)) * 100 : 0;
      body.append(scoreRow(pct, `${pct.toFixed(1)}%`, 'score', `similarity ${pct.toFixed(1)} percent`, 'visual similarity'));
    } else if (topScore > 0 && Number.isFinite(score)) {
      // Relevance: how well the words match, relative to the best result (not a probability).
      const rel = Math.max(0, Math.min(1, score / topScore)) * 100;
      body.append(scoreRow(rel, `relevance ${score.toFixed(1)}`, 'score relevance', `relevance ${score.toFixed(1)}`, 'text relevance (higher is better)'));
    }
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

/** A magnifier glyph (SVG built with the DOM, no markup strings). */
function searchIcon() {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  for (const [k, v] of Object.entries({ class: 'icon', width: '16', height: '16', viewBox: '0 0 16 16', 'aria-hidden': 'true', focusable: 'false' })) svg.setAttribute(k, v);
  const circle = document.createElementNS(NS, 'circle');
  for (const [k, v] of Object.entries({ cx: '6.5', cy: '6.5', r: '4.75', fill: 'none', stroke: 'currentColor', 'stroke-width': '1.8' })) circle.setAttribute(k, v);
  const line = document.createElementNS(NS, 'path');
  for (const [k, v] of Object.entries({ d: 'M10 10l4.2 4.2', stroke: 'currentColor', 'stroke-width': '1.8', 'stroke-linecap': 'round' })) line.setAttribute(k, v);
  svg.append(circle, line);
  return svg;
}

function scoreRow(barPct, text, cls, label, title) {
  const bar = h('span');
  bar.style.width = `${barPct.toFixed(1)}%`;
  return h('div', { class: 'score-row', title },
    h('div', { class: 'bar', 'aria-hidden': 'true' }, bar),
    h('span', { class: cls, part: 'score', text, 'aria-label': label }));
}

/** trait type -> value -> count over results' attributes (image search; the core does text). */
function countFacets(list) {
  const f = Object.create(null);
  for (const r of list) {
    for (const a of Array.isArray(r.attributes) ? r.attributes : []) {
      if (!a || typeof a !== 'object') continue;
      const type = str(a.trait_type), value = str(a.value);
      if (!type || !value) continue;
      const m = f[type] || (f[type] = Object.create(null));
      m[value] = (m[value] || 0) + 1;
    }
  }
  return f;
}

/** A filter term the core parses: "type":"value" (quotes keep spaces; they cannot be escaped). */
function quote(s) { return `"${str(s).replace(/"/g, ' ').trim()}"`; }
function chipFilter(c) { return `${quote(str(c.type).replace(/:/g, ' '))}:${quote(c.value)}`; }

/** The whitespace-separated token being typed (quotes group words). */
function lastToken(text) {
  const m = str(text).match(/(?:"[^"]*"?|[^\s"])+$/);
  return m ? m[0] : '';
}
function dropLastToken(text) {
  const t = lastToken(text);
  const rest = t ? text.slice(0, text.length - t.length) : text;
  return rest.replace(/\s+$/, '') + (rest.trim() ? ' ' : '');
}

function kAttr(value, fallback) {
  const n = parseInt(value, 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, MAX_K) : fallback;
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
