#!/usr/bin/env node
// Dump one of the tfjs Layers models bundled in the npm package nsfwjs into plain files.
//
//   node extract.cjs NSFWJS_PACKAGE_DIR MODEL_NAME OUT_DIR
//     e.g. node extract.cjs /tmp/x/package mobilenet_v2 /tmp/x/mnv2
//
// nsfwjs ships each model as browserify/UMD modules under dist/models/<name>/:
//   model.min.js              -> exports the tfjs model.json object (topology + weightsManifest)
//   <shard path>.min.js       -> exports one weight shard as a base64 string
// We evaluate those modules in an empty vm context (no require, no fs, no network): they are data
// wrapped in a loader, and nothing else in the package needs to run.
//
// Output: OUT_DIR/model.json (the object as is) and OUT_DIR/weights.bin (all shards concatenated in
// manifest order, i.e. the byte layout tfjs expects). No dependencies beyond Node itself.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');

function die(msg) {
  process.stderr.write(`extract.cjs: ${msg}\n`);
  process.exit(1);
}

// Evaluate a UMD module file in a fresh context and return its module.exports.
function loadUmd(file) {
  if (!fs.existsSync(file)) die(`missing ${file}`);
  const module = { exports: {} };
  const sandbox = { module, exports: module.exports };
  vm.runInNewContext(fs.readFileSync(file, 'utf8'), sandbox, { filename: file, timeout: 60000 });
  return module.exports;
}

const [pkgDir, name, outDir] = process.argv.slice(2);
if (!pkgDir || !name || !outDir) die('usage: extract.cjs NSFWJS_PACKAGE_DIR MODEL_NAME OUT_DIR');

const dir = path.join(pkgDir, 'dist', 'models', name);
const model = loadUmd(path.join(dir, 'model.min.js'));
if (!model || !model.modelTopology || !Array.isArray(model.weightsManifest)) {
  die(`${dir}/model.min.js does not export a tfjs model.json object`);
}

// Expected byte size of each weight, so a truncated or altered shard is caught here.
const BYTES = { float32: 4, int32: 4, uint8: 1, uint16: 2, bool: 1 };
let expected = 0;
const shards = [];
for (const group of model.weightsManifest) {
  for (const w of group.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const dtype = w.quantization ? w.quantization.dtype : w.dtype;
    if (!(dtype in BYTES)) die(`weight ${w.name}: unsupported dtype ${dtype}`);
    expected += n * BYTES[dtype];
  }
  for (const p of group.paths) {
    const b64 = loadUmd(path.join(dir, `${p}.min.js`));
    if (typeof b64 !== 'string') die(`${p}.min.js does not export a base64 string`);
    shards.push(Buffer.from(b64, 'base64'));
  }
}
const weights = Buffer.concat(shards);
if (weights.length !== expected) {
  die(`weights: ${weights.length} bytes, manifest describes ${expected}`);
}

fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'model.json'), JSON.stringify(model));
fs.writeFileSync(path.join(outDir, 'weights.bin'), weights);
process.stdout.write(`extract: ${name}: ${model.modelTopology.model_config.config.layers.length} layers, ` +
                     `${weights.length} weight bytes\n`);
