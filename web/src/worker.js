// NFT Lens worker: loads a bundle, embeds query images with onnxruntime-web and searches them with
// the wasm core. Everything numeric happens in the core or the model; this file only moves bytes.
// Runs off the main thread so the page never freezes. The query image never leaves this worker.
//
// Load weight: opening a bundle fetches only what the core needs (index, catalogue, recipe, ...).
// The ONNX runtime (~14 MB of wasm) and the bundle's model are fetched by the first image search
// (or a 'prefetch'), so text search and suggestions never pay for them. While bytes arrive the
// worker posts {progress: {phase: 'bundle' | 'runtime' | 'model', loaded, total, done}}.
import createCore from '../dist/nftlens-core.js';

const CACHE_NAME = 'nftlens-bundle-v1';
// (the runtime's wasm, fetched here so its download can be reported and handed to ort as bytes)
const ORT_WASM = new URL('../dist/ort/ort-wasm-simd-threaded.wasm', import.meta.url).href;
let core = null;     // the wasm module
let lens = null;     // core Lens instance
let session = null;  // onnxruntime-web InferenceSession, once the first image search loaded it
let ort = null;      // the onnxruntime-web module, likewise
let info = null;     // bundle summary
let base = null;     // bundle folder URL
let modelFile = null;  // the manifest's entry of role "model" (fetched on demand)
let opening = Promise.resolve();  // the current open(): image searches wait for it before loading the model

// The core answers JSON; a failure is {"error", "code"}: thrown with its machine-readable code.
function coreResult(text) {
  const r = JSON.parse(text);
  if (r && r.error) throw codedError(r.error, r.code);
  return r;
}
function codedError(message, code = 'error') {
  const err = new Error(message);
  err.code = code;
  return err;
}

// Progress of one phase, over several files: posted at once (so a bar can say a download started
// before its size is known), at most every 100 ms while bytes arrive, and once at the end.
function meter(phase, total) {
  let loaded = 0, last = performance.now();
  const post = (done) => self.postMessage({ progress: { phase, loaded, total: total || null, done } });
  post(false);
  return {
    setTotal(n) { total = n; },
    add(n) {
      loaded += n;
      if (total && loaded > total) total = null;  // (a compressed Content-Length: the total is unknown)
      const now = performance.now();
      if (now - last >= 100) { last = now; post(false); }
    },
    done() { post(true); },
  };
}
// A response's body, counted into `m` as it arrives.
async function readBody(res, m) {
  if (!m || !res.body) { const b = new Uint8Array(await res.arrayBuffer()); if (m) m.add(b.length); return b; }
  const chunks = [];
  let n = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value); n += value.length; m.add(value.length);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

// Content-hashed files never change: serve them from the Cache API after the first fetch.
// `check` (the core's size + SHA-256 test) runs before anything is cached, and a cached copy that
// fails it is dropped and fetched again, so a bad download never sticks. `m`: a progress meter.
async function fetchImmutable(url, check, m = null) {
  let cache = null;
  try { cache = await caches.open(CACHE_NAME); } catch { /* no Cache API (opaque origin): HTTP cache only */ }
  if (cache) {
    const hit = await cache.match(url);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      try { check(bytes); if (m) m.add(bytes.length); return bytes; } catch { await cache.delete(url); }
    }
  }
  const res = await fetch(url);
  if (!res.ok) throw codedError(`${url}: HTTP ${res.status}`, 'network');
  const bytes = await readBody(res, m);
  check(bytes);
  if (cache) await cache.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } }));
  return bytes;
}

// manifest.json is revalidated on every open (a new build must show at once), and a copy is kept in
// the Cache API: when the network is down (offline, after a browser restart) the last one seen opens
// the bundle, whose content-hashed files are all in the cache too. An HTTP error is not "offline".
async function fetchManifest(url) {
  let cache = null;
  try { cache = await caches.open(CACHE_NAME); } catch { /* no Cache API */ }
  let res;
  try {
    res = await fetch(url, { cache: 'no-cache' });
  } catch (err) {
    const hit = cache && await cache.match(url);
    if (hit) return hit.text();
    throw codedError(`bundle manifest ${url}: ${err.message || err} (offline, and not opened before)`, 'network');
  }
  if (!res.ok) throw codedError(`bundle manifest ${url}: HTTP ${res.status}`, 'network');
  const text = await res.text();
  if (cache) await cache.put(url, new Response(text, { headers: { 'content-type': 'application/json' } })).catch(() => {});
  return text;
}

