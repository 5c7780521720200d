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
//   default 8), text-k (text results shown, default 20), worker-url (the worker script, when the
//   nft-lens files are served from elsewhere, e.g. a CDN; default: src/worker.js beside this file),
//   scan-timeout (seconds a camera scan looks for a sure answer, default 20).
// Events (bubbling, composed): nftlens-ready {detail: info}, nftlens-results {detail: result;
//   result.scan = {frames, ms, bestGuess, timeout} after a camera scan}, nftlens-error {detail:
//   {message, detail?}}, nftlens-progress {detail: {phase, loaded, total, done}}, nftlens-scan
//   {detail: {state: 'start' | 'live' | 'pause' | 'resume' | 'stop', reason?, frames?, ms?}}.
// Elements with the same bundle (and worker-url) share one worker: the bundle is fetched once.
// API: element.lens (NftLens | null), element.ready (Promise<NftLens>), element.search(input),
//   element.searchText(query), element.filters, element.lastResult, element.scan(), element.stopScan(),
//   element.scanning.
// Styling: --nft-lens-accent, --nft-lens-bg, --nft-lens-fg, --nft-lens-radius, --nft-lens-font,
//   --nft-lens-card-bg, --nft-lens-thumb-rendering, and ::part(dropzone | preview | file-input |
//   camera | scan | scan-panel | scan-video | scan-stop | controls | url | filter | search | search-input | suggestions | suggestion | chips |
//   chip | status | progress | error | heading | facets | facet-group | facet (+ facet-active) | results |
//   card (+ card-match) | thumb | name | collection | token | score | rarity | link | traits).
//
// Layout of the code: ui/controller.js holds the state and runs the searches (no DOM, events
// out); ui/*.js are the views, one job each, listening to it; this file only wires them together
// and turns controller events into the element's public events.
import { NftLens } from './index.js';
import { LensController } from './ui/controller.js';
import { adoptStyles } from './ui/styles.js';
import { h, str, safeHttpUrl } from './ui/dom.js';
import { ImageInput } from './ui/input-capture.js';
import { CollectionFilter } from './ui/collection-filter.js';
import { SearchBox } from './ui/combobox.js';
import { FilterChips } from './ui/filter-chips.js';
import { StatusLine } from './ui/status.js';
import { ProgressLine } from './ui/progress.js';
import { FacetPanel } from './ui/facets.js';
import { ResultList } from './ui/result-list.js';
import { Scanner, DEFAULT_SCAN_TIMEOUT } from './ui/scanner.js';
import { ScanView } from './ui/scan-view.js';

const TAG = 'nft-lens';
const DEFAULT_K = 8;
const DEFAULT_TEXT_K = 20;
const MAX_K = 100;

const offlineCapable = () => typeof navigator !== 'undefined' && !!(navigator.serviceWorker && navigator.serviceWorker.controller);
const idle = (fn) => (typeof requestIdleCallback === 'function' ? requestIdleCallback(fn, { timeout: 10000 }) : setTimeout(fn, 2000));

function scanTimeoutAttr(value) {
  const n = parseFloat(value);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 600) : DEFAULT_SCAN_TIMEOUT;
}

function kAttr(value, fallback) {
  const n = parseInt(value, 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, MAX_K) : fallback;
}

export class NftLensElement extends HTMLElement {
  // k and text-k are read at each search; only a new bundle or worker needs action.
  static get observedAttributes() { return ['bundle', 'worker-url']; }

