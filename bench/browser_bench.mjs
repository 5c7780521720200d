#!/usr/bin/env node
// Browser benchmark of NFT Lens in headless Chromium (playwright-core, /usr/bin/chromium), served by
// scripts/serve.mjs --bundle DIR. Prints tables; no assertions.
//   node bench/browser_bench.mjs [--bundle build/q10k/bundle] [--queries build/q10k/queries] [--n 30]
//                                [--warmup 3] [--modes plain,isolated]
// For each mode (plain: no COOP/COEP, so onnxruntime-web runs 1 thread; isolated: serve.mjs --isolated,
// cross-origin isolated, 2+ threads), in a fresh browser context (empty HTTP cache and Cache API):
//   cold load: every response from the page's first module import until the <nft-lens> element fires
//     nftlens-ready (NftLens.open resolved): bytes on the wire (CDP Network.loadingFinished
//     encodedDataLength, which includes headers; serve.mjs sends no Content-Encoding, so this is the
//     uncompressed size), uncompressed file sizes, and gzip -9 / brotli-11 sizes of the same files
//     computed here (what a compressing server or CDN would send); time to ready.
//   warm queries: N altered copies from QUERIES/queries.csv (round-robin over the transforms), each given to
//     the element as a File (element.search(file)); per query: the worker's timings (decode, preprocess,
//     inference, search), messaging (worker result arriving on the page minus the worker's own total),
//     render (result arrival -> the requestAnimationFrame after the element's nftlens-results event) and
//     end to end (search() call -> that frame). Thumbnails load lazily after that and are not included.
// The page is a same-origin document of the server (/package.json), emptied and given one <nft-lens>;
// nothing under web/ is changed. Also prints the gzip sizes of web/dist (the core and onnxruntime-web).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { launch, serve, root } from '../tests/e2e/browser.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const bundleDir = path.resolve(root, opt('--bundle', 'build/q10k/bundle'));
const queriesDir = path.resolve(root, opt('--queries', 'build/q10k/queries'));
const nQueries = Number(opt('--n', '30'));
const nWarmup = Number(opt('--warmup', '3'));
const modes = opt('--modes', 'plain,isolated').split(',');
const TIMEOUT = 180_000;

const kb = (b) => (b / 1024).toFixed(1);
const mb = (b) => (b / 1048576).toFixed(2);
const gz = (buf) => zlib.gzipSync(buf, { level: 9 }).length;
const br = (buf) => zlib.brotliCompressSync(buf, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length } }).length;
const sizeCache = new Map();
function sizesOf(file) {
  if (!sizeCache.has(file)) {
    const buf = fs.readFileSync(file);
    sizeCache.set(file, { raw: buf.length, gzip: gz(buf), brotli: br(buf) });
  }
  return sizeCache.get(file);
}
// URL on the server -> file on disk (the two mounts of scripts/serve.mjs).
function fileOf(url) {
  const p = decodeURIComponent(new URL(url).pathname);
  if (p.startsWith('/bundle/')) return path.join(bundleDir, p.slice('/bundle/'.length));
  return path.join(root, 'web', p);
}
function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, median: q(0.5), p90: q(0.9), max: s[s.length - 1] };
}
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

// ~N queries, round-robin over the transforms so each is represented.
function pickQueries(n) {
  const lines = fs.readFileSync(path.join(queriesDir, 'queries.csv'), 'utf8').trim().split('\n').slice(1);
  const byTransform = new Map();
  for (const line of lines) {
    const m = line.match(/^([^,]+),"?([^",]+)"?,([^,]+),/);
    if (!m) continue;
    const file = path.join(queriesDir, m[1]);
    if (!byTransform.has(m[3])) byTransform.set(m[3], []);
    byTransform.get(m[3]).push({ file, transform: m[3], tokenId: path.basename(m[2]).replace(/\.[^.]+$/, '') });
  }
  const lists = [...byTransform.values()];
  const picked = [];
  for (let i = 0; picked.length < n && lists.some((l) => i < l.length); i++)
    for (const l of lists) if (i < l.length && picked.length < n) picked.push(l[i]);
  return picked;
}