async function open({ bundleUrl, threads, wholeCatalogueBytes }) {
  base = new URL(bundleUrl, self.location.href);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  core = core || await createCore();
  lens = new core.Lens();
  session = null;
  const manifest = coreResult(lens.openManifest(await fetchManifest(new URL('manifest.json', base).href)));
  // The model waits for the first image search (loadModel); the core needs the rest now.
  modelFile = manifest.files.find((f) => f.role === 'model') || null;
  const files = manifest.files.filter((f) => f.role !== 'model');
  const m = meter('bundle', files.reduce((a, f) => a + (Number(f.bytes) || 0), 0));
  // (every phase ends with a done report, a failed one too: a progress bar must not stay up)
  await Promise.all(files.map((f) =>
    // size + SHA-256 checked against the manifest by the core
    fetchImmutable(new URL(f.name, base).href, (b) => coreResult(lens.addFile(f.role, b)), m))).finally(() => m.done());
  const summary = coreResult(lens.finish(JSON.stringify(wholeCatalogueBytes === undefined ? {} : { whole_catalogue_bytes: wholeCatalogueBytes })));
  const isolated = self.crossOriginIsolated === true;
  const numThreads = isolated ? Math.max(2, Math.min(4, threads || navigator.hardwareConcurrency || 2)) : 1;
  info = { ...summary, model: manifest.model, threads: numThreads, collections: JSON.parse(lens.collections()) };
  return info;
}

// The runtime: onnxruntime-web's module (imported on first use, not with this file) and its wasm,
// fetched here with progress and handed over as bytes. Shared by every bundle this worker opens.
let runtime = null;
function loadRuntime() {
  if (!runtime) {
    runtime = (async () => {
      const pending = import('../dist/ort/ort.wasm.bundle.min.mjs');
      pending.catch(() => {});  // (awaited below)
      const m = meter('runtime', 0);  // (its size is known once the response starts)
      let wasm, mod;
      try {
        const res = await fetch(ORT_WASM);
        if (!res.ok) throw codedError(`${ORT_WASM}: HTTP ${res.status}`, 'network');
        m.setTotal(res.headers.get('content-encoding') ? 0 : Number(res.headers.get('content-length')) || 0);
        wasm = await readBody(res, m);
        mod = await pending;
      } finally {
        m.done();
      }
      mod.env.wasm.wasmBinary = wasm.buffer;
      mod.env.wasm.numThreads = info ? info.threads : 1;
      return mod;
    })();
    runtime.catch(() => { runtime = null; });  // a failed download is tried again by the next search
  }
  return runtime;
}

// The model of the open bundle, and an inference session on it. Memoised per bundle; a failure is
// forgotten so the next image search tries again (e.g. back online).
let modelLoad = null;  // {lens, promise}
function loadModel() {
  const forLens = lens;
  if (modelLoad && modelLoad.lens === forLens) return modelLoad.promise;
  const promise = (async () => {
    if (!modelFile) throw codedError('the bundle lists no model file', 'bad_bundle');
    const m = meter('model', Number(modelFile.bytes) || 0);
    const url = new URL(modelFile.name, base).href;
    let bytes, mod;
    try {
      // Both settle before a failure is reported: no download goes on behind a failed search.
      const got = await Promise.allSettled([loadRuntime(),
        // size + SHA-256 checked against the manifest by the core, as at open
        fetchImmutable(url, (b) => coreResult(forLens.addFile('model', b)), m).finally(() => m.done())]);
      const failed = got.find((g) => g.status === 'rejected');
      if (failed) throw failed.reason;
      [mod, bytes] = got.map((g) => g.value);
    } catch (err) {
      if (err && err.code && err.code !== 'error' && err.code !== 'network') throw err;  // e.g. bad_bundle: a damaged model, by name
      throw codedError(`could not download the image model (${err && err.message ? err.message : err}); text search still works`, 'network');
    }
    const s = await mod.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    if (lens === forLens) { ort = mod; session = s; }
    return s;
  })();
  modelLoad = { lens: forLens, promise };
  promise.catch(() => { if (modelLoad && modelLoad.promise === promise) modelLoad = null; });
  return promise;
}
// Waits for the current open() first: an image search sent right after open needs its bundle.
async function ensureModel() {
  await opening.catch(() => {});
  if (!lens || !info) throw codedError('bundle not loaded', 'no_bundle');
  return loadModel();
}

