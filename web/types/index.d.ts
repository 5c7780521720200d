// Type declarations for nft-lens: the ES module API ("nft-lens") and the <nft-lens> custom element
// class and events (declared here, re-exported by element.d.ts for "nft-lens/element"). Every string in a Token or Collection comes from the bundle, i.e. from
// whoever built it: treat it as untrusted (render it as text, check URLs before using them).

/** A trait of a token, as in ERC-721 / OpenSea metadata. */
export interface Attribute {
  trait_type: string;
  value: string;
}

/** A token's catalogue entry (lens.token(index)); search results extend it with a score. */
export interface Token {
  /** Position of the token in the bundle (argument of lens.token()). */
  index: number;
  /** Collection slug. */
  collection: string;
  collection_name: string;
  /** Number of tokens in the collection (for "rank r of N"). */
  collection_size: number;
  token_id: string;
  name: string;
  description: string;
  /** The image as listed in the metadata: a bundle-relative path, http(s) or ipfs:// URL. */
  image: string;
  /** Where the 96 px thumbnail sits: a byte range of a thumbnail pack of the bundle; null if none. */
  thumb: { pack: string; offset: number; bytes: number } | null;
  /** The thumbnail's bytes (PNG), fetched and checked by the worker; display with `lens.imageUrl(token)`. */
  thumb_blob?: Blob;
  external_url: string;
  /** Marketplace link built by the bundle builder. Untrusted: check it is http(s) before use. */
  link: string;
  attributes: Attribute[];
  rarity_score: number;
  /** 1 = rarest; 0 when unknown. */
  rarity_rank: number;
}

/** One search hit. */
export interface SearchHit extends Token {
  /** Similarity in [0, 1] (cosine); result.match compares the best one to result.threshold. */
  score: number;
  /** Pixel agreement with the query once aligned (-1..1), for re-ranked hits; they are ordered by
   *  alignment + 0.5 x score. */
  alignment?: number;
  /** Image results: the number the order follows, 0..1, never rising down the list ((alignment +
   *  0.5 x score) / 1.5 for re-ranked hits, else score capped by the hit above). Cards show it. */
  relevance?: number;
}

export interface SearchTimings {
  /** Milliseconds. */
  decode: number;
  preprocess: number;
  inference: number;
  search: number;
  /** Partitioned bundles: time spent fetching shards and catalogue fragments. */
  fetch: number;
  total: number;
}

export interface SearchResult {
  /** The first result is the very token shown ("token"), the image only looks like a token of a
   *  collection in the bundle ("collection"), or it is nothing known ("none"). */
  verdict: 'token' | 'collection' | 'none';
  /** Calibrated probability that the first result is the same token; null for bundles built before calibration. */
  confidence: number | null;
  /** The confidence is near the bundle's operating point: say so. */
  close_call: boolean;
  /** Collection slug, for verdicts "token" and "collection". */
  collection?: string;
  /** verdict === "token". */
  match: boolean;
  threshold: number;
  /** Best first. */
  results: SearchHit[];
  timings: SearchTimings;
  query: { width: number; height: number; views: number; model_runs: number };
  /** Partitioned bundles: parts this query had to fetch (0 when all were cached); `requests`: HTTP
   *  range requests they took (parts close together in one file share one; cached parts take none). */
  fetched?: { parts: number; bytes: number; requests: number };
  /** Thumbnails fetched for re-ranking by this query (absent when none were needed). */
  thumbs?: { fetched: number; bytes: number };
  /** With options.facets: trait values of the results (counted by the core). */
  facets?: Facets;
  /** Set by <nft-lens> on the answer of a camera scan (its nftlens-results event). */
  scan?: ScanInfo;
}

/** How a camera scan reached its answer (SearchResult.scan). */
export interface ScanInfo {
  /** Frames analysed (one search each, never two at once). */
  frames: number;
  /** Milliseconds from Scan (the camera being asked for) to the answer. */
  ms: number;
  /** No frame gave a sure answer within the timeout: this is the most confident frame's answer. */
  bestGuess: boolean;
  /** The scan-timeout in force, in seconds. */
  timeout: number;
}

/** The nftlens-scan event's detail: the camera scan's state. */
export interface NftLensScanDetail {
  /** start: the camera is being opened; live: frames are being analysed; pause / resume: the page
   *  was hidden / is visible again; stop: the camera is off. */
  state: 'start' | 'live' | 'pause' | 'resume' | 'stop';
  /** With stop: a sure answer ('verdict'), the timeout ('timeout', the best guess is shown), the
   *  Stop button or stopScan() ('stopped'), another search or bundle ('interrupted'), a camera
   *  error ('error', also an nftlens-error), or a camera that showed no picture ('nopicture'). */
  reason?: 'verdict' | 'timeout' | 'stopped' | 'interrupted' | 'error' | 'nopicture';
  /** With stop: frames analysed and milliseconds since start. */
  frames?: number;
  ms?: number;
}