async function runMode(browser, mode, queries) {
  const server = await serve(['--bundle', bundleDir, ...(mode === 'isolated' ? ['--isolated'] : [])]);
  const context = await browser.newContext({ viewport: { width: 1000, height: 1200 } });
  try {
    const page = await context.newPage();
    const workerErrors = [];
    page.on('pageerror', (e) => workerErrors.push(e.message));
    // Network accounting: Playwright's Request.sizes() is CDP Network.loadingFinished encodedDataLength
    // split into headers and body; unlike a CDP session of our own on the page, Playwright also attaches
    // to the dedicated workers, which make almost all the requests here.
    const pending = [];
    let recording = false;
    context.on('requestfinished', (r) => {
      if (!recording) return;
      pending.push(r.sizes().then((sz) => ({ url: r.url(), status: 0, body: sz.responseBodySize, headers: sz.responseHeadersSize, done: true }),
        (e) => ({ url: r.url(), body: 0, headers: 0, done: false, failed: String(e.message || e) })).then(async (x) => {
        const resp = await r.response().catch(() => null);
        return { ...x, status: resp ? resp.status() : 0 };
      }));
    });
    context.on('requestfailed', (r) => { if (recording) pending.push(Promise.resolve({ url: r.url(), body: 0, headers: 0, done: true, failed: r.failure()?.errorText || 'failed' })); });

    const res = await page.goto(server.url + 'package.json');
    if (!res.ok()) throw new Error(`GET /package.json: HTTP ${res.status()}`);
    recording = true;
    const load = await page.evaluate(async (timeout) => {
      document.documentElement.innerHTML = '<head><meta charset="utf-8"></head><body></body>';
      const t0 = performance.now();
      await import('/src/nft-lens-element.js');
      const tImported = performance.now();
      const el = document.createElement('nft-lens');
      el.setAttribute('bundle', '/bundle/');
      el.setAttribute('k', '8');
      const ready = new Promise((resolve, reject) => {
        el.addEventListener('nftlens-ready', (e) => resolve(e.detail), { once: true });
        el.addEventListener('nftlens-error', (e) => reject(new Error(e.detail.message)), { once: true });
        setTimeout(() => reject(new Error('no nftlens-ready')), timeout);
      });
      document.body.append(el);
      const info = await ready;
      const tReady = performance.now();
      window.__el = el;
      return { importMs: tImported - t0, readyMs: tReady - t0, openMs: tReady - tImported, threads: info.threads, tokens: info.tokens,
        isolated: self.crossOriginIsolated === true };
    }, TIMEOUT);
    await new Promise((r) => setTimeout(r, 300));  // let the last loadingFinished events arrive
    recording = false;
    const files = [];
    for (const r of await Promise.all(pending)) {
      if (!r.url.startsWith('http')) continue;
      const file = fileOf(r.url);
      const onDisk = r.status === 200 && fs.existsSync(file) && fs.statSync(file).isFile();
      const s = onDisk ? sizesOf(file) : { raw: r.body, gzip: r.body, brotli: r.body };
      // Chromium reports no body size for a dedicated worker's own script: count the file it was served.
      const body = r.body > 0 || !onDisk ? r.body : s.raw;
      files.push({ url: new URL(r.url).pathname, encoded: body + r.headers, bodyEstimated: body !== r.body, ...s, done: r.done, failed: r.failed, status: r.status });
    }
    files.sort((a, b) => b.raw - a.raw);

    // Warm queries.
    const payload = queries.map((q) => ({ name: path.basename(q.file), b64: fs.readFileSync(q.file).toString('base64') }));
    await page.evaluate((items) => {
      const type = (n) => (/\.png$/i.test(n) ? 'image/png' : /\.jpe?g$/i.test(n) ? 'image/jpeg' : /\.webp$/i.test(n) ? 'image/webp' : 'application/octet-stream');
      window.__files = items.map(({ name, b64 }) => {
        const bin = atob(b64);
        const u8 = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
        return new File([u8], name, { type: type(name) });
      });
      const lens = window.__el.lens;
      const orig = lens.searchImage.bind(lens);
      lens.searchImage = (...a) => orig(...a).then((r) => { window.__tResult = performance.now(); return r; });
      window.__one = (i) => new Promise((resolve, reject) => {
        const el = window.__el;
        const onErr = (e) => reject(new Error(e.detail.message));
        el.addEventListener('nftlens-error', onErr, { once: true });
        el.addEventListener('nftlens-results', (e) => {
          const tEvent = performance.now();
          requestAnimationFrame(() => {
            const tFrame = performance.now();
            el.removeEventListener('nftlens-error', onErr);
            const r = e.detail;
            resolve({ t: r.timings, tResult: window.__tResult - t0, tEvent: tEvent - t0, tFrame: tFrame - t0,
              top: r.results && r.results[0] ? String(r.results[0].token_id) : '', match: !!r.match, runs: r.query ? r.query.model_runs : 0,
              cards: el.shadowRoot ? el.shadowRoot.querySelectorAll('li[part~="card"]').length : -1 });
          });
        }, { once: true });
        const t0 = performance.now();
        el.search(window.__files[i]);
      });
    }, payload);
    const rows = [];
    const firstQuery = await page.evaluate((i) => window.__one(i), 0);
    for (let w = 1; w < nWarmup; w++) await page.evaluate((i) => window.__one(i), w % queries.length);
    for (let i = 0; i < queries.length; i++) {
      const r = await page.evaluate((j) => window.__one(j), i);
      rows.push({ ...r, q: queries[i] });
    }
    return { mode, load, files, firstQuery, rows, errors: workerErrors };
  } finally {
    await context.close();
    server.close();
  }
}