// Decode in the core when it can (PNG/JPEG/GIF/BMP: identical pixels to the native builder);
// otherwise let the platform decode (WebP, SVG, AVIF, ...) and pass RGBA pixels.
async function beginQuery(input) {
  if (typeof input === 'string') {
    const res = await fetch(input);
    if (!res.ok) throw codedError(`image URL: HTTP ${res.status}`, 'network');
    input = await res.blob();
  }
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) input = new Blob([input]);
  let bitmap = null;
  if (input instanceof Blob) {
    if (input.size === 0) throw codedError('the image file is empty', 'bad_image');
    const bytes = new Uint8Array(await input.arrayBuffer());
    const r = JSON.parse(lens.beginQueryEncoded(bytes));
    if (!r.error) return r;
    if (r.code !== 'not_image') throw codedError(r.error, r.code);
    try {
      bitmap = await createImageBitmap(input, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    } catch {
      throw codedError('this file is not an image the browser can read', 'not_image');
    }
  } else if (typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap) {
    bitmap = input;
  } else {
    throw codedError('searchImage needs a File, Blob, ArrayBuffer, ImageBitmap or image URL', 'bad_request');
  }
  // (checked before the canvas is allocated; the core checks the same limit again)
  if (bitmap.width * bitmap.height > info.max_pixels) {
    throw codedError(`the image is ${bitmap.width}x${bitmap.height} pixels, more than the ${info.max_pixels / 1e6} million NFT Lens reads`, 'bad_image');
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const pixels = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  return coreResult(lens.beginQueryRGBA(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), bitmap.width, bitmap.height));
}

// Thumbnails are byte ranges of content-hashed packs (thumbs.<hash>.bin). Each is fetched with an
// HTTP Range request; a host that ignores Range answers 200 with the whole pack, which is then
// kept (a few at a time) and sliced for every later thumbnail of that pack. The core checks each
// thumbnail against its catalogue entry (size + digest) when it is handed over, so a damaged pack
// is refused by name. A thumbnail that cannot be fetched at all is handed over empty: that hit just
// ranks low in re-ranking, and its card shows no image.
let rangeSupport = null;      // null: not known yet; true: the host answers 206; false: it answers 200
const wholePacks = new Map(); // pack URL -> Promise<Uint8Array> (hosts without Range), most recent last
const thumbBytes = new Map(); // "pack:offset" -> checked thumbnail bytes, for the result cards
const kWholePacks = 4, kThumbBytes = 512;

