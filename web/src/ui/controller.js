// LensController: the state of one <nft-lens> and its searches, without any DOM (so it can be
// exercised under Node with a fake lens). Like Pagefind's modular-UI Instance, it holds the state
// and emits events; the views listen and render, and call its methods on user input.
//
// State: the NftLens of the current bundle, a queue that runs searches one at a time (the worker
// holds one query), generation and sequence counters that drop answers a newer load or search has
// superseded, the mode of the results on screen (image | text), the image and words to re-run, the
// trait filter chips and the collection filter.
//
// Events (CustomEvent; detail in braces), in the order a view sees them:
//   load {bundle}        a (re)load started: forget results, chips, suggestions, errors
//   ready {lens, info, collections, searching, traits, example}   the bundle loaded; traits: its
//                        tokens have traits; example: a text query made of them ('' if none)
//   loaderror {error}    it did not (an `error` event follows)
//   progress {phase, loaded, total, done}   bytes of the bundle ('bundle', while loading) or of the
//                        image model ('runtime', 'model': the first image search, or a prefetch)
//   chips {chips}        the filter chips changed
//   image {input}        a new image is being searched (show its preview)
//   search {kind}        a search was queued (busy; clear the error)
//   done                 the newest search settled (not busy)
//   results {kind, result, words, chips, k, refined}   its result, to show (k: the results asked
//                        for; refined: a re-run after the filters changed, not a new search)
//   searchfailed {kind, error, refused}  it failed, or its input was refused before it ran
//                        (refused); its results and any it replaced are gone (an `error` event
//                        follows; a search that waited on a failed load emits neither: loaderror
//                        already said so)
//   cleared              the last filter of a filters-only search went: nothing is searched any more
//   needquery            a text search with nothing to search for
//   error {message, detail}   something to show in the alert (and to fire as nftlens-error);
//                        detail: technical text behind a plain message, if any
import { str, quote, chipFilter, wantsSuggestions, textAvailable } from './query.js';
import { explainError, hasTraits, traitExample } from './wording.js';

const SUGGESTIONS = 8;
const MAX_FILE_BYTES = 64 * 1024 * 1024;

export function messageOf(err) {
  return String(err && err.message ? err.message : err || 'unknown error');
}

/** The browser could not fetch an image URL at all (CORS, CSP connect-src, offline). A specific
 *  err.code is the lens's own verdict (not_image, bad_request, network = an HTTP error status, ...),
 *  never this; fetch's own TypeError reaches us uncoded or as the generic 'error', and only its
 *  message (which differs per browser) tells it. */
export function isNetworkFailure(err) {
  const code = err && typeof err.code === 'string' ? err.code : '';
  if (code && code !== 'error') return false;
  return /failed to fetch|networkerror|load failed/i.test(messageOf(err));
}

