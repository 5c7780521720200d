// The browser extension (issue #20) in real Chromium: build/extension loaded unpacked in the new
// headless mode. A bundle URL is added on the options page (checked, opened and cached by the
// engine), then the context menu's handler runs in the service worker as chrome.contextMenus
// would call it (a native menu cannot be clicked in automation) on images of a test page:
// a token is identified, random noise is "No NFT we know", and the verdict window shows it.
// Every request is recorded: the page's server logs each one, and anything for another host goes
// to a recording proxy. Prints the click-to-verdict times, then "e2e extension: N passed, M failed".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { serve, root } from './browser.mjs';

let pass = 0, fail = 0;
async function test(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); pass++; } catch (e) { console.log(`not ok - ${name}: ${e.message.split('\n')[0]}`); fail++; }
}
const assert = (c, m) => { if (!c) throw new Error(m); };

const built = spawnSync(path.join(root, 'scripts/build-extension'), { encoding: 'utf8' });
if (built.status !== 0) { console.log(built.stderr); console.log('e2e extension: 0 passed, 1 failed'); process.exit(1); }
const extDir = path.join(root, 'build/extension');

// A deterministic non-NFT image: 256x256 RGB noise from a fixed LCG, as a minimal PNG.
function noisePng(w = 256, h = 256) {
  let s = 12345;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let i = 0; i < raw.length; i++) {
    if (i % (w * 3 + 1) === 0) { raw[i] = 0; continue; }  // filter byte: none
    s = (s * 1103515245 + 12345) >>> 0; raw[i] = s >>> 24;
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// The test page's folder (served at /example/): the example token images, a noise image, a page.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nftlens-ext-'));
const site = path.join(tmp, 'site');
fs.mkdirSync(site);
fs.symlinkSync(path.join(root, 'build/example/nouns/images'), path.join(site, 'images'));
const noise = noisePng();
fs.writeFileSync(path.join(site, 'noise.png'), noise);
const tokens = ['000012', '000005'];
fs.writeFileSync(path.join(site, 'page.html'), '<!doctype html><title>a page with NFTs</title>'
  + tokens.map((t) => `<img id="t${t}" src="images/${t}.png">`).join('') + '<img id="noise" src="noise.png">');

// Anything sent to a host other than the test servers arrives here (Chromium's proxy; loopback
// is never proxied) and is recorded, then refused.
// (https tunnels are refused before a byte of content passes; plain http bodies are kept to search)
const elsewhere = [];
const proxy = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => { elsewhere.push({ what: `${req.method} ${new URL(req.url).host}`, body: Buffer.concat(chunks) }); res.writeHead(502).end(); });
});
proxy.on('connect', (req, sock) => { elsewhere.push({ what: `CONNECT ${req.url}`, body: Buffer.alloc(0) }); sock.destroy(); });
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));

const srv = await serve(['--example', site, '--cors', '--log']);           // a site whose hosts send CORS headers
const bare = await serve(['--example', site, '--log']);                    // one that does not
const requests = () => srv.lines.filter((l) => l.startsWith('request ')).map((l) => { const [, method, url, bytes] = l.split(' '); return { method, url, bytes: Number(bytes) }; });

