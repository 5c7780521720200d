// The NftLens API in real headless Chromium: an altered copy finds its original, the browser's
// descriptors equal the native builder's (cosine >= 0.999), metadata renders as text in the
// widget even when it is HTML, and a corrupt bundle is refused with a clear message.
// Prints "e2e api: N passed, M failed".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, serve, root } from './browser.mjs';

const nftlens = path.join(root, 'build/native/bin/nftlens');
const bundleDir = path.join(root, 'build/example/bundle');
const qdir = path.join(root, 'build/example/queries');
const queries = fs.readFileSync(path.join(qdir, 'queries.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
let pass = 0, fail = 0;
async function test(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); pass++; } catch (e) { console.log(`not ok - ${name}: ${e.message.split('\n')[0]}`); fail++; }
}
const assert = (c, m) => { if (!c) throw new Error(m); };

// Runs in the page: open the bundle through the public module, search an image given as bytes.
async function searchInPage(page, file, extra = {}) {
  const bytes = [...fs.readFileSync(file)];
  return page.evaluate(async ({ bytes, extra }) => {
    const { NftLens } = await import('/src/index.js');
    window.__lens = window.__lens || await NftLens.open('/bundle/');
    const r = await window.__lens.searchImage(new Blob([new Uint8Array(bytes)]), { k: 5, ...extra });
    return { r, desc: Array.from(await window.__lens.lastDescriptors()) };
  }, { bytes, extra });
}

const browser = await launch();
const srv = await serve(['--bundle', bundleDir]);
const page = await browser.newPage({ serviceWorkers: 'block' });  // page.route must see every request
await page.goto(srv.url + 'demo/');

