// Thumbnail packs in real headless Chromium over real HTTP: re-ranking reads each candidate's
// thumbnail as a byte range of its pack (206), a host that ignores Range (like
// `python3 -m http.server`) gets one whole-pack request per pack and the same answer, a damaged
// pack is refused naming the pack, and result cards get the checked thumbnail bytes.
// Prints "e2e thumb packs: N passed, M failed".
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, serve, root } from './browser.mjs';

const nftlens = path.join(root, 'build/native/bin/nftlens');
const partDir = path.join(root, 'build/example/bundle-partitioned');
const qdir = path.join(root, 'build/example/queries');
const queries = fs.readFileSync(path.join(qdir, 'queries.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
// (a partitioned bundle's packs are listed in its partition table, table version 5: the files on disk)
const packs = fs.readdirSync(partDir).filter((n) => /^thumbs\.[0-9a-f]{16}\.bin$/.test(n)).map((name) => ({ name }));
let pass = 0, fail = 0;
async function test(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); pass++; } catch (e) { console.log(`not ok - ${name}: ${e.message.split('\n')[0]}`); fail++; }
}
const assert = (c, m) => { if (!c) throw new Error(m); };

const browser = await launch();
const file = path.join(qdir, queries.find((x) => x[2] === 'screenshot')[0]);
const native = JSON.parse(execFileSync(nftlens, ['query', partDir, file, '--json', '-k', '5']).toString());

// One page on a server; every request for a pack recorded with its Range header and status.
async function open(srv, route = null) {
  const page = await browser.newPage({ serviceWorkers: 'block' });
  const seen = [];
  page.on('requestfinished', async (r) => {
    if (!/\/thumbs\.[0-9a-f]{16}\.bin$/.test(r.url())) return;
    const res = await r.response();
    seen.push({ pack: r.url().split('/').pop(), range: r.headers().range || '', status: res.status() });
  });
  if (route) await page.route(/\/thumbs\.[0-9a-f]{16}\.bin$/, route);
  await page.goto(srv.url + 'demo/');
  return { page, seen };
}
async function search(page, bytes, extra = {}) {
  return page.evaluate(async ({ bytes, extra }) => {
    const { NftLens } = await import('/src/index.js');
    window.__lens = window.__lens || await NftLens.open('/bundle/');
    try {
      const r = await window.__lens.searchImage(new Blob([new Uint8Array(bytes)]), { k: 5, ...extra });
      return { r, blobs: r.results.map((t) => t.thumb_blob instanceof Blob && t.thumb_blob.size === t.thumb.bytes) };
    } catch (e) {
      return { error: e.message, code: e.code };
    }
  }, { bytes, extra });
}
const bytes = [...fs.readFileSync(file)];

const ranged = await serve(['--bundle', partDir]);
await test('a host with Range: each thumbnail is one 206 range of its pack; same results as nftlens query', async () => {
  const { page, seen } = await open(ranged);
  const { r, blobs, error } = await search(page, bytes);
  assert(!error, error);
  assert(r.results.map((t) => t.token_id).join() === native.results.map((t) => t.token_id).join(),
    `browser ${r.results.map((t) => t.token_id)} vs native ${native.results.map((t) => t.token_id)}`);
  assert(r.thumbs && r.thumbs.fetched >= 5, `thumbs ${JSON.stringify(r.thumbs)}`);
  assert(seen.length >= r.thumbs.fetched && seen.every((s) => /^bytes=\d+-\d+$/.test(s.range) && s.status === 206), JSON.stringify(seen.slice(0, 3)));
  assert(r.thumbs.bytes < 8000 * r.thumbs.fetched, `${r.thumbs.bytes} bytes for ${r.thumbs.fetched} thumbnails: whole packs?`);
  assert(blobs.every(Boolean), 'a result card has no checked thumbnail');
  await page.close();
});
ranged.close();

const whole = await serve(['--bundle', partDir, '--no-range']);
await test('a host without Range: each pack is fetched once, whole, and the answer is the same', async () => {
  const { page, seen } = await open(whole);
  const { r, blobs, error } = await search(page, bytes);
  assert(!error, error);
  assert(r.results.map((t) => t.token_id).join() === native.results.map((t) => t.token_id).join(), 'results differ from nftlens query');
  const per = {};
  for (const s of seen) per[s.pack] = (per[s.pack] || 0) + 1;
  assert(Object.values(per).every((n) => n === 1), `pack requests: ${JSON.stringify(per)}`);
  assert(seen.every((s) => s.status === 200), 'expected whole-pack answers');
  assert(blobs.every(Boolean), 'a result card has no checked thumbnail');
  // A second query reuses the packs it holds.
  const before = seen.length;
  const again = await search(page, bytes);
  assert(!again.error && seen.length === before, `${seen.length - before} more pack requests`);
  await page.close();
});

await test('a damaged pack is refused naming the pack (bad_bundle), not used for re-ranking', async () => {
  const { page } = await open(whole, async (route) => {
    const res = await route.fetch();
    const body = Buffer.from(await res.body());
    for (let i = 0; i < body.length; i += 997) body[i] ^= 0x20;  // every thumbnail in it is hit
    await route.fulfill({ response: res, body });
  });
  const { error, code } = await search(page, bytes);
  assert(code === 'bad_bundle' && /thumbs\.[0-9a-f]{16}\.bin: the thumbnail of token \d+ .*does not match the catalogue/.test(error), `${code}: ${error}`);
  assert(packs.some((p) => error.includes(p.name)), 'the named pack is not one of the bundle\'s');
  await page.close();
});
whole.close();

await browser.close();
console.log(`e2e thumb packs: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
