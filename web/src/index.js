// NFT Lens browser API. All work happens in a Web Worker (worker.js); this module is the handle.
//   const lens = await NftLens.open('/bundle/');
//   const { match, results, timings } = await lens.searchImage(file, { k: 10, collections: ['nouns'] });
// The image is decoded, embedded and searched inside the worker: it is never uploaded.
//
// One worker per bundle per page: NftLens.open() of a bundle that is already open (or opening)
// returns another handle on the same worker, so two <nft-lens> elements fetch the bundle once.
// Each handle's close() releases it; the worker stops when the last one closes.

const workerError = (message) => Object.assign(new Error(message), { code: 'worker' });

// A started worker, the calls in flight on it and who listens to its progress.
class Connection {
  pending = new Map(); next = 1; refs = 0; listeners = new Set(); opened = null; key = null;

  constructor(worker, script, owned) {
    this.worker = worker;
    this.owned = owned;  // a worker the caller passed in is not ours to stop
    worker.onmessage = (e) => this.#message(e.data);
    // A worker that cannot start (CSP worker-src, a script on another origin, a missing file)
    // rejects with code 'worker', so a page can explain it rather than show the browser's words.
    worker.onerror = (e) => {
      if (this.key && shared.get(this.key) === this) shared.delete(this.key);  // the next open() starts afresh
      this.failAll(workerError(e.message || `the NFT Lens worker (${script}) failed to start`));
    };
  }

  call(op, args, transfer = [], owner = null) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, owner });
      this.worker.postMessage({ id, op, args }, transfer);
    });
  }
  #message(data) {
    if (data && data.progress) {
      // (a listener's bug must not stop the others, nor go unreported)
      for (const fn of this.listeners) { try { fn({ ...data.progress }); } catch (err) { setTimeout(() => { throw err; }); } }
      return;
    }
    const { id, ok, result, error, code } = data;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (ok) return p.resolve(result);
    const err = new Error(error);
    err.code = code;  // machine-readable: branch on this, not on the text
    p.reject(err);
  }
  failAll(err, owner) {
    for (const [id, p] of this.pending) {
      if (owner && p.owner !== owner) continue;
      this.pending.delete(id);
      p.reject(err);
    }
  }
  release() {
    if (--this.refs > 0) return;
    if (this.key && shared.get(this.key) === this) shared.delete(this.key);
    if (this.owned) this.worker.terminate();
    this.failAll(new Error('closed'));
  }
}
const shared = new Map();  // "worker script + bundle URL + threads" -> Connection

export class NftLens {
  #conn; #info; #onprogress = null; #closed = false; #thumbUrls = new Map();

  constructor(conn, info, onprogress = null) {
    this.#conn = conn;
    this.#info = info;
    this.#onprogress = onprogress;
  }

  /**
   * Load a bundle (a folder URL holding manifest.json). Rejects with a clear message on a bad bundle.
   * options: threads; workerUrl (the worker script, default ./worker.js beside this module; the
   * dist/ files are found relative to it); worker (a Worker to use, not shared); onprogress(p),
   * called with {phase: 'bundle' | 'runtime' | 'model', loaded, total (bytes, null if unknown), done};
   * wholeCatalogueBytes: a partitioned bundle's text search loads its whole catalogue up to this
   * many bytes (default 4 MB), beyond it only the word chunks each query needs (info().text_index).
   */
  static async open(bundleUrl, options = {}) {
    const base = new URL(bundleUrl, document.baseURI).href;
    const bundle = base.endsWith('/') ? base : base + '/';
    const script = options.workerUrl ? new URL(options.workerUrl, document.baseURI).href : new URL('./worker.js', import.meta.url).href;
    const onprogress = typeof options.onprogress === 'function' ? options.onprogress : null;
    const key = options.worker ? null : `${script} ${bundle} ${options.threads || ''} ${options.wholeCatalogueBytes ?? ''}`;
    let conn = key && shared.get(key);
    if (!conn) {
      let worker = options.worker;
      if (!worker) {
        try { worker = startWorker(script); } catch (err) { throw workerError(String(err && err.message ? err.message : err)); }
      }
      conn = new Connection(worker, script, !options.worker);
      conn.key = key;
      conn.opened = conn.call('open', { bundleUrl: base, threads: options.threads, wholeCatalogueBytes: options.wholeCatalogueBytes });
      if (key) {
        shared.set(key, conn);
        conn.opened.catch(() => { if (shared.get(key) === conn) shared.delete(key); });  // a failed load is not reused
      }
    }
    conn.refs++;
    if (onprogress) conn.listeners.add(onprogress);
    let info;
    try {
      info = await conn.opened;
    } catch (err) {
      conn.listeners.delete(onprogress);
      conn.release();  // don't leak a worker per failed load
      throw err;
    }
    const lens = new NftLens(conn, structuredClone(info), onprogress);  // (a copy each: handles do not share edits)
    lens.bundleUrl = bundle;
    return lens;
  }

