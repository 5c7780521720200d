// Part codes (issue #16) in real headless Chromium over real HTTP, on the example bundle built with
// them (build/example/bundle-parts): open() does not fetch parts.<h>.bin (nor counts it in the
// bundle's progress); the first query that looks like a part of a token (an occluder, a zoom) asks
// for it, once; the capture queries (pfp, post, sticker, deep crop) and a few plain ones answer as
// `nftlens query --json -k 10` does (same first token, verdict and result order; first score and
// alignment within 0.01, as the other parity tests allow); on the queries where part codes change
// the native answer (native results differ with and without --no-parts) the browser follows both
// paths ({parts: false} equals --no-parts); and with a parts file that has one byte flipped, the
// bundle opens and answers a plain copy, while a query that needs the part codes is refused naming
// the file. Prints "e2e parts: N passed, M failed".
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, serve, root, damagedCopy } from './browser.mjs';

const nftlens = path.join(root, 'build/native/bin/nftlens');
const bundleDir = path.join(root, 'build/example/bundle-parts');
const cdir = path.join(root, 'build/example/captures');
const qdir = path.join(root, 'build/example/queries');
const csv = (dir) => fs.readFileSync(path.join(dir, 'queries.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
const manifest = JSON.parse(fs.readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
const partsFile = manifest.files.find((f) => f.role === 'parts');
let pass = 0, fail = 0;
async function test(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); pass++; } catch (e) { console.log(`not ok - ${name}: ${e.message.split('\n')[0]}`); fail++; }
}
const assert = (c, m) => { if (!c) throw new Error(m); };

// The queries: every capture, and plain altered copies (and one original image).
const want = (orig) => path.basename(orig.replace(/"/g, ''), '.png');
const queries = csv(cdir).map((q) => ({ file: path.join(cdir, q[0]), kind: q[2], want: want(q[1]) }));
for (const t of ['screenshot', 'jpeg', 'crop', 'phone']) {
  const q = csv(qdir).find((x) => x[2] === t);
  queries.push({ file: path.join(qdir, q[0]), kind: t, want: want(q[1]) });
}
const firstImage = fs.readdirSync(path.join(root, 'build/example/nouns/images')).sort()[0];
queries.push({ file: path.join(root, 'build/example/nouns/images', firstImage), kind: 'original', want: want(firstImage) });

// Natively: one process per mode, one JSON line per image, in order.
const native = (extra = []) => execFileSync(nftlens, ['query', bundleDir, ...queries.map((q) => q.file), '--json', '-k', '10', ...extra],
  { maxBuffer: 64 << 20 }).toString().trim().split('\n').map((l) => JSON.parse(l));
const withParts = native(), noParts = native(['--no-parts']);
const ids = (r) => r.results.map((t) => t.token_id).join(' ');

// The browser's answer equals the native one: first token, verdict, the order of the 10 results,
// first score and alignment within 0.01 (onnxruntime-web's features are not bit-identical).
function same(b, n) {
  assert(!b.error, `browser: ${b.code}: ${b.error}`);
  assert(b.results[0].token_id === n.results[0].token_id, `first ${b.results[0].token_id}, native ${n.results[0].token_id}`);
  assert(b.verdict === n.verdict, `verdict ${b.verdict}, native ${n.verdict}`);
  assert(ids(b) === ids(n), `browser ${ids(b)} vs native ${ids(n)}`);
  assert(Math.abs(b.results[0].score - n.results[0].score) < 0.01, `score ${b.results[0].score} vs ${n.results[0].score}`);
  const ba = b.results[0].alignment, na = n.results[0].alignment;
  assert((ba === undefined) === (na === undefined) && (na === undefined || Math.abs(ba - na) < 0.01), `alignment ${ba} vs ${na}`);
}

const browser = await launch();
const srv = await serve(['--bundle', bundleDir]);
const page = await browser.newPage({ serviceWorkers: 'block' });
const requested = [];  // bundle files the page (and its worker) requested, in order
page.on('requestfinished', async (r) => {
  const m = r.url().match(/\/bundle\/([^/?]+)$/);
  if (m) requested.push({ name: m[1], status: (await r.response()).status() });
});
// A same-origin page without the demo's <nft-lens> (which would open the bundle itself).
await page.goto(srv.url + 'package.json');

async function searchInPage(file, extra = {}) {
  const bytes = [...fs.readFileSync(file)];
  return page.evaluate(async ({ bytes, extra }) => {
    try {
      return await window.__lens.searchImage(new Blob([new Uint8Array(bytes)]), { k: 10, ...extra });
    } catch (e) {
      return { error: e.message, code: e.code };
    }
  }, { bytes, extra });
}

await test('open() leaves the parts file for a query that needs it', async () => {
  assert(partsFile && /^parts\.[0-9a-f]{16}\.bin$/.test(partsFile.name), `manifest files: ${manifest.files.map((f) => f.role)}`);
  const r = await page.evaluate(async () => {
    const { NftLens } = await import('/src/index.js');
    const progress = [];
    window.__lens = await NftLens.open('/bundle/', { onprogress: (p) => progress.push(p) });
    return { info: window.__lens.info(), progress };
  });
  await new Promise((res) => setTimeout(res, 200));  // (requestfinished events of the last responses)
  assert(requested.some((q) => q.name === 'manifest.json'), `requested: ${requested.map((q) => q.name)}`);
  assert(!requested.some((q) => q.name === partsFile.name), `the parts file was fetched at open: ${requested.map((q) => q.name)}`);
  assert(!requested.some((q) => q.name.startsWith('model.')), 'the model was fetched at open (it waits for the first image search)');
  // The bundle phase's total is every file loaded at open, without the parts file.
  const atOpen = manifest.files.filter((f) => ['recipe', 'index', 'catalogue', 'windows', 'style'].includes(f.role));
  const total = atOpen.reduce((a, f) => a + f.bytes, 0);
  const bundle = r.progress.filter((p) => p.phase === 'bundle');
  assert(bundle.some((p) => p.total === total), `bundle progress totals ${[...new Set(bundle.map((p) => p.total))]}, files at open ${total}`);
  assert(r.info.tokens === manifest.counts.tokens && r.info.partitioned === false && r.info.model.name === 'mnv2-b13-576-parts', JSON.stringify(r.info));
  console.log(`# parts file ${partsFile.name}: ${partsFile.bytes} bytes, fetched on demand; ${total} bytes loaded at open (model excluded)`);
});

// A plain copy first: it never looks like a part, so it does not fetch the part codes.
await test('a plain copy does not fetch the parts file', async () => {
  const i = queries.length - 1;
  same(await searchInPage(queries[i].file), withParts[i]);
  await new Promise((res) => setTimeout(res, 200));
  assert(!requested.some((q) => q.name === partsFile.name), 'the parts file was fetched for a plain copy');
});

for (const [i, q] of queries.entries()) {
  await test(`${q.kind} ${path.basename(q.file)}: as nftlens query (first ${withParts[i].results[0].token_id}, ${withParts[i].verdict})`, async () => {
    same(await searchInPage(q.file), withParts[i]);
  });
}

// Where part codes changed the native answer, the browser took the same path: its answer with
// them is native's with them, and without them ({parts: false}) native's --no-parts.
const changed = queries.map((q, i) => i).filter((i) => ids(withParts[i]) !== ids(noParts[i]));
await test(`part codes change the native answer of at least one query (${changed.map((i) => `${queries[i].kind} ${path.basename(queries[i].file)}`).join(', ')})`, async () => {
  assert(changed.length > 0, 'no query where --no-parts changes the results');
});
for (const i of changed) {
  const q = queries[i];
  await test(`${q.kind} ${path.basename(q.file)}: part codes change the answer in the browser as natively (with: ${withParts[i].results[0].token_id}, without: ${noParts[i].results[0].token_id}, want ${q.want})`, async () => {
    const on = await searchInPage(q.file), off = await searchInPage(q.file, { parts: false });
    same(on, withParts[i]);
    same(off, noParts[i]);
    assert(ids(on) !== ids(off), 'the browser answers the same with and without part codes');
  });
}
await test('the parts file was fetched once, by the queries that looked like parts', async () => {
  await new Promise((res) => setTimeout(res, 200));
  const got = requested.filter((q) => q.name === partsFile.name);
  assert(got.length === 1 && got[0].status === 200, `parts file requests: ${JSON.stringify(got)}`);
});
// A plain copy: the same token and verdict with and without part codes.
await test('a plain copy answers the same token and verdict with and without part codes', async () => {
  const i = queries.length - 1;
  const on = await searchInPage(queries[i].file), off = await searchInPage(queries[i].file, { parts: false });
  assert(on.results[0].token_id === off.results[0].token_id && on.verdict === off.verdict && on.results[0].token_id === queries[i].want,
    `${ids(on)} (${on.verdict}) vs ${ids(off)} (${off.verdict})`);
});
await page.close();
srv.close();

await test('a damaged parts file: the bundle opens and answers a plain copy; a query that needs it is refused naming it (bad_bundle)', async () => {
  const dmg = damagedCopy(bundleDir, 'e2e-parts-', (n) => n === partsFile.name, 0x08);
  const s2 = await serve(['--bundle', dmg]);
  const p = await browser.newPage({ serviceWorkers: 'block' });
  const plain = queries[queries.length - 1].file, needy = queries[changed[0]].file;
  try {
    await p.goto(s2.url + 'package.json');
    const r = await p.evaluate(async ({ plain, needy }) => {
      const { NftLens } = await import('/src/index.js');
      const ask = async (bytes) => {
        try { return await window.__l.searchImage(new Blob([new Uint8Array(bytes)]), { k: 3 }); } catch (err) { return { error: err.message, code: err.code }; }
      };
      window.__l = await NftLens.open('/bundle/');
      return { plain: await ask(plain), needy: await ask(needy) };
    }, { plain: [...fs.readFileSync(plain)], needy: [...fs.readFileSync(needy)] });
    assert(!r.plain.error && r.plain.results[0].token_id === queries[queries.length - 1].want, JSON.stringify(r.plain).slice(0, 300));
    assert(r.needy.code === 'bad_bundle' && r.needy.error.includes(partsFile.name) && /SHA-256 does not match/.test(r.needy.error), JSON.stringify(r.needy));
  } finally {
    await p.close();
    s2.close();
    fs.rmSync(dmg, { recursive: true, force: true });
  }
});

await browser.close();
console.log(`e2e parts: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
