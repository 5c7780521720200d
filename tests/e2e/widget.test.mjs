#!/usr/bin/env node
// End-to-end tests of the <nft-lens> widget and the demo pages in headless Chromium, served with the
// strict CSP (scripts/serve.mjs --csp). Plain node, no framework:
//   node tests/e2e/widget.test.mjs
// Prints "ok - name" / "not ok - name: reason" per test, then "e2e widget: N passed, M failed";
// exits 1 on any failure. Needs the example bundle (build/example) and web/dist (scripts/setup).
// Writes screenshots to build/e2e/{demo,suggestions,text-search,compare}.png.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import zlib from 'node:zlib';
import { launch, serve, root } from './browser.mjs';

const TIMEOUT = 90_000;
const queriesDir = path.join(root, 'build/example/queries');
const outDir = path.join(root, 'build/e2e');

let passed = 0, failed = 0;
async function test(name, fn) {
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT / 1000} s`)), TIMEOUT); })]);
    console.log(`ok - ${name}`);
    passed++;
  } catch (err) {
    console.log(`not ok - ${name}: ${String(err && err.message ? err.message : err).split('\n')[0]}`);
    failed++;
  } finally {
    clearTimeout(timer);
  }
}
function assert(cond, message) { if (!cond) throw new Error(message); }

// Pick altered queries (one per transform) from queries.csv: query path -> expected token id.
function pickQueries(transforms) {
  const lines = fs.readFileSync(path.join(queriesDir, 'queries.csv'), 'utf8').trim().split('\n').slice(1);
  const picked = [];
  for (const transform of transforms) {
    for (const line of lines) {
      const m = line.match(/^([^,]+),"?([^",]+)"?,([^,]+),/);
      if (!m || m[3] !== transform) continue;
      const file = path.join(queriesDir, m[1]);
      if (!fs.existsSync(file)) continue;
      picked.push({ file, transform, tokenId: path.basename(m[2]).replace(/\.[^.]+$/, '').replace(/\D/g, '') });
      break;
    }
  }
  return picked;
}

// Every page gets: CSP violation + page error collectors, nftlens event log.
async function newPage(context, sink) {
  const page = await context.newPage();
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) sink.csp.push(m.text()); });
  page.on('pageerror', (e) => sink.pageErrors.push(e.message));
  page.on('worker', (w) => w.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) sink.csp.push(`worker: ${m.text()}`); }));
  await page.exposeFunction('__cspViolation', (text) => sink.csp.push(`securitypolicyviolation: ${text}`));
  // Errors from inside the worker (e.g. wasm glue needing eval) surface only as nftlens-error messages.
  await page.exposeFunction('__nftlensError', (text) => { if (/Content Security Policy|unsafe-eval/i.test(text)) sink.csp.push(`nftlens-error: ${text}`); });
  await page.addInitScript(() => {
    window.__nftlens = { errors: [], results: 0, ready: 0 };
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolation(`${e.violatedDirective} ${e.blockedURI}`));
    document.addEventListener('nftlens-error', (e) => { window.__nftlens.errors.push(e.detail.message); window.__nftlensError(e.detail.message); });
    document.addEventListener('nftlens-results', () => { window.__nftlens.results++; });
    document.addEventListener('nftlens-ready', () => { window.__nftlens.ready++; });
  });
  return page;
}

async function waitReady(page) {
  await page.waitForFunction(() => window.__nftlens && (window.__nftlens.ready > 0 || window.__nftlens.errors.length > 0), null, { timeout: TIMEOUT });
  const errors = await page.evaluate(() => window.__nftlens.errors);
  assert(!errors.length, `nftlens-error while loading: ${errors.join('; ')}`);
}

async function searchFile(page, file) {
  const before = await page.evaluate(() => window.__nftlens.results + window.__nftlens.errors.length);
  await page.locator('nft-lens input[part="file-input"]').setInputFiles(file);
  await page.waitForFunction((n) => window.__nftlens.results + window.__nftlens.errors.length > n, before, { timeout: TIMEOUT });
  const errors = await page.evaluate(() => window.__nftlens.errors);
  assert(!errors.length, `nftlens-error: ${errors.join('; ')}`);
}

async function waitResults(page, before) {
  await page.waitForFunction((n) => window.__nftlens.results + window.__nftlens.errors.length > n, before, { timeout: TIMEOUT });
  const errors = await page.evaluate(() => window.__nftlens.errors);
  assert(!errors.length, `nftlens-error: ${errors.join('; ')}`);
}
const resultCount = (page) => page.evaluate(() => window.__nftlens.results);
// The results on screen, with their traits: [{token_id, traits: {type: value}}].
const shownResults = (page) => page.evaluate(() => (document.querySelector('nft-lens').lastResult.results || [])
  .map((r) => ({ token_id: r.token_id, traits: Object.fromEntries((r.attributes || []).map((a) => [a.trait_type, a.value])) })));

// Tokens of the example collection with their traits (build/example/nouns/metadata/*.json).
function exampleTokens() {
  const dir = path.join(root, 'build/example/nouns/metadata');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => {
    const m = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    return { token_id: f.replace(/\.json$/, ''), traits: Object.fromEntries(m.attributes.map((a) => [a.trait_type, a.value])) };
  });
}
// A filter value matches a token's value when it has all of the value's words (the core's rule);
// for values that are not word-subsets of another value of the same type, that means equality.
const wordsOf = (v) => String(v).toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
const hasWords = (value, wanted) => { const w = wordsOf(value); return wordsOf(wanted).every((x) => w.includes(x)); };

const started = Date.now();
const server = await serve(['--csp']);
const origin = new URL(server.url).origin;
const browser = await launch();
const sink = { csp: [], pageErrors: [] };
fs.mkdirSync(outDir, { recursive: true });

try {
  // Fresh context = empty Cache API, so the bundle really is fetched.
  const context = await browser.newContext({ viewport: { width: 1000, height: 1200 }, serviceWorkers: 'block' });
  const requests = [];
  let recording = false;
  context.on('request', (r) => { if (recording) requests.push(r); });
  const page = await newPage(context, sink);

  await test('demo page loads the bundle under the strict CSP', async () => {
    const res = await page.goto(server.url + 'demo/');
    assert(res.ok(), `GET /demo/: HTTP ${res.status()}`);
    assert(/script-src 'self' 'wasm-unsafe-eval'/.test(res.headers()['content-security-policy'] || ''), 'server did not send the strict CSP');
    await waitReady(page);
    recording = true;
    const status = await page.locator('nft-lens [part="status"]').textContent();
    assert(/Ready: 300 tokens/.test(status), `status says "${status}"`);
    assert(await page.locator('nft-lens [part="status"]').getAttribute('aria-live') === 'polite', 'status is not aria-live');
    const info = await page.evaluate(() => document.querySelector('nft-lens').lens.info().tokens);
    assert(info === 300, `element.lens.info().tokens = ${info}`);
    assert(await page.locator('nft-lens [part~="filter"]').isHidden(), 'collection filter shown for a one-collection bundle');
  });

  const queries = pickQueries(['screenshot', 'jpeg']);
  await test(`altered copies are identified via the file input (${queries.map((q) => q.transform).join(', ')})`, async () => {
    assert(queries.length === 2, 'no screenshot/jpeg queries in build/example/queries/queries.csv');
    for (const q of queries) {
      await searchFile(page, q.file);
      const first = page.locator('nft-lens li[part~="card"]').first();
      const token = await first.locator('[part="token"]').textContent();
      assert(token === `Token #${q.tokenId}`, `${path.basename(q.file)}: first card is "${token}", expected token ${q.tokenId}`);
      const heading = await page.locator('nft-lens [part="heading"]').textContent();
      const name = await first.locator('[part="name"]').textContent();
      assert(heading.startsWith(`This is ${name} (`) && /\d+% sure/.test(heading), `${path.basename(q.file)}: heading "${heading}"`);
      const score = await first.locator('[part="score"]').textContent();
      assert(/^\d{1,3}\.\d%$/.test(score), `score "${score}"`);
      assert(await first.locator('[part="rarity"]').textContent().then((t) => / of 300$/.test(t)), 'rarity "#r of N" missing');
      const link = first.locator('a[part="link"]');
      assert(/^https:\/\//.test(await link.getAttribute('href')), 'marketplace link missing');
      assert(await link.getAttribute('rel') === 'noopener noreferrer nofollow', 'link rel');
      assert(await link.getAttribute('target') === '_blank', 'link target');
      const thumb = await first.locator('img[part="thumb"]').evaluate((img) => ({ src: img.src, ok: img.complete }));
      assert(thumb.src.startsWith('blob:') && thumb.ok, `thumb src ${thumb.src}`);  // (checked bytes of a thumbnail pack)
      const cards = await page.locator('nft-lens li[part~="card"]').count();
      assert(cards === 8, `${cards} cards for k=8`);
      // The numbers shown follow the order of the cards (issue #19, item 2).
      const shown = (await page.locator('nft-lens li[part~="card"] [part="score"]').allTextContents()).map((t) => parseFloat(t));
      assert(shown.every((v, i) => i === 0 || v <= shown[i - 1]), `scores out of order: ${shown.join(', ')}`);
      const status = await page.locator('nft-lens [part="status"]').textContent();
      assert(status === `This is ${name}, ${heading.match(/(\d+)% sure/)[1]}% sure. ${status.split('. ').pop()}` && /\. Identified in \d[\d,]* ms\.$/.test(status), `status "${status}"`);
      const preview = await page.locator('nft-lens img[part="preview"]').getAttribute('src');
      assert(preview && preview.startsWith('blob:'), `query preview src ${preview}`);
    }
    await page.evaluate(() => document.fonts.ready);
    await page.locator('nft-lens img[part="thumb"]').last().evaluate((img) => img.decode().catch(() => {}));
    await page.screenshot({ path: path.join(outDir, 'demo.png'), fullPage: true });
  });

  await test('element.search() and the URL field search same-origin image URLs', async () => {
    const r = await page.evaluate(async () => {
      const el = document.querySelector('nft-lens');
      const t = await el.lens.token(42);
      return el.search(new URL(`/example/images/${t.token_id}.png`, location.href).href).then((res) => ({ id: res.results[0].token_id, match: res.match, want: t.token_id }));
    });
    assert(r.match && r.id === r.want, `search(url) found ${r.id}, expected ${r.want}`);
    const before = await page.evaluate(() => window.__nftlens.results);
    await page.locator('nft-lens input[type="url"]').fill(`${origin}/example/images/000007.png`);
    await page.locator('nft-lens input[type="url"]').press('Enter');
    await page.waitForFunction((n) => window.__nftlens.results > n, before, { timeout: TIMEOUT });
    const token = await page.locator('nft-lens li[part~="card"] [part="token"]').first().textContent();
    assert(token === 'Token #000007', `URL field: first card ${token}`);
    // Relative URLs resolve against the page (/demo/), not the worker script.
    const rel = await page.evaluate(() => document.querySelector('nft-lens').search('../example/images/000011.png').then((res) => res.results[0].token_id));
    assert(rel === '000011', `search(relative URL) found ${rel}`);
    // A URL that cannot be fetched: an alert, and the old results go (they are not its answer).
    await page.locator('nft-lens input[type="url"]').fill(`${origin}/example/images/no-such-image.png`);
    await page.locator('nft-lens input[type="url"]').press('Enter');
    await page.waitForFunction(() => window.__nftlens.errors.length > 0, null, { timeout: TIMEOUT });
    const alert = await page.locator('nft-lens [role="alert"]').textContent();
    assert(/404/.test(alert), `alert for a missing image URL: "${alert}"`);
    assert(await page.locator('nft-lens li[part~="card"]').count() === 0, 'old results kept under the error');
    await page.evaluate(() => { window.__nftlens.errors.length = 0; });
  });

  await test('an image that is no NFT is answered "No NFT we know", with no card styled as the answer', async () => {
    const file = path.join(outDir, 'unrelated.png');  // a gradient with a disc: nothing like a Noun
    execFileSync('/usr/bin/convert', ['-size', '320x240', 'gradient:#1d3557-#f1faee', '-fill', '#e63946', '-draw', 'circle 160,120 160,60', file]);
    await searchFile(page, file);
    const heading = await page.locator('nft-lens [part="heading"]').textContent();
    assert(/^No NFT we know/.test(heading), `heading "${heading}"`);
    assert(await page.locator('nft-lens [part~="card-match"]').count() === 0, 'a card is styled as the match');
    const detail = await page.evaluate(() => document.querySelector('nft-lens').lastResult);
    assert(detail.verdict === 'none' && detail.match === false, `verdict ${detail.verdict}`);
    const status = await page.locator('nft-lens [part="status"]').textContent();
    assert(/^No NFT we know\. Searched in [\d,.]+ ms\.$/.test(status), `status "${status}"`);
  });

  await test('demo "try a random token" button identifies a bundle token', async () => {
    const before = await page.evaluate(() => window.__nftlens.results);
    await page.locator('#example').click();
    await page.waitForFunction((n) => window.__nftlens.results > n, before, { timeout: TIMEOUT });
    const heading = await page.locator('nft-lens [part="heading"]').textContent();
    assert(/^This is /.test(heading), `heading "${heading}"`);
  });

  await test('an unreadable file shows an alert and fires nftlens-error', async () => {
    await page.locator('nft-lens input[part="file-input"]').setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not really a png') });
    await page.waitForFunction(() => window.__nftlens.errors.length > 0, null, { timeout: TIMEOUT });
    const alert = page.locator('nft-lens [role="alert"]');
    assert(await alert.isVisible(), 'alert not visible');
    const text = await alert.textContent();
    assert(text.length > 5, `alert text "${text}"`);
    await page.evaluate(() => { window.__nftlens.errors.length = 0; });
  });

  // Issue #19, 5: what a screen reader hears, and where Tab goes.
  await test('accessibility: the live region announces the answer, links and facets have names, results come before facets in Tab order', async () => {
    await searchFile(page, queries[0].file);
    const first = page.locator('nft-lens li[part~="card"]').first();
    const name = await first.locator('[part="name"]').textContent();
    const live = page.locator('nft-lens [role="status"]');
    assert(await live.getAttribute('aria-live') === 'polite', 'status is not a polite live region');
    assert((await live.textContent()).startsWith(`This is ${name}, `), `live region says "${await live.textContent()}"`);
    // Each result link is named with its token.
    const names = await page.locator('nft-lens li[part~="card"]').evaluateAll((cards) => cards.map((c) => c.querySelector('[part="name"]').textContent));
    const snap = await page.locator('nft-lens [part="results"]').ariaSnapshot();
    for (const n of names) {
      const link = page.getByRole('link', { name: `View ${n} on opensea.io` });
      assert(await link.count() >= 1, `no link named "View ${n} on opensea.io"; snapshot: ${snap.split('\n').filter((l) => /link/.test(l)).slice(0, 2).join(' | ')}`);
    }
    assert(!/link "View on /.test(snap), 'a link is still named "View on …" without its token');
    // Facet buttons read as sentences.
    const facets = await page.locator('nft-lens [part="facets"]').ariaSnapshot();
    assert(/button "Filter by [^"]+: [^"]+ \((\d+ results?|no results)\)"/.test(facets), `facet names: ${facets.split('\n').filter((l) => /button/.test(l)).slice(0, 2).join(' | ')}`);
    const one = page.locator('nft-lens [part~="facet"]').first();
    const [type, value, n] = await one.evaluate((b) => [b.dataset.type, b.dataset.value, b.querySelector('.n').textContent]);
    const label = `Filter by ${type}: ${value} (${n} result${n === '1' ? '' : 's'})`;
    assert(await page.getByRole('button', { name: label, exact: true }).count() === 1, `no button named "${label}"`);
    // Tab from the search box reaches the first result before any facet.
    await page.locator('nft-lens [part="search-input"]').focus();
    let reached = '';
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => {
        const a = document.querySelector('nft-lens').shadowRoot.activeElement;
        if (!a) return 'left the element';
        if (a.closest('[part~="card"]')) return 'card';
        if (a.closest('[part="facets"]')) return 'facet';
        return '';
      });
    }
    assert(reached === 'card', `Tab from the search box reached a ${reached || 'nothing in 40 presses'} first`);
  });

  // Issue #19, 7: the pixel limit in plain words (the core says "the image is WxH pixels; NFT Lens reads
  // images up to 40 million pixels"). A PNG whose header says 9000x9000: the core refuses it from the header.
  await test('an image over the pixel limit is refused in plain words', async () => {
    const chunk = (type, data) => {
      const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
      const crc = Buffer.alloc(4); crc.writeUInt32BE(zlib.crc32(Buffer.concat([Buffer.from(type), data])) >>> 0);
      return Buffer.concat([len, Buffer.from(type), data, crc]);
    };
    const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(9000, 0); ihdr.writeUInt32BE(9000, 4); ihdr[8] = 8; ihdr[9] = 2;
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
    await page.locator('nft-lens input[part="file-input"]').setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: png });
    await page.waitForFunction(() => window.__nftlens.errors.length > 0, null, { timeout: TIMEOUT });
    const alert = await page.locator('nft-lens [role="alert"]').textContent();
    assert(alert === 'The image is 9000x9000 pixels; NFT Lens reads images up to 40 million pixels. Try a smaller copy or a screenshot of it.', `alert "${alert}"`);
    await page.evaluate(() => { window.__nftlens.errors.length = 0; });
  });

  // Issue #19, 1: the results of the previous image must not stay under the error of a failed one,
  // and its facets must not re-run the failed file.
  const failedSearchLeavesNothing = async (what) => {
    const el = (sel) => page.locator(`nft-lens ${sel}`);
    assert(await el('[role="alert"]').isVisible(), `${what}: alert not visible`);
    assert(await el('li[part~="card"]').count() === 0, `${what}: ${await el('li[part~="card"]').count()} old result cards kept`);
    assert(await el('[part="heading"]').isHidden(), `${what}: old heading kept: "${await el('[part="heading"]').textContent()}"`);
    assert(await el('[part~="facet"]').count() === 0 && await el('[part="facets"]').isHidden(), `${what}: old facets kept`);
    assert(await page.evaluate(() => document.querySelector('nft-lens').lastResult) === null, `${what}: lastResult kept`);
  };
  await test('a failed image search clears the previous results and facets (unreadable file, refused file)', async () => {
    for (const [what, file] of [
      ['unreadable file', { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not really a png') }],
      ['not an image', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') }],
    ]) {
      await searchFile(page, queries[0].file);
      assert(await page.locator('nft-lens li[part~="card"]').count() > 0 && await page.locator('nft-lens [part~="facet"]').count() > 0, 'no results/facets to start from');
      const before = await resultCount(page);
      await page.locator('nft-lens input[part="file-input"]').setInputFiles(file);
      await page.waitForFunction(() => window.__nftlens.errors.length > 0, null, { timeout: TIMEOUT });
      await failedSearchLeavesNothing(what);
      if (what === 'not an image') {
        assert(/not an image/.test(await page.locator('nft-lens [role="alert"]').textContent()), 'alert does not say why');
        assert(await page.locator('nft-lens img[part="preview"]').isHidden(), 'the previous query image is still shown');
      }
      // The collection menu re-runs "the current search": there is none now, so nothing runs.
      await page.evaluate(() => { window.__nftlens.errors.length = 0; });
      await page.locator('nft-lens select[part="filter"]').evaluate((s) => { s.value = ''; s.dispatchEvent(new Event('change')); });
      await page.waitForTimeout(300);
      const after = await page.evaluate(() => ({ results: window.__nftlens.results, errors: window.__nftlens.errors.length }));
      assert(after.results === before && after.errors === 0, `${what}: the failed file was searched again`);
    }
  });

  await test('no request after ready carries the image (GETs of same-origin static files only)', async () => {
    recording = false;
    assert(requests.length > 0, 'no requests recorded (thumbnails should have loaded)');
    const bad = [];
    for (const r of requests) {
      const u = new URL(r.url());
      const why = [];
      if (r.method() !== 'GET') why.push(r.method());
      if (r.postDataBuffer()) why.push(`body of ${r.postDataBuffer().length} bytes`);
      if (u.protocol === 'blob:' || u.protocol === 'data:') continue;   // local, never leaves the tab
      if (u.origin !== origin) why.push('cross-origin');
      if (u.search || u.href.length > 512) why.push('query string');
      if (!/^\/(bundle|src|dist|demo|example)\/[\w./-]+$/.test(u.pathname)) why.push('not a static file');  // (example: URL searches above)
      if (why.length) bad.push(`${r.method()} ${r.url().slice(0, 120)} (${why.join(', ')})`);
    }
    assert(!bad.length, bad.join('; '));
    if (process.env.VERBOSE) for (const r of requests) console.log(`#   ${r.method()} ${r.url()}`);
  });

  await test('keyboard: Tab reaches the drop zone, it shows a focus ring, Enter opens the picker', async () => {
    await page.goto(server.url + 'demo/');
    await waitReady(page);
    // Listen early: file-chooser interception is switched on asynchronously.
    const chooserPromise = page.waitForEvent('filechooser', { timeout: 20_000 });
    chooserPromise.catch(() => {});
    let onDropzone = false;
    for (let i = 0; i < 10 && !onDropzone; i++) {
      await page.keyboard.press('Tab');
      onDropzone = await page.evaluate(() => {
        const a = document.activeElement;
        return !!(a && a.localName === 'nft-lens' && a.shadowRoot.activeElement && a.shadowRoot.activeElement.getAttribute('part') === 'dropzone');
      });
    }
    assert(onDropzone, 'drop zone not reached with Tab');
    const ring = await page.locator('nft-lens [part="dropzone"]').evaluate((d) => {
      const s = getComputedStyle(d);
      return { style: s.outlineStyle, width: parseFloat(s.outlineWidth), role: d.getAttribute('role'), visible: d.matches(':focus-visible') };
    });
    assert(ring.role === 'button', `drop zone role ${ring.role}`);
    assert(ring.visible && ring.style !== 'none' && ring.width > 0, `no focus ring (outline ${ring.style} ${ring.width}px)`);
    await page.keyboard.press('Enter');
    const chooser = await chooserPromise;
    assert(chooser.element, 'no file chooser');
    await chooser.setFiles(queries[0].file);
    await page.waitForFunction(() => window.__nftlens.results > 0, null, { timeout: TIMEOUT });
    const token = await page.locator('nft-lens li[part~="card"] [part="token"]').first().textContent();
    assert(token === `Token #${queries[0].tokenId}`, `via keyboard picker: ${token}`);
  });

  await test('changing the bundle attribute reloads (bad bundle -> error, good bundle -> ready)', async () => {
    await page.evaluate(() => { document.querySelector('nft-lens').setAttribute('bundle', '/no-such-bundle/'); });
    await page.waitForFunction(() => window.__nftlens.errors.length > 0, null, { timeout: TIMEOUT });
    const err = await page.locator('nft-lens [role="alert"]').textContent();
    assert(/manifest/.test(err) && /404/.test(err), `alert: ${err}`);
    assert(await page.locator('nft-lens li[part~="card"]').count() === 0, 'old results kept after the bundle changed');
    const ready = await page.evaluate(() => window.__nftlens.ready);
    await page.evaluate(() => { document.querySelector('nft-lens').setAttribute('bundle', '/bundle/'); });
    await page.waitForFunction((n) => window.__nftlens.ready > n, ready, { timeout: TIMEOUT });
    assert(await page.locator('nft-lens [role="alert"]').isHidden(), 'alert still shown after a good reload');
    // The module guards against double definition.
    const again = await page.evaluate(async () => { await import('/src/nft-lens-element.js?again'); return customElements.get('nft-lens') === document.querySelector('nft-lens').constructor; });
    assert(again, 'second import replaced the definition');
  });

  await test('text search: typing "pizz" suggests Pizza in an accessible listbox (arrows, Escape, Enter)', async () => {
    await page.goto(server.url + 'demo/');
    await waitReady(page);
    const box = page.locator('nft-lens [part="search-input"]');
    assert(await box.getAttribute('role') === 'combobox', 'search input is not a combobox');
    // The hint is made of this bundle's own traits: "e.g. <value> <type> <value> <type>".
    const placeholder = await box.getAttribute('placeholder');
    const stats = await page.evaluate(() => document.querySelector('nft-lens').lens.traitStats());
    const phrases = Object.entries(stats).flatMap(([type, values]) => Object.keys(values).map((v) => `${v} ${type}`.toLowerCase()));
    const example = (placeholder.match(/, e\.g\. (.+)$/) || [])[1] || '';
    assert(phrases.some((ph) => example.startsWith(ph)) && phrases.some((ph) => example.endsWith(ph)), `placeholder "${placeholder}" is not made of the bundle's traits`);
    const listbox = page.locator('nft-lens [part="suggestions"]');
    assert(await box.getAttribute('aria-controls') === await listbox.getAttribute('id'), 'aria-controls does not name the listbox');
    await box.click();
    await box.pressSequentially('pizz', { delay: 40 });
    const options = page.locator('nft-lens [part="suggestions"] [role="option"]');
    await options.first().waitFor({ state: 'visible', timeout: 20_000 });
    assert(await listbox.getAttribute('role') === 'listbox', 'suggestions are not a listbox');
    assert(await box.getAttribute('aria-expanded') === 'true', 'aria-expanded not true while open');
    const texts = await options.allTextContents();
    const i = texts.findIndex((t) => /Pizza/.test(t));
    assert(i >= 0, `no suggestion contains "Pizza": ${JSON.stringify(texts)}`);
    assert(/Head/.test(texts[i]), `the Pizza suggestion does not name its trait type: "${texts[i]}"`);
    await page.screenshot({ path: path.join(outDir, 'suggestions.png'), clip: { x: 0, y: 0, width: 1000, height: 700 } });
    // Arrow keys move the highlight (aria-activedescendant / aria-selected); Escape closes.
    await box.press('ArrowDown');
    const first = await options.first().getAttribute('id');
    assert(await box.getAttribute('aria-activedescendant') === first, 'ArrowDown did not highlight the first option');
    assert(await options.first().getAttribute('aria-selected') === 'true', 'highlighted option not aria-selected');
    await box.press('Escape');
    assert(await listbox.isHidden(), 'Escape did not close the suggestions');
    assert(await box.getAttribute('aria-expanded') === 'false', 'aria-expanded not false after Escape');
    assert(await box.inputValue() === 'pizz', 'Escape changed the text');
    // Reopen, go to "Pizza", Enter: a "Head: Pizza" chip and only Pizza heads.
    await box.press('ArrowDown');
    await options.first().waitFor({ state: 'visible', timeout: 20_000 });
    const again = await options.allTextContents();
    const j = again.findIndex((t) => /Pizza/.test(t));
    for (let n = 0; n <= j; n++) await box.press('ArrowDown');
    const before = await resultCount(page);
    await box.press('Enter');
    await waitResults(page, before);
    const chip = page.locator('nft-lens [part~="chip"]');
    assert(await chip.count() === 1, `${await chip.count()} chips`);
    assert(/Head:\s*Pizza/.test(await chip.textContent()), `chip "${await chip.textContent()}"`);
    assert(await box.inputValue() === '', `the completed word stayed in the box: "${await box.inputValue()}"`);
    const shown = await shownResults(page);
    const want = exampleTokens().filter((t) => t.traits.Head === 'Pizza').map((t) => t.token_id).sort();
    assert(JSON.stringify(shown.map((r) => r.token_id).sort()) === JSON.stringify(want), `results ${shown.map((r) => r.token_id)} != Pizza heads ${want}`);
    // Removing the chip (keyboard) leaves no filter.
    await chip.focus();
    await page.keyboard.press('Enter');
    assert(await page.locator('nft-lens [part~="chip"]').count() === 0, 'chip not removed');
    assert(await page.locator('nft-lens li[part~="card"]').count() === 0, 'filtered results kept after the last filter went');
  });

  const tokens = exampleTokens();
  const target = tokens.find((t) => wordsOf(t.traits.Head).some((w) => w.length >= 5 && /^[a-z]+$/.test(w)));
  let misspelt = '';
  await test('text search: a typed description with a misspelling finds the token', async () => {
    assert(target, 'no token with a 5+ letter head word');
    const word = wordsOf(target.traits.Head).find((w) => w.length >= 5 && /^[a-z]+$/.test(w));
    misspelt = word.slice(0, 2) + (word[2] === 'x' ? 'z' : 'x') + word.slice(3);
    const query = [target.traits.Head.toLowerCase().replace(word, misspelt), target.traits.Glasses.toLowerCase(), target.traits.Accessory.toLowerCase()].join(' ');
    const box = page.locator('nft-lens [part="search-input"]');
    await box.fill('');
    const before = await resultCount(page);
    await box.pressSequentially(query, { delay: 5 });
    await box.press('Enter');
    await waitResults(page, before);
    const shown = await shownResults(page);
    const rank = shown.findIndex((r) => r.token_id === target.token_id);
    assert(rank >= 0, `"${query}": token ${target.token_id} not in ${shown.length} results`);
    assert(rank < 3, `"${query}": token ${target.token_id} is result ${rank + 1}`);
    const heading = await page.locator('nft-lens [part="heading"]').textContent();
    assert(heading.includes(query), `heading "${heading}"`);
    const score = await page.locator('nft-lens li[part~="card"] [part="score"]').first().textContent();
    assert(/^relevance \d+(\.\d)?$/.test(score), `score shown as "${score}" (want relevance, not %)`);
    assert(await page.locator('nft-lens li[part~="card"]').count() === shown.length, 'cards != results');
    const status = await page.locator('nft-lens [part="status"]').textContent();
    assert(/^(Found [\d,]+ tokens?(, showing [\d,]+,)?|[\d,]+ tokens? shown) in [\d.,]+ ms\.$/.test(status), `status "${status}"`);
    assert(await page.locator('nft-lens [part="facets"]').isVisible(), 'no facets after a text search');
  });

  await test('text search: clicking a facet value narrows the results (every result has that trait)', async () => {
    const shownBefore = await shownResults(page);
    // A Background value (Cool/Warm) that only some of the results have.
    const facet = await page.evaluate(() => {
      const root = document.querySelector('nft-lens').shadowRoot;
      const buttons = [...root.querySelectorAll('[part~="facet"]')].filter((b) => b.dataset.type === 'Background');
      return buttons.map((b) => ({ value: b.dataset.value, n: Number(b.querySelector('.n').textContent) }));
    });
    const pick = facet.find((f) => f.n < shownBefore.length) || facet[0];
    assert(pick, 'no Background facet');
    const button = page.locator(`nft-lens [part~="facet"][data-type="Background"][data-value="${pick.value}"]`);
    const before = await resultCount(page);
    await button.focus();
    await page.keyboard.press('Enter');   // keyboard, like a click
    await waitResults(page, before);
    const shown = await shownResults(page);
    assert(shown.length > 0, 'no results after the facet');
    const bad = shown.filter((r) => r.traits.Background !== pick.value);
    assert(!bad.length, `${bad.length} results lack Background: ${pick.value} (${bad.map((r) => r.token_id)})`);
    if (pick.n < shownBefore.length) assert(shown.length <= shownBefore.length, 'the facet did not narrow the results');
    const chip = page.locator('nft-lens [part~="chip"]');
    assert(await chip.count() === 1 && (await chip.textContent()).includes(pick.value), 'no chip for the facet');
    const pressed = page.locator(`nft-lens [part~="facet"][data-type="Background"][data-value="${pick.value}"]`);
    assert(await pressed.getAttribute('aria-pressed') === 'true', 'facet not aria-pressed');
    const focusKept = await page.evaluate(() => document.querySelector('nft-lens').shadowRoot.activeElement?.dataset.value);
    assert(focusKept === pick.value, `focus moved to ${focusKept}`);
    // the misspelt query's token, if it has that background, is still found
    if (target.traits.Background === pick.value) assert(shown.some((r) => r.token_id === target.token_id), 'target lost after the facet');
    const heading = await page.locator('nft-lens [part="heading"]').textContent();
    assert(heading.includes(`Background: ${pick.value}`), `heading "${heading}"`);
    await page.evaluate(() => document.fonts.ready);
    await page.locator('nft-lens').evaluate((el) => el.scrollIntoView());
    await page.locator('nft-lens').evaluate((el) => Promise.all([...el.shadowRoot.querySelectorAll('img[part="thumb"]')].slice(0, 6).map((i) => { i.loading = 'eager'; return i.decode().catch(() => {}); })));
    await page.screenshot({ path: path.join(outDir, 'text-search.png') });
  });

  await test('image search + a facet filter chip keeps only tokens with that trait', async () => {
    const q = queries[0];
    await page.locator('nft-lens [part="search-input"]').fill('');
    await searchFile(page, q.file);   // a new image clears the chips
    assert(await page.locator('nft-lens [part~="chip"]').count() === 0, 'a new image kept the old filter chips');
    const top = (await shownResults(page))[0];
    assert(top.token_id === q.tokenId, `identified ${top.token_id}, expected ${q.tokenId}`);
    // Facets are counted from the image results; take a Glasses value the top match does not have.
    const values = await page.evaluate(() => [...document.querySelector('nft-lens').shadowRoot.querySelectorAll('[part~="facet"][data-type="Glasses"]')].map((b) => b.dataset.value));
    assert(values.length > 0, 'no Glasses facet after an image search');
    const all = [...new Set(tokens.map((t) => t.traits.Glasses))];
    const exact = (v) => all.filter((o) => hasWords(o, v)).length === 1;   // no other value contains its words
    const value = values.find((v) => v !== top.traits.Glasses && exact(v)) || values.find((v) => v !== top.traits.Glasses) || values[0];
    const before = await resultCount(page);
    await page.locator(`nft-lens [part~="facet"][data-type="Glasses"][data-value="${value}"]`).click();
    await waitResults(page, before);
    const chip = page.locator('nft-lens [part~="chip"]');
    assert(await chip.count() === 1 && /Glasses:\s*/.test(await chip.textContent()) && (await chip.textContent()).includes(value), 'no Glasses chip');
    const shown = await shownResults(page);
    assert(shown.length > 0, 'no results with the filter');
    const bad = shown.filter((r) => !(exact(value) ? r.traits.Glasses === value : hasWords(r.traits.Glasses, value)));
    assert(!bad.length, `results without Glasses: ${value}: ${bad.map((r) => `${r.token_id} (${r.traits.Glasses})`).join(', ')}`);
    const have = tokens.filter((t) => hasWords(t.traits.Glasses, value)).length;
    assert(shown.length === Math.min(8, have), `${shown.length} results, ${have} tokens have Glasses: ${value}`);
    assert((await page.locator('nft-lens img[part="preview"]').getAttribute('src')).startsWith('blob:'), 'query preview lost');
    // Removing the chip searches the same image again, unfiltered.
    const before2 = await resultCount(page);
    await chip.click();
    await waitResults(page, before2);
    const again = (await shownResults(page))[0];
    assert(again.token_id === q.tokenId, `after removing the filter: ${again.token_id}`);
  });

  await test('element.searchText() and filters-only queries (rarest first)', async () => {
    const r = await page.evaluate(() => document.querySelector('nft-lens').searchText('head:pizza'));
    assert(r && Array.isArray(r.results) && r.results.length === 2, `searchText('head:pizza'): ${r && r.results && r.results.length} results`);
    assert(r.results[0].rarity_rank <= r.results[1].rarity_rank, 'filters-only results not rarest first');
    assert(r.facets && r.facets.Head && r.facets.Head.Pizza === 2, 'facets missing');
    const two = await page.locator('nft-lens [part="heading"]').textContent();
    assert(two === '2 tokens for “head:pizza”', `heading "${two}"`);  // fewer than text-k: all of them
    const none = await page.evaluate(() => document.querySelector('nft-lens').searchText('zzzzqqqq'));
    assert(none.results.length === 0, 'nonsense matched');
    const heading = await page.locator('nft-lens [part="heading"]').textContent();
    assert(/^No tokens found/.test(heading), `heading "${heading}"`);
  });

  // Issue #19, 3: a full page of text results is not the number of matches.
  await test('text search: the heading counts the matches (result.total), or does not claim a full page is all', async () => {
    const heading = page.locator('nft-lens [part="heading"]'), status = page.locator('nft-lens [part="status"]');
    const r = await page.evaluate(() => document.querySelector('nft-lens').searchText('glasses'));
    assert(r.results.length === 20, `${r.results.length} results for "glasses" (text-k 20; every Noun has glasses)`);
    if (r.total === undefined) {  // a core without result.total: the fallback wording
      assert(await heading.textContent() === '20 tokens shown for “glasses”', `heading "${await heading.textContent()}"`);
      assert(/^20 tokens shown in [\d.,]+ ms\.$/.test(await status.textContent()), `status "${await status.textContent()}"`);
    } else {
      assert(await heading.textContent() === `Showing 20 of ${r.total} tokens for “glasses”`, `heading "${await heading.textContent()}" (total ${r.total})`);
    }
    // A core that counts the matches: the heading and the status say so.
    const stubbed = await page.evaluate(async () => {
      const lens = document.querySelector('nft-lens').lens;
      const real = lens.searchText;
      lens.searchText = async (...args) => ({ ...(await real.apply(lens, args)), total: 1234 });
      try { return (await document.querySelector('nft-lens').searchText('glasses')).total; } finally { delete lens.searchText; }
    });
    assert(stubbed === 1234, 'stub not used');
    assert(await heading.textContent() === 'Showing 20 of 1,234 tokens for “glasses”', `heading "${await heading.textContent()}"`);
    assert(/^Found 1,234 tokens, showing 20, in [\d.,]+ ms\.$/.test(await status.textContent()), `status "${await status.textContent()}"`);
  });

  await test('compare page: side by side with the top match and its traits', async () => {
    await page.goto(server.url + 'demo/compare.html');
    await page.waitForFunction(() => document.body.dataset.ready === 'true' || !document.getElementById('error').hidden, null, { timeout: TIMEOUT });
    assert(await page.locator('#error').isHidden(), `error: ${await page.locator('#error').textContent()}`);
    const q = queries[1];
    await page.locator('#file').setInputFiles(q.file);
    await page.waitForFunction(() => !document.getElementById('out').hidden || !document.getElementById('error').hidden, null, { timeout: TIMEOUT });
    assert(await page.locator('#error').isHidden(), `error: ${await page.locator('#error').textContent()}`);
    const verdict = await page.locator('#verdict').textContent();
    assert(/^This is /.test(verdict), `verdict "${verdict}"`);
    const facts = await page.locator('#facts').textContent();
    assert(facts.includes(q.tokenId), `facts lack token ${q.tokenId}`);
    assert(await page.locator('#traits tr').count() >= 3, 'traits table is empty');
    assert((await page.locator('#query-img').getAttribute('src')).startsWith('blob:'), 'query image not shown');
    assert((await page.locator('#match-img').getAttribute('src')).startsWith('blob:'), 'match thumbnail not shown');
    await page.locator('#match-img').evaluate((img) => img.decode().catch(() => {}));
    await page.screenshot({ path: path.join(outDir, 'compare.png'), fullPage: true });
  });
  await context.close();

  // Issue #19, 6: a phone. The answer is scrolled into view; the drop zone speaks touch.
  await test('mobile (390x844, touch): touch wording, and the verdict and top card are scrolled into view', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, serviceWorkers: 'block' });
    const p = await newPage(ctx, sink);
    await p.goto(server.url + 'demo/');
    await waitReady(p);
    const drop = await p.locator('nft-lens [part="dropzone"]').textContent();
    assert(/Choose or take a photo/.test(drop) && !/Drop|Ctrl/.test(drop), `drop zone on touch says "${drop}"`);
    assert(/Choose or take a photo/.test(await p.locator('nft-lens [part="dropzone"]').getAttribute('aria-label')), 'drop zone label');
    const status = await p.locator('nft-lens [part="status"]').textContent();
    assert(!/Drop|paste/.test(status), `status on touch says "${status}"`);
    assert(await p.locator('nft-lens [part="camera"]').isVisible(), 'no Take photo button on touch');
    // Where are the verdict and the top card when the result event fires, and a moment later?
    const inView = () => p.evaluate(() => {
      const sr = document.querySelector('nft-lens').shadowRoot;
      const head = sr.querySelector('[part="heading"]').getBoundingClientRect(), card = sr.querySelector('[part~="card"]').getBoundingClientRect();
      return head.top >= -1 && card.bottom <= innerHeight + 1;  // (sub-pixel scroll positions)
    });
    await p.evaluate(() => document.addEventListener('nftlens-results', () => {
      const sr = document.querySelector('nft-lens').shadowRoot;
      window.__atResults = { top: sr.querySelector('[part="heading"]').getBoundingClientRect().top, scrollY };
    }));
    for (const reduce of [false, true]) {
      await p.emulateMedia({ reducedMotion: reduce ? 'reduce' : 'no-preference' });
      await p.evaluate(() => window.scrollTo(0, 0));
      await searchFile(p, queries[reduce ? 1 : 0].file);
      const at = await p.evaluate(() => window.__atResults);
      if (reduce) {
        assert(at.scrollY > 0 && at.top >= -1 && at.top < 100 && await inView(), `reduced motion: not scrolled at once (${JSON.stringify(at)})`);
      } else {
        await p.waitForFunction(() => {
          const sr = document.querySelector('nft-lens').shadowRoot;
          const head = sr.querySelector('[part="heading"]').getBoundingClientRect(), card = sr.querySelector('[part~="card"]').getBoundingClientRect();
          return head.top >= -1 && card.bottom <= innerHeight + 1;
        }, null, { timeout: 5000 }).catch(() => {});
        assert(await inView(), `verdict/top card not scrolled into view (heading top ${at.top} of ${844} at the results event)`);
      }
    }
    await p.screenshot({ path: path.join(outDir, 'mobile.png') });
    await ctx.close();
  });

  // Issue #19, 7: a worker the browser will not start is explained, with the browser's words kept.
  await test('a worker blocked by the page CSP, or refused by the browser, is explained in plain words', async () => {
    const ctx = await browser.newContext({ serviceWorkers: 'block' });
    const own = { csp: [], pageErrors: [] };  // the violation is the point here
    const p = await newPage(ctx, own);
    await p.route('**/demo/', async (route) => {
      const res = await route.fetch();
      const csp = res.headers()['content-security-policy'].replace("worker-src 'self'", "worker-src 'none'");
      await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': csp } });
    });
    const check = async (what, technical) => {
      await p.waitForFunction(() => window.__nftlens.errors.length > 0, null, { timeout: TIMEOUT });
      const alert = p.locator('nft-lens [role="alert"]');
      const text = await alert.locator(':scope > span').textContent();
      assert(/worker script/.test(text) && /Content-Security-Policy/.test(text) && /worker-src/.test(text) && /same|own origin/.test(text), `${what}: alert "${text}"`);
      assert(!/Failed to construct/.test(text), `${what}: the browser's words in the message`);
      const detail = await alert.locator('details code').textContent();
      assert(technical.test(detail), `${what}: technical detail "${detail}"`);
      assert(await alert.locator('details').evaluate((d) => !d.open), `${what}: details open`);
    };
    await p.goto(server.url + 'demo/');
    await check('worker-src none', /worker/i);
    // A worker script on another origin (a CDN): Chromium throws "Failed to construct 'Worker'".
    await p.unroute('**/demo/');
    await p.addInitScript(() => {
      window.Worker = class { constructor(url) { throw new DOMException(`Failed to construct 'Worker': Script at '${url}' cannot be accessed from origin 'https://example.org'.`, 'SecurityError'); } };
    });
    await p.goto(server.url + 'demo/');
    await check('cross-origin worker', /^Failed to construct 'Worker'/);
    await ctx.close();
  });

  await test('a corrupt catalogue is reported (alert naming the catalogue + nftlens-error)', async () => {
    const ctx = await browser.newContext({ serviceWorkers: 'block' });   // empty Cache API; no service worker, so page.route sees it: the catalogue must be fetched
    const p = await newPage(ctx, sink);
    let routed = 0;
    await p.route('**/bundle/catalogue.*', (route) => { routed++; return route.fulfill({ status: 200, contentType: 'application/octet-stream', body: Buffer.from('garbage') }); });
    await p.goto(server.url + 'demo/');
    await p.waitForFunction(() => window.__nftlens.errors.length > 0 || window.__nftlens.ready > 0, null, { timeout: TIMEOUT });
    assert(routed > 0, 'the catalogue request was not intercepted');
    const events = await p.evaluate(() => window.__nftlens.errors);
    assert(events.length === 1, `${events.length} nftlens-error events`);
    const alert = p.locator('nft-lens [role="alert"]');
    assert(await alert.isVisible(), 'alert not visible');
    const text = await alert.textContent();
    assert(/catalogue/.test(text), `alert does not name the catalogue: "${text}"`);
    assert(/catalogue/.test(events[0]), `event message: "${events[0]}"`);
    assert(await p.evaluate(() => document.querySelector('nft-lens').lens === null), 'element.lens set despite the bad bundle');
    await ctx.close();
  });

  await test('no CSP violations and no page errors', async () => {
    assert(!sink.csp.length, sink.csp.slice(0, 3).join(' | '));
    assert(!sink.pageErrors.length, sink.pageErrors.slice(0, 3).join(' | '));
  });
} finally {
  await browser.close();
  server.close();
}

console.log(`# ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${path.relative(root, outDir)}/`);
console.log(`e2e widget: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
