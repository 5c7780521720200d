#!/usr/bin/env node
// A partitioned bundle in headless Chromium behind an emulated network (DevTools protocol:
// Network.emulateNetworkConditions; default 20 Mbit/s down and up, 50 ms round trip; HTTP cache off).
// Prints tables; no assertions.
//   node bench/partition_browser_bench.mjs --bundle DIR --queries DIR [--n 12] [--mbit 20] [--rtt 50] [--rerank N]
// For each of N altered copies (round-robin over the transforms in QUERIES/queries.csv), in a fresh
// browser context (empty Cache API), on a blank page of the same origin:
//   open:  NftLens.open(bundle) + prefetch() (the runtime and model, otherwise fetched by the first
//          image search) -> bytes by kind (runtime = our module + onnxruntime-web, model, bundle
//          head = manifest + recipe + partition table + collections + style model) and time to ready
//   cold:  the first searchImage (re-ranking as the core's default, 30, unless --rerank): bytes of
//          the shards and catalogue fragments it fetched, of the thumbnail ranges re-ranking read
//          from the packs (thumbs.*), of word-index parts (lexicon.*, words.*: none expected for an
//          image query), and its end-to-end time (decode, inference, fetch, search, re-ranking)
//   warm:  the same image again (parts now in the worker) and a second copy of the same token
//          (a different transform): end-to-end time; warm2 fetches what its other probes need
// "rr" is how many of the cold query's results carry an alignment (re-ranked; 0 = re-ranking off).
import fs from 'node:fs';
import path from 'node:path';
import { launch, serve, root } from '../tests/e2e/browser.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const bundleDir = path.resolve(root, opt('--bundle', 'build/scale/part100k'));
const queriesDir = path.resolve(root, opt('--queries', 'build/scale/queries'));
const n = Number(opt('--n', '12'));
const mbit = Number(opt('--mbit', '20'));
const rtt = Number(opt('--rtt', '50'));
const rerank = opt('--rerank', null);  // default: the core's (30)