const userDir = path.join(tmp, 'profile');
const ctx = await chromium.launchPersistentContext(userDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--proxy-server=http://127.0.0.1:${proxy.address().port}`,
    `--disable-extensions-except=${extDir}`, `--load-extension=${extDir}`],
});
const timings = {};
try {
  let [sw] = ctx.serviceWorkers();
  if (!sw) sw = await ctx.waitForEvent('serviceworker', { timeout: 30000 });
  const id = new URL(sw.url()).host;
  const ext = `chrome-extension://${id}/`;
  const bundleUrl = srv.url + 'bundle/';

  await test('the manifest: MV3, strict CSP, only the permissions it needs, no remote code', async () => {
    const m = JSON.parse(fs.readFileSync(path.join(extDir, 'manifest.json'), 'utf8'));
    assert(m.manifest_version === 3, 'not MV3');
    const csp = m.content_security_policy.extension_pages;
    assert(/script-src 'self' 'wasm-unsafe-eval';/.test(csp) && /object-src 'none'/.test(csp), csp);
    assert(JSON.stringify(m.permissions) === JSON.stringify(['contextMenus', 'offscreen', 'storage']), `permissions ${m.permissions}`);
    assert(!m.host_permissions && m.optional_host_permissions.length === 2, 'host permissions must be optional');
    for (const f of fs.readdirSync(extDir).filter((f) => f.endsWith('.html'))) {
      const html = fs.readFileSync(path.join(extDir, f), 'utf8');
      assert(!/src=["']?(https?:)?\/\//i.test(html) && !/<script>/i.test(html), `${f} loads remote or inline script`);
    }
    const js = fs.readdirSync(extDir).filter((f) => f.endsWith('.js')).map((f) => fs.readFileSync(path.join(extDir, f), 'utf8')).join('\n');
    assert(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/.test(js), 'an HTML or eval sink in the extension');
  });

  await test('the context menu entry exists on images', async () => {
    // contextMenus has no getter; update() of an unknown id fails and changes nothing when it exists.
    // onInstalled runs after the worker starts, so give it a moment (CI once checked before it ran).
    let err = '';
    for (let i = 0; i < 50; i++) {
      err = await sw.evaluate(() => new Promise((resolve) => chrome.contextMenus.update('nftlens-identify', { contexts: ['image'] },
        () => resolve(chrome.runtime.lastError ? chrome.runtime.lastError.message : ''))));
      if (!err) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert(!err, `no menu entry after 10 s (${err})`);
  });

  const options = await ctx.newPage();
  await options.goto(ext + 'options.html');
  await test('options: a bad URL is refused, the bundle URL is checked, opened and cached', async () => {
    await options.fill('#url', srv.url + 'nothing-here/');
    await options.click('button[type=submit]');
    await options.waitForFunction(() => /Not added/.test(document.getElementById('status').textContent), null, { timeout: 20000 });
    assert(/HTTP 404/.test(await options.textContent('#status')), await options.textContent('#status'));
    await options.fill('#url', bundleUrl + 'manifest.json');  // (the manifest's own URL means its folder)
    const t0 = performance.now();
    await options.click('button[type=submit]');
    await options.waitForFunction(() => /Added|Not added/.test(document.getElementById('status').textContent), null, { timeout: 120000 });
    timings.add = performance.now() - t0;
    const status = await options.textContent('#status');
    assert(/Added: 300 tokens/.test(status), status);
    const listed = await options.textContent('#bundles');
    assert(listed.includes(bundleUrl) && /Nouns/.test(listed), listed);
    const stored = await sw.evaluate(() => chrome.storage.local.get('bundles'));
    assert(stored.bundles.length === 1 && stored.bundles[0].url === bundleUrl, JSON.stringify(stored));
  });

  await test("the bundle's files are cached in the extension's origin (Cache API), the model too", async () => {
    const keys = await options.evaluate(async () => (await (await caches.open('nftlens-bundle-v1')).keys()).map((r) => r.url));
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'build/example/bundle/manifest.json'), 'utf8'));
    // (every file the engine reads: thumbnail packs are read by range, per result; stats are not read)
    const used = manifest.files.filter((f) => ['model', 'recipe', 'index', 'catalogue'].includes(f.role));
    const missing = used.filter((f) => !keys.includes(bundleUrl + f.name)).map((f) => f.name);
    assert(used.length === 4, `roles ${manifest.files.map((f) => f.role)}`);
    assert(missing.length === 0, `not cached: ${missing.join(', ')} (have ${keys.length})`);
  });

  const page = await ctx.newPage();
  await page.goto(srv.url + 'example/page.html');
  const srcOf = (sel) => page.evaluate((s) => document.querySelector(s).currentSrc, sel);

  // The handler as the context menu calls it; then the verdict window it opened, once it answers.
  async function click(srcUrl) {
    const t0 = performance.now();
    const opened = ctx.waitForEvent('page', { predicate: (p) => p.url().startsWith(ext + 'verdict.html'), timeout: 20000 });
    const run = sw.evaluate((info) => self.nftLens.onMenuClick(info), { menuItemId: 'nftlens-identify', srcUrl, pageUrl: page.url(), mediaType: 'image' });
    const win = await opened;
    await win.waitForFunction(() => document.body.dataset.state !== 'working', null, { timeout: 180000 });
    const ms = performance.now() - t0;
    return { win, ms, entry: await run, heading: await win.textContent('#verdict') };
  }

  await test('cold: a token image on the page is identified, from a fresh engine (bundle from cache, model load)', async () => {
    // A fresh engine, as after a browser restart: close the offscreen document the options page used.
    await sw.evaluate(() => chrome.offscreen.closeDocument().catch(() => {}));
    const before = requests().length;
    const { win, ms, entry, heading } = await click(await srcOf('#t000012'));
    timings.cold = ms;
    assert(entry.state === 'done', `${entry.state}: ${entry.error}`);
    assert(/^This is .+ \(\d+% sure\)/.test(heading), `heading "${heading}"`);
    assert(entry.result.verdict === 'token' && entry.result.results[0].token_id === '000012', `top ${JSON.stringify(entry.result.results[0]?.token_id)}`);
    // (the card's thumbnail may still be loading when the verdict is shown: wait until it has
    // loaded or failed, so that a broken one still fails below and a slow one under load does not)
    await win.waitForFunction(() => { const img = document.querySelector('.card img.thumb'); return !img || img.complete; }, null, { timeout: 10000 }).catch(() => {});
    const card = await win.evaluate(() => {
      const img = document.querySelector('.card img.thumb');
      const a = document.querySelector('.card a.link');
      return { text: document.querySelector('.card')?.textContent || '', thumb: img ? img.naturalWidth : -1, src: img ? img.src : '', link: a ? a.href : null };
    });
    assert(/Token #000012/.test(card.text) && /Nouns/.test(card.text), `card "${card.text}"`);
    assert(card.thumb > 0 && card.src.startsWith(`blob:${ext.slice(0, -1)}`), `thumbnail ${card.thumb} ${card.src}`);
    assert(card.link === null || /^https?:/.test(card.link), `link ${card.link}`);
    // Only the manifest came from the bundle again (the rest from the Cache API), and the image.
    const got = requests().slice(before).map((r) => r.url);
    assert(got.includes('/example/images/000012.png'), `image not fetched from its server: ${got.join(' ')}`);
    const bundleFiles = got.filter((u) => u.startsWith('/bundle/') && !u.startsWith('/bundle/thumbs.'));
    assert(bundleFiles.join() === '/bundle/manifest.json', `bundle files fetched again: ${bundleFiles.join(' ')}`);
    await win.screenshot({ path: path.join(root, 'build/e2e/extension-verdict.png') }).catch(() => {});
    await win.close();
  });

  await test('warm: another token image, engine already loaded', async () => {
    const { win, ms, entry, heading } = await click(await srcOf('#t000005'));
    timings.warm = ms;
    assert(/^This is /.test(heading) && entry.result.results[0].token_id === '000005', `"${heading}" top ${entry.result?.results[0]?.token_id}`);
    await win.close();
  });

  await test('an image that is no NFT: "No NFT we know", no card', async () => {
    const { win, ms, entry, heading } = await click(await srcOf('#noise'));
    timings.noise = ms;
    assert(entry.state === 'done' && entry.result.verdict === 'none', `${entry.state} ${entry.result?.verdict} ${entry.error || ''}`);
    assert(heading === 'No NFT we know', `heading "${heading}"`);
    assert(await win.locator('.card').count() === 0, 'cards shown for no NFT');
    await win.close();
  });

  await test('a host without CORS and not allowed: the window says so and offers to allow that site', async () => {
    const { win, entry } = await click(bare.url + 'example/images/000012.png');
    assert(entry.state === 'error' && entry.code === 'permission' && entry.origin === bare.url.slice(0, -1), JSON.stringify(entry));
    const button = await win.textContent('#actions button');
    assert(button === `Allow NFT Lens to read images from ${new URL(bare.url).host}`, `button "${button}"`);
    await win.close();
  });

  await test('the image went nowhere: only GETs without a body to the test servers; no image bytes to any other host', async () => {
    const all = [...requests(), ...bare.lines.filter((l) => l.startsWith('request ')).map((l) => ({ method: l.split(' ')[1], url: l.split(' ')[2], bytes: Number(l.split(' ')[3]) }))];
    const sent = all.filter((r) => r.method !== 'GET' || r.bytes > 0);
    assert(sent.length === 0, `requests with a body: ${JSON.stringify(sent)}`);
    const images = all.filter((r) => /\/example\/(images\/|noise)/.test(r.url)).map((r) => r.url);
    assert(images.includes('/example/images/000005.png') && images.includes('/example/noise.png'), `image fetches: ${images.join(' ')}`);
    // (Chromium itself may call Google's update/sign-in hosts; none of that may carry the images)
    const imgs = [fs.readFileSync(path.join(root, 'build/example/nouns/images/000012.png')), noise].map((b) => b.subarray(64, 128));
    const leaked = elsewhere.filter((r) => imgs.some((b) => r.body.includes(b)) || r.body.length > 64 * 1024);
    assert(leaked.length === 0, `image bytes sent to: ${leaked.map((r) => r.what).join(', ')}`);
    if (elsewhere.length) console.log(`  (the browser itself tried: ${[...new Set(elsewhere.map((r) => r.what))].join(', ')}; refused by the test proxy)`);
  });
} finally {
  await ctx.close().catch(() => {});
  srv.close(); bare.close(); proxy.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
const f = (ms) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
console.log(`adding the bundle (download, check and cache it, model included): ${f(timings.add)}`);
console.log(`click to verdict: cold ${f(timings.cold)} (fresh engine: bundle from cache + runtime + model), warm ${f(timings.warm)}, noise ${f(timings.noise)}`);
console.log(`e2e extension: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
