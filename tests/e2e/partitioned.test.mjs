// A partitioned bundle in real headless Chromium over real HTTP: a query downloads only the shards
// it probes and the catalogue fragments of its hits, finds the same token as the one-index bundle,
// and a repeated query downloads nothing; text search through the word chunks (forced, as on a
// bundle whose catalogue is beyond the browser's budget) fetches the lexicon once and a few chunks
// per query, and a damaged chunk is named (a damaged directory too, which no image query reads); the
// widget works on it.
// Prints "e2e partitioned: N passed, M failed".
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, serve, root, damagedCopy } from './browser.mjs';

const nftlens = path.join(root, 'build/native/bin/nftlens');
const partDir = path.join(root, 'build/example/bundle-partitioned');
const flatDir = path.join(root, 'build/example/bundle');
const qdir = path.join(root, 'build/example/queries');
const queries = fs.readFileSync(path.join(qdir, 'queries.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
let pass = 0, fail = 0;
async function test(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); pass++; } catch (e) { console.log(`not ok - ${name}: ${e.message.split('\n')[0]}`); fail++; }
}
const assert = (c, m) => { if (!c) throw new Error(m); };
const layout = JSON.parse(fs.readFileSync(path.join(partDir, 'manifest.json'), 'utf8')).layout;
// A page on its own server of `dir` (serve.mjs flags in `args`), given to `fn`; closed afterwards.
async function withServedPage(dir, args, fn) {
  const s2 = await serve(['--bundle', dir, ...args]);
  const p = await browser.newPage({ serviceWorkers: 'block' });
  try {
    await p.goto(s2.url + 'demo/');
    return await fn(p);
  } finally {
    await p.close();
    s2.close();
  }
}

// The same, on a copy of the partitioned example whose files matching `which` have a bit flipped.
async function withDamagedPage(prefix, which, bit, fn) {
  const dmg = damagedCopy(partDir, prefix, which, bit);
  try {
    return await withServedPage(dmg, [], fn);
  } finally {
    fs.rmSync(dmg, { recursive: true, force: true });
  }
}

const browser = await launch();
const srv = await serve(['--bundle', partDir]);
const page = await browser.newPage({ serviceWorkers: 'block' });
// Every shard/fragment request the page makes: the file, and "#<range>" for a byte range of one
// (shards and fragments are ranges of group files since partition table version 4).
const parts = [];
page.on('request', (r) => {
  const n = r.url().split('/').pop();
  const range = r.headers().range;
  if (/^(shards?|tokens|lexicon|words|directory)\./.test(n)) parts.push(range ? `${n}#${range}` : n);
});
await page.goto(srv.url + 'demo/');

async function searchInPage(file, extra = {}) {
  const bytes = [...fs.readFileSync(file)];
  return page.evaluate(async ({ bytes, extra }) => {
    const { NftLens } = await import('/src/index.js');
    window.__lens = window.__lens || await NftLens.open('/bundle/');
    return { r: await window.__lens.searchImage(new Blob([new Uint8Array(bytes)]), { k: 5, ...extra }), info: window.__lens.info() };
  }, { bytes, extra });
}

