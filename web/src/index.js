// NFT Lens browser API. All work happens in a Web Worker (worker.js); this module is the handle.
//   const lens = await NftLens.open('/bundle/');
//   const { match, results, timings } = await lens.searchImage(file, { k: 10, collections: ['nouns'] });
// The image is decoded, embedded and searched inside the worker: it is never uploaded.
export class NftLens {
  #worker; #pending = new Map(); #next = 1; #info; #thumbUrls = new Map();

  constructor(worker, info) {
    this.#worker = worker;
    this.#info = info;
  }

  /** Load a bundle (a folder URL holding manifest.json). Rejects with a clear message on a bad bundle. */
  static async open(bundleUrl, options = {}) {
    const script = new URL('./worker.js', import.meta.url);
    // A worker that cannot start (CSP worker-src, a script on another origin, a missing file)
    // rejects with code 'worker', so a page can explain it rather than show the browser's words.
    const workerError = (message) => Object.assign(new Error(message), { code: 'worker' });
    let worker = options.worker;
    if (!worker) {
      try { worker = new Worker(script, { type: 'module' }); } catch (err) { throw workerError(String(err && err.message ? err.message : err)); }
    }
    const lens = new NftLens(worker, null);
    worker.onmessage = (e) => lens.#settle(e.data);
    worker.onerror = (e) => lens.#failAll(workerError(e.message || `the NFT Lens worker (${script.href}) failed to start`));
    const base = new URL(bundleUrl, document.baseURI).href;
    try {
      lens.#info = await lens.#call('open', { bundleUrl: base, threads: options.threads });
    } catch (err) {
      if (!options.worker) worker.terminate();  // don't leak a worker per failed load
      throw err;
    }
    lens.bundleUrl = base.endsWith('/') ? base : base + '/';
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
   *  {query, results: [token + score], facets: {traitType: {value: count}}, timings}. options: {k} (default 20). */
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
  close() { this.#worker.terminate(); this.#failAll(new Error('closed')); }

  #call(op, args, transfer = []) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, op, args }, transfer);
    });
  }
  #settle({ id, ok, result, error, code }) {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (ok) return p.resolve(result);
    const err = new Error(error);
    err.code = code;  // machine-readable: branch on this, not on the text
    p.reject(err);
  }
  #failAll(err) {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

export default NftLens;