function remember(map, key, value, max) {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value);
}
function wholePack(url) {
  if (!wholePacks.has(url)) {
    const p = fetch(url).then(async (res) => {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    });
    p.catch(() => wholePacks.delete(url));
    remember(wholePacks, url, p, kWholePacks);
  }
  return wholePacks.get(url);
}
function fetchRange(part) {  // (rangeBytes below; a thumbnail that cannot be fetched is handed over empty)
  return rangeBytes(part.name, part.offset, part.offset + part.bytes).catch(() => new Uint8Array(0));
}
// Ranges of one pack: while it is not known whether the host honours Range, the first range of
// each pack goes alone, so that a host sending whole packs sends each pack once.
async function fetchThumbs(parts) {
  const out = new Map();
  const byPack = new Map();
  for (const p of parts) byPack.set(p.name, [...(byPack.get(p.name) || []), p]);
  await Promise.all([...byPack.values()].map(async (list) => {
    let rest = list;
    if (rangeSupport === null) {
      out.set(list[0], await fetchRange(list[0]));
      rest = list.slice(1);
    }
    await Promise.all(rest.map(async (p) => out.set(p, await fetchRange(p))));
  }));
  return out;
}
// Shards and catalogue fragments that are byte ranges of group files (partition table version 4).
// Parts of one file that lie close together are fetched as one range and cut (text search loading
// a whole catalogue asks for every fragment: about one request per file, not one per fragment). A
// host that ignores Range sends the whole file, which is kept and cut as for packs. Each part is
// checked by the core (size and digest, naming the file and range) before it is kept in the Cache
// API under its own key. Unlike a thumbnail, a part that cannot be fetched fails the call.
const kSpanSlack = 4096;  // join two parts' ranges when at most this many unneeded bytes lie between them (bytes per query are the budget; a request costs ~0.5 KB of headers)
async function rangeBytes(name, start, end) {
  const url = new URL(name, base).href;
  if (rangeSupport === false || wholePacks.has(url)) {
    const whole = await wholePack(url).catch((e) => { throw codedError(`${url}: ${e.message}`, 'network'); });
    return whole.slice(start, end);
  }
  let res;
  try {
    res = await fetch(url, { headers: { Range: `bytes=${start}-${end - 1}` } });
  } catch (e) {
    throw codedError(`${url}: ${e.message}`, 'network');
  }
  if (res.status === 416) return new Uint8Array(0);  // (the file is shorter than the table says: the core names the part)
  if (!res.ok) throw codedError(`${url}: HTTP ${res.status}`, 'network');
  if (res.status === 206) {
    rangeSupport = true;
    return new Uint8Array(await res.arrayBuffer());
  }
  rangeSupport = false;  // the whole file came back: keep it for the other parts in it
  const whole = new Uint8Array(await res.arrayBuffer());
  remember(wholePacks, url, Promise.resolve(whole), kWholePacks);
  return whole.slice(start, end);
}
async function fetchRangedParts(parts, fetched) {
  let cache = null;
  try { cache = await caches.open(CACHE_NAME); } catch { /* no Cache API */ }
  const keyOf = (p) => `${new URL(p.name, base).href}?bytes=${p.offset}-${p.offset + p.bytes - 1}`;
  const take = (p, bytes) => {
    coreResult(lens.addPart(p.kind, p.id, bytes));
    fetched.parts++;
    fetched.bytes += p.bytes;
  };
  const missing = [];
  for (const p of parts) {
    const hit = cache && await cache.match(keyOf(p));
    if (hit) {
      try { take(p, new Uint8Array(await hit.arrayBuffer())); continue; } catch { await cache.delete(keyOf(p)); }
    }
    missing.push(p);
  }
  const byFile = new Map();
  for (const p of missing) byFile.set(p.name, [...(byFile.get(p.name) || []), p]);
  const spans = [];  // (the spans of one file stay adjacent: a whole-file answer is then asked for once)
  for (const [name, list] of byFile) {
    list.sort((a, b) => a.offset - b.offset);
    let span = null;
    for (const p of list) {
      const end = p.offset + p.bytes;
      if (span && p.offset - span.end <= kSpanSlack) {
        span.end = Math.max(span.end, end);
        span.parts.push(p);
      } else {
        span = { name, start: p.offset, end, parts: [p] };
        spans.push(span);
      }
    }
  }
  const fetchSpan = async (s) => {
    const bytes = await rangeBytes(s.name, s.start, s.end);
    fetched.requests = (fetched.requests || 0) + 1;
    for (const p of s.parts) {
      const b = bytes.slice(p.offset - s.start, p.offset - s.start + p.bytes);  // (short if the answer was)
      take(p, b);
      if (cache) await cache.put(keyOf(p), new Response(b, { headers: { 'content-type': 'application/octet-stream' } }));
    }
  };
  // While it is not known whether the host honours Range, the first span goes alone, so that a
  // host sending whole files sends each once.
  if (rangeSupport === null && spans.length) await fetchSpan(spans.shift());
  await Promise.all(spans.map(fetchSpan));
}

// Hand a thumbnail to the core (which checks it) and keep the checked bytes for the cards.
function addThumb(part, bytes) {
  coreResult(lens.addPart('thumb', part.id, bytes));
  if (bytes.length) remember(thumbBytes, `${part.name}:${part.offset}`, bytes, kThumbBytes);
}

// The core answers {"need": [parts]} until it holds every bundle part a call needs: the shards a
// query probes and the catalogue fragments of its hits (partitioned bundles; text calls first the
// directory, which places the fragments no loaded shard has placed), the word lexicon and
// the word chunks of a text query or trait filter, the thumbnails of the hits it re-ranks. Fetch
// them in parallel (shards and fragments are checked by the core against the partition table and
// cached like every other bundle file; those with an "offset" are byte ranges of a group file)
// and make the same call again.
async function withParts(call, fetched = { parts: 0, bytes: 0, ms: 0 }) {
  for (let round = 0; ; round++) {
    const r = coreResult(call());
    if (!r.need) return r;
    if (round > 8) throw codedError('bundle parts could not be loaded', 'bad_bundle');
    const t0 = performance.now();
    const thumbs = r.need.filter((p) => p.kind === 'thumb');
    const got = await fetchThumbs(thumbs);
    for (const p of thumbs) {
      addThumb(p, got.get(p));
      fetched.thumbs = (fetched.thumbs || 0) + 1;
      fetched.thumbBytes = (fetched.thumbBytes || 0) + got.get(p).length;
    }
    const others = r.need.filter((p) => p.kind !== 'thumb');
    await Promise.all([
      fetchRangedParts(others.filter((p) => p.offset !== undefined), fetched),
      ...others.filter((p) => p.offset === undefined).map(async (part) => {
        await fetchImmutable(new URL(part.name, base).href, (b) => coreResult(lens.addPart(part.kind, part.id, b)));
        fetched.parts++;
        fetched.bytes += part.bytes;
      }),
    ]);
    fetched.ms += performance.now() - t0;
  }
}