const manifest = JSON.parse(fs.readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
if (!manifest.layout) throw new Error(`${bundleDir} is not a partitioned bundle`);
const rows = fs.readFileSync(path.join(queriesDir, 'queries.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
const byTransform = new Map();
for (const r of rows) { if (!byTransform.has(r[2])) byTransform.set(r[2], []); byTransform.get(r[2]).push(r); }
const transforms = [...byTransform.keys()];
const picks = [];
for (let i = 0; picks.length < n && i < rows.length; i++) {
  const t = transforms[i % transforms.length];
  const q = byTransform.get(t)[Math.floor(i / transforms.length)];
  if (!q) continue;
  const other = rows.find((r) => r[1] === q[1] && r[0] !== q[0]);  // another copy of the same token
  picks.push({ q, other });
}

const kind = (url) => {
  const name = decodeURIComponent(new URL(url).pathname).split('/').pop();
  if (/^(shards?|tokens|directory)\./.test(name)) return 'parts';  // (directory: text calls only)
  if (/^thumbs\./.test(name)) return 'thumbs';
  if (/^(lexicon|words)\./.test(name)) return 'words';
  if (/^model\./.test(name)) return 'model';
  if (/^(manifest\.json|recipe\.|partitions\.|catalogue\.|style\.)/.test(name)) return 'head';  // (what the page loads at open; style: the verdict's collection test)
  if (/\.(wasm|mjs|js)$/.test(name)) return 'runtime';
  return 'other';
};

const browser = await launch();
const srv = await serve(['--bundle', bundleDir]);
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`partition_browser_bench ${new Date().toISOString().slice(0, 10)}: ${manifest.counts.tokens.toLocaleString('en-US')} tokens, ` +
  `${manifest.layout.partitions} partitions, probe ${manifest.layout.default_probe}, fragments of ${manifest.layout.fragment_tokens} tokens; ` +
  `network ${mbit} Mbit/s, ${rtt} ms RTT, HTTP cache off; load average ${load}`);
const out = [];
for (const { q, other } of picks) {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: rtt, downloadThroughput: mbit * 1e6 / 8, uploadThroughput: mbit * 1e6 / 8 });
  const bytes = { runtime: 0, model: 0, head: 0, parts: 0, thumbs: 0, words: 0, other: 0 };
  let phase = 'page';  // (the blank page itself is not counted)
  const byPhase = { page: { ...bytes }, open: { ...bytes }, cold: { ...bytes }, warm: { ...bytes }, warm2: { ...bytes } };
  // The worker's requests are throttled with the page's, but their CDP events go to the worker's
  // own target: count bytes through Playwright, which follows workers (body + headers).
  const pending = [];
  context.on('requestfinished', (req) => {
    const at = phase;
    pending.push(req.sizes().then((z) => { byPhase[at][kind(req.url())] += z.responseBodySize + z.responseHeadersSize; }, () => {}));
  });
  await page.goto(srv.url + 'package.json');
  phase = 'open';
  const t0 = Date.now();
  await page.evaluate(async () => { const { NftLens } = await import('/src/index.js'); window.__lens = await NftLens.open('/bundle/'); await window.__lens.prefetch(); });
  const openMs = Date.now() - t0;
  const search = async (file) => {
    const b = [...fs.readFileSync(path.join(queriesDir, file))];
    return page.evaluate(async ([b, rerank]) => {
      const t = performance.now();
      const r = await window.__lens.searchImage(new Blob([new Uint8Array(b)]), rerank === null ? { k: 10 } : { k: 10, rerank: Number(rerank) });
      return { ms: performance.now() - t, timings: r.timings, fetched: r.fetched, thumbs: r.thumbs, runs: r.query?.model_runs,
        reranked: r.results.filter((x) => x.alignment !== undefined).length, top: r.results[0]?.token_id };
    }, [b, rerank]);
  };
  phase = 'cold';
  const cold = await search(q[0]);
  phase = 'warm';
  const warm = await search(q[0]);
  phase = 'warm2';
  const warm2 = other ? await search(other[0]) : null;
  await new Promise((r) => setTimeout(r, 200));
  await Promise.all(pending);
  const want = path.basename(q[1].replace(/"/g, ''), '.png');
  out.push({ t: q[2], openMs, open: byPhase.open, cold, coldBytes: byPhase.cold, warm, warm2, ok: cold.top === want, warmBytes: byPhase.warm, warm2Bytes: byPhase.warm2 });
  await context.close();
}
await browser.close();
srv.close();

const kb = (b) => (b / 1024).toFixed(0);
const f1 = (x) => x.toFixed(0);
const mean = (f) => out.reduce((s, r) => s + f(r), 0) / out.length;
const sorted = (f) => out.map(f).sort((a, b) => a - b);
const pct = (f, p) => { const s = sorted(f); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const median = (f) => { const s = sorted(f); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const coldAll = (r) => r.coldBytes.parts + r.coldBytes.thumbs + r.coldBytes.words + r.coldBytes.other;
const w2 = (r) => r.warm2 || r.warm;
console.log('\nopen (once per page):');
const o = out[0];
console.log(`  runtime ${kb(o.open.runtime)} KB, model ${kb(o.open.model)} KB, bundle head ${kb(o.open.head)} KB (manifest + recipe + partition table + collections + style model)` +
  `${o.open.other ? `, other ${kb(o.open.other)} KB` : ''}; ready (open + prefetch) in ${(mean((r) => r.openMs) / 1000).toFixed(1)} s mean`);
console.log('\nper query (bytes on the wire incl. headers; ms end to end in the page; cold KB = shards + fragments + thumbnails + words):');
const cols = [['transform', 11, 'l'], ['top1', 5, 'l'], ['runs', 4], ['rr', 3], ['parts KB', 8], ['thumbs KB', 9], ['words KB', 8], ['cold KB', 7], ['head+cold KB', 12],
  ['cold ms', 7], ['fetch ms', 8], ['infer ms', 8], ['warm ms', 7], ['w infer', 7], ['w search', 8], ['warm2 ms', 8], ['warm2 KB', 8]];
const line = (vals) => vals.map((v, i) => (cols[i][2] === 'l' ? String(v).padEnd(cols[i][1]) : String(v).padStart(cols[i][1]))).join(' ');
console.log(line(cols.map((c) => c[0])));
for (const r of out)
  console.log(line([r.t, r.ok, r.cold.runs ?? '-', r.cold.reranked, kb(r.coldBytes.parts), kb(r.coldBytes.thumbs), kb(r.coldBytes.words), kb(coldAll(r)), kb(coldAll(r) + r.open.head),
    f1(r.cold.ms), f1(r.cold.timings.fetch), f1(r.cold.timings.inference), f1(r.warm.ms), f1(r.warm.timings.inference), f1(r.warm.timings.search),
    r.warm2 ? f1(r.warm2.ms) : '-', kb(Object.values(r.warm2Bytes).reduce((a, b) => a + b, 0))]));
const row = (label, agg, first) => console.log(line([label, first, '', '', kb(agg((r) => r.coldBytes.parts)), kb(agg((r) => r.coldBytes.thumbs)), kb(agg((r) => r.coldBytes.words)),
  kb(agg(coldAll)), kb(agg((r) => coldAll(r) + r.open.head)), f1(agg((r) => r.cold.ms)), f1(agg((r) => r.cold.timings.fetch)), f1(agg((r) => r.cold.timings.inference)),
  f1(agg((r) => r.warm.ms)), f1(agg((r) => r.warm.timings.inference)), f1(agg((r) => r.warm.timings.search)), f1(agg((r) => w2(r).ms)), kb(agg((r) => Object.values(r.warm2Bytes).reduce((a, b) => a + b, 0)))]));
row('mean', mean, `${out.filter((r) => r.ok).length}/${out.length}`);
row('median', median, '');
row('p90', (f) => pct(f, 0.9), '');
row('max', (f) => pct(f, 1), '');
const warmBytes = out.reduce((s, r) => s + Object.values(r.warmBytes).reduce((a, b) => a + b, 0), 0);
console.log(`\nre-ranked: ${out.filter((r) => r.cold.reranked > 0).length}/${out.length} cold queries (results with an alignment: ${mean((r) => r.cold.reranked).toFixed(1)} of 10 on average); ` +
  `thumbnails fetched per cold query ${mean((r) => r.cold.thumbs?.fetched || 0).toFixed(1)}; the same image again fetched ${warmBytes} bytes in all`);
const warmOther = (r) => r.warm.ms - r.warm.timings.inference - r.warm.timings.search - r.warm.timings.fetch;
console.log(`warm (same image) median ${f1(median((r) => r.warm.ms))} ms: inference ${f1(median((r) => r.warm.timings.inference))}, search + re-ranking ${f1(median((r) => r.warm.timings.search))}, ` +
  `decode ${f1(median((r) => r.warm.timings.decode))}, preprocess ${f1(median((r) => r.warm.timings.preprocess))}, the rest (messages, page) ${f1(median(warmOther))} ms (medians of each)`);
