// `nftlens site` end to end: the folder it writes is served as is by `python3 -m http.server` (no
// Range, no custom headers) and the page identifies a token in real headless Chromium under the
// page's own CSP; precompressed siblings decompress to the files; a second run replaces the site
// and a folder that is not a site is refused. Prints "e2e site: N passed, M failed".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn, spawnSync } from 'node:child_process';
import { launch, root } from './browser.mjs';

const nftlens = path.join(root, 'build/native/bin/nftlens');
const bundleDir = path.join(root, 'build/example/bundle');
const qdir = path.join(root, 'build/example/queries');
const queries = fs.readFileSync(path.join(qdir, 'queries.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
let pass = 0, fail = 0;
async function test(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); pass++; } catch (e) { console.log(`not ok - ${name}: ${e.message.split('\n')[0]}`); fail++; }
}
const assert = (c, m) => { if (!c) throw new Error(m); };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nftlens-site-'));
const site = path.join(tmp, 'site');
const run = (...args) => spawnSync(nftlens, args, { encoding: 'utf8' });

// `python3 -m http.server` on a free port, serving `dir` as is; urlOf() waits for its address.
const pythonServer = (dir) => spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '-d', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
const urlOf = (py) => new Promise((resolve, reject) => {
  let buf = '';
  py.stdout.on('data', (d) => { buf += d; const m = buf.match(/port (\d+)/); if (m) resolve(`http://127.0.0.1:${m[1]}/`); });
  py.on('exit', (c) => reject(new Error(`http.server exited ${c}`)));
  setTimeout(() => reject(new Error('http.server did not start')), 10000);
});

await test('nftlens site writes index.html, the widget, the runtime, the bundle, _headers, README and licences', async () => {
  const r = run('site', bundleDir, '--out', site);
  assert(r.status === 0, r.stderr);
  for (const f of ['index.html', 'site.css', 'site.js', 'nft-lens-sw.js', '_headers', 'README.md', 'LICENSE', 'THIRD_PARTY_NOTICES.md', 'nft-lens/src/nft-lens-element.js',
    'nft-lens/src/worker.js', 'nft-lens/dist/nftlens-core.wasm', 'nft-lens/dist/ort/ort.wasm.bundle.min.mjs', 'bundle/manifest.json']) {
    assert(fs.existsSync(path.join(site, f)), `missing ${f}`);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(site, 'bundle/manifest.json'), 'utf8'));
  for (const f of manifest.files) assert(fs.statSync(path.join(site, 'bundle', f.name)).size === f.bytes, `bundle file ${f.name}`);
  const html = fs.readFileSync(path.join(site, 'index.html'), 'utf8');
  assert(/<nft-lens bundle="bundle\/"><\/nft-lens>/.test(html) && /Content-Security-Policy/.test(html), 'index.html lacks the tag or the CSP');
  const headers = fs.readFileSync(path.join(site, '_headers'), 'utf8');
  assert(/\/bundle\/\*\.bin\n  Cache-Control: public, max-age=31536000, immutable/.test(headers) && /application\/wasm/.test(headers), '_headers');
  assert(/\d+\.\d\d MB raw, \d+\.\d\d MB gzip, \d+\.\d\d MB brotli/.test(fs.readFileSync(path.join(site, 'README.md'), 'utf8')), 'README sizes');
});

await test('precompressed .gz and .br siblings decompress to their files; thumbnail packs get none', async () => {
  for (const f of ['nft-lens/dist/nftlens-core.wasm', 'nft-lens/dist/ort/ort-wasm-simd-threaded.wasm', 'index.html']) {
    const raw = fs.readFileSync(path.join(site, f));
    assert(zlib.gunzipSync(fs.readFileSync(path.join(site, f + '.gz'))).equals(raw), `${f}.gz`);
    assert(zlib.brotliDecompressSync(fs.readFileSync(path.join(site, f + '.br'))).equals(raw), `${f}.br`);
  }
  const packs = fs.readdirSync(path.join(site, 'bundle')).filter((n) => /^thumbs\.[0-9a-f]{16}\.bin/.test(n));
  assert(packs.length === 1, `packs: ${packs}`);  // (PNG bytes do not compress: no sibling)
});

