#!/usr/bin/env node
// <nft-lens> on a collection whose tokens have no traits (issue #19, item 4): no trait hints in the
// search box or the status line, and no rarity rank on the cards (every rarity score is 0, so the
// ranks are only catalogue order). Builds a 12-token bundle from the example images with the
// native CLI. Prints "e2e no-traits: N passed, M failed".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, serve, root } from './browser.mjs';

const nftlens = path.join(root, 'build/native/bin/nftlens');
const src = path.join(root, 'build/example/nouns');
let pass = 0, fail = 0;
async function test(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); pass++; } catch (e) { console.log(`not ok - ${name}: ${e.message.split('\n')[0]}`); fail++; }
}
const assert = (c, m) => { if (!c) throw new Error(m); };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nftlens-notraits-'));
const col = path.join(tmp, 'plain');
fs.mkdirSync(path.join(col, 'metadata'), { recursive: true });
fs.mkdirSync(path.join(col, 'images'), { recursive: true });
const images = fs.readdirSync(path.join(src, 'images')).filter((f) => f.endsWith('.png')).sort().slice(0, 12);
for (const f of images) {
  const id = f.replace(/\.png$/, '');
  fs.copyFileSync(path.join(src, 'images', f), path.join(col, 'images', f));
  fs.writeFileSync(path.join(col, 'metadata', `${id}.json`), JSON.stringify({ name: `Plain #${id}`, image: `images/${f}` }));
}
execFileSync(nftlens, ['build', col, '--out', path.join(tmp, 'bundle'), '--cache', path.join(tmp, 'cache'), '--pairs', '100', '-q']);

const browser = await launch();
const srv = await serve(['--csp', '--bundle', path.join(tmp, 'bundle')]);
try {
  const page = await browser.newPage({ serviceWorkers: 'block' });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(srv.url + 'demo/');
  await page.waitForFunction(() => document.querySelector('nft-lens')?.lens && /Ready/.test(document.querySelector('nft-lens').shadowRoot.querySelector('[part="status"]').textContent), null, { timeout: 60000 });

  await test('no trait hints: a neutral placeholder and status, no suggestion of traits it lacks', async () => {
    const box = page.locator('nft-lens [part="search-input"]');
    const placeholder = await box.getAttribute('placeholder');
    assert(placeholder === 'Search tokens by name or words', `placeholder "${placeholder}"`);
    assert(/by name or words/.test(await box.getAttribute('aria-label')), `label "${await box.getAttribute('aria-label')}"`);
    const status = await page.locator('nft-lens [part="status"]').textContent();
    assert(/^Ready: 12 tokens\. .*search by name\.$/.test(status), `status "${status}"`);
    await page.locator('nft-lens [part="search"] button[type="submit"]').click();   // nothing typed
    const hint = await page.locator('nft-lens [part="status"]').textContent();
    assert(!/trait|pizza|glasses/i.test(hint) && /Type a word/.test(hint), `empty search says "${hint}"`);
  });

  await test('cards show no rarity rank when every rarity score is 0', async () => {
    const r = await page.evaluate(async (bytes) => document.querySelector('nft-lens').search(new Blob([new Uint8Array(bytes)], { type: 'image/png' })),
      [...fs.readFileSync(path.join(col, 'images', images[3]))]);
    assert(r.results[0].token_id === images[3].replace(/\.png$/, ''), `found ${r.results[0].token_id}`);
    // The catalogue still ranks them (catalogue order), with a score of 0.
    assert(r.results.every((t) => t.rarity_score === 0 && t.rarity_rank > 0), `rarity fields ${JSON.stringify(r.results.map((t) => [t.rarity_score, t.rarity_rank]))}`);
    const cards = await page.locator('nft-lens li[part~="card"]').count();
    assert(cards === r.results.length && cards > 0, `${cards} cards`);
    const rarity = await page.locator('nft-lens [part="rarity"]').allTextContents();
    assert(rarity.length === 0, `rarity shown: ${rarity.slice(0, 2).join(', ')}`);
    assert(await page.locator('nft-lens [part="facets"]').isHidden(), 'a refine panel without traits');
    // A text search by name; a filters-only one is not called "rarest first" (nothing is rarer).
    const t = await page.evaluate(() => document.querySelector('nft-lens').searchText('plain'));
    assert(t.results.length > 0, 'no token found by name');
    assert(await page.locator('nft-lens [part="rarity"]').count() === 0, 'rarity shown on text results');
    const slug = await page.evaluate(() => document.querySelector('nft-lens').lens.collections()[0].slug);
    await page.evaluate(() => document.querySelector('nft-lens').searchText(''));
    const c = await page.evaluate((s) => document.querySelector('nft-lens').searchText(`collection:${s}`), slug);
    assert(c.results.length === 12, `collection:${slug}: ${c.results.length} results`);
    const heading = await page.locator('nft-lens [part="heading"]').textContent();
    assert(!/rarest/.test(heading), `heading "${heading}"`);
  });

  await test('no page errors', async () => { assert(!errors.length, errors.join(' | ')); });
} finally {
  await browser.close();
  srv.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`e2e no-traits: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