/** Throws a user-facing Error when `input` is not something searchImage takes. */
export function checkInput(input, baseURI) {
  if (typeof input === 'string') {
    if (!input.trim()) throw new Error('enter an image URL');
    let u;
    try { u = new URL(input.trim(), baseURI); } catch { throw new Error('that is not a valid URL'); }
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

export class LensController extends EventTarget {
  #open; #bundle; #k; #textK; #baseURI;
  #lens = null;           // NftLens once loaded
  #ready = null;          // Promise<NftLens> for the current bundle
  #generation = 0;        // bumps on every (re)load, so stale loads are dropped
  #loadedBundle = null;   // bundle of the current load
  #loadFailed = false;    // a failed load is retried by the next search
  #searchSeq = 0;         // bumps on every search, so only the newest renders
  #queue = Promise.resolve();  // searches run one at a time (the worker holds one query)
  #busy = false;          // a search is queued or running
  #suggestSeq = 0;        // bumps on every suggestion request, so only the newest answer shows
  #lastInput = null;      // image of the current image search (re-run by filters / the collection)
  #mode = null;           // 'image' | 'text': what the results on screen came from
  #textWords = '';        // the words of the current text search (what was typed, filters included)
  #chips = [];            // active trait filters [{type, value}]
  #collection = '';       // collection slug to search in ('' = all)
  #lastResult = null;

  /**
   * open(url, onprogress) -> Promise<NftLens>; bundle(), k(), textK(): read when needed (the element's
   * attributes); baseURI(): what relative image URLs resolve against (the page, not the worker).
   */
  constructor({ open, bundle, k, textK, baseURI = () => undefined }) {
    super();
    this.#open = open; this.#bundle = bundle; this.#k = k; this.#textK = textK; this.#baseURI = baseURI;
  }

  get lens() { return this.#lens; }
  /** Promise<NftLens> of the current load, or null before the first. */
  get ready() { return this.#ready; }
  get loadedBundle() { return this.#loadedBundle; }
  get lastResult() { return this.#lastResult; }
  get mode() { return this.#mode; }
  get collection() { return this.#collection; }
  /** The active trait filters (copies): [{type, value}]. */
  get chips() { return this.#chips.map((c) => ({ ...c })); }
  hasChip(type, value) { return this.#chips.some((c) => c.type === type && c.value === value); }
  /** The results on screen can be narrowed by a facet: a text search, or an image it can re-run. */
  // Can the results be narrowed by a trait? Not where trait filters are unavailable (a partitioned
  // bundle whose whole catalogue is more than the browser loads): facets are then not offered at all.
  get refinable() {
    if (!this.#traitFilters()) return false;
    return this.#mode === 'text' || (this.#mode === 'image' && this.#lastInput !== null);
  }
  #traitFilters() {
    try { return !this.#lens || textAvailable(this.#lens.info()); } catch { return true; }
  }

  #emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  /** Report a problem: an `error` event with the message capitalised (detail: technical text). */
  fail(message, detail) {
    message = message.charAt(0).toUpperCase() + message.slice(1);
    this.#emit('error', detail ? { message, detail } : { message });
  }

  /** Report a failed load or search in plain words (ui/wording.js). */
  #failWith(err, during) {
    let maxPixels = 0;
    try { maxPixels = Number(this.#lens && this.#lens.info().max_pixels) || 0; } catch { /* no info */ }
    const { message, detail } = explainError(err, { during, maxPixels });
    this.fail(message, detail);
  }

  // ---- loading ------------------------------------------------------------------------------

  unload() {
    this.#generation++;
    if (this.#lens) { try { this.#lens.close(); } catch { /* already closed */ } }
    this.#lens = null;
    this.#ready = null;
    this.#loadedBundle = null;
  }

  /** (Re)load the bundle: forget the results and filters, open it, emit ready or loaderror. */
  load() {
    this.unload();
    this.#loadFailed = false;
    const gen = this.#generation;
    const bundle = this.#bundle();
    this.#loadedBundle = bundle;
    this.setChips([]);
    this.#lastResult = null;
    this.#mode = null;
    this.#lastInput = null;
    this.#collection = '';
    this.cancelSuggestions();
    this.#emit('load', { bundle });
    this.#ready = (async () => {
      if (!bundle) throw new Error('no bundle: set the bundle attribute, e.g. <nft-lens bundle="/bundle/">');
      const lens = await this.#open(bundle, (p) => { if (gen === this.#generation) this.#emit('progress', p); });
      if (gen !== this.#generation) { lens.close(); throw new Error('bundle changed while loading'); }
      return lens;
    })();
    this.#ready.then(async (lens) => {
      if (gen !== this.#generation) return;
      this.#lens = lens;
      const info = lens.info();
      // Hints name the bundle's own traits, or none: a collection without traits must not be
      // offered "pizza head red glasses". (Partitioned bundles have no text search to hint at.)
      let stats = null;
      // (the search box's hint comes from trait statistics: on a partitioned bundle they would fetch
      // the whole catalogue at page load, so it waits for the first text search there)
      if (textAvailable(info) && !info.partitioned) { try { stats = await lens.traitStats(); } catch { stats = null; } }
      if (gen !== this.#generation) return;
      this.#emit('ready', { lens, info, collections: lens.collections() || [], searching: this.#busy,
        traits: hasTraits(stats), example: traitExample(stats) });
    }, (error) => {
      if (gen !== this.#generation) return;
      this.#loadFailed = true;
      this.#emit('loaderror', { error });
      this.#failWith(error, 'load');
    });
    // Callers of .ready handle rejections themselves; don't report an unhandled one here.
    this.#ready.catch(() => {});
  }

  // ---- search -------------------------------------------------------------------------------

  /**
   * Image search. A new image (remember=true) clears the chips; remember=false re-runs the current
   * image (filters or collection changed). Bad input emits `error` and rejects.
   */
  searchImage(input, { remember = true } = {}) {
    try {
      checkInput(input, this.#baseURI());
    } catch (err) {
      if (remember) {
        // A new image that cannot be searched replaces the old answer: showing the previous
        // results under its error would read as its answer. A search still running loses the screen.
        this.#searchSeq++;
        if (this.#busy) this.#searchDone();
        this.#forgetResults(true);
        this.#emit('searchfailed', { kind: 'image', error: err, refused: true });
      }
      this.fail(messageOf(err));
      return Promise.reject(err);
    }
    if (remember) {
      // An ImageBitmap is transferred to the worker, so it cannot be searched again.
      this.#lastInput = typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap ? null : input;
      this.#emit('image', { input });
      this.setChips([]);  // a new image: identify it among all tokens
    }
    const options = {
      k: this.#k(),
      collections: this.#collection ? [this.#collection] : [],
      filter: this.#chips.map(chipFilter).join(' '),
      facets: this.#traitFilters(),  // trait counts of the results, for the refine panel
    };
    return this.#run('image', async (lens) => {
      if (typeof input !== 'string') return lens.searchImage(input, options);
      // The worker fetches URLs; resolve relative ones against the page, not the worker script.
      const url = new URL(input.trim(), this.#baseURI()).href;
      return lens.searchImage(url, options).catch((err) => {
        if (isNetworkFailure(err)) {
          const e = new Error(`could not download ${url}: the site may not allow it (CORS), or this page's Content-Security-Policy (connect-src) blocks it. Save the image and drop the file instead.`);
          if (err && err.code) e.code = err.code;  // a clearer message, the same kind
          throw e;
        }
        throw err;
      });
    }, { refined: !remember });
  }

  /** Text search for `words` plus the active chips and the collection filter (refined: a re-run). */
  searchText(words, { refined = false } = {}) {
    words = str(words).trim();
    const parts = words ? [words] : [];
    for (const c of this.#chips) parts.push(chipFilter(c));
    if (this.#collection) parts.push(`collection:${quote(this.#collection)}`);
    if (!parts.length) {
      this.#emit('needquery');
      return Promise.resolve(null);
    }
    this.#textWords = words;
    const query = parts.join(' ');
    const k = this.#textK();
    return this.#run('text', (lens) => lens.searchText(query, { k }), { words, k, refined });
  }

  /** Run the current search again (after the filters or the collection changed). */
  rerun() {
    if (this.#mode === 'image' && this.#lastInput) this.searchImage(this.#lastInput, { remember: false }).catch(() => {});
    else if (!this.#textWords && !this.#chips.length && !this.#collection) {
      // The last filter of a filters-only search is gone: nothing is searched for any more.
      if (this.#mode !== 'text') return;
      this.#searchSeq++;
      this.#searchDone();
      this.#lastResult = null;
      this.#mode = null;
      this.#emit('cleared');
    } else if (this.#mode === 'text' || this.#chips.length) this.searchText(this.#textWords, { refined: true }).catch(() => {});
  }

  /** Queue a search; emit results only for the newest one of the current load. */
  #run(kind, fn, { words = '', k = 0, refined = false } = {}) {
    const seq = ++this.#searchSeq;
    if (!this.#ready || this.#loadFailed) this.load();
    this.#busy = true;
    this.#emit('search', { kind });
    const gen = this.#generation;
    const chips = this.chips;
    const current = () => seq === this.#searchSeq && gen === this.#generation;
    const run = async () => {
      const lens = await this.#ready.catch((err) => {
        const e = new Error(explainError(err, { during: 'load' }).message);
        e.reported = true;  // the load handler already reported it
        throw e;
      });
      if (!current()) return null;  // superseded before it ran
      return fn(lens);
    };
    const job = this.#queue.then(run);
    this.#queue = job.catch(() => {});
    return job.then((result) => {
      if (!current()) return result;  // a newer search owns the screen
      this.#searchDone();
      if (!result) return result;
      this.#mode = kind;
      this.#lastResult = result;
      this.#emit('results', { kind, result, words, chips, k, refined });
      return result;
    }, (err) => {
      if (current()) {
        this.#searchDone();
        this.#forgetResults(kind === 'image');
        if (err && err.reported) return Promise.reject(err);
        this.#emit('searchfailed', { kind, error: err, refused: false });
        this.#failWith(err, 'search');
      }
      throw err;
    });
  }

  // ---- camera scan (ui/scanner.js drives these) -----------------------------------------------

  /** Search one camera frame without showing it: the same lens call and the same queue as any
   *  image search, so a scan never runs two searches at once, nor one beside a dropped file. */
  scanFrame(bitmap) {
    if (!this.#ready || this.#loadFailed) this.load();
    const gen = this.#generation;
    const options = { k: this.#k(), collections: this.#collection ? [this.#collection] : [], filter: '', facets: true };
    const ready = () => this.#ready.catch((err) => {
      throw Object.assign(new Error(explainError(err, { during: 'load' }).message), { reported: true });  // reported by the load
    });
    const job = this.#queue.then(ready).then((lens) => (gen === this.#generation ? lens.searchImage(bitmap, options) : null));
    this.#queue = job.catch(() => {});
    return job;
  }

  /**
   * Show a scan's answer as an image search's result: `frame` (a Promise of the frame as a Blob)
   * becomes the query (previewed; re-run by the refine panel), `result` carries result.scan.
   */
  async showScanResult(frame, result) {
    const seq = ++this.#searchSeq;  // it replaces what is on screen, and a newer search replaces it
    const gen = this.#generation;
    const blob = await frame;
    if (seq !== this.#searchSeq || gen !== this.#generation) return;
    this.#lastInput = blob || null;
    this.#emit('image', { input: blob });
    this.setChips([]);
    this.#mode = 'image';
    this.#lastResult = result;
    this.#emit('results', { kind: 'image', result, words: '', chips: [], k: this.#k(), refined: false, scan: result.scan });
  }

  /** Report a failed scan frame in plain words (a failed load was reported when it failed). */
  reportSearchError(err) {
    if (err && err.reported) return;
    this.#failWith(err, 'search');
  }

  /** After a failed search nothing on screen can be refined: a facet or the collection menu must
   *  not re-run the failed image. Its filters go with it (an image's chips belong to that image). */
  #forgetResults(image) {
    this.#lastResult = null;
    this.#mode = null;
    this.#lastInput = null;
    if (image && this.#chips.length) this.setChips([]);
  }

  #searchDone() {
    this.#busy = false;
    this.#emit('done');
  }

  // ---- filters ------------------------------------------------------------------------------
  // These change the filters only; the caller decides when to rerun() (after moving focus).

  setChips(chips) {
    this.#chips = chips.map((c) => ({ type: str(c.type), value: str(c.value) }));
    this.#emit('chips', { chips: this.chips });
  }
  addChip(type, value) { if (!this.hasChip(type, value)) this.setChips([...this.#chips, { type, value }]); }
  removeChip(type, value) { this.setChips(this.#chips.filter((c) => !(c.type === type && c.value === value))); }

  /** Add or remove a trait filter and re-run the current search (a facet button). */
  toggleChip(type, value) {
    if (this.hasChip(type, value)) this.removeChip(type, value); else this.addChip(type, value);
    this.rerun();
  }

  /** Search only one collection ('' = all) and re-run the current search. */
  setCollection(slug) {
    this.#collection = str(slug);
    this.rerun();
  }

  // ---- suggestions --------------------------------------------------------------------------

  /** Worth asking for suggestions for this text (a bundle is loaded, a word is being typed). */
  canSuggest(text) { return !!this.#lens && wantsSuggestions(text); }

  /** Trait values completing the last word of `text`, minus active chips; null when a newer
   *  request or cancelSuggestions() superseded this one. */
  async suggest(text) {
    const seq = ++this.#suggestSeq;
    let list = [];
    try { list = await this.#lens.suggest(text, { n: SUGGESTIONS }); } catch { list = []; }
    if (seq !== this.#suggestSeq) return null;
    return (Array.isArray(list) ? list : [])
      .filter((o) => o && !this.hasChip(str(o.type), str(o.value)))
      .map((o) => ({ type: str(o.type), value: str(o.value), count: Number(o.count) || 0 }));
  }

  cancelSuggestions() { this.#suggestSeq++; }
}
