// Load weight (issue #19): opening a bundle and searching by words fetches neither the ONNX
// runtime nor the model; the first image search does, with progress (role="progressbar" and
// nftlens-progress events), and then works. Prints the bytes transferred in each phase.
// Prints "e2e lazy-load: N passed, M failed".
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { launch, serve, root } from './browser.mjs';

let pass = 0, fail = 0;
async function test(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); pass++; } catch (e) { console.log(`not ok - ${name}: ${e.message.split('\n')[0]}`); fail++; }
}
const assert = (c, m) => { if (!c) throw new Error(m); };
const qdir = path.join(root, 'build/example/queries');
const q = fs.readFileSync(path.join(qdir, 'queries.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')).find((x) => x[2] === 'jpeg');
const want = path.basename(q[1].replace(/"/g, ''), '.png');
const heavy = /\/ort\/|\.onnx$/;

// Bytes on the wire (body + headers) and what the same files would be gzip'd (what a host that
// compresses would send; ranges of thumbnail packs are PNGs, counted as sent).
const gzipCache = new Map();
function gzipSize(url, status, body) {
  const p = new URL(url).pathname;
  if (status !== 200) return body;
  const file = p.startsWith('/bundle/') ? path.join(root, 'build/example/bundle', p.slice(8)) : path.join(root, 'web', p);
  if (!fs.existsSync(file) || fs.statSync(file).isDirectory()) return body;
  if (!gzipCache.has(file)) gzipCache.set(file, zlib.gzipSync(fs.readFileSync(file), { level: 6 }).length);
  return gzipCache.get(file);
}
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;

const srv = await serve(['--csp']);
const browser = await launch();
const context = await browser.newContext({ serviceWorkers: 'block' });  // fresh cache, every request seen
const page = await context.newPage();
const log = [];
page.on('requestfinished', async (r) => {
  const entry = { url: r.url(), bytes: 0, gzip: 0 };
  log.push(entry);
  const s = await r.sizes();
  const res = await r.response();
  entry.bytes = s.responseBodySize + s.responseHeadersSize;
  entry.gzip = gzipSize(r.url(), res ? res.status() : 0, s.responseBodySize) + s.responseHeadersSize;
});
const sum = (list, k) => list.reduce((a, e) => a + e[k], 0);
const settle = () => new Promise((r) => setTimeout(r, 300));  // let the last sizes() resolve

let before = [];
await test('page load and a text search fetch no runtime and no model', async () => {
  await page.goto(srv.url + 'demo/');
  await page.waitForFunction(() => document.querySelector('nft-lens')?.lens, null, { timeout: 60000 });
  const text = await page.evaluate(async () => {
    const el = document.querySelector('nft-lens');
    const s = await el.lens.suggest('glas');
    const r = await el.searchText('glasses');
    return { suggestions: s.length, results: r.results.length };
  });
  assert(text.results > 0 && text.suggestions > 0, `text search ${JSON.stringify(text)}`);
  await settle();
  before = log.slice();
  const bad = before.filter((e) => heavy.test(new URL(e.url).pathname));
  console.log(`# before the first image search: ${before.length} requests, ${mb(sum(before, 'bytes'))} (gzip'd: ${mb(sum(before, 'gzip'))})`);
  assert(!bad.length, `fetched before any image search: ${bad.map((e) => new URL(e.url).pathname).join(', ')}`);
});

await test('the first image search fetches them, shows progress, and finds the token', async () => {
  const n = log.length;
  const r = await page.evaluate(async (bytes) => {
    const el = document.querySelector('nft-lens');
    const events = [];
    let barSeen = false;
    el.addEventListener('nftlens-progress', (e) => {
      events.push(e.detail);
      const bar = el.shadowRoot.querySelector('[role="progressbar"]');
      if (bar && bar.checkVisibility() && bar.getAttribute('aria-valuenow') !== null && /MB/.test(bar.getAttribute('aria-valuetext'))) barSeen = true;
    });
    const res = await el.search(new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }));
    const bar = el.shadowRoot.querySelector('[role="progressbar"]');
    return { top: res.results[0].token_id, events, barSeen, barHidden: !bar || !bar.checkVisibility() };
  }, [...fs.readFileSync(path.join(qdir, q[0]))]);
  await settle();
  const after = log.slice(n);
  console.log(`# first image search: ${after.length} requests, ${mb(sum(after, 'bytes'))} (gzip'd: ${mb(sum(after, 'gzip'))})`);
  assert(r.top === want, `top ${r.top}, want ${want}`);
  assert(after.some((e) => /\.onnx$/.test(e.url)) && after.some((e) => /ort-wasm.*\.wasm$/.test(e.url)), 'runtime and model fetched by the image search');
  for (const phase of ['runtime', 'model']) {
    const last = r.events.filter((e) => e.phase === phase).pop();
    assert(last && last.done && last.loaded > 0 && (last.total === null || last.loaded === last.total), `${phase} progress: ${JSON.stringify(last)}`);
  }
  assert(r.barSeen, 'no progressbar with aria-valuenow shown during the download');
  assert(r.barHidden, 'progressbar still shown after the search');
});

