#!/usr/bin/env node
// The <nft-lens> camera Scan mode (issue #20) in headless Chromium with its fake camera: the test
// writes the camera's video itself (tests/e2e/fake-camera.mjs: a token on a grey desk, drifting,
// softened and noisy; or a noise gradient) and Chromium loops it as the camera's picture
// (--use-file-for-fake-video-capture). Served with the strict CSP. Checks the scan identifies the
// token, counts its frames, never runs two searches at once, pauses while the page is hidden,
// turns the camera off, and ends with a best guess on a video of nothing. Prints the time from
// Scan to the answer. Last line: "e2e scan: N passed, M failed"; exits 1 on a failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, serve, root } from './browser.mjs';
import { tokenVideo, noiseVideo } from './fake-camera.mjs';

const TIMEOUT = 90_000;
const TOKEN = process.env.SCAN_TOKEN || '000042';
const png = path.join(root, 'build/example/nouns/images', `${TOKEN}.png`);

let passed = 0, failed = 0;
async function test(name, fn) {
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT / 1000} s`)), TIMEOUT); })]);
    console.log(`ok - ${name}`); passed++;
  } catch (err) {
    console.log(`not ok - ${name}: ${String(err && err.message ? err.message : err).split('\n')[0]}`); failed++;
  } finally { clearTimeout(timer); }
}
const assert = (c, m) => { if (!c) throw new Error(m); };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nftlens-scan-'));
const tokenY4m = path.join(tmp, 'token.y4m'), noiseY4m = path.join(tmp, 'noise.y4m');
tokenVideo(png, tokenY4m, { frames: 40 });
noiseVideo(noiseY4m, { frames: 30 });

const srv = await serve(['--csp']);
const problems = [];  // CSP violations and page errors, checked at the end

/** A page of the demo in a browser whose camera plays `y4m`; instrumented: scan events, results,
 *  errors, the streams getUserMedia handed out, and (once loaded) concurrent lens searches. */
async function openCamera(y4m) {
  const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`]);
  const context = await browser.newContext({ serviceWorkers: 'block' });
  await context.grantPermissions(['camera'], { origin: new URL(srv.url).origin });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) problems.push(m.text()); });
  await page.addInitScript(() => {
    const log = window.__log = { scan: [], results: [], errors: [], streams: [] };
    document.addEventListener('nftlens-scan', (e) => log.scan.push(e.detail));
    document.addEventListener('nftlens-results', (e) => log.results.push(e.detail));
    document.addEventListener('nftlens-error', (e) => log.errors.push(e.detail.message));
    document.addEventListener('securitypolicyviolation', (e) => log.errors.push(`CSP ${e.violatedDirective} ${e.blockedURI}`));
    const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (c) => { const s = await gum(c); log.streams.push(s); return s; };
  });
  await page.goto(srv.url + 'demo/');
  await page.waitForFunction(() => document.querySelector('nft-lens')?.lens, null, { timeout: TIMEOUT });
  await page.evaluate(() => {
    // Count searches in flight on the lens the scan uses.
    const lens = document.querySelector('nft-lens').lens;
    const c = window.__searches = { calls: 0, active: 0, max: 0 };
    const orig = lens.searchImage.bind(lens);
    lens.searchImage = (...a) => { c.calls++; c.active++; c.max = Math.max(c.max, c.active); return orig(...a).finally(() => { c.active--; }); };
  });
  return { browser, page };
}

const log = (page) => page.evaluate(() => ({ ...window.__log, streams: undefined, searches: window.__searches,
  live: window.__log.streams.flatMap((s) => s.getTracks()).filter((t) => t.readyState === 'live').length }));
