// What the element says in words, shared by the views that say it (DOM-free). Only our own
// sentences are built here; bundle strings (names, trait values) are inserted as plain text and
// shown with textContent by the caller.

import { str } from './query.js';

export const plural = (n, word) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/**
 * How many tokens a text search matched. `shown` is the results on screen; `total` the tokens that
 * match, or null when unknown: the core says it in `result.total` (newer cores), else a page that
 * came back shorter than the k asked for holds every match, and a full page may not.
 */
export function textCounts(result, k = 0) {
  const shown = Array.isArray(result && result.results) ? result.results.length : 0;
  const t = Number(result && result.total);
  if (Number.isInteger(t) && t >= shown) return { shown, total: t };
  return { shown, total: shown === 0 || (k > 0 && shown < k) ? shown : null };
}

/** The token's name, else "Collection #id". */
export function displayName(r) {
  const n = str(r.name).trim();
  if (n) return n;
  return `${str(r.collection_name) || str(r.collection) || 'Token'} #${str(r.token_id)}`;
}

/**
 * The core's verdict on an image search, in words: `heading` (shown above the cards) and `spoken`
 * (what the status line announces to screen readers, so they hear the answer, not just a time).
 * filtered: trait filters narrowed the search.
 */
export function imageVerdict(result, filtered = false) {
  const list = Array.isArray(result.results) ? result.results : [];
  const top = list[0];
  // (a result without a verdict comes from a core before verdicts: its match decides)
  const verdict = String(result.verdict || (result.match ? 'token' : 'none'));
  const isMatch = verdict === 'token' && !!top;
  const conf = Number(result.confidence);
  const pct = Number.isFinite(conf) && conf >= 0 && result.confidence !== null ? Math.round(conf * 100) : null;
  const close = result.close_call ? ' (a close call)' : '';
  if (isMatch) {
    const name = displayName(top);
    return { verdict, isMatch,
      heading: `This is ${name}${pct !== null ? ` (${pct}% sure)` : ''}${close}`,
      spoken: `This is ${name}${pct !== null ? `, ${pct}% sure` : ''}${close}.` };
  }
  if (verdict === 'collection' && top) {
    const looks = `Looks like a token of ${str(top.collection_name) || str(top.collection)}, but not one in this bundle${close}`;
    return { verdict, isMatch, heading: `${looks}. Closest tokens:`, spoken: `${looks}.` };
  }
  if (list.length) {
    const none = filtered ? 'No token we know with the chosen traits' : 'No NFT we know';
    return { verdict, isMatch, heading: `${none}. ${filtered ? 'Closest' : 'Least unlike it'}:`, spoken: `${none}.` };
  }
  const empty = filtered ? 'No token has all the chosen traits.' : 'No NFT we know — the bundle has no tokens in this collection.';
  return { verdict, isMatch, heading: empty, spoken: empty };
}

/**
 * An error in words for the alert: {message, detail}. detail (optional) is the technical text,
 * kept for a "Technical details" disclosure. during: 'load' (opening the bundle) or 'search'.
 * maxPixels: the bundle's image size limit (info.max_pixels).
 */
