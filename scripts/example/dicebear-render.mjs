#!/usr/bin/env node
// Write N deterministic DiceBear "lorelei" avatars (CC0 1.0 design by Lisa Wischofsky, shipped in npm
// @dicebear/collection) as an OpenSea-style collection: svg/ID.svg (make-dicebear rasterises them to
// images/ID.png with rsvg-convert), metadata/ID.json, metadata.jsonl.
// usage: node dicebear-render.mjs N OUTDIR [--rng-seed S] [--start K]
// The packages are loaded from $DICEBEAR_DIR/node_modules (make-dicebear installs them there, pinned).
// Token i depends only on (rng seed, i): a smaller N is a prefix of a bigger run.
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); if (i < 0) return def; const v = args[i + 1]; args.splice(i, 2); return v; };
const rngSeed = opt('--rng-seed', 'lorelei-eval-v1');
const start = parseInt(opt('--start', '0'), 10);
const [nArg, outDir] = args;
if (!nArg || !outDir) { console.error('usage: dicebear-render.mjs N OUTDIR [--rng-seed S] [--start K]'); process.exit(2); }
const N = parseInt(nArg, 10);

const base = process.env.DICEBEAR_DIR ? path.resolve(process.env.DICEBEAR_DIR) : path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.join(base, 'package.json'));
const load = async (name) => import(pathToFileURL(require.resolve(name)).href);
const { createAvatar } = await load('@dicebear/core');
const { lorelei } = await load('@dicebear/collection');
const version = (name) => JSON.parse(fs.readFileSync(path.join(base, 'node_modules', name, 'package.json'), 'utf8')).version;
const pkgName = `@dicebear/collection@${version('@dicebear/collection')} (lorelei), @dicebear/core@${version('@dicebear/core')}`;
const lic = lorelei.meta?.license?.name ?? '?';

// ---- the style's options (enumerated from its JSON schema) and our colour palettes ----------
const props = lorelei.schema.properties;
const variants = (k) => [...props[k].items.enum].sort();
const PARTS = { hair: variants('hair'), head: variants('head'), eyes: variants('eyes'), eyebrows: variants('eyebrows'),
                mouth: variants('mouth'), nose: variants('nose'), glasses: variants('glasses'), earrings: variants('earrings'),
                beard: variants('beard') };
const BACKGROUNDS = { 'Sky': 'b6e3f4', 'Lavender': 'c0aede', 'Periwinkle': 'd1d4f9', 'Pink': 'ffd5dc', 'Peach': 'ffdfbf',
                      'Mint': 'c6f0d8', 'Lemon': 'fff3b0', 'Sand': 'e9dcc9', 'Silver': 'e3e5ea', 'Coral': 'f7a79a',
                      'Teal': '7fc8c2', 'Navy': '2d3a5c' };
const SKINS = { 'Porcelain': 'ffffff', 'Light': 'f9e1cf', 'Fair': 'f2c9a8', 'Tan': 'd9a47c', 'Brown': 'a8714c', 'Deep': '6b4430' };
const HAIR_COLORS = { 'Black': '000000', 'Dark Brown': '3b2219', 'Brown': '6a4e35', 'Auburn': 'a55728', 'Blonde': 'd6b370',
                      'Ginger': 'c93305', 'Platinum': 'e8e1e1', 'Blue': '3a6ea5', 'Pink': 'e27aa5', 'Green': '4e9a5b' };
const ACCENTS = { 'Black': '000000', 'Gold': 'c9a227', 'Silver': '9aa3ad', 'Red': 'c0392b', 'Blue': '2e6fc4' };

// ---- deterministic draws: uniform ints from sha256(rngSeed:i:key) -------------------------------
function u32(i, k) { return createHash('sha256').update(`${rngSeed}:${i}:${k}`).digest().readUInt32BE(0); }
const pick = (i, k, arr) => arr[u32(i, k) % arr.length];
const chance = (i, k, pct) => (u32(i, k) % 100) < pct;
const pickNamed = (i, k, obj) => { const name = pick(i, k, Object.keys(obj)); return [name, obj[name]]; };
const pretty = (v) => v.replace(/^variant0?/, 'Variant ').replace(/^happy0?/, 'Happy ').replace(/^sad0?/, 'Sad ');