await test('text search and suggestions answer while the image model downloads', async () => {
  const ctx = await browser.newContext({ serviceWorkers: 'block' });
  const p = await ctx.newPage();
  let release;
  const held = new Promise((r) => { release = r; });
  await p.route('**/ort-wasm-simd-threaded.wasm', async (route) => { await held; await route.continue(); });  // a slow download
  await p.goto(srv.url + 'demo/');
  await p.waitForFunction(() => document.querySelector('nft-lens')?.lens, null, { timeout: 60000 });
  await p.evaluate((bytes) => {
    const el = document.querySelector('nft-lens');
    window.__image = el.search(new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' })).then(() => 'image');
  }, [...fs.readFileSync(path.join(qdir, q[0]))]);
  await p.waitForFunction(() => document.querySelector('nft-lens').shadowRoot.querySelector('[role="progressbar"]').checkVisibility(), null, { timeout: 30000 });
  fs.mkdirSync(path.join(root, 'build/e2e'), { recursive: true });
  await p.locator('nft-lens').screenshot({ path: path.join(root, 'build/e2e/progress.png') });
  const first = await p.evaluate(async () => {
    const lens = document.querySelector('nft-lens').lens;
    const text = Promise.all([lens.searchText('glasses'), lens.suggest('gla')]).then(() => 'text');
    return Promise.race([text, window.__image]);
  });
  release();
  assert(first === 'text', `${first} answered first`);
  assert(await p.evaluate(() => window.__image) === 'image', 'the image search after the download');
  await ctx.close();
});

await test('a failed download fails that search plainly (no bar left up); the next search fetches again', async () => {
  const ctx = await browser.newContext({ serviceWorkers: 'block' });
  const p = await ctx.newPage();
  let aborted = 0;
  await p.route('**/ort-wasm-simd-threaded.wasm', (route) => (aborted++ ? route.continue() : route.abort('internetdisconnected')));
  await p.goto(srv.url + 'demo/');
  await p.waitForFunction(() => document.querySelector('nft-lens')?.lens, null, { timeout: 60000 });
  const r = await p.evaluate(async (bytes) => {
    const el = document.querySelector('nft-lens');
    const blob = () => new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' });
    const err = await el.search(blob()).then(() => null, (e) => ({ message: e.message, code: e.code }));
    const alert = el.shadowRoot.querySelector('[role="alert"]').textContent;
    const barUp = el.shadowRoot.querySelector('[role="progressbar"]').checkVisibility();
    const again = await el.search(blob());
    return { err, alert, barUp, top: again.results[0].token_id };
  }, [...fs.readFileSync(path.join(qdir, q[0]))]);
  assert(r.err && r.err.code === 'network' && /could not download the image model/i.test(r.alert), `error ${JSON.stringify(r.err)}, alert "${r.alert}"`);
  assert(!r.barUp, 'the progress bar stayed up after the failed download');
  assert(aborted === 2 && r.top === want, `second search: fetched ${aborted}x, top ${r.top}`);
  await ctx.close();
});

await test('a damaged model, fetched late, is still refused by name; text search goes on', async () => {
  const p = await browser.newPage({ serviceWorkers: 'block' });
  await p.route('**/bundle/*.onnx', (route) => route.fulfill({ body: Buffer.from('not a model') }));
  await p.goto(srv.url + 'demo/');
  const r = await p.evaluate(async (bytes) => {
    const { NftLens } = await import('/src/index.js');
    await caches.delete('nftlens-bundle-v1');
    const lens = await NftLens.open('/bundle/');
    const err = await lens.searchImage(new Blob([new Uint8Array(bytes)])).then(() => null, (e) => ({ message: e.message, code: e.code }));
    const text = await lens.searchText('glasses');
    lens.close();
    return { err, text: text.results.length };
  }, [...fs.readFileSync(path.join(qdir, q[0]))]);
  assert(r.err && r.err.code === 'bad_bundle' && /model\.[0-9a-f]{16}\.onnx/.test(r.err.message), `error ${JSON.stringify(r.err)}`);
  assert(r.text > 0, 'text search after the refused model');
  await p.close();
});

await browser.close();
srv.close();
console.log(`e2e lazy-load: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
