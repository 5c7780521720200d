// NFT Lens browser API. All work happens in a Web Worker (worker.js); this module is the handle.
//   const lens = await NftLens.open('/bundle/');
//   const { match, results, timings } = await lens.searchImage(file, { k: 10, collections: ['nouns'] });
// The image is decoded, embedded and searched inside the worker: it is never uploaded.
export class NftLens {
  #worker; #pending = new Map(); #next = 1; #info;

  constructor(worker, info) {
    this.#worker = worker;
    this.#info = info;
  }

  /** Load a bundle (a folder URL holding manifest.json). Rejects with a clear message on a bad bundle. */
  static async open(bundleUrl, options = {}) {
    const worker = options.worker || new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const lens = new NftLens(worker, null);
    worker.onmessage = (e) => lens.#settle(e.data);
    worker.onerror = (e) => lens.#failAll(new Error(e.message || 'NFT Lens worker failed to start'));
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
   *  filter: trait filters such as 'glasses:red rank:1-100' ("this image, but only ...").
   *  probe: partitioned bundles only, partitions to search (0 = the bundle's default; more finds
   *  more of the exact nearest tokens and downloads more).
   *  rerank: the first hits re-ranked by aligning the image with their thumbnails (0 = off; needs a
   *  bundle built with thumbnails; not yet on partitioned bundles). */
  searchImage(input, { k = 10, collections = [], filter = '', probe = 0, rerank = 30 } = {}) {
    if (typeof input === 'string') input = new URL(input, document.baseURI).href;  // relative to the page, not the worker
    const transfer = typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap ? [input] : [];
    return this.#call('search', { image: input, k, collections, filter, probe, rerank }, transfer);
  }

  /** Find tokens by words and filters ("pizza head red glasses", "glasses:red", "rank:1-10"):
   *  {results: [token + score], facets: {traitType: {value: count}}, timings}. */
  searchText(query, { k = 20 } = {}) { return this.#call('textSearch', { query, k }); }
  /** Trait values that complete the last word typed: [{type, value, count}]. */
  suggest(prefix, { n = 8 } = {}) { return this.#call('suggest', { prefix, n }); }

  /** Collections in the bundle: [{slug, name, description, chain, contract, count}]. */
  collections() { return this.#info.collections; }
  /** Bundle summary: tokens, entries, threshold, model card, threads, partitioned (+ layout). */
  info() { return this.#info; }
  /** One token's catalogue entry by index. */
  token(index) { return this.#call('token', { index }); }
  /** Trait type -> value -> count, for one collection index or all (-1). */
  traitStats(collection = -1) { return this.#call('traitStats', { collection }); }
  /** Descriptors of the last query (Float32Array; for parity tests). */
  lastDescriptors() { return this.#call('descriptors'); }
  /** Resolve a token's thumbnail/image to a URL a page may display (bundle-relative or http(s) only). */
  imageUrl(token) {
    if (token.thumb) {
      const u = new URL(token.thumb, this.bundleUrl).href;  // must stay inside the bundle
      if (u.startsWith(this.bundleUrl)) return u;
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
  #settle({ id, ok, result, error }) {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    ok ? p.resolve(result) : p.reject(new Error(error));
  }
  #failAll(err) {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

export default NftLens;