for (const t of ['screenshot', 'phone', 'crop']) {
  const q = queries.find((x) => x[2] === t);
  const file = path.join(qdir, q[0]);
  await test(`partitioned (${t}): same top token as the one-index bundle, only probed shards fetched`, async () => {
    const before = parts.length;
    const { r, info } = await searchInPage(file);
    assert(info.partitioned === true && info.layout.partitions === layout.partitions, JSON.stringify(info.layout));
    const flat = JSON.parse(execFileSync(nftlens, ['query', flatDir, file, '--json', '-k', '1', '--exact']).toString());
    const native = JSON.parse(execFileSync(nftlens, ['query', partDir, file, '--json', '-k', '1']).toString());
    assert(r.results[0].token_id === native.results[0].token_id, `browser ${r.results[0].token_id}, native ${native.results[0].token_id}`);
    if (t !== 'crop') assert(r.results[0].token_id === flat.results[0].token_id, `browser ${r.results[0].token_id}, exact one-index ${flat.results[0].token_id}`);
    const fetched = parts.slice(before);
    assert(fetched.filter((n) => n.startsWith('shard')).length <= layout.default_probe, `shards fetched: ${fetched}`);
    assert(fetched.every((n) => n.includes('#bytes=')), `shards and fragments are fetched as byte ranges: ${fetched}`);
    // (partition table version 5: the shards place their hits' fragments; the directory is for text calls)
    assert(!fetched.some((n) => n.startsWith('directory.')), `an image query fetched the directory: ${fetched}`);
    // (parts close together in one file share a range request; parts cached by earlier queries take none)
    assert(r.fetched && r.fetched.requests === fetched.length && r.fetched.parts >= fetched.length, `reported ${JSON.stringify(r.fetched)} vs ${fetched.length} requests`);
    // The same image again: everything is cached, nothing is fetched.
    const again = await searchInPage(file);
    assert(parts.length === before + fetched.length, `refetched: ${parts.slice(before + fetched.length)}`);
    assert(again.r.fetched.parts === 0 && again.r.results[0].token_id === r.results[0].token_id, 'cached');
  });
}
await test('partitioned: probing every partition fetches the shards not yet held, no range twice, in few requests', async () => {
  const before = parts.length;
  const { r } = await searchInPage(path.join(qdir, queries[0][0]), { probe: layout.partitions });
  const shards = parts.slice(before).filter((n) => n.startsWith('shard'));
  const all = parts.filter((n) => n.startsWith('shard'));
  assert(new Set(all).size === all.length, `a shard range was fetched twice: ${all}`);
  // (the 8 shards of the example are one file: neighbouring missing ones share a request)
  assert(shards.length >= 1 && shards.length <= r.fetched.parts, `${shards.length} shard requests for ${r.fetched.parts} parts: ${shards}`);
  assert(r.results.length === 5, 'results');
});
await test('partitioned: text search fetches every catalogue fragment once (a small bundle), then nothing; same answer as one index', async () => {
  const before = parts.length;
  const r = await page.evaluate(async () => window.__lens.searchText('red glasses', { k: 5 }));
  const fetched = parts.slice(before).filter((n) => n.startsWith('tokens.'));
  assert(new Set(fetched).size === fetched.length && fetched.length <= layout.fragments, `fragments fetched: ${fetched}`);
  const dirs = parts.slice(before).filter((n) => n.startsWith('directory.'));
  // (none here: the query above probed every shard, and the shards placed every fragment)
  assert(dirs.length === 0, `the directory was fetched though every shard is held: ${dirs}`);
  const again = parts.length;
  const r2 = await page.evaluate(async () => window.__lens.searchText('pizza', { k: 5 }));
  assert(parts.length === again && r2.results.length > 0, 'a second text search fetched more');
  const flat = JSON.parse(execFileSync(nftlens, ['text', flatDir, 'red glasses', '--json', '-k', '5']).toString());
  // (the same scores and total; tokens tied on a score may come in another order: partitions reorder the catalogue)
  const sc = (x) => x.results.map((t) => t.score.toFixed(5)).join();
  assert(sc(r) === sc(flat) && r.total === flat.total, `partitioned ${sc(r)} (${r.total}) vs one-index ${sc(flat)} (${flat.total})`);
  const stats = await page.evaluate(async () => window.__lens.traitStats().then((s) => Object.keys(s).length));
  assert(stats > 0, 'trait statistics');
  console.log(`# first text query on the partitioned example: ${fetched.length} fragments fetched`);
});
await test('partitioned: text search through the word chunks: the lexicon once, a few chunks per query, the token found, as nftlens text', async () => {
  const target = queries.find((x) => x[2] === 'jpeg');  // a token: its trait values typed, misspelt
  const meta = JSON.parse(fs.readFileSync(path.join(root, 'build/example/nouns/metadata', path.basename(target[1].replace(/"/g, ''), '.png') + '.json'), 'utf8'));
  const typed = meta.attributes.map((a) => String(a.value)).join(' ').toLowerCase().replace('glasses', 'glases');
  const before = parts.length;
  const r = await page.evaluate(async (typed) => {
    const { NftLens } = await import('/src/index.js');
    window.__chunks = await NftLens.open('/bundle/', { wholeCatalogueBytes: 0 });
    return { info: window.__chunks.info(), r: await window.__chunks.searchText(typed, { k: 10 }) };
  }, typed);
  assert(r.info.text === true && r.info.text_index === 'chunks', JSON.stringify(r.info));
  const got = parts.slice(before);
  const words = got.filter((n) => n.startsWith('words.')), lex = got.filter((n) => n.startsWith('lexicon.'));
  assert(lex.length === 1, `lexicon fetched ${lex.length} times`);
  // (a typed description of five trait values: its words' chunks and its phrases' trait chunks, not all)
  assert(words.length >= 1 && words.length < r.info.layout.word_chunks, `${words.length} of ${r.info.layout.word_chunks} chunks fetched`);
  assert(got.every((n) => /^(lexicon|words|tokens|directory)\./.test(n)), `fetched ${got}`);
  // (fragments the earlier image searches cached come from the Cache API: counted, not requested)
  assert(r.r.fetched && r.r.fetched.parts >= got.length, `reported ${JSON.stringify(r.r.fetched)} vs ${got.length} requests`);
  assert(r.r.results.slice(0, 10).some((t) => t.token_id === meta.token_id || t.name === meta.name), `"${typed}" did not find ${meta.name}`);
  const native = JSON.parse(execFileSync(nftlens, ['text', partDir, typed, '--json', '-k', '10']).toString());
  const ids = (x) => x.results.map((t) => `${t.token_id}:${t.score.toFixed(5)}`).join();
  assert(ids(r.r) === ids(native) && r.r.total === native.total, `browser ${ids(r.r)} vs native ${ids(native)}`);
  // A second query fetches only its own chunks and fragments, never the lexicon again.
  const mid = parts.length;
  const r2 = await page.evaluate(async () => window.__chunks.searchText('pizza', { k: 5 }));
  assert(!parts.slice(mid).some((n) => n.startsWith('lexicon.')) && r2.results.length > 0, 'second query');
  // Trait filters after an image search work through the same chunks; suggestions from the lexicon.
  const s = await page.evaluate(async () => window.__chunks.suggest('squ'));
  assert(s.length > 0 && /square/i.test(s[0].value), JSON.stringify(s));
  console.log(`# typed query through word chunks: ${words.length} of ${r.info.layout.word_chunks} chunks, ${r.r.fetched.bytes} bytes with the lexicon and fragments`);
});
await page.close();

await test('partitioned: a damaged word chunk is refused with its file named (code bad_bundle)', async () => {
  const e = await withDamagedPage('e2e-wordchunks-', (n) => n.startsWith('words.'), 1, (p) => p.evaluate(async () => {
    const { NftLens } = await import('/src/index.js');
    const l = await NftLens.open('/bundle/', { wholeCatalogueBytes: 0 });
    try { await l.searchText('red glasses'); return null; } catch (err) { return { message: err.message, code: err.code }; }
  }));
  assert(e && e.code === 'bad_bundle' && /words\.[0-9a-f]{16}\.bin: SHA-256 does not match/.test(e.message), JSON.stringify(e));
});

await test('partitioned: a damaged directory is refused with its file named by a text search; image searches never read it', async () => {
  const bytes = [...fs.readFileSync(path.join(qdir, queries[0][0]))];
  const r = await withDamagedPage('e2e-directory-', (n) => n.startsWith('directory.'), 1, (p) => p.evaluate(async (bytes) => {
    const { NftLens } = await import('/src/index.js');
    const l = await NftLens.open('/bundle/', { wholeCatalogueBytes: 0 });
    const image = await l.searchImage(new Blob([new Uint8Array(bytes)]), { k: 3 });
    try { await l.searchText('red glasses'); return { image: image.results.length, error: null }; } catch (err) { return { image: image.results.length, error: { message: err.message, code: err.code } }; }
  }, bytes));
  assert(r.image === 3, `image search on a bundle with a damaged directory: ${JSON.stringify(r)}`);
  assert(r.error && r.error.code === 'bad_bundle' && /directory\.[0-9a-f]{16}\.bin: SHA-256 does not match/.test(r.error.message), JSON.stringify(r));
});

await test('partitioned: a host without Range sends each shard and fragment file once, whole; same answer', async () => {
  const file = path.join(qdir, queries.find((x) => x[2] === 'screenshot')[0]);
  const bytes = [...fs.readFileSync(file)];
  const seen = [];
  const r = await withServedPage(partDir, ['--no-range'], (p) => {
    p.on('requestfinished', async (q) => {
      const n = q.url().split('/').pop();
      if (/^(shards|tokens)\./.test(n)) seen.push({ n, status: (await q.response()).status() });
    });
    return p.evaluate(async (bytes) => {
      const { NftLens } = await import('/src/index.js');
      const l = await NftLens.open('/bundle/');
      return l.searchImage(new Blob([new Uint8Array(bytes)]), { k: 5, probe: 1000 });
    }, bytes);
  });
  const native = JSON.parse(execFileSync(nftlens, ['query', partDir, file, '--json', '-k', '5', '--probe', '1000']).toString());
  assert(r.results.map((t) => t.token_id).join() === native.results.map((t) => t.token_id).join(), 'results differ from nftlens query');
  const per = {};
  for (const x of seen) per[x.n] = (per[x.n] || 0) + 1;
  assert(seen.length > 0 && Object.values(per).every((n) => n === 1) && seen.every((x) => x.status === 200), JSON.stringify(seen));
});

await test('partitioned: a damaged shard file is refused naming the file and the shard\'s range (code bad_bundle)', async () => {
  const bytes = [...fs.readFileSync(path.join(qdir, queries[0][0]))];
  const e = await withDamagedPage('e2e-shards-', (n) => n.startsWith('shards.'), 0x10, (p) => p.evaluate(async (bytes) => {
    const { NftLens } = await import('/src/index.js');
    const l = await NftLens.open('/bundle/');
    try { await l.searchImage(new Blob([new Uint8Array(bytes)]), { probe: 1000 }); return null; } catch (err) { return { message: err.message, code: err.code }; }
  }, bytes));
  assert(e && e.code === 'bad_bundle' && /shards\.[0-9a-f]{16}\.bin \(shard \d+, bytes \d+-\d+\): SHA-256 does not match/.test(e.message), JSON.stringify(e));
});

await test('partitioned: <nft-lens> shows results for a chosen file, with text search and facets (small catalogue)', async () => {
  const p = await browser.newPage({ serviceWorkers: 'block' });
  await p.goto(srv.url + 'demo/');
  await p.waitForFunction(() => /Ready/.test(document.querySelector('nft-lens')?.shadowRoot?.querySelector('[part="status"]')?.textContent || ''), null, { timeout: 60000 });
  assert(await p.locator('nft-lens [part="search"]').isVisible(), 'text search hidden on a small partitioned bundle');
  const q = queries.find((x) => x[2] === 'jpeg');
  await p.locator('nft-lens input[part="file-input"]').setInputFiles(path.join(qdir, q[0]));
  await p.locator('nft-lens li[part~="card"]').first().waitFor({ timeout: 60000 });
  const token = await p.locator('nft-lens li[part~="card"]').first().locator('[part="token"]').textContent();
  const want = path.basename(q[1].replace(/"/g, ''), '.png');
  assert(token === `Token #${want}`, `top card says "${token}", want ${want}`);
  // Its whole catalogue fits the browser's budget: trait facets are offered after an image search.
  assert(await p.locator('nft-lens button.facet').count() > 0, 'no facets on a small partitioned bundle');
  await p.close();
});

await browser.close();
srv.close();
console.log(`e2e partitioned: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
