// NFT Lens offline service worker: after one visit, the widget, its wasm, the model runtime and
// the bundle keep working without a network. Serve this file from your site's root (a service
// worker controls only pages under its own path) and register it, e.g.
//   navigator.serviceWorker.register('/nft-lens-sw.js')
// Strategy: content-hashed bundle files and the package's own files are served cache-first;
// manifest.json and pages are network-first with the cached copy as the offline fallback.
const CACHE = 'nftlens-offline-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

const immutable = (url) => /\.[0-9a-f]{16}\.(bin|onnx)$/.test(url.pathname);

// A byte range (thumbnail packs are read by range) is cut from the whole file, which is fetched
// and cached once: the Cache API cannot store partial (206) responses, and offline every
// thumbnail of a pack seen once is then at hand.
async function rangeOf(cache, request) {
  const m = /^bytes=(\d+)-(\d+)$/.exec(request.headers.get('range') || '');
  let whole = await cache.match(request.url);
  if (!whole) {
    const res = await fetch(request.url);
    if (!res.ok || !m) return res;
    await cache.put(request.url, res.clone());
    whole = res;
  }
  if (!m) return whole;
  const bytes = await whole.arrayBuffer();
  const start = Number(m[1]), end = Math.min(bytes.byteLength - 1, Number(m[2]));
  return new Response(bytes.slice(start, end + 1), {
    status: 206,
    headers: { 'content-type': 'application/octet-stream', 'content-range': `bytes ${start}-${end}/${bytes.byteLength}` },
  });
}

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin) return;
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    if (immutable(url) && e.request.headers.has('range')) return rangeOf(cache, e.request);
    if (immutable(url)) {
      const hit = await cache.match(e.request);
      if (hit) return hit;
    }
    try {
      const res = await fetch(e.request);
      if (res.ok) await cache.put(e.request, res.clone());
      return res;
    } catch (err) {
      const hit = await cache.match(e.request, { ignoreSearch: true });
      if (hit) return hit;
      throw err;
    }
  })());
});