fs.mkdirSync(path.join(outDir, 'svg'), { recursive: true });
fs.mkdirSync(path.join(outDir, 'metadata'), { recursive: true });
const manifest = [];
for (let i = start; i < start + N; ++i) {
  const id = String(i).padStart(6, '0');
  const [bgName, bg] = pickNamed(i, 'background', BACKGROUNDS);
  const [skinName, skin] = pickNamed(i, 'skin', SKINS);
  const [hairColorName, hairColor] = pickNamed(i, 'hairColor', HAIR_COLORS);
  const [accentName, accent] = pickNamed(i, 'accent', ACCENTS);
  const sel = {};
  for (const k of ['hair', 'head', 'eyes', 'eyebrows', 'mouth', 'nose']) sel[k] = pick(i, k, PARTS[k]);
  const glasses = chance(i, 'hasGlasses', 25) ? pick(i, 'glasses', PARTS.glasses) : null;
  const earrings = chance(i, 'hasEarrings', 25) ? pick(i, 'earrings', PARTS.earrings) : null;
  const beard = chance(i, 'hasBeard', 10) ? pick(i, 'beard', PARTS.beard) : null;
  const freckles = chance(i, 'hasFreckles', 20);
  const flowers = chance(i, 'hasFlowers', 12);
  const options = {
    seed: `${rngSeed}:${i}`, size: 320, backgroundColor: [bg], backgroundType: ['solid'],
    hair: [sel.hair], head: [sel.head], eyes: [sel.eyes], eyebrows: [sel.eyebrows], mouth: [sel.mouth], nose: [sel.nose],
    glasses: glasses ? [glasses] : undefined, glassesProbability: glasses ? 100 : 0, glassesColor: [accent],
    earrings: earrings ? [earrings] : undefined, earringsProbability: earrings ? 100 : 0, earringsColor: [accent],
    beard: beard ? [beard] : undefined, beardProbability: beard ? 100 : 0,
    frecklesProbability: freckles ? 100 : 0, hairAccessoriesProbability: flowers ? 100 : 0, hairAccessoriesColor: [accent],
    skinColor: [skin], hairColor: [hairColor], eyebrowsColor: [hairColor === 'e8e1e1' ? '6a4e35' : hairColor],
  };
  for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k];
  const svg = createAvatar(lorelei, options).toString();
  fs.writeFileSync(path.join(outDir, 'svg', `${id}.svg`), svg);
  const attributes = [
    ['Background', bgName], ['Skin', skinName], ['Head', pretty(sel.head)], ['Hair', pretty(sel.hair)],
    ['Hair Color', hairColorName], ['Eyes', pretty(sel.eyes)], ['Eyebrows', pretty(sel.eyebrows)], ['Mouth', pretty(sel.mouth)],
    ['Nose', pretty(sel.nose)], ['Glasses', glasses ? pretty(glasses) : 'None'], ['Earrings', earrings ? pretty(earrings) : 'None'],
    ['Beard', beard ? pretty(beard) : 'None'], ['Freckles', freckles ? 'Yes' : 'No'], ['Hair Accessory', flowers ? 'Flowers' : 'None'],
    ['Accent Color', (glasses || earrings || flowers) ? accentName : 'None'],
  ].map(([trait_type, value]) => ({ trait_type, value }));
  const meta = {
    name: `Lorelei ${i}`,
    description: `Synthetic Lorelei avatar #${i}: DiceBear "lorelei" style (design by Lisa Wischofsky, ${lic}) rendered from ${pkgName}; not a minted token.`,
    image: `images/${id}.png`, edition: i, attributes, collection: 'lorelei', background_color: bg,
  };
  fs.writeFileSync(path.join(outDir, 'metadata', `${id}.json`), JSON.stringify(meta, null, 1));
  manifest.push(JSON.stringify({ id, ...meta }));
}
fs.writeFileSync(path.join(outDir, 'metadata.jsonl'), manifest.join('\n') + '\n');
console.error(`dicebear-render: ${N} lorelei avatars (${pkgName}; design licence ${lic}) -> ${outDir}/svg`);