// Top-1 is the original token (ids compared as written, or as numbers: "000123" = "123").
const hit = (r) => r.top === r.q.tokenId || (/^\d+$/.test(r.top) && /^\d+$/.test(r.q.tokenId) && Number(r.top) === Number(r.q.tokenId));

function printMode(m) {
  const { load, files } = m;
  const sum = (k) => files.reduce((a, f) => a + (Number.isFinite(f[k]) ? f[k] : 0), 0);
  console.log(`\n== ${m.mode}: crossOriginIsolated=${load.isolated}, onnxruntime-web threads=${load.threads}, ${load.tokens} tokens ==`);
  console.log(`cold load: ${files.length} requests, time to first query ready ${load.readyMs.toFixed(0)} ms (module import ${load.importMs.toFixed(0)} ms + NftLens.open ${load.openMs.toFixed(0)} ms)`);
  console.log(`${pad('file', 52)} ${lpad('wire B', 10)} ${lpad('raw KB', 10)} ${lpad('gzip-9 KB', 10)} ${lpad('brotli KB', 10)}`);
  for (const f of files) {
    const flag = (f.failed ? ` FAILED ${f.failed}` : !f.done ? ' (unfinished)' : f.status && f.status !== 200 ? ` HTTP ${f.status}` : '') +
      (f.bodyEstimated ? ' (body size from the file)' : '');
    console.log(`${pad(f.url.length > 52 ? '…' + f.url.slice(-51) : f.url, 52)} ${lpad(f.encoded, 10)} ${lpad(kb(f.raw), 10)} ${lpad(kb(f.gzip), 10)} ${lpad(kb(f.brotli), 10)}${flag}`);
  }
  console.log(`${pad('TOTAL', 52)} ${lpad(sum('encoded'), 10)} ${lpad(kb(sum('raw')), 10)} ${lpad(kb(sum('gzip')), 10)} ${lpad(kb(sum('brotli')), 10)}`);
  console.log(`         = ${mb(sum('encoded'))} MB on the wire from serve.mjs (uncompressed + headers), ${mb(sum('gzip'))} MB gzip-9, ${mb(sum('brotli'))} MB brotli  (target: <= 10 MB compressed)`);

  const rows = m.rows;
  const fq = m.firstQuery;
  console.log(`first query after load (not in the table): end to end ${fq.tFrame.toFixed(0)} ms (inference ${fq.t.inference.toFixed(0)} ms)`);
  const ok = rows.filter(hit).length;
  console.log(`warm queries: ${rows.length} (after ${nWarmup} warm-up), top-1 correct ${ok}/${rows.length}`);
  const cols = [
    ['decode', (r) => r.t.decode], ['preprocess', (r) => r.t.preprocess], ['inference', (r) => r.t.inference], ['search', (r) => r.t.search],
    ['worker total', (r) => r.t.total], ['messaging', (r) => r.tResult - r.t.total], ['render', (r) => r.tFrame - r.tResult],
    ['end to end', (r) => r.tFrame],
  ];
  console.log(`${pad('stage (ms)', 14)} ${lpad('mean', 8)} ${lpad('median', 8)} ${lpad('p90', 8)} ${lpad('max', 8)}`);
  for (const [name, fn] of cols) {
    const s = stats(rows.map(fn));
    console.log(`${pad(name, 14)} ${lpad(s.mean.toFixed(1), 8)} ${lpad(s.median.toFixed(1), 8)} ${lpad(s.p90.toFixed(1), 8)} ${lpad(s.max.toFixed(1), 8)}`);
  }
  console.log('(target: warm query <= 150 ms end to end)');
  // Per transform: medians of end to end and of the worker's stages (fetch: the needs re-ranking
  // asked for, thumbnails and the parts file; search: the core's time without them).
  const byT = new Map();
  for (const r of rows) { if (!byT.has(r.q.transform)) byT.set(r.q.transform, []); byT.get(r.q.transform).push(r); }
  console.log(`${pad('transform', 12)} ${lpad('n', 3)} ${lpad('top-1', 6)} ${lpad('e2e med', 8)} ${lpad('decode', 8)} ${lpad('infer', 8)} ${lpad('search', 8)} ${lpad('fetch', 8)} ${lpad('runs', 5)}`);
  for (const [t, rs] of byT) {
    console.log(`${pad(t, 12)} ${lpad(rs.length, 3)} ${lpad(rs.filter(hit).length, 6)} ${lpad(stats(rs.map((r) => r.tFrame)).median.toFixed(1), 8)} ${lpad(stats(rs.map((r) => r.t.decode)).median.toFixed(1), 8)} ${lpad(stats(rs.map((r) => r.t.inference)).median.toFixed(1), 8)} ${lpad(stats(rs.map((r) => r.t.search)).median.toFixed(1), 8)} ${lpad(stats(rs.map((r) => r.t.fetch ?? 0)).median.toFixed(1), 8)} ${lpad(stats(rs.map((r) => r.runs)).median, 5)}`);
  }
  if (m.errors.length) console.log(`page errors: ${m.errors.join('; ')}`);
}

