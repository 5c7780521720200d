// The extension's engine: NftLens (the web package, unchanged) run in an extension document (the
// offscreen document in Chromium). It reads the clicked image with fetch() from the image's own
// URL and hands the bytes to the worker; nothing is sent anywhere else. A host that neither sends
// CORS headers nor was granted to the extension refuses the read.
import { NftLens } from './nft-lens/src/index.js';

const MAX_IMAGE_BYTES = 64 * 1024 * 1024;  // the core's limit on encoded files
const RANK = { token: 2, collection: 1, none: 0 };
const lenses = new Map();  // bundle URL -> Promise<NftLens>, kept open so later clicks are warm

const coded = (message, code, extra = {}) => Object.assign(new Error(message), { code, ...extra });

function lensFor(bundleUrl) {
  let p = lenses.get(bundleUrl);
  if (!p) {
    p = NftLens.open(bundleUrl);
    lenses.set(bundleUrl, p);
    p.catch(() => { if (lenses.get(bundleUrl) === p) lenses.delete(bundleUrl); });  // a failed open is retried next time
  }
  return p;
}

// The image as the page shows it: fetched from its URL without cookies or referrer.
async function readImage(srcUrl) {
  let url;
  try { url = new URL(srcUrl); } catch { throw coded('the image has no readable URL', 'bad_url'); }
  if (url.protocol === 'blob:') throw coded('this image exists only inside the page (a blob: URL); save it and open it in the NFT Lens page instead', 'bad_url');
  if (!['http:', 'https:', 'data:'].includes(url.protocol)) throw coded(`cannot read ${url.protocol} images`, 'bad_url');
  let res;
  try {
    res = await fetch(url.href, { credentials: 'omit', referrerPolicy: 'no-referrer' });
  } catch (err) {
    // (offscreen documents have no chrome.permissions: the background tells a refusal by CORS
    // from a network failure by whether the site was granted)
    throw coded(`could not download the image (${err.message})`, 'unreadable', { origin: url.protocol === 'data:' ? null : url.origin });
  }
  if (!res.ok) throw coded(`the image URL answered HTTP ${res.status}`, 'network');
  const blob = await res.blob();
  if (blob.size > MAX_IMAGE_BYTES) throw coded('the image file is over 64 MB', 'bad_image');
  return blob;
}

// What the verdict window needs, as plain JSON (extension messages cannot carry Blobs): the
// thumbnail becomes a blob: URL of this extension's origin, which the window may load.
function plain(lens, r) {
  const keep = ['collection', 'collection_name', 'collection_size', 'token_id', 'name', 'link', 'attributes',
    'rarity_rank', 'rarity_score', 'score', 'relevance'];
  const out = Object.fromEntries(keep.filter((k) => k in r).map((k) => [k, r[k]]));
  out.thumb_url = lens.imageUrl(r);
  return out;
}

/** Identify the image at srcUrl against each bundle; the most certain verdict wins. */
export async function identify({ srcUrl, bundles }) {
  if (!Array.isArray(bundles) || !bundles.length) throw coded('no bundle is configured: add one on the options page', 'no_bundle');
  const t0 = performance.now();
  const image = await readImage(srcUrl);
  const fetched = performance.now();
  let best = null;
  for (const bundleUrl of bundles) {
    const lens = await lensFor(bundleUrl);
    const r = await lens.searchImage(image, { k: 3 });
    const key = [RANK[r.verdict] ?? 0, Number(r.confidence) || 0, Number(r.results[0]?.relevance ?? r.results[0]?.score) || 0];
    if (!best || key[0] > best.key[0] || (key[0] === best.key[0] && (key[1] > best.key[1] || (key[1] === best.key[1] && key[2] > best.key[2])))) {
      best = { key, bundleUrl, lens, r };
    }
  }
  const { r, lens, bundleUrl } = best;
  return {
    verdict: r.verdict, confidence: r.confidence, close_call: r.close_call, collection: r.collection, match: r.match,
    results: r.results.map((x) => plain(lens, x)), bundle: bundleUrl, image_bytes: image.size,
    timings: { ...r.timings, fetch: fetched - t0, all: performance.now() - t0 },
  };
}

/** Open a bundle and fetch its model now: every content-hashed file lands in the Cache API
 *  (this extension's origin), so later identifications need only the manifest. */
export async function prepare({ bundleUrl }) {
  const lens = await lensFor(bundleUrl);
  await lens.prefetch();
  const info = lens.info();
  return { tokens: info.tokens, collections: lens.collections().map((c) => ({ slug: c.slug, name: c.name, count: c.count })) };
}

/** Forget a bundle (removed in the options page). */
export async function forget({ bundleUrl }) {
  const p = lenses.get(bundleUrl);
  lenses.delete(bundleUrl);
  if (p) (await p.catch(() => null))?.close();
  return true;
}