export function explainError(err, { during = 'search', maxPixels = 0 } = {}) {
  const raw = String(err && err.message ? err.message : err || 'unknown error');
  const code = err && typeof err.code === 'string' ? err.code : '';
  if (during === 'load') {
    // The browser's own words ("Failed to construct 'Worker': …") say nothing to a page's visitor
    // or even its author; say what to check, keep them as the detail.
    if (code === 'worker' || /Failed to construct 'Worker'/i.test(raw)) {
      return { message: 'Could not start NFT Lens: the browser would not run its worker script (nft-lens/src/worker.js). '
        + 'The page\'s Content-Security-Policy must allow it (worker-src \'self\'), and the nft-lens files must be served from this page\'s own origin '
        + '(or, from a CDN, with CORS headers, and worker-src blob: plus the CDN).', detail: raw };
    }
    return { message: `Could not load the NFT bundle: ${raw}` };
  }
  // Too many pixels: the core says "the image is WxH pixels; NFT Lens reads images up to N million
  // pixels" (older cores: "over the limit of N"), the worker "... more than the N million NFT Lens reads".
  const px = code === 'bad_image' && raw.match(/(\d+)\s*x\s*(\d+) pixels(?:, over the limit of (\d+)|, more than the ([\d.]+) million|; NFT Lens reads images up to ([\d.]+) million)/);
  if (px) {
    const limit = Number(maxPixels) || (px[3] ? Number(px[3]) : Number(px[4] || px[5]) * 1e6);
    const millions = Number.isFinite(limit) && limit > 0 ? `${+(limit / 1e6).toFixed(1)} million` : 'a limited number of';
    return { message: `The image is ${px[1]}x${px[2]} pixels; NFT Lens reads images up to ${millions} pixels. Try a smaller copy or a screenshot of it.` };
  }
  return { message: raw.charAt(0).toUpperCase() + raw.slice(1) };
}

/** Trait type -> values a hint may use: non-empty values that some token has. */
function usableTraits(stats) {
  const out = [];
  for (const [type, values] of Object.entries(stats && typeof stats === 'object' ? stats : {})) {
    const vs = Object.entries(values && typeof values === 'object' ? values : {}).filter(([v, n]) => str(v).trim() && Number(n) > 0);
    if (str(type).trim() && vs.length) out.push([type, vs]);
  }
  return out;
}

/** Whether the bundle's tokens have traits at all (lens.traitStats()). */
export const hasTraits = (stats) => usableTraits(stats).length > 0;

/**
 * An example text query made of the bundle's own traits, as the search box suggests it ("square red
 * glasses cat head"): the most common value of the two most varied trait types, each followed by
 * its type. '' when the bundle has no traits (a hint must not promise what is not there).
 */
export function traitExample(stats) {
  const types = usableTraits(stats).sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
  const words = [];
  for (const [type, values] of types) {
    values.sort((a, b) => Number(b[1]) - Number(a[1]) || a[0].localeCompare(b[0]));
    const phrase = `${str(values[0][0]).trim()} ${str(type).trim()}`.toLowerCase();
    if (phrase.length <= 32) words.push(phrase);
    if (words.length === 2) break;
  }
  return words.join(' ');
}

/** Why the camera could not be opened, in words: {message, detail}. err: getUserMedia's rejection. */
export function explainCameraError(err) {
  const name = String(err && err.name || '');
  const raw = String(err && err.message ? err.message : err || 'unknown error');
  const detail = `${name ? `${name}: ` : ''}${raw}`;
  const photo = 'You can still choose or drop a photo of the NFT.';
  if (name === 'NotAllowedError' || name === 'PermissionDeniedError' || name === 'SecurityError') {
    return { message: `NFT Lens was not allowed to use the camera. To scan, allow the camera for this site in the browser's settings and press Scan again. ${photo}`, detail };
  }
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') {
    return { message: `No camera was found on this device. ${photo}`, detail };
  }
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') {
    return { message: `The camera could not be started: another app may be using it. Close it and press Scan again. ${photo}`, detail };
  }
  if (name === 'NotSupportedError') {
    return { message: `This browser cannot open the camera here (it needs a secure https:// page). ${photo}`, detail };
  }
  return { message: `The camera could not be opened. ${photo}`, detail };
}

/** A scan's answer in words: the image verdict, marked as a best guess when the scan timed out
 *  without a sure answer (scan: result.scan = {frames, ms, bestGuess, timeout}). */
export function scanVerdict(result, scan) {
  const said = imageVerdict(result, false);
  if (!scan || !scan.bestGuess) return said;
  const secs = Number(scan.timeout) > 0 ? `${+Number(scan.timeout).toFixed(1)} s` : 'the time allowed';
  const prefix = `Best guess, no sure answer after ${secs} of scanning`;
  return { ...said, isMatch: false, bestGuess: true, heading: `${prefix}: ${said.heading}`, spoken: `${prefix}. ${said.spoken}` };
}