function printDist() {
  console.log('\n== web/dist sizes ==');
  console.log(`${pad('file', 44)} ${lpad('raw KB', 10)} ${lpad('gzip-9 KB', 10)} ${lpad('brotli KB', 10)}`);
  const group = (label, list) => {
    let raw = 0, g = 0, b = 0;
    for (const f of list) {
      const s = sizesOf(path.join(root, 'web/dist', f));
      raw += s.raw; g += s.gzip; b += s.brotli;
      console.log(`${pad(f, 44)} ${lpad(kb(s.raw), 10)} ${lpad(kb(s.gzip), 10)} ${lpad(kb(s.brotli), 10)}`);
    }
    console.log(`${pad(label, 44)} ${lpad(kb(raw), 10)} ${lpad(kb(g), 10)} ${lpad(kb(b), 10)}`);
  };
  group('= core (budget 262 KB, node zlib: tests/wasm/module.test.mjs)', ['nftlens-core.wasm', 'nftlens-core.js']);
  group('= onnxruntime-web', fs.readdirSync(path.join(root, 'web/dist/ort')).sort().map((f) => `ort/${f}`));
}

const queries = pickQueries(nQueries);
if (!queries.length) { console.error(`no queries in ${queriesDir}/queries.csv`); process.exit(1); }
const started = Date.now();
const load0 = os.loadavg();
const browser = await launch();
const version = browser.version();
const results = [];
try {
  for (const mode of modes) {
    process.stderr.write(`browser bench: ${mode} ...\n`);
    results.push(await runMode(browser, mode, queries));
  }
} finally {
  await browser.close();
}
const load1 = os.loadavg();
console.log(`browser bench: ${new Date().toISOString().slice(0, 16)}Z, ${os.cpus().length} cores, Chromium ${version} headless, bundle ${path.relative(root, bundleDir)}, ` +
  `queries ${path.relative(root, queriesDir)}; load average start ${load0.map((x) => x.toFixed(2)).join(' ')} / end ${load1.map((x) => x.toFixed(2)).join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s`);
for (const m of results) printMode(m);
printDist();
