#!/usr/bin/env node
// A partitioned bundle in headless Chromium behind an emulated network (DevTools protocol:
// Network.emulateNetworkConditions; default 20 Mbit/s down and up, 50 ms round trip; HTTP cache off).
// Prints tables; no assertions.
//   node bench/partition_browser_bench.mjs --bundle DIR --queries DIR [--n 12] [--mbit 20] [--rtt 50]
// For each of N altered copies (round-robin over the transforms in QUERIES/queries.csv), in a fresh
// browser context (empty Cache API), on a blank page of the same origin:
//   open:  NftLens.open(bundle) -> bytes by kind (runtime = our module + onnxruntime-web, model,
//          bundle head = manifest + recipe + partition table + collections) and time to ready
//   cold:  the first searchImage: bytes of the shards and catalogue fragments it fetched, and its
//          end-to-end time (decode, inference, fetch, search)
//   warm:  the same image again (parts now in the worker) and a second copy of the same token
//          (a different transform): end-to-end time, nothing fetched
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
  if (/^(shard|tokens)\./.test(name)) return 'parts';
  if (/^model\./.test(name)) return 'model';
  if (/^(manifest\.json|recipe\.|partitions\.|catalogue\.)/.test(name)) return 'head';
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
  const bytes = { runtime: 0, model: 0, head: 0, parts: 0, other: 0 };
  let phase = 'open';
  const byPhase = { open: { ...bytes }, cold: { ...bytes }, warm: { ...bytes } };
  // The worker's requests are throttled with the page's, but their CDP events go to the worker's
  // own target: count bytes through Playwright, which follows workers (body + headers).
  const pending = [];
  context.on('requestfinished', (req) => {
    const at = phase;
    pending.push(req.sizes().then((z) => { byPhase[at][kind(req.url())] += z.responseBodySize + z.responseHeadersSize; }, () => {}));
  });
  await page.goto(srv.url + 'package.json');
  const t0 = Date.now();
  await page.evaluate(async () => { const { NftLens } = await import('/src/index.js'); window.__lens = await NftLens.open('/bundle/'); });
  const openMs = Date.now() - t0;
  const search = async (file) => {
    const b = [...fs.readFileSync(path.join(queriesDir, file))];
    return page.evaluate(async (b) => {
      const t = performance.now();
      const r = await window.__lens.searchImage(new Blob([new Uint8Array(b)]), { k: 10 });
      return { ms: performance.now() - t, timings: r.timings, fetched: r.fetched, top: r.results[0]?.token_id };
    }, b);
  };
  phase = 'cold';
  const cold = await search(q[0]);
  phase = 'warm';
  const warm = await search(q[0]);
  const warm2 = other ? await search(other[0]) : null;
  await new Promise((r) => setTimeout(r, 200));
  await Promise.all(pending);
  const want = path.basename(q[1].replace(/"/g, ''), '.png');
  out.push({ t: q[2], openMs, open: byPhase.open, cold, coldBytes: byPhase.cold, warm, warm2, ok: cold.top === want, warmBytes: byPhase.warm });
  await context.close();
}
await browser.close();
srv.close();

const kb = (b) => (b / 1024).toFixed(0);
const f1 = (x) => x.toFixed(0);
console.log('\nopen (once per page):');
const o = out[0];
console.log(`  runtime ${kb(o.open.runtime)} KB, model ${kb(o.open.model)} KB, bundle head ${kb(o.open.head)} KB (manifest + recipe + partition table + collections); ready in ${(out.reduce((s, r) => s + r.openMs, 0) / out.length / 1000).toFixed(1)} s mean`);
console.log('\nper query (bytes on the wire incl. headers; ms end to end in the page):');
console.log(`${'transform'.padEnd(11)} ${'top1'.padEnd(5)} ${'cold parts KB'.padStart(13)} ${'head+parts KB'.padStart(13)} ${'cold ms'.padStart(8)} ${'fetch ms'.padStart(9)} ${'infer ms'.padStart(9)} ${'warm ms'.padStart(8)} ${'warm2 ms'.padStart(9)} ${'warm KB'.padStart(8)}`);
for (const r of out)
  console.log(`${r.t.padEnd(11)} ${String(r.ok).padEnd(5)} ${kb(r.coldBytes.parts).padStart(13)} ${kb(r.coldBytes.parts + r.open.head).padStart(13)} ${f1(r.cold.ms).padStart(8)} ${f1(r.cold.timings.fetch).padStart(9)} ${f1(r.cold.timings.inference).padStart(9)} ${f1(r.warm.ms).padStart(8)} ${(r.warm2 ? f1(r.warm2.ms) : '-').padStart(9)} ${kb(r.warmBytes.parts).padStart(8)}`);
const mean = (f) => out.reduce((s, r) => s + f(r), 0) / out.length;
const sorted = (f) => out.map(f).sort((a, b) => a - b);
const p90 = (f) => { const s = sorted(f); return s[Math.min(s.length - 1, Math.floor(0.9 * s.length))]; };
console.log(`${'mean'.padEnd(11)} ${(out.filter((r) => r.ok).length + '/' + out.length).padEnd(5)} ${kb(mean((r) => r.coldBytes.parts)).padStart(13)} ${kb(mean((r) => r.coldBytes.parts + r.open.head)).padStart(13)} ${f1(mean((r) => r.cold.ms)).padStart(8)} ${f1(mean((r) => r.cold.timings.fetch)).padStart(9)} ${f1(mean((r) => r.cold.timings.inference)).padStart(9)} ${f1(mean((r) => r.warm.ms)).padStart(8)} ${f1(mean((r) => (r.warm2 ? r.warm2.ms : r.warm.ms))).padStart(9)}`);
console.log(`${'p90'.padEnd(11)} ${''.padEnd(5)} ${kb(p90((r) => r.coldBytes.parts)).padStart(13)} ${kb(p90((r) => r.coldBytes.parts + r.open.head)).padStart(13)} ${f1(p90((r) => r.cold.ms)).padStart(8)} ${f1(p90((r) => r.cold.timings.fetch)).padStart(9)} ${''.padStart(9)} ${f1(p90((r) => r.warm.ms)).padStart(8)} ${f1(p90((r) => (r.warm2 ? r.warm2.ms : r.warm.ms))).padStart(9)}`);
