#!/usr/bin/env node
// The wasm core's own time per image query, in Node: what `lens.search` (first stage, re-rankings,
// part codes) costs once V8 has tiered the module up, without the model, the page or the network.
// Prints a table per query kind; no assertions. Use it to compare builds of web/dist (compiler
// flags, algorithm changes) on the same bundle and queries.
//   node bench/core_speed.mjs --bundle DIR --queries DIR [--core web/dist] [--n 30]
// QUERIES/queries.csv: query,original,transform[,params] (scripts/example/make-queries.sh and
// make-captures.sh write it). Every kind is run twice and the second pass is timed: the first, on
// the next N queries of each kind, lets V8 replace its baseline code (Liftoff) with optimised code,
// which takes a few hundred queries' worth of calls; the timed queries are new to the lens, so
// their thumbnails are mostly not cached yet, as for a user's query. Needs (thumbnails, the parts
// file) are answered from the bundle folder and their handling is timed too, as the worker's would
// be (its fetches are not), and so are the repeated search calls after each.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const bundleDir = path.resolve(opt('--bundle', 'build/example/bundle'));
const qdir = path.resolve(opt('--queries', 'build/example/captures'));
const coreDir = path.resolve(root, opt('--core', 'web/dist'));
const nPer = Number(opt('--n', '30'));

const { default: createCore } = await import(path.join(coreDir, 'nftlens-core.js'));
const core = await createCore({ wasmBinary: fs.readFileSync(path.join(coreDir, 'nftlens-core.wasm')) });
const parse = (t) => { const r = JSON.parse(t); if (r.error) throw new Error(r.error); return r; };
const lens = new core.Lens();
const manifest = parse(lens.openManifest(fs.readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8')));
for (const f of manifest.files) parse(lens.addFile(f.role, new Uint8Array(fs.readFileSync(path.join(bundleDir, f.name)))));
parse(lens.finish('{}'));
ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(fs.readFileSync(path.join(bundleDir, manifest.files.find((f) => f.role === 'model').name)));

const rows = fs.readFileSync(path.join(qdir, 'queries.csv'), 'utf8').trim().split(/\r?\n/).slice(1)
  .map((l) => l.split(',').map((c) => c.replace(/"/g, '')));
const byKind = new Map();
for (const r of rows) { if (!byKind.has(r[2])) byKind.set(r[2], []); if (byKind.get(r[2]).length < 2 * nPer) byKind.get(r[2]).push(r); }

async function run(q) {
  const b = parse(lens.beginQueryEncoded(new Uint8Array(fs.readFileSync(path.join(qdir, q[0])))));
  for (let i = 0; i < b.runs; i++) {
    const out = await session.run({ [b.input]: new ort.Tensor('float32', lens.modelInput(i), b.shape) });
    parse(lens.setModelOutput(i, b.outputs.map((n) => out[n].data)));
  }
  let ms = 0;
  for (let round = 0; round < 8; round++) {
    const t0 = performance.now();
    const r = parse(lens.search('{}'));
    ms += performance.now() - t0;
    if (!r.need) return { ms, top: r.results?.[0]?.image };
    const reads = r.need.map((n) => {
      const bytes = new Uint8Array(fs.readFileSync(path.join(bundleDir, n.name)));
      return n.kind === 'thumb' ? bytes.slice(n.offset, n.offset + n.bytes) : bytes;
    });
    const t1 = performance.now();
    r.need.forEach((n, i) => parse(lens.addPart(n.kind, n.id, reads[i])));
    ms += performance.now() - t1;
  }
  throw new Error(`${q[0]}: needs asked for again and again`);
}

const stats = (xs) => { const s = [...xs].sort((a, b) => a - b); const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))]; return { med: q(0.5), p90: q(0.9), mean: s.reduce((a, b) => a + b, 0) / s.length }; };
console.log(`core speed: ${new Date().toISOString().slice(0, 16)}Z, ${path.relative(root, coreDir)} (${['js', 'wasm'].map((e) => fs.statSync(path.join(coreDir, `nftlens-core.${e}`)).size).join(' + ')} B), bundle ${bundleDir}, queries ${qdir}`);
console.log('kind          n  top-1  median ms   p90 ms  mean ms');
for (const pass of [0, 1])
  for (const [kind, all] of byKind) {
    const qs = pass ? all.slice(0, nPer) : all.slice(nPer);  // (warm-up: other queries of the kind)
    const res = [];
    for (const q of qs) res.push({ ...(await run(q)), want: q[1] });
    if (!pass) continue;
    const s = stats(res.map((r) => r.ms));
    const ok = res.filter((r) => r.top === r.want).length;
    console.log(`${kind.padEnd(10)} ${String(res.length).padStart(4)} ${String(ok).padStart(6)} ${s.med.toFixed(1).padStart(10)} ${s.p90.toFixed(1).padStart(8)} ${s.mean.toFixed(1).padStart(8)}`);
  }