await test('served by python3 -m http.server, the page identifies a token in Chromium (no CSP violation)', async () => {
  const py = pythonServer(site);
  try {
    const url = await urlOf(py);
    const browser = await launch();
    const page = await browser.newPage();
    const problems = [];
    page.on('console', (m) => { if (/Content Security Policy|Refused/.test(m.text())) problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => /Ready/.test(document.querySelector('nft-lens')?.shadowRoot?.querySelector('[part="status"]')?.textContent || ''), null, { timeout: 60000 });
    const q = queries.find((x) => x[2] === 'jpeg');
    await page.locator('nft-lens input[part="file-input"]').setInputFiles(path.join(qdir, q[0]));
    await page.locator('nft-lens li[part~="card"]').first().waitFor({ timeout: 60000 });
    const token = await page.locator('nft-lens li[part~="card"]').first().locator('[part="token"]').textContent();
    const want = path.basename(q[1].replace(/"/g, ''), '.png');
    assert(token === `Token #${want}`, `top card "${token}", want ${want}`);
    const src = await page.locator('nft-lens img[part="thumb"]').first().getAttribute('src');
    assert(src && src.startsWith('blob:'), `thumbnail src ${src}`);
    assert(problems.length === 0, problems.join(' | '));
    await browser.close();
  } finally {
    py.kill();
  }
});

await test('after one visit the site works offline (its service worker; python3 -m http.server stopped)', async () => {
  const py = pythonServer(site);
  const browser = await launch();
  try {
    const url = await urlOf(py);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.reload();  // controlled now: what it loads is kept
    await page.waitForFunction(() => document.querySelector('nft-lens')?.lens && navigator.serviceWorker.controller, null, { timeout: 60000 });
    await page.evaluate(() => document.querySelector('nft-lens').lens.prefetch());  // (the idle prefetch of runtime and model, joined)
    await context.setOffline(true);
    py.kill();
    await page.reload();
    await page.waitForFunction(() => document.querySelector('nft-lens')?.lens, null, { timeout: 60000 });
    const q = queries.find((x) => x[2] === 'jpeg');
    const top = await page.evaluate(async (bytes) => {
      const r = await document.querySelector('nft-lens').lens.searchImage(new Blob([new Uint8Array(bytes)]), { k: 3 });
      return r.results[0].token_id;
    }, [...fs.readFileSync(path.join(qdir, q[0]))]);
    const want = path.basename(q[1].replace(/"/g, ''), '.png');
    assert(top === want, `offline top ${top}, want ${want}`);
  } finally {
    py.kill();
    await browser.close();
  }
});

await test('a second run replaces the site; a folder that is not a site is refused, untouched', async () => {
  fs.writeFileSync(path.join(site, 'stale.txt'), 'old');
  const again = run('site', bundleDir, '--out', site);
  assert(again.status === 0 && !fs.existsSync(path.join(site, 'stale.txt')), `rerun: ${again.stderr}`);
  const other = path.join(tmp, 'mine');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'keep.txt'), 'mine');
  const r = run('site', bundleDir, '--out', other);
  assert(r.status === 1 && /not an earlier NFT Lens site/.test(r.stderr), `status ${r.status}: ${r.stderr}`);
  assert(fs.readdirSync(other).join() === 'keep.txt', 'the folder was changed');
  assert(fs.readdirSync(tmp).every((n) => !/\.new-/.test(n)), 'a temporary folder was left behind');
});

await test('a damaged bundle is refused by name, and no site is written', async () => {
  const dmg = path.join(tmp, 'damaged');
  fs.cpSync(bundleDir, dmg, { recursive: true });
  const pack = fs.readdirSync(dmg).find((n) => /^thumbs\./.test(n));
  const b = fs.readFileSync(path.join(dmg, pack));
  b[b.length >> 1] ^= 1;
  fs.writeFileSync(path.join(dmg, pack), b);
  const r = run('site', dmg, '--out', path.join(tmp, 'site2'));
  assert(r.status === 1 && r.stderr.includes(pack) && /SHA-256 does not match/.test(r.stderr), `status ${r.status}: ${r.stderr}`);
  assert(!fs.existsSync(path.join(tmp, 'site2')), 'a site was written');
});

fs.rmSync(tmp, { recursive: true, force: true });
console.log(`e2e site: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
