// <nft-lens worker-url> and NftLens.open(url, {workerUrl}) (issue #19): the worker and its dist/
// files come from the given path, on the page's origin (strict CSP) or on another one, as from a
// CDN (a blob: module worker imports it; CORS and the documented CSP additions).
// Prints "e2e worker-url: N passed, M failed".
import fs from 'node:fs';
import path from 'node:path';
import { launch, serve, root } from './browser.mjs';

let pass = 0, fail = 0;
async function test(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); pass++; } catch (e) { console.log(`not ok - ${name}: ${e.message.split('\n')[0]}`); fail++; }
}
const assert = (c, m) => { if (!c) throw new Error(m); };
const qdir = path.join(root, 'build/example/queries');
const q = fs.readFileSync(path.join(qdir, 'queries.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')).find((x) => x[2] === 'jpeg');
const want = path.basename(q[1].replace(/"/g, ''), '.png');
const image = [...fs.readFileSync(path.join(qdir, q[0]))];

const srv = await serve(['--csp']);
const browser = await launch();
const csp = (await fetch(srv.url + 'demo/')).headers.get('content-security-policy') || '';
const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
// Serves web/src and web/dist under another path prefix (a "CDN" folder), with CORS.
const fromWeb = (prefix) => (route) => {
  const p = new URL(route.request().url()).pathname.slice(prefix.length);
  const file = path.join(root, 'web', p);
  if (!/^(src|dist)\//.test(p) || !fs.existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
  return route.fulfill({ body: fs.readFileSync(file), contentType: types[path.extname(file)] || 'application/octet-stream',
    headers: { 'access-control-allow-origin': '*' } });
};
const page0 = (headers, body) => (route) => route.fulfill({ contentType: 'text/html', headers, body: `<!doctype html>${body}` });

async function run(page, pageUrl, workerUrl) {
  const workers = [], requests = [];
  page.on('worker', (w) => workers.push(w.url()));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pageUrl);
  await page.waitForFunction(() => document.querySelector('nft-lens')?.lens || window.__err, null, { timeout: 60000 });
  const r = await page.evaluate(async (bytes) => {
    const el = document.querySelector('nft-lens');
    const text = await el.searchText('glasses');
    const img = await el.search(new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }));
    return { text: text.results.length, top: img.results[0].token_id, err: window.__err || null };
  }, image);
  return { ...r, workers, requests };
}

await test('worker-url on the page\'s origin: that worker and its dist/ files are used, under the strict CSP', async () => {
  const page = await browser.newPage({ serviceWorkers: 'block' });
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await page.route(srv.url + 'cdn/**', fromWeb('/cdn/'));
  await page.route(srv.url + 'w.html', page0({ 'content-security-policy': csp },
    '<script type="module" src="/src/nft-lens-element.js"></script><nft-lens bundle="/bundle/" worker-url="/cdn/src/worker.js"></nft-lens>'));
  const r = await run(page, srv.url + 'w.html');
  assert(r.workers.length === 1 && new URL(r.workers[0]).pathname === '/cdn/src/worker.js', `workers ${r.workers.join(', ')}`);
  const paths = r.requests.map((u) => new URL(u).pathname);
  for (const f of ['/cdn/dist/nftlens-core.wasm', '/cdn/dist/ort/ort-wasm-simd-threaded.wasm', '/cdn/dist/ort/ort.wasm.bundle.min.mjs']) assert(paths.includes(f), `${f} not fetched`);
  assert(!paths.some((p) => p === '/src/worker.js' || p.startsWith('/dist/')), `default files fetched too: ${paths.filter((p) => p === '/src/worker.js' || p.startsWith('/dist/')).join(', ')}`);
  assert(r.text > 0 && r.top === want, `text ${r.text}, image top ${r.top} (want ${want})`);
  assert(!violations.length, `CSP: ${violations.join('; ')}`);
  await page.close();
});

await test('worker-url on another origin (a CDN): started through a blob: module, with the documented CSP', async () => {
  const cdn = srv.url.replace('127.0.0.1', 'localhost');  // same server, another origin
  const cdnOrigin = new URL(cdn).origin;
  const page = await browser.newPage({ serviceWorkers: 'block' });
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await page.route(cdn + 'lib/**', fromWeb('/lib/'));
  const policy = csp.replace("script-src 'self'", `script-src 'self' ${cdnOrigin}`).replace("worker-src 'self'", `worker-src blob: ${cdnOrigin}`)
    .replace("connect-src 'self'", `connect-src 'self' ${cdnOrigin}`);
  await page.route(srv.url + 'x.html', page0({ 'content-security-policy': policy },
    `<script type="module" src="/src/nft-lens-element.js"></script><nft-lens bundle="/bundle/" worker-url="${cdn}lib/src/worker.js"></nft-lens>`));
  const r = await run(page, srv.url + 'x.html');
  assert(r.workers.length === 1 && r.workers[0].startsWith('blob:'), `workers ${r.workers.join(', ')}`);
  assert(r.requests.includes(`${cdn}lib/src/worker.js`) && r.requests.includes(`${cdn}lib/dist/nftlens-core.wasm`), 'worker and core not fetched from the CDN');
  assert(r.text > 0 && r.top === want, `text ${r.text}, image top ${r.top} (want ${want})`);
  assert(!violations.length, `CSP: ${violations.join('; ')}`);
  await page.close();
});

await browser.close();
srv.close();
console.log(`e2e worker-url: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