  /** Find the tokens an image shows. input: File | Blob | ArrayBuffer | ImageBitmap | image URL string.
   *  options (each optional; the core's defaults and limits apply to what is not set):
   *    k: results (default 10, at most 1000); collections: only these slugs;
   *    filter: trait filters such as 'glasses:red rank:1-100' ("this image, but only ...");
   *    rerank: the first hits re-ranked by aligning the image with their thumbnails (default 30,
   *      0 = off; needs a bundle built with thumbnails);
   *    probe: partitioned bundles, partitions to search (0 = the bundle's default);
   *    ef, exact: HNSW breadth, or an exhaustive scan; facets: also count the results' traits.
   *  Rejects with an Error whose `code` says why ("not_image", "bad_request", "unsupported", ...). */
  searchImage(input, options = {}) {
    if (typeof input === 'string') input = new URL(input, document.baseURI).href;  // relative to the page, not the worker
    const transfer = typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap ? [input] : [];
    return this.#call('search', { image: input, request: { ...options } }, transfer);
  }

  /** Find tokens by words and filters ("pizza head red glasses", "glasses:red", "rank:1-10"):
   *  {query, total, results: [token + score], facets: {traitType: {value: count}} (of the results), timings[, fetched: {parts, bytes}
   *  (partitioned bundles)]}. options: {k} (default 20). */
  searchText(query, options = {}) { return this.#call('textSearch', { request: { ...options, query } }); }
  /** Trait values that complete the last word typed: [{type, value, count}]. options: {n} (default 8). */
  suggest(prefix, options = {}) { return this.#call('suggest', { request: { ...options, prefix } }); }

  /** Collections in the bundle: [{slug, name, description, chain, contract, count}]. */
  collections() { return this.#info.collections; }
  /** Bundle summary: tokens, entries, threshold, max_pixels, model card, threads, partitioned (+ layout). */
  info() { return this.#info; }
  /** One token's catalogue entry by index. */
  token(index) { return this.#call('token', { index }); }
  /** Trait type -> value -> count, for one collection index or all (-1). */
  traitStats(collection = -1) { return this.#call('traitStats', { collection }); }
  /** Descriptors of the last query (Float32Array; for parity tests). */
  lastDescriptors() { return this.#call('descriptors'); }
  /**
   * A URL a page may display for a token: its thumbnail (an object URL of the checked bytes the
   * worker attached as `thumb_blob`; the last 256 are kept, older ones revoked), else its image if
   * http(s)/ipfs, else ''.
   */
  imageUrl(token) {
    if (token.thumb_blob && token.thumb) {
      const key = `${token.thumb.pack}:${token.thumb.offset}`;
      let url = this.#thumbUrls.get(key);
      if (!url) url = URL.createObjectURL(token.thumb_blob);
      this.#thumbUrls.delete(key);
      this.#thumbUrls.set(key, url);
      for (const [k, old] of this.#thumbUrls) {
        if (this.#thumbUrls.size <= 256) break;
        URL.revokeObjectURL(old);
        this.#thumbUrls.delete(k);
      }
      return url;
    }
    if (/^https?:\/\//i.test(token.image)) return token.image;
    if (/^ipfs:\/\//i.test(token.image)) return 'https://ipfs.io/ipfs/' + token.image.slice(7).replace(/^ipfs\//, '');
    return '';
  }
  /**
   * Fetch the image-search runtime and the bundle's model now (they are otherwise fetched by the
   * first image search), e.g. on idle so that a later image search, or one offline, need not wait.
   * Resolves when they are ready; progress goes to onprogress. Text search is not held up meanwhile.
   */
  prefetch() { return this.#call('prefetch'); }

  /** Release this handle: its pending calls reject; the worker stops when no handle uses it. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#onprogress) this.#conn.listeners.delete(this.#onprogress);
    this.#conn.failAll(new Error('closed'), this);
    this.#conn.release();
  }

  #call(op, args, transfer = []) {
    if (this.#closed) return Promise.reject(Object.assign(new Error('closed'), { code: 'no_bundle' }));
    return this.#conn.call(op, args, transfer, this);
  }
}

// Same-origin scripts start directly. A module worker cannot be started from another origin (a
// CDN), so there the worker is a same-origin blob: module that imports it: its imports (../dist/)
// then resolve against the CDN. That needs worker-src blob: and the CDN in script-src/connect-src.
function startWorker(script) {
  if (new URL(script).origin === location.origin) return new Worker(script, { type: 'module' });
  const boot = URL.createObjectURL(new Blob([`import ${JSON.stringify(script)};\n`], { type: 'text/javascript' }));
  // (revoked later, not at once: the worker fetches it after the constructor returns)
  try { return new Worker(boot, { type: 'module' }); } finally { setTimeout(() => URL.revokeObjectURL(boot), 60000); }
}

export default NftLens;