/** One text-search hit. */
export interface TextSearchHit extends Token {
  /** Relevance: matched query words weighted by rarity and field; higher is better, not bounded.
   *  For a query of filters only, 1 / rarity_rank. */
  score: number;
}

/** Trait type -> value -> number of results that have it. */
export type Facets = Record<string, Record<string, number>>;

export interface TextSearchResult {
  /** The query as searched. */
  query: string;
  /** Best first. */
  results: TextSearchHit[];
  /** How many tokens match (results holds the first k); absent from cores that do not count them. */
  total?: number;
  /** Trait values of the results, for refining the search. */
  facets: Facets;
  /** Milliseconds (fetch: waiting for bundle parts). */
  timings: { search: number; fetch?: number };
  /** Partitioned bundles: bundle parts this search fetched (word lexicon and chunks, catalogue fragments). */
  fetched?: { parts: number; bytes: number; requests: number };
}

/** A trait value completing the last word typed (lens.suggest). */
export interface Suggestion {
  type: string;
  value: string;
  /** Tokens with this trait value. */
  count: number;
}

export interface TextSearchOptions {
  /** Number of results (default 20). */
  k?: number;
}

export interface SuggestOptions {
  /** Number of suggestions (default 8). */
  n?: number;
}

/** A trait filter chosen in <nft-lens> (a chip). */
export interface TraitFilter {
  type: string;
  value: string;
}

export interface Collection {
  slug: string;
  name: string;
  description?: string;
  chain?: string;
  contract?: string;
  count: number;
}

/** The bundle's model card (see docs/model.md). */
export interface ModelCard {
  name: string;
  format: string;
  file: string;
  sha256: string;
  bytes: number;
  description?: string;
  license?: string;
  source?: string;
  trained_on?: string;
  input: {
    name: string;
    width: number;
    height: number;
    channels: number;
    layout: string;
    color: string;
    resize: string;
    mean: number[];
    std: number[];
    background: number[];
  };
  outputs: { name: string; dim: number; pooling: string; shape: string }[];
  [key: string]: unknown;
}

export interface LensInfo {
  tokens: number;
  entries: number;
  threshold: number;
  /** Distance kernel in use, e.g. "wasm-simd128". */
  kernel?: string;
  /** Images with more pixels are refused. */
  max_pixels: number;
  model: ModelCard;
  /** Inference threads (1 unless the page is cross-origin isolated). */
  threads: number;
  collections: Collection[];
  /** True for a partitioned bundle: each query fetches only the shards and catalogue fragments it
   *  needs (and the thumbnails of the hits it re-ranks). */
  partitioned: boolean;
  /** Text search, suggestions, trait filters and trait statistics are available: always on a
   *  one-index bundle; on a partitioned one through its word chunks, or (bundles built before them)
   *  when its whole catalogue (layout.catalogue_bytes) is at most 4 MB. Otherwise they reject with
   *  code "unsupported". */
  text: boolean;
  /** Where text calls get their data: "memory" (one index), "whole" (a partitioned bundle's whole
   *  catalogue, fetched once), "chunks" (its word lexicon once, then the word chunks and result
   *  fragments per query), "none". On "chunks", a rank:A-B or collection: filter alone is refused
   *  (code "unsupported"): it needs a word or a trait filter beside it. */
  text_index?: 'memory' | 'whole' | 'chunks' | 'none';
  layout?: { partitions: number; probe: number; fragments: number; fragment_tokens: number; catalogue_bytes: number;
             word_chunks?: number; word_chunk_bytes?: number; lexicon_bytes?: number };
}

/** Trait type -> value -> number of tokens. */
export type TraitStats = Record<string, Record<string, number>>;

export type ImageInput = File | Blob | ArrayBuffer | ArrayBufferView | ImageBitmap | string;

/** A download's progress (NftLens.open's onprogress; the element's nftlens-progress event). */
export interface LoadProgress {
  /** 'bundle': the files opening a bundle needs; 'runtime' and 'model': the image model (the
   *  onnxruntime-web wasm and the bundle's model), fetched by the first image search or prefetch(). */
  phase: 'bundle' | 'runtime' | 'model';
  /** Bytes received so far in this phase. */
  loaded: number;
  /** The phase's bytes, or null when unknown (e.g. a compressed response of unknown size). */
  total: number | null;
  /** The phase's last report. */
  done: boolean;
}