  #controller; #input; #searchBox; #scanner;
  #disconnectTimer = 0;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open', delegatesFocus: false });
    adoptStyles(root);
    const c = this.#controller = new LensController({
      open: (url, onprogress) => NftLens.open(url, { workerUrl: this.workerUrl || undefined, onprogress }),
      bundle: () => this.bundle,
      k: () => this.k,
      textK: () => this.textK,
      baseURI: () => document.baseURI,
    });

    // Views; each listens to the controller and calls it on user input. Listeners run in the
    // order the views are made, so the results render before the status and the public events.
    const searchBox = this.#searchBox = new SearchBox(c);
    const focusSearch = () => searchBox.focus();
    const input = this.#input = new ImageInput(c, { host: this, searchInput: searchBox.input });
    const scanView = new ScanView(c, { start: () => this.scan(), stop: () => this.stopScan() });
    this.#scanner = new Scanner(c, { source: scanView, timeout: () => this.scanTimeout });
    const collection = new CollectionFilter(c);
    const chips = new FilterChips(c, { focusSearch });
    const results = new ResultList(c);
    const facets = new FacetPanel(c, { focusSearch });
    const status = new StatusLine(c);  // after the results: the status line reports what they show
    const progress = new ProgressLine(c);
    root.append(...input.fileInputs, input.drop, scanView.el,
      h('div', { class: 'controls', part: 'controls' }, scanView.button, input.cameraButton, input.urlForm, collection.el),
      searchBox.el, chips.el, status.status, progress.el, status.error, results.heading,
      // Results before the refine panel: the answer comes first to screen readers and in Tab order.
      h('div', { class: 'area' }, results.list, facets.el));

    // Public events, after the views have rendered what they report.
    c.addEventListener('ready', (e) => this.#emit('nftlens-ready', e.detail.info));
    c.addEventListener('results', (e) => this.#emit('nftlens-results', e.detail.result));
    c.addEventListener('error', (e) => this.#emit('nftlens-error', e.detail.detail ? { message: e.detail.message, detail: e.detail.detail } : { message: e.detail.message }));
    c.addEventListener('progress', (e) => this.#emit('nftlens-progress', e.detail));
    c.addEventListener('scan', (e) => { if (e.detail.state !== 'frame') this.#emit('nftlens-scan', e.detail); });
    // A page with an offline service worker wants image search offline too: fetch the image model
    // once the page is idle (elsewhere the first image search fetches it).
    c.addEventListener('ready', (e) => {
      if (!offlineCapable()) return;
      const lens = e.detail.lens;
      idle(() => { if (this.lens === lens) lens.prefetch().catch(() => {}); });
    });
    c.addEventListener('search', () => this.setAttribute('aria-busy', 'true'));
    c.addEventListener('done', () => this.removeAttribute('aria-busy'));
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  // ---- public API ---------------------------------------------------------------------------

  /** The NftLens handle once the bundle is loaded, else null. */
  get lens() { return this.#controller.lens; }
  /** Resolves with the NftLens once the current bundle is loaded (rejects on a bad bundle). */
  get ready() {
    if (!this.#controller.ready) this.#controller.load();
    return this.#controller.ready;
  }
  /** The last search result shown, or null. */
  get lastResult() { return this.#controller.lastResult; }
  /** The active trait filters (chips): [{type, value}]. */
  get filters() { return this.#controller.chips; }

  get k() { return kAttr(this.getAttribute('k'), DEFAULT_K); }
  set k(v) { this.setAttribute('k', String(v)); }
  get textK() { return kAttr(this.getAttribute('text-k'), DEFAULT_TEXT_K); }
  set textK(v) { this.setAttribute('text-k', String(v)); }
  get bundle() { return this.getAttribute('bundle') || ''; }
  set bundle(v) { this.setAttribute('bundle', String(v)); }
  get workerUrl() { return this.getAttribute('worker-url') || ''; }
  /** Seconds a camera scan looks for a sure answer before it shows its best guess. */
  get scanTimeout() { return scanTimeoutAttr(this.getAttribute('scan-timeout')); }
  set scanTimeout(v) { this.setAttribute('scan-timeout', String(v)); }
  /** A camera scan is running (the camera is on). */
  get scanning() { return this.#scanner.active; }
  set workerUrl(v) { this.setAttribute('worker-url', String(v)); }

  /**
   * Identify an image: File | Blob | ArrayBuffer | ImageBitmap | image URL string.
   * A new image clears the trait filters. Shows the results and resolves with them (or with null
   * when a newer search replaced this one before it started); on failure shows the error, fires
   * nftlens-error and rejects.
   */
  search(input) {
    return this.#controller.searchImage(input);
  }

  /**
   * Search by words and trait filters ("pizza head red glasses", "glasses:red", "rank:1-100"),
   * together with the active filter chips. Puts the query in the search box, shows the results
   * and resolves with {results, facets, timings} (null if superseded).
   */
  searchText(query) {
    const text = str(query);
    this.#searchBox.setValue(text);
    return this.#controller.searchText(text);
  }

  /**
   * Scan with the camera (what the Scan button does): analyse live frames until a sure answer or
   * scan-timeout seconds, then show the answer (nftlens-results with detail.scan) and turn the
   * camera off. Resolves once the camera is on (or could not be opened: see nftlens-error).
   */
  scan() { return this.#scanner.start(); }
  /** Stop a scan and turn the camera off; no answer is shown. */
  stopScan() { this.#scanner.stop(); }

  // ---- lifecycle ------------------------------------------------------------------------------

  connectedCallback() {
    clearTimeout(this.#disconnectTimer);
    this.#input.connect();
    const c = this.#controller;
    if (!c.ready || c.loadedBundle !== this.bundle) c.load();
  }

  disconnectedCallback() {
    this.#input.disconnect();
    this.#scanner.stop('interrupted');  // a removed element must not keep the camera on
    // Moving the element (disconnect + connect in one task) must not reload the bundle.
    this.#disconnectTimer = setTimeout(() => {
      if (this.isConnected) return;
      this.#controller.unload();
      this.#input.setPreview(null);
    }, 0);
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue !== newValue && this.isConnected && this.#controller.ready) this.#controller.load();
  }
}

if (!customElements.get(TAG)) customElements.define(TAG, NftLensElement);

export { NftLens, safeHttpUrl };
export default NftLensElement;
