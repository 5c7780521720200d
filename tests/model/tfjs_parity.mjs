// Numerical parity: the original nsfwjs tfjs model vs our converted ONNX model files.
//
//   node tests/model/tfjs_parity.mjs TFJS_DIR MODELS_DIR [--tol 1e-3] [--out FEATURES.json]
//
// TFJS_DIR    model.json + weights.bin as written by scripts/model/extract.cjs
// MODELS_DIR  mnv2-b13-576.onnx and mnv2-emb-1280.onnx as written by scripts/make-model
//
// Reference side: @tensorflow/tfjs (pure JS CPU backend) loads the Layers model from the files
// through a custom IOHandler (tfjs dequantises the uint8 weights itself), and a sub-model exposes
// block_13_expand_relu (mean-pooled over H, W here) and the input of the first Dense layer (the
// pooled 1280-d embedding). tfjs is not a project dependency: it is looked up in
// TFJS_MODULE_DIR (default build/model-parity, set up by tests/model/test_converter.sh).
// ONNX side: onnxruntime-web (the runtime the product uses), wasm backend, 1 thread.
//
// Inputs: a few deterministic synthetic 224x224 RGB images in [0, 1], run as one batch (which
// also exercises the dynamic batch dimension). Prints the max abs difference per output and
// exits 1 if any exceeds the tolerance.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const tol = Number(opt('--tol', '1e-3'));
const outFile = opt('--out', null);
if (args.length !== 2) {
  console.error('usage: tfjs_parity.mjs TFJS_DIR MODELS_DIR [--tol 1e-3] [--out FEATURES.json]');
  process.exit(2);
}
const [tfjsDir, modelsDir] = args;

// ---- deterministic test images, NHWC float32 in [0, 1] ------------------------------------
const S = 224;
function image(fn) {
  const a = new Float32Array(S * S * 3);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const [r, g, b] = fn(x, y);
      const o = (y * S + x) * 3;
      a[o] = r; a[o + 1] = g; a[o + 2] = b;
    }
  }
  return a;
}
function lcg(seed) {               // tiny deterministic PRNG (Numerical Recipes constants)
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}
const rnd = lcg(12345);
const noise = Array.from({ length: S * S * 3 }, rnd);
const rndBlocks = lcg(777);
const palette = Array.from({ length: 8 * 8 }, () => [rndBlocks(), rndBlocks(), rndBlocks()]);
const IMAGES = {
  gradient: image((x, y) => [x / (S - 1), y / (S - 1), 0.5]),
  checkerboard: image((x, y) => { const v = ((x >> 4) + (y >> 4)) & 1; return [v, v, v]; }),
  waves: image((x, y) => [0.5 + 0.5 * Math.sin(x / 9), 0.5 + 0.5 * Math.cos(y / 13),
                          0.5 + 0.5 * Math.sin((x + y) / 17)]),
  noise: image((x, y) => { const o = (y * S + x) * 3; return [noise[o], noise[o + 1], noise[o + 2]]; }),
  pixel_art: image((x, y) => palette[(y / 28 | 0) * 8 + (x / 28 | 0)]),
  white: image(() => [1, 1, 1]),
};
const names = Object.keys(IMAGES);
const N = names.length;
const batch = new Float32Array(N * S * S * 3);
names.forEach((n, i) => batch.set(IMAGES[n], i * S * S * 3));

// ---- reference: tfjs ------------------------------------------------------------------------
const tfjsModuleDir = path.resolve(process.env.TFJS_MODULE_DIR || path.join(ROOT, 'build/model-parity'));
const tf = createRequire(path.join(tfjsModuleDir, 'package.json'))('@tensorflow/tfjs');
await tf.setBackend('cpu');

const modelJson = JSON.parse(fs.readFileSync(path.join(tfjsDir, 'model.json'), 'utf8'));
const wb = fs.readFileSync(path.join(tfjsDir, 'weights.bin'));
const handler = {
  load: async () => ({
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
    weightData: wb.buffer.slice(wb.byteOffset, wb.byteOffset + wb.byteLength),
  }),
};
const model = await tf.loadLayersModel(handler);
const firstDense = model.layers.find((l) => l.getClassName() === 'Dense');
const embLayer = firstDense.inboundNodes[0].inboundLayers[0];
const sub = tf.model({
  inputs: model.inputs,
  outputs: [model.getLayer('block_13_expand_relu').output, embLayer.output],
});
const [b13, emb] = tf.tidy(() => {
  const [m, e] = sub.predict(tf.tensor4d(batch, [N, S, S, 3]));
  return [m.mean([1, 2]), e];                 // mean-pool the 14x14x576 map over H and W
});
const ref = {
  gap_block_13_expand_relu: { data: await b13.data(), dim: b13.shape[1] },
  embedding: { data: await emb.data(), dim: emb.shape[1] },
};

// ---- ONNX: onnxruntime-web, wasm ------------------------------------------------------------
const ort = await import('onnxruntime-web');
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';
const MODELS = [
  ['mnv2-b13-576.onnx', 'gap_block_13_expand_relu'],
  ['mnv2-emb-1280.onnx', 'embedding'],
];
let failed = 0;
const report = { tolerance: tol, images: names, outputs: {} };
for (const [file, output] of MODELS) {
  const session = await ort.InferenceSession.create(fs.readFileSync(path.join(modelsDir, file)),
                                                    { executionProviders: ['wasm'] });
  const res = await session.run({ input: new ort.Tensor('float32', batch, [N, S, S, 3]) });
  const got = res[output];
  const want = ref[output];
  if (got.dims.length !== 2 || got.dims[0] !== N || got.dims[1] !== want.dim) {
    console.log(`FAIL ${file}: output ${output} dims [${got.dims}], tfjs gives [${N},${want.dim}]`);
    failed++;
    continue;
  }
  let maxDiff = 0, maxRef = 0, worst = '';
  const perImage = {};
  for (let i = 0; i < N; i++) {
    let m = 0;
    for (let j = 0; j < want.dim; j++) {
      const k = i * want.dim + j;
      m = Math.max(m, Math.abs(got.data[k] - want.data[k]));
      maxRef = Math.max(maxRef, Math.abs(want.data[k]));
    }
    perImage[names[i]] = m;
    if (m >= maxDiff) { maxDiff = m; worst = names[i]; }
  }
  const ok = maxDiff <= tol;
  if (!ok) failed++;
  report.outputs[output] = { file, dim: want.dim, max_abs_diff: maxDiff, max_abs_value: maxRef,
                             per_image: perImage };
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${file} ${output} (${want.dim}-d, ${N} images): ` +
              `max abs diff ${maxDiff.toExponential(2)} (worst: ${worst}; ` +
              `max |value| ${maxRef.toFixed(3)}; tolerance ${tol})`);
  await session.release();
}
if (outFile) {
  report.features = Object.fromEntries(Object.entries(ref).map(([k, v]) => [k, Array.from(v.data)]));
  fs.writeFileSync(outFile, JSON.stringify(report));
}
process.exit(failed ? 1 : 0);