export interface OpenOptions {
  /** Use this worker instead of starting src/worker.js (never shared with other handles). */
  worker?: Worker;
  /** Inference threads when cross-origin isolated (default: hardware concurrency, 2..4). */
  threads?: number;
  /** The worker script (default: src/worker.js beside this module; dist/ is found relative to it).
   *  Relative to the page. On another origin (a CDN) it is started through a same-origin blob:
   *  module, which needs CORS from that origin and CSP worker-src blob: plus the origin. */
  workerUrl?: string | URL;
  /** Called with the progress of downloads, at most every 100 ms per phase. */
  onprogress?: (progress: LoadProgress) => void;
  /** A partitioned bundle's text calls fetch its whole catalogue up to this many bytes (default
   *  4 MB; then everything is answered from memory), beyond it the word chunks each query needs. */
  wholeCatalogueBytes?: number;
}

/** Every option is checked by the core: an unknown option, a wrong type or a value out of range
 *  rejects with code "bad_request", naming it. Options not set take the core's defaults. */
export interface SearchOptions {
  /** Number of results (default 10, at most 1000). */
  k?: number;
  /** Restrict to these collection slugs (default: all). */
  collections?: string[];
  /**
   * Only tokens passing these filters ("this image, but only ..."): space-separated `type:value`
   * (quote values with spaces: `"glasses":"square red"`), `collection:slug`, `rank:1-100`.
   */
  filter?: string;
  /** Partitioned bundles: partitions to search (default: the bundle's). More finds more of the
   *  exact nearest tokens and downloads more bytes on a cold query. */
  probe?: number;
  /** How many first hits are re-ranked by aligning the image with their thumbnails (default 30, as
   *  `nftlens query`; 0 = off; at most 100). Fetches those thumbnails (a few KB each, HTTP-cached).
   *  Bundles built with thumbnails only. */
  rerank?: number;
  /** HNSW search breadth (default: the index's). */
  ef?: number;
  /** Exhaustive scan instead of the HNSW index (or of every partition). */
  exact?: boolean;
  /** Also count the results' trait values (result.facets). */
  facets?: boolean;
}

/** Why a call rejected: the core's machine-readable reason (err.code), beside the message. */
export type NftLensErrorCode =
  | 'bad_request' | 'not_image' | 'bad_image' | 'bad_bundle' | 'unsupported' | 'no_bundle' | 'network' | 'worker' | 'error';

/** Handle on a loaded bundle. All work happens in a Web Worker; the image is never uploaded. */
export declare class NftLens {
  /** Load a bundle (folder URL holding manifest.json). Rejects with a clear message on a bad bundle.
   *  A bundle already open (or opening) on the page is shared: the new handle uses the same worker. */
  static open(bundleUrl: string | URL, options?: OpenOptions): Promise<NftLens>;
  /** Absolute URL of the bundle folder, ending in '/'. */
  readonly bundleUrl: string;
  /**
   * Find the tokens an image shows. A string is fetched by the worker (so the page's CSP
   * connect-src applies to it).
   */
  searchImage(input: ImageInput, options?: SearchOptions): Promise<SearchResult>;
  /**
   * Find tokens by words and filters: "pizza head red glasses", "glasses:red", `"head":"pizza"`,
   * "collection:nouns", "rank:1-100". Case, punctuation, camelCase, plurals and misspellings are
   * handled by the core.
   */
  searchText(query: string, options?: TextSearchOptions): Promise<TextSearchResult>;
  /** Trait values completing the last word of `prefix`, most common first. */
  suggest(prefix: string, options?: SuggestOptions): Promise<Suggestion[]>;
  collections(): Collection[];
  info(): LensInfo;
  token(index: number): Promise<Token>;
  /** For one collection (index into collections()) or all (-1, the default). */
  traitStats(collection?: number): Promise<TraitStats>;
  /** Descriptors of the last query (for parity tests); null before the first search. */
  lastDescriptors(): Promise<Float32Array | null>;
  /** A displayable URL for a token: an object URL of its checked thumbnail (`thumb_blob`), else its
   *  http(s) image, `ipfs://` via a gateway, or ''. */
  imageUrl(token: Pick<Token, 'thumb' | 'image' | 'thumb_blob'>): string;
  /** Fetch the image-search runtime and the model now (otherwise the first image search does);
   *  resolves when they are ready. Text search is answered meanwhile. */
  prefetch(): Promise<true>;
  /** Release this handle: its pending calls reject; the worker stops when no handle uses it. */
  close(): void;
}
export default NftLens;

