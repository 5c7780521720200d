// After one visit, the demo keeps working offline: the service worker serves the page, the module,
// the wasm core, the model runtime and the bundle from its cache. The runtime and the model are not
// fetched at page load (issue #19); under a service worker the element prefetches them on idle, so
// image search works offline without an image search online first.
// Prints "e2e offline: N passed, M failed".
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
const context = await browser.newContext();
const page = await context.newPage();
await test('online visit: ready, service worker controls the page', async () => {
  await page.goto(srv.url + 'demo/');
  await page.waitForFunction(() => document.querySelector('nft-lens')?.lens, null, { timeout: 60000 });
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();  // the second load is controlled and fills the cache with everything it fetches
  await page.waitForFunction(() => document.querySelector('nft-lens')?.lens && navigator.serviceWorker.controller, null, { timeout: 60000 });
  // No image search was made: the idle prefetch brings the runtime and the model into the cache.
  await page.waitForFunction(async () => {
    const keys = (await (await caches.open('nftlens-offline-v1')).keys()).map((r) => r.url);
    return keys.some((u) => /\/ort-wasm[^/]*\.wasm$/.test(u)) && keys.some((u) => /\.onnx$/.test(u));
  }, null, { timeout: 60000, polling: 250 });
  // (Chromium lists an entry while its body is still being written: wait for the prefetch itself,
  // which joins the element's and ends after the service worker has stored both files)
  await page.evaluate(() => document.querySelector('nft-lens').lens.prefetch());
});
await test('offline reload still identifies an altered copy', async () => {
  await context.setOffline(true);
  srv.close();  // really no server
  await page.reload();
  await page.waitForFunction(() => document.querySelector('nft-lens')?.lens, null, { timeout: 60000 });
  const top = await page.evaluate(async (bytes) => {
    const r = await document.querySelector('nft-lens').lens.searchImage(new Blob([new Uint8Array(bytes)]), { k: 3 });
    return r.results[0].token_id;
  }, [...fs.readFileSync(path.join(qdir, q[0]))]);
  assert(top === want, `top ${top}, want ${want}`);
});
await browser.close();
console.log(`e2e offline: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
