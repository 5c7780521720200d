#!/usr/bin/env node
// Metadata only (no images) of N Nouns, line for line what scripts/make-example writes to
// metadata.jsonl (same trait seeds: sha256("nouns-eval-v1:i"), same names and descriptions), so the
// first 10,000 lines equal build/q10k/nouns/metadata.jsonl. For bench/text_bench at sizes where
// rendering and embedding the images would take hours.
//   node bench/nouns_metadata.mjs N OUTDIR      -> OUTDIR/metadata.jsonl, OUTDIR/collection.json
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [nArg, outDir] = process.argv.slice(2);
if (!nArg || !outDir) { console.error('usage: nouns_metadata.mjs N OUTDIR'); process.exit(2); }
const N = parseInt(nArg, 10);
const require = createRequire(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'package.json'));
const assetsPkg = '@nouns/assets';
const { ImageData } = require(assetsPkg);
const pkgName = assetsPkg + '@' + require(assetsPkg + '/package.json').version;
const bgcolors = ImageData.bgcolors;
const strip = (p) => p.map(({ filename }) => ({ name: filename.replace(/^[a-z]+-/, ''), file: filename }));
const layers = { body: strip(ImageData.images.bodies), accessory: strip(ImageData.images.accessories),
                 head: strip(ImageData.images.heads), glasses: strip(ImageData.images.glasses) };
const BG_NAMES = { d5d7e1: 'Cool', e1d7d5: 'Warm' };
const ORDER = ['body', 'accessory', 'head', 'glasses'];
const pretty = (s) => s.split('-').map((w) => w ? w[0].toUpperCase() + w.slice(1) : w).join(' ');
const counts = { background: bgcolors.length, body: layers.body.length, accessory: layers.accessory.length,
                 head: layers.head.length, glasses: layers.glasses.length };
const rngSeed = 'nouns-eval-v1', collName = 'Noun', collection = 'nouns';
function seedFor(i, k) {  // as scripts/example/nouns-render.mjs
  const h = createHash('sha256').update(`${rngSeed}:${i}${k ? ':' + k : ''}`).digest();
  const u = (j) => h.readUInt32BE(4 * j);
  return { background: u(0) % counts.background, body: u(1) % counts.body, accessory: u(2) % counts.accessory,
           head: u(3) % counts.head, glasses: u(4) % counts.glasses };
}
const key = (s) => `${s.background},${s.body},${s.accessory},${s.head},${s.glasses}`;

fs.mkdirSync(outDir, { recursive: true });
const out = fs.openSync(path.join(outDir, 'metadata.jsonl'), 'w');
const seen = new Set();
let buf = [];
for (let i = 0; i < N; i++) {
  let k = 0, seed = seedFor(i, 0);
  while (seen.has(key(seed))) seed = seedFor(i, ++k);
  seen.add(key(seed));
  const id = String(i).padStart(6, '0');
  const attributes = [{ trait_type: 'Background', value: BG_NAMES[bgcolors[seed.background]] || '#' + bgcolors[seed.background] }]
    .concat(ORDER.map((l) => ({ trait_type: pretty(l), value: pretty(layers[l][seed[l]].name) })));
  const meta = { name: `${collName} ${i}`, description: `Synthetic ${collName} #${i}: a valid trait combination rendered from ${pkgName} (CC0 art); not a minted token.`,
    image: `images/${id}.png`, edition: i, seed, attributes, collection, parts: Object.fromEntries(ORDER.map((l) => [l, layers[l][seed[l]].file])),
    background_color: bgcolors[seed.background] };
  buf.push(JSON.stringify({ id, ...meta }));
  if (buf.length === 5000) { fs.writeSync(out, buf.join('\n') + '\n'); buf = []; }
}
if (buf.length) fs.writeSync(out, buf.join('\n') + '\n');
fs.closeSync(out);
fs.writeFileSync(path.join(outDir, 'collection.json'), JSON.stringify({
  slug: 'nouns', name: 'Nouns (rendered example)',
  description: 'Nouns rendered from the CC0 npm package @nouns/assets; not minted tokens.',
  chain: 'ethereum', contract: '0x9c8ff314c9bc7f6e59a9d9225fb22946427edc03',
  link_template: 'https://opensea.io/assets/{chain}/{contract}/{token_id}' }, null, 2) + '\n');
console.error(`wrote ${N} Nouns' metadata to ${outDir}`);
