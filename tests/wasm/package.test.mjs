// The npm package (web/) as `npm pack` would publish it: the widget, the worker, the wasm core and
// onnxruntime-web's runtime, types, README, the project's LICENSE and the third-party notices (the
// same texts as at the repository's root); every `exports` target is in the package.
// Prints "package tests: N passed, M failed".
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const web = path.join(root, 'web');
let pass = 0, fail = 0;
function test(name, fn) {
  try { fn(); console.log(`ok - ${name}`); pass++; } catch (e) { console.log(`not ok - ${name}: ${e.message}`); fail++; }
}
const assert = (c, m) => { if (!c) throw new Error(m); };

const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: web, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))[0];
const files = new Set(packed.files.map((f) => f.path));
const pkg = JSON.parse(fs.readFileSync(path.join(web, 'package.json'), 'utf8'));

test('the package holds the widget, worker, core, runtime, types and licences', () => {
  for (const f of ['LICENSE', 'THIRD_PARTY_NOTICES.md', 'README.md', 'src/index.js', 'src/worker.js', 'src/nft-lens-element.js',
    'dist/nftlens-core.js', 'dist/nftlens-core.wasm', 'dist/ort/ort.wasm.bundle.min.mjs', 'dist/ort/ort-wasm-simd-threaded.wasm', 'types/index.d.ts']) {
    assert(files.has(f), `missing ${f}`);
  }
  assert(![...files].some((f) => /^(node_modules|demo|test)/.test(f)), 'dev files packed');
});
test('LICENSE and THIRD_PARTY_NOTICES.md are the repository\'s; the licence field says MIT', () => {
  for (const f of ['LICENSE', 'THIRD_PARTY_NOTICES.md']) {
    assert(fs.readFileSync(path.join(web, f), 'utf8') === fs.readFileSync(path.join(root, f), 'utf8'), `web/${f} differs from /${f}`);
  }
  assert(pkg.license === 'MIT' && /MIT License/.test(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8')), 'licence');
  assert(/onnxruntime-web/.test(fs.readFileSync(path.join(root, 'THIRD_PARTY_NOTICES.md'), 'utf8')), 'notices lack onnxruntime-web');
});
test('every exports target and types file is packed', () => {
  const targets = [];
  for (const v of Object.values(pkg.exports)) targets.push(...(typeof v === 'string' ? [v] : Object.values(v)));
  for (const t of targets) assert(files.has(t.replace(/^\.\//, '')), `exports target ${t} not packed`);
  assert(files.has(pkg.types.replace(/^\.\//, '')), 'types');
});
console.log(`sizes: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${files.size} files`);
console.log(`package tests: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