for (const t of ['screenshot', 'jpeg', 'mirror']) {
  const q = queries.find((x) => x[2] === t);
  const want = path.basename(q[1].replace(/"/g, ''), '.png');
  await test(`altered copy (${t}) finds its original first`, async () => {
    const { r } = await searchInPage(page, path.join(qdir, q[0]));
    assert(r.results[0].token_id === want, `top ${r.results[0].token_id}, want ${want}`);
    assert(r.match === true, 'match flag');
  });
  await test(`browser descriptors equal native builder's, cosine >= 0.999 (${t})`, async () => {
    const { desc } = await searchInPage(page, path.join(qdir, q[0]));
    const native = JSON.parse(execFileSync(nftlens, ['describe', bundleDir, path.join(qdir, q[0])]).toString()).descriptors;
    const d = native[0].length;
    assert(desc.length === native.length * d, `views ${desc.length / d} vs ${native.length}`);
    native.forEach((v, i) => {
      const cos = v.reduce((s, x, j) => s + x * desc[i * d + j], 0);
      assert(cos >= 0.999, `view ${i} cosine ${cos}`);
    });
  });
}
// Real captures (issue #16): the token inside a post screenshot, and as a round profile picture.
const cdir = path.join(root, 'build/example/captures');
const captures = fs.readFileSync(path.join(cdir, 'queries.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
for (const t of ['post', 'pfp']) {
  const q = captures.find((x) => x[2] === t);
  const want = path.basename(q[1].replace(/"/g, ''), '.png');
  await test(`capture (${t}) finds its original first, as nftlens query does`, async () => {
    const { r } = await searchInPage(page, path.join(cdir, q[0]));
    const native = JSON.parse(execFileSync(nftlens, ['query', bundleDir, path.join(cdir, q[0]), '--json', '-k', '5']).toString());
    assert(native.results[0].token_id === want, `native top ${native.results[0].token_id}, want ${want}`);
    assert(r.results[0].token_id === want, `top ${r.results[0].token_id}, want ${want}`);
    assert(Math.abs(r.results[0].alignment - native.results[0].alignment) < 0.01, `alignment ${r.results[0].alignment} vs ${native.results[0].alignment}`);
  });
}
await page.close();

// A bundle whose token names and traits are HTML/JS: the widget must show them as text.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nftlens-e2e-'));
const col = path.join(tmp, 'evil');
fs.mkdirSync(path.join(col, 'metadata'), { recursive: true });
fs.mkdirSync(path.join(col, 'images'), { recursive: true });
const src = path.join(root, 'build/example/nouns');
const evilName = '<img src=x onerror="window.__xss=1">';
fs.readdirSync(path.join(src, 'metadata')).sort().slice(0, 12).forEach((f, i) => {
  const m = JSON.parse(fs.readFileSync(path.join(src, 'metadata', f)));
  if (i === 0) {
    m.name = evilName;
    m.external_url = 'javascript:window.__xss=2';
    m.attributes.push({ trait_type: '<script>window.__xss=3</script>', value: '<b onmouseover=alert(1)>bold</b>' });
  }
  fs.writeFileSync(path.join(col, 'metadata', f), JSON.stringify(m));
  fs.copyFileSync(path.join(src, m.image), path.join(col, 'images', path.basename(m.image)));
});
fs.writeFileSync(path.join(col, 'collection.json'), JSON.stringify({ slug: 'evil', name: '<svg onload=window.__xss=4>', link_template: 'javascript:alert({token_id})' }));
execFileSync(nftlens, ['build', col, '--out', path.join(tmp, 'bundle'), '--cache', path.join(tmp, 'cache'), '--pairs', '100', '-q']);
const evilImage = path.join(col, 'images', fs.readdirSync(path.join(col, 'images')).sort()[0]);
const srv2 = await serve(['--bundle', path.join(tmp, 'bundle')]);
await test('hostile metadata renders as text in <nft-lens>, no script runs, no javascript: links', async () => {
  const p = await browser.newPage({ serviceWorkers: 'block' });  // page.route must see every request
  await p.goto(srv2.url + 'demo/');
  await p.setContent(`<!doctype html><script type="module" src="${srv2.url}src/nft-lens-element.js"></script><nft-lens bundle="${srv2.url}bundle/"></nft-lens>`);
  await p.waitForFunction(() => document.querySelector('nft-lens')?.lens, null, { timeout: 60000 });
  await p.evaluate(async (bytes) => document.querySelector('nft-lens').search(new Blob([new Uint8Array(bytes)])), [...fs.readFileSync(evilImage)]);
  await p.waitForFunction(() => document.querySelector('nft-lens').shadowRoot.textContent.includes('onerror'), null, { timeout: 30000 });
  const state = await p.evaluate(() => {
    const sr = document.querySelector('nft-lens').shadowRoot;
    return { xss: window.__xss, imgs: [...sr.querySelectorAll('img')].map((i) => i.getAttribute('src')),
      hrefs: [...sr.querySelectorAll('a')].map((a) => a.getAttribute('href')), text: sr.textContent };
  });
  assert(state.xss === undefined, `script ran: __xss=${state.xss}`);
  assert(state.text.includes(evilName), 'name not shown as text');
  assert(!state.imgs.includes('x'), 'an <img src=x> was created from metadata');
  assert(state.hrefs.every((h) => h === null || /^https?:/.test(h)), `non-http link: ${state.hrefs}`);
  await p.close();
});

await test('offline (manifest.json unreachable), a bundle opened before opens from the cache; an HTTP error does not', async () => {
  const p = await browser.newPage({ serviceWorkers: 'block' });  // (same context: the Cache API of the first page's visits)
  await p.goto(srv.url + 'demo/');
  // (threads: 1 keeps these handles off the demo element's shared worker, so each open() fetches)
  await p.evaluate(async () => { const { NftLens } = await import('/src/index.js'); (await NftLens.open('/bundle/', { threads: 1 })).close(); });
  await p.route('**/bundle/manifest.json', (route) => route.abort('internetdisconnected'));
  const offline = await p.evaluate(async () => {
    const { NftLens } = await import('/src/index.js');
    try {
      const lens = await NftLens.open('/bundle/', { threads: 1 });
      const r = await lens.searchText('glasses', { k: 3 });
      lens.close();
      return `opened: ${r.results.length} results`;
    } catch (e) { return `refused: ${e.message}`; }
  });
  assert(offline === 'opened: 3 results', offline);
  await p.unroute('**/bundle/manifest.json');
  await p.route('**/bundle/manifest.json', (route) => route.fulfill({ status: 404, body: 'gone' }));
  const gone = await p.evaluate(async () => {
    const { NftLens } = await import('/src/index.js');
    try { (await NftLens.open('/bundle/', { threads: 1 })).close(); return 'opened'; } catch (e) { return e.code + ': ' + e.message; }
  });
  assert(/^network: .*manifest\.json: HTTP 404/.test(gone), gone);
  await p.close();
});

await test('a corrupt bundle is refused with a message naming the file', async () => {
  const p = await browser.newPage({ serviceWorkers: 'block' });  // page.route must see every request
  await p.route('**/bundle/index.*.bin', (route) => route.fulfill({ body: Buffer.from('not an index') }));
  await p.goto(srv.url + 'demo/');
  const err = await p.evaluate(async () => {
    const { NftLens } = await import('/src/index.js');
    await caches.delete('nftlens-bundle-v1');
    try { await NftLens.open('/bundle/'); return 'opened'; } catch (e) { return e.message; }
  });
  assert(/index\.[0-9a-f]{16}\.bin: size is 12 bytes/.test(err), err);
  await p.close();
});

await browser.close();
srv.close(); srv2.close();
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`e2e api: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