// Result cards show each token's thumbnail: attach its checked bytes as a Blob (`thumb_blob`; the
// page makes an object URL of it), fetching those re-ranking did not already bring.
async function attachThumbs(results) {
  const missing = [];
  for (const t of results || []) {
    if (!t.thumb) continue;
    const part = { kind: 'thumb', id: t.index, name: t.thumb.pack, offset: t.thumb.offset, bytes: t.thumb.bytes };
    if (!thumbBytes.has(`${part.name}:${part.offset}`)) missing.push(part);
  }
  const got = await fetchThumbs(missing);
  for (const p of missing) addThumb(p, got.get(p));
  for (const t of results || []) {
    const bytes = t.thumb && thumbBytes.get(`${t.thumb.pack}:${t.thumb.offset}`);
    if (bytes) t.thumb_blob = new Blob([bytes], { type: 'image/png' });
  }
  return results;
}

// request: only the options the caller set ({k, rerank, probe, ef, exact, collections, filter,
// facets}); the core fills in its defaults and checks the limits.
async function search({ image, request = {} }) {
  if (!lens || !info) throw codedError('bundle not loaded', 'no_bundle');
  if (!session) throw codedError('the image model is not loaded', 'no_bundle');  // (onmessage loads it first)
  const t0 = performance.now();
  const q = await beginQuery(image);
  const t1 = performance.now();
  let prep = 0, infer = 0;
  if (q.use_model) {
    for (let run = 0; run < q.runs; run++) {
      const a = performance.now();
      const input = lens.modelInput(run);
      const b = performance.now();
      const out = await session.run({ [q.input]: new ort.Tensor('float32', input, q.shape) });
      const c = performance.now();
      coreResult(lens.setModelOutput(run, q.outputs.map((name) => out[name].data)));
      prep += b - a; infer += c - b;
    }
  }
  const t2 = performance.now();
  const fetched = { parts: 0, bytes: 0, ms: 0 };
  const result = await withParts(() => lens.search(JSON.stringify(request)), fetched);
  const t3 = performance.now();
  await attachThumbs(result.results);
  result.timings = { decode: t1 - t0, preprocess: prep, inference: infer, search: t3 - t2 - fetched.ms, fetch: fetched.ms, total: t3 - t0 };
  if (info.partitioned) result.fetched = { parts: fetched.parts, bytes: fetched.bytes, requests: fetched.requests || 0 };
  if (fetched.thumbs) result.thumbs = { fetched: fetched.thumbs, bytes: fetched.thumbBytes };
  result.query = { width: q.width, height: q.height, views: q.views, model_runs: q.runs };
  return result;
}

const ops = {
  open,
  search,
  token: async ({ index }) => (await attachThumbs([await withParts(() => lens.token(index))]))[0],
  traitStats: ({ collection = -1 }) => withParts(() => lens.traitStats(collection)),
  descriptors: () => lens.descriptors(),
  textSearch: async ({ request }) => {
    const t0 = performance.now();
    const fetched = { parts: 0, bytes: 0, ms: 0 };
    const r = await withParts(() => lens.textSearch(JSON.stringify(request)), fetched);
    r.timings = { search: performance.now() - t0 - fetched.ms, fetch: fetched.ms };
    if (info.partitioned) r.fetched = { parts: fetched.parts, bytes: fetched.bytes, requests: fetched.requests || 0 };
    await attachThumbs(r.results);
    return r;
  },
  suggest: ({ request }) => withParts(() => lens.suggest(JSON.stringify(request))),
};

// One operation at a time: a query's state lives in the core between awaits. An image search first
// waits, outside the queue, for the runtime and model, so text searches and suggestions sent during
// that download are answered meanwhile; 'prefetch' only loads them.
let queue = Promise.resolve();
const reply = (id, work) => work.then(
  (result) => self.postMessage({ id, ok: true, result }),
  (err) => self.postMessage({ id, ok: false, error: String(err && err.message ? err.message : err), code: (err && err.code) || 'error' }));
self.onmessage = (e) => {
  const { id, op, args } = e.data;
  if (op === 'prefetch') { reply(id, ensureModel().then(() => true)); return; }
  const run = () => {
    const job = queue.then(() => {
      if (!ops[op]) throw codedError(`unknown operation ${op}`, 'bad_request');
      return ops[op](args || {});
    });
    queue = job.catch(() => {});
    if (op === 'open') opening = job;
    return job;
  };
  const job = op === 'search' ? ensureModel().then(run) : run();
  reply(id, job);
};
