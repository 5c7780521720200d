// A partitioned bundle in real headless Chromium over real HTTP: a query downloads only the shards
// it probes and the catalogue fragments of its hits, finds the same token as the one-index bundle,
// and a repeated query downloads nothing; the widget works on it and says text search is off.
// Prints "e2e partitioned: N passed, M failed".
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, serve, root } from './browser.mjs';

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

const browser = await launch();
const srv = await serve(['--bundle', partDir]);
const page = await browser.newPage({ serviceWorkers: 'block' });
const parts = [];  // every shard/fragment request the page makes
page.on('request', (r) => { const n = r.url().split('/').pop(); if (/^(shard|tokens)\./.test(n)) parts.push(n); });
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
    assert(fetched.filter((n) => n.startsWith('shard.')).length <= layout.default_probe, `shards fetched: ${fetched}`);
    assert(r.fetched && r.fetched.parts === fetched.length, `reported ${JSON.stringify(r.fetched)} vs ${fetched.length} requests`);
    // The same image again: everything is cached, nothing is fetched.
    const again = await searchInPage(file);
    assert(parts.length === before + fetched.length, `refetched: ${parts.slice(before + fetched.length)}`);
    assert(again.r.fetched.parts === 0 && again.r.results[0].token_id === r.results[0].token_id, 'cached');
  });
}
await test('partitioned: probing every partition fetches every shard once', async () => {
  const { r } = await searchInPage(path.join(qdir, queries[0][0]), { probe: layout.partitions });
  const shards = new Set(parts.filter((n) => n.startsWith('shard.')));
  assert(shards.size === layout.partitions, `${shards.size} distinct shards`);
  assert(parts.filter((n) => n.startsWith('shard.')).length === layout.partitions, 'a shard was fetched twice');
  assert(r.results.length === 5, 'results');
});
await test('partitioned: text search and trait statistics reject clearly (code unsupported)', async () => {
  const err = await page.evaluate(async () => window.__lens.searchText('red glasses').then(() => 'no error', (e) => e.message));
  assert(/not available on a partitioned bundle/.test(err), err);
  const stats = await page.evaluate(async () => window.__lens.traitStats().then((r) => `resolved ${JSON.stringify(r)}`, (e) => e.code));
  assert(stats === 'unsupported', `traitStats: ${stats}`);
});
await page.close();

await test('partitioned: <nft-lens> shows results for a chosen file and hides the text search', async () => {
  const p = await browser.newPage({ serviceWorkers: 'block' });
  await p.goto(srv.url + 'demo/');
  await p.waitForFunction(() => /Ready/.test(document.querySelector('nft-lens')?.shadowRoot?.querySelector('[part="status"]')?.textContent || ''), null, { timeout: 60000 });
  assert(await p.locator('nft-lens [part="search"]').isHidden(), 'text search shown on a partitioned bundle');
  const q = queries.find((x) => x[2] === 'jpeg');
  await p.locator('nft-lens input[part="file-input"]').setInputFiles(path.join(qdir, q[0]));
  await p.locator('nft-lens li[part~="card"]').first().waitFor({ timeout: 60000 });
  const token = await p.locator('nft-lens li[part~="card"]').first().locator('[part="token"]').textContent();
  const want = path.basename(q[1].replace(/"/g, ''), '.png');
  assert(token === `Token #${want}`, `top card says "${token}", want ${want}`);
  // Trait filters need the whole catalogue: no facet panel is offered after an image search.
  assert(await p.locator('nft-lens [part="facets"]').isHidden() && await p.locator('nft-lens button.facet').count() === 0, 'facets offered on a partitioned bundle');
  await p.close();
});

await browser.close();
srv.close();
console.log(`e2e partitioned: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