export interface NftLensErrorDetail {
  /** What went wrong, in plain words (also shown in the element's alert). */
  message: string;
  /** The technical text behind a plain message (e.g. the browser's "Failed to construct 'Worker'"), if any. */
  detail?: string;
}

/**
 * <nft-lens bundle="/bundle/" k="8" text-k="20" worker-url="..." scan-timeout="20">: drop zone, paste, file picker /
 * camera, live camera scan, image URL field, collection filter, text search with trait suggestions, facets and filter chips, results
 * grid. Defined by importing "nft-lens/element".
 */
export declare class NftLensElement extends HTMLElement {
  static readonly observedAttributes: string[];
  /** The NftLens handle once the bundle is loaded, else null. */
  readonly lens: NftLens | null;
  /** Resolves once the current bundle is loaded; rejects on a bad bundle. */
  readonly ready: Promise<NftLens>;
  /** The last search result shown (image or text), or null. */
  readonly lastResult: SearchResult | TextSearchResult | null;
  /** The active trait filters (chips), a copy. */
  readonly filters: TraitFilter[];
  /** Reflects the bundle attribute; setting it reloads. */
  bundle: string;
  /** Reflects the worker-url attribute ('' = src/worker.js beside the module); setting it reloads. */
  workerUrl: string;
  /** Reflects the k attribute (results shown, default 8, at most 100). */
  k: number;
  /** Reflects the text-k attribute (text results shown, default 20, at most 100). */
  textK: number;
  /** Reflects the scan-timeout attribute: seconds a camera scan looks for a sure answer before
   *  showing its best guess (default 20, at most 600; counted from the first analysed frame, and
   *  not while the page is hidden). */
  scanTimeout: number;
  /** A camera scan is running (the camera is on). */
  readonly scanning: boolean;
  /**
   * Scan with the camera, as the Scan button does: analyse live frames until a sure answer or the
   * timeout, then show it (nftlens-results, with result.scan) and turn the camera off. Resolves
   * once the camera is on, or could not be opened (then nftlens-error says why).
   */
  scan(): Promise<void>;
  /** Stop a scan and turn the camera off (all tracks stopped); no answer is shown. */
  stopScan(): void;
  /**
   * Identify an image and show the results (a new image clears the filter chips). Resolves with the result (null if a newer search
   * replaced this one before it started); rejects after showing the error and firing nftlens-error.
   */
  search(input: ImageInput): Promise<SearchResult | null>;
  /**
   * Put `query` in the search box and search by words and filters together with the active chips.
   * Resolves with the result (null if superseded or there was nothing to search for).
   */
  searchText(query: string): Promise<TextSearchResult | null>;
  addEventListener<K extends keyof NftLensElementEventMap>(type: K, listener: (this: NftLensElement, ev: NftLensElementEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof NftLensElementEventMap>(type: K, listener: (this: NftLensElement, ev: NftLensElementEventMap[K]) => unknown, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

export interface NftLensElementEventMap extends HTMLElementEventMap {
  'nftlens-ready': CustomEvent<LensInfo>;
  'nftlens-results': CustomEvent<SearchResult | TextSearchResult>;
  'nftlens-error': CustomEvent<NftLensErrorDetail>;
  'nftlens-progress': CustomEvent<LoadProgress>;
  'nftlens-scan': CustomEvent<NftLensScanDetail>;
}

declare global {
  interface HTMLElementTagNameMap {
    'nft-lens': NftLensElement;
  }
  // The events bubble and are composed, so they can be heard on any ancestor or the document.
  interface HTMLElementEventMap {
    'nftlens-ready': CustomEvent<LensInfo>;
    'nftlens-results': CustomEvent<SearchResult | TextSearchResult>;
    'nftlens-error': CustomEvent<NftLensErrorDetail>;
    'nftlens-progress': CustomEvent<LoadProgress>;
    'nftlens-scan': CustomEvent<NftLensScanDetail>;
  }
  interface DocumentEventMap {
    'nftlens-ready': CustomEvent<LensInfo>;
    'nftlens-results': CustomEvent<SearchResult | TextSearchResult>;
    'nftlens-error': CustomEvent<NftLensErrorDetail>;
    'nftlens-progress': CustomEvent<LoadProgress>;
    'nftlens-scan': CustomEvent<NftLensScanDetail>;
  }
}
