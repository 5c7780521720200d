// Compare page: the NftLens API used directly (no widget). Shows the uploaded image next to the
// top match, with its facts and traits. Every string from the bundle is rendered with textContent.
import { NftLens } from '../src/index.js';

const BUNDLE = '/bundle/';
const $ = (id) => document.getElementById(id);
const ui = {
  picker: $('picker'), file: $('file'), status: $('status'), error: $('error'), out: $('out'),
  verdict: $('verdict'), queryImg: $('query-img'), querySize: $('query-size'),
  matchImg: $('match-img'), matchFrame: $('match-frame'), matchName: $('match-name'), matchScore: $('match-score'),
  facts: $('facts'), traits: $('traits'), others: $('others'), about: $('about'),
};

let lens = null;
let queryUrl = '';
let current = null;   // last search result
let seq = 0;
const traitCache = new Map();   // collection index -> Promise<stats>

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}
const str = (v) => (v === undefined || v === null ? '' : String(v));
const pct = (x) => `${(Math.max(0, Math.min(1, Number(x) || 0)) * 100).toFixed(1)}%`;
// http(s), or an object URL the lens made of a checked thumbnail.
function httpUrl(v) {
  if (typeof v === 'string' && v.startsWith(`blob:${location.origin}/`)) return v;
  if (typeof v !== 'string' || !/^https?:\/\//i.test(v)) return '';
  try { const u = new URL(v); return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : ''; } catch { return ''; }
}
const nameOf = (t) => str(t.name).trim() || `${str(t.collection_name) || 'Token'} #${str(t.token_id)}`;

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

async function traitStatsFor(slug) {
  const index = (lens.collections() || []).findIndex((c) => c.slug === slug);
  if (!traitCache.has(index)) traitCache.set(index, lens.traitStats(index).catch(() => ({})));
  return traitCache.get(index);
}

async function identify(file) {
  if (!file) return;
  const mine = ++seq;
  showError('');
  if (file.type && !/^image\//i.test(file.type)) { showError(`That file is not an image (${file.type}).`); return; }
  if (!lens) { showError('The bundle is not loaded yet.'); return; }
  if (queryUrl) URL.revokeObjectURL(queryUrl);
  queryUrl = URL.createObjectURL(file);
  ui.status.textContent = 'Searching…';
  try {
    const result = await lens.searchImage(file, { k: 6 });
    if (mine !== seq) return;
    current = result;
    ui.queryImg.src = queryUrl;
    ui.querySize.textContent = result.query ? `${result.query.width}×${result.query.height}` : '';
    ui.status.textContent = `${result.match ? 'Identified' : 'Searched'} in ${Math.round(result.timings.total)} ms.`;
    await show(0);
    ui.out.hidden = false;
  } catch (err) {
    if (mine !== seq) return;
    ui.status.textContent = 'Search failed.';
    showError(String(err && err.message ? err.message : err));
  }
}

async function show(i) {
  const result = current;
  const t = result.results[i];
  ui.verdict.className = 'verdict ' + (result.match ? 'match' : 'nomatch');
  if (!t) {
    ui.verdict.textContent = 'No NFT we know, and no candidates in this bundle.';
    return;
  }
  if (i === 0) {
    const sure = typeof result.confidence === 'number' ? ` (${Math.round(result.confidence * 100)}% sure${result.close_call ? ', a close call' : ''})` : '';
    ui.verdict.textContent = result.verdict === 'token' || (!result.verdict && result.match) ? `This is ${nameOf(t)}${sure}`
      : result.verdict === 'collection' ? `Looks like a token of ${str(t.collection_name) || str(t.collection)}, but not one in this bundle — showing the closest`
        : 'No NFT we know — showing the least unlike token';
  }
  else ui.verdict.textContent = `Candidate ${i + 1}: ${nameOf(t)}`;

  const src = httpUrl(lens.imageUrl(t));
  if (src) { ui.matchImg.src = src; ui.matchImg.hidden = false; } else { ui.matchImg.removeAttribute('src'); ui.matchImg.hidden = true; }
  ui.matchImg.alt = nameOf(t);
  ui.matchName.textContent = nameOf(t);
  ui.matchScore.textContent = `similarity ${pct(t.score)}`;

  const facts = [
    ['Name', nameOf(t)],
    ['Collection', str(t.collection_name) || str(t.collection)],
    ['Token ID', str(t.token_id)],
    ['Similarity', `${pct(t.score)} (match threshold ${pct(result.threshold)})`],
  ];
  // (a rarity score of 0: the collection has no traits, and its ranks are only catalogue order)
  if (Number(t.rarity_rank) > 0 && !(Number(t.rarity_score) <= 0)) facts.push(['Rarity rank', `#${t.rarity_rank} of ${t.collection_size}`]);
  ui.facts.replaceChildren(...facts.map(([k, v]) => {
    const tr = el('tr');
    const th = el('th', k); th.scope = 'row';
    tr.append(th, el('td', v));
    return tr;
  }));
  const href = httpUrl(t.link);
  if (href) {
    const tr = el('tr');
    const th = el('th', 'Marketplace'); th.scope = 'row';
    const td = el('td');
    const a = el('a', `${new URL(href).hostname} ↗`);
    a.href = href; a.target = '_blank'; a.rel = 'noopener noreferrer nofollow';
    td.append(a);
    tr.append(th, td);
    ui.facts.append(tr);
  }
  if (str(t.description)) {
    const tr = el('tr');
    const th = el('th', 'Description'); th.scope = 'row';
    tr.append(th, el('td', t.description));
    ui.facts.append(tr);
  }

  const stats = await traitStatsFor(t.collection);
  const size = Number(t.collection_size) || 0;
  const attrs = Array.isArray(t.attributes) ? t.attributes : [];
  ui.traits.replaceChildren(...attrs.map((a) => {
    const tr = el('tr');
    const th = el('th', str(a && a.trait_type) || 'trait'); th.scope = 'row';
    const value = str(a && a.value);
    const count = stats && stats[a.trait_type] && Number(stats[a.trait_type][value]);
    const share = el('td', '', 'num');
    if (count && size) {
      share.textContent = `${((count / size) * 100).toFixed(1)}%`;
      const bar = el('span', null, 'freq');
      const fill = el('span');
      fill.style.width = `${Math.min(100, (count / size) * 100)}%`;
      bar.append(fill);
      share.append(bar);
    } else {
      share.textContent = '—';
    }
    tr.append(th, el('td', value), share);
    return tr;
  }));
  if (!attrs.length) {
    const tr = el('tr'); const td = el('td', 'No traits listed.'); td.colSpan = 3; tr.append(td); ui.traits.append(tr);
  }

  ui.others.replaceChildren(...result.results.map((r, j) => {
    const li = el('li');
    const b = el('button');
    b.type = 'button';
    b.setAttribute('aria-pressed', String(j === i));
    const img = el('img');
    const s = httpUrl(lens.imageUrl(r));
    if (s) img.src = s;
    img.alt = '';
    b.append(img, el('span', nameOf(r), 'label'), el('span', pct(r.score)));
    b.addEventListener('click', () => show(j));
    li.append(b);
    return li;
  }));
}

ui.file.addEventListener('change', () => {
  const f = ui.file.files && ui.file.files[0];
  ui.file.value = '';
  identify(f);
});
for (const type of ['dragenter', 'dragover']) {
  document.addEventListener(type, (e) => { e.preventDefault(); ui.picker.classList.add('over'); });
}
document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) ui.picker.classList.remove('over'); });
document.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.picker.classList.remove('over');
  const f = e.dataTransfer && [...e.dataTransfer.files].find((x) => /^image\//i.test(x.type));
  if (f) identify(f); else showError('Drop an image file.');
});
document.addEventListener('paste', (e) => {
  const f = e.clipboardData && [...e.clipboardData.files].find((x) => /^image\//i.test(x.type));
  if (f) { e.preventDefault(); identify(f); }
});

try {
  lens = await NftLens.open(BUNDLE);
  const info = lens.info();
  ui.status.textContent = `Ready: ${info.tokens} tokens. Choose, drop or paste an image.`;
  ui.about.textContent = `Model ${info.model && info.model.name ? info.model.name : 'unknown'} · match threshold ${pct(info.threshold)}.`;
  document.body.dataset.ready = 'true';
} catch (err) {
  ui.status.textContent = 'Bundle not loaded.';
  showError(`Could not load the NFT bundle: ${err && err.message ? err.message : err}`);
}
