// One worker per bundle per page (issue #19): two <nft-lens> elements with the same bundle start
// one worker and fetch the manifest once, both search, and removing one leaves the other working;
// the worker stops with the last. Under the strict CSP. Prints "e2e shared-worker: N passed, M failed".
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

const srv = await serve(['--csp']);
const browser = await launch();
const page = await browser.newPage({ serviceWorkers: 'block' });
const csp = (await (await fetch(srv.url + 'demo/')).headers.get('content-security-policy')) || '';
// A page of two elements, served with the server's CSP.
await page.route(srv.url + 'two.html', (route) => route.fulfill({
  contentType: 'text/html', headers: { 'content-security-policy': csp },
  body: '<!doctype html><script type="module" src="/src/nft-lens-element.js"></script>'
    + '<nft-lens id="a" bundle="/bundle/"></nft-lens><nft-lens id="b" bundle="../bundle/"></nft-lens>',
}));
const workers = [];
page.on('worker', (w) => { const rec = { url: w.url(), closed: false }; workers.push(rec); w.on('close', () => { rec.closed = true; }); });
const fetched = [];
page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
const violations = [];
page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });

await test('two elements with one bundle: one worker, the manifest and each file fetched once', async () => {
  assert(/script-src 'self' 'wasm-unsafe-eval'/.test(csp), `CSP ${csp}`);
  await page.goto(srv.url + 'two.html');
  await page.waitForFunction(() => [...document.querySelectorAll('nft-lens')].every((el) => el.lens), null, { timeout: 60000 });
  const distinct = await page.evaluate(() => document.getElementById('a').lens !== document.getElementById('b').lens);
  assert(distinct, 'the elements share one handle (each needs its own, to close)');
  assert(workers.length === 1, `${workers.length} workers: ${workers.map((w) => w.url).join(', ')}`);
  const manifest = fetched.filter((p) => p === '/bundle/manifest.json').length;
  const index = fetched.filter((p) => /^\/bundle\/index\./.test(p)).length;
  assert(manifest === 1 && index === 1, `manifest fetched ${manifest}x, index ${index}x`);
});

await test('both elements search (text and image) on the shared worker', async () => {
  const r = await page.evaluate(async (bytes) => {
    const [a, b] = ['a', 'b'].map((id) => document.getElementById(id));
    const [t, i] = await Promise.all([a.searchText('glasses'), b.search(new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }))]);
    return { text: t.results.length, top: i.results[0].token_id, aShows: a.lastResult === t, bShows: b.lastResult === i };
  }, [...fs.readFileSync(path.join(qdir, q[0]))]);
  assert(r.text > 0 && r.top === want, `text ${r.text}, image top ${r.top} (want ${want})`);
  assert(r.aShows && r.bShows, 'each element shows its own result');
  assert(workers.length === 1, `${workers.length} workers`);
});

await test('removing one element leaves the other working; the worker stops with the last', async () => {
  const n = await page.evaluate(async () => {
    document.getElementById('a').remove();
    await new Promise((r) => setTimeout(r, 50));  // (the element releases its lens a task later)
    return (await document.getElementById('b').searchText('red')).results.length;
  });
  assert(n > 0, 'the remaining element cannot search');
  assert(!workers[0].closed, 'the worker stopped with the first element');
  await page.evaluate(() => document.getElementById('b').remove());
  await page.waitForFunction(() => new Promise((r) => setTimeout(() => r(true), 100)));
  for (let i = 0; i < 20 && !workers[0].closed; i++) await new Promise((r) => setTimeout(r, 100));
  assert(workers[0].closed, 'the worker outlived both elements');
  assert(!violations.length, `CSP: ${violations.join('; ')}`);
});

await browser.close();
srv.close();
console.log(`e2e shared-worker: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