const status = (page) => page.locator('nft-lens [part="status"]').textContent();
async function scanToAnswer(page, n = 1) {
  await page.locator('nft-lens [part="scan"]').click();
  await page.waitForFunction((k) => window.__log.results.length >= k || window.__log.errors.length > 0, n, { timeout: TIMEOUT });
  const l = await log(page);
  assert(!l.errors.length, `nftlens-error: ${l.errors.join('; ')}`);
  return { ...l, result: l.results[n - 1] };
}
function setHidden(page, hidden) {
  return page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

let cam = await openCamera(tokenY4m);
try {
  await test('Scan identifies a token held up to the camera, then turns the camera off', async () => {
    const { page } = cam;
    const button = page.locator('nft-lens [part="scan"]');
    assert(await button.isVisible(), 'no Scan button');
    assert(/scan/i.test(await button.getAttribute('aria-label')), 'the Scan button has no name');
    const t0 = Date.now();
    const { result, scan, searches, live } = await scanToAnswer(page);
    const top = result.results[0];
    assert(top && top.token_id === TOKEN, `top result ${top && top.token_id}, expected ${TOKEN} (verdict ${result.verdict})`);
    assert(result.verdict === 'token' && !result.close_call, `verdict ${result.verdict}, close call ${result.close_call}`);
    assert(result.scan && result.scan.frames >= 1 && !result.scan.bestGuess && result.scan.ms > 0, `scan ${JSON.stringify(result.scan)}`);
    assert(searches.calls === result.scan.frames, `${searches.calls} searches for ${result.scan.frames} frames`);
    assert(searches.max === 1, `${searches.max} searches ran at once`);
    assert(live === 0, `${live} camera tracks still live`);
    const states = scan.map((s) => s.state).join(',');
    assert(/^start,live,.*stop$/.test(states) && scan.at(-1).reason === 'verdict', `nftlens-scan ${states} (${scan.at(-1).reason})`);
    assert(await page.locator('nft-lens [part="scan-panel"]').isHidden(), 'the camera view is still shown');
    assert(/^This is .*Identified from the camera in [\d.]+ s \(\d+ frames?\)\. The camera is off\.$/.test(await status(page)), `status "${await status(page)}"`);
    assert(/^This is/.test(await page.locator('nft-lens [part="heading"]').textContent()), 'heading');
    assert(await page.locator('nft-lens [part="preview"]').isVisible(), 'the frame is not previewed');
    console.log(`# cold scan (first image search: downloads and starts the model): ${result.scan.ms} ms Scan->verdict, ${result.scan.frames} frame(s) (${Date.now() - t0} ms in the test)`);
  });

  await test('a warm scan; the video has a label and the Stop button a name', async () => {
    const { page } = cam;
    await page.locator('nft-lens [part="scan"]').click();
    await page.waitForFunction(() => window.__log.scan.at(-1).state !== 'stop' || window.__log.results.length > 1);
    const label = await page.locator('nft-lens [part="scan-video"]').getAttribute('aria-label');
    assert(/camera/i.test(label || ''), `video label "${label}"`);
    assert(/stop/i.test(await page.locator('nft-lens [part="scan-stop"]').getAttribute('aria-label')), 'Stop has no name');
    await page.waitForFunction(() => window.__log.results.length >= 2, null, { timeout: TIMEOUT });
    const { result, searches, live } = await log(page).then((l) => ({ ...l, result: l.results[1] }));
    assert(result.results[0].token_id === TOKEN, `top ${result.results[0].token_id}`);
    assert(searches.max === 1 && live === 0, `max ${searches.max} at once, ${live} live tracks`);
    console.log(`# warm scan: ${result.scan.ms} ms Scan->verdict, ${result.scan.frames} frame(s)`);
  });

  await test('a scan waits while the page is hidden and goes on when it is visible', async () => {
    const { page } = cam;
    await setHidden(page, true);
    const before = (await log(page)).searches.calls;
    await page.locator('nft-lens [part="scan"]').click();
    await page.waitForFunction(() => window.__log.scan.at(-1).state === 'pause', null, { timeout: TIMEOUT });
    assert(/paused while the page is hidden/i.test(await status(page)), `status "${await status(page)}"`);
    await page.waitForTimeout(1500);
    const during = await log(page);
    assert(during.searches.calls === before, `${during.searches.calls - before} frames analysed while hidden`);
    assert(during.live > 0, 'the camera should still be on while paused');
    await setHidden(page, false);
    await page.waitForFunction(() => window.__log.results.length >= 3 || window.__log.errors.length, null, { timeout: TIMEOUT });
    const after = await log(page);
    assert(after.results[2] && after.results[2].results[0].token_id === TOKEN, 'no answer after resuming');
    assert(after.scan.some((s) => s.state === 'resume'), 'no resume event');
    assert(after.searches.max === 1 && after.live === 0, `max ${after.searches.max} at once, ${after.live} live tracks`);
  });
} finally {
  await cam.browser.close();
}

cam = await openCamera(noiseY4m);
try {
  await test('a video of nothing ends after scan-timeout with the best guess, worded as one', async () => {
    const { page } = cam;
    await page.evaluate(() => document.querySelector('nft-lens').setAttribute('scan-timeout', '4'));
    const { result, scan, searches, live } = await scanToAnswer(page);
    assert(result.scan && result.scan.bestGuess === true && result.scan.frames >= 2, `scan ${JSON.stringify(result.scan)}`);
    assert(!(result.verdict === 'token' && !result.close_call), `a sure verdict on noise: ${result.verdict}`);
    const heading = await page.locator('nft-lens [part="heading"]').textContent();
    assert(/^Best guess, no sure answer after 4 s of scanning: /.test(heading), `heading "${heading}"`);
    if (result.verdict === 'none') assert(/No NFT we know/.test(heading), `heading "${heading}"`);
    assert(/^Best guess.*Scanned from the camera in/.test(await status(page)), `status "${await status(page)}"`);
    assert(await page.locator('nft-lens li[part~="card-match"]').count() === 0, 'a best guess is styled as the answer');
    assert(scan.at(-1).state === 'stop' && scan.at(-1).reason === 'timeout', `last scan event ${JSON.stringify(scan.at(-1))}`);
    assert(searches.max === 1 && live === 0, `max ${searches.max} at once, ${live} live tracks`);
    console.log(`# no token: verdict ${result.verdict}, best guess after ${result.scan.ms} ms, ${result.scan.frames} frames`);
  });

  await test('Stop turns the camera off at once and shows no answer', async () => {
    const { page } = cam;
    const results = (await log(page)).results.length;
    await page.locator('nft-lens [part="scan"]').click();
    await page.waitForFunction(() => window.__log.scan.at(-1).state === 'live', null, { timeout: TIMEOUT });
    await page.locator('nft-lens [part="scan-stop"]').click();
    const l = await log(page);
    assert(l.live === 0, `${l.live} live tracks after Stop`);
    assert(l.scan.at(-1).reason === 'stopped', `reason ${l.scan.at(-1).reason}`);
    await page.waitForTimeout(600);
    assert((await log(page)).results.length === results, 'a stopped scan showed an answer');
    assert(/Scan stopped\. The camera is off\./.test(await status(page)), `status "${await status(page)}"`);
    const focused = await page.evaluate(() => document.querySelector('nft-lens').shadowRoot.activeElement?.getAttribute('part'));
    assert(focused === 'scan', `focus on ${focused}`);
  });

  await test('hiding the page mid-scan pauses the analyses and the timeout', async () => {
    const { page } = cam;
    const n = (await log(page)).results.length;
    await page.evaluate(() => document.querySelector('nft-lens').setAttribute('scan-timeout', '2'));
    await page.locator('nft-lens [part="scan"]').click();
    await page.waitForFunction((c) => window.__searches.calls >= c + 2, (await log(page)).searches.calls, { timeout: TIMEOUT });
    await setHidden(page, true);
    const hiddenAt = (await log(page)).searches.calls;  // (a search already started may still finish)
    await page.waitForTimeout(2500);  // longer than the timeout: a hidden page must not use it up
    const l = await log(page);
    assert(l.searches.calls === hiddenAt, `${l.searches.calls - hiddenAt} frames analysed while hidden`);
    assert(l.results.length === n && l.scan.at(-1).state === 'pause', `ended while hidden (${l.scan.at(-1).state})`);
    await setHidden(page, false);
    await page.waitForFunction((k) => window.__log.results.length > k, n, { timeout: TIMEOUT });
    const done = await log(page);
    const r = done.results.at(-1);
    assert(r.scan.bestGuess && r.scan.ms >= 4500, `scan ${JSON.stringify(r.scan)}`);
    assert(done.searches.max === 1 && done.live === 0, `max ${done.searches.max} at once, ${done.live} live tracks`);
  });

  await test('a refused camera is explained in plain words', async () => {
    const { page } = cam;
    await page.evaluate(() => { navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError')); });
    await page.locator('nft-lens [part="scan"]').click();
    await page.waitForFunction(() => window.__log.errors.length > 0, null, { timeout: TIMEOUT });
    const alert = await page.locator('nft-lens [part="error"]').textContent();
    assert(/not allowed to use the camera.*allow the camera for this site/i.test(alert), `alert "${alert}"`);
    assert(await page.locator('nft-lens [part="scan"]').isVisible(), 'Scan is not offered again');
    assert((await log(page)).scan.at(-1).reason === 'error', 'no stop event');
  });

  await test('no CSP violations or page errors', async () => {
    const errs = (await log(cam.page)).errors.filter((e) => /^CSP/.test(e));
    assert(!problems.length && !errs.length, [...problems, ...errs].join(' | '));
  });
} finally {
  await cam.browser.close();
  srv.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`e2e scan: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
