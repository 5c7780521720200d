// One result card (<li part="card">): thumbnail, name, collection, token id, similarity or
// relevance, rarity, traits and the marketplace link. All of it is bundle data: textContent only,
// links only as http(s), images only from the URL the caller vetted.
import { h, str, safeHttpUrl } from './dom.js';
import { displayName } from './wording.js';

export { displayName };

function scoreRow(barPct, text, cls, label, title) {
  const bar = h('span');
  bar.style.width = `${barPct.toFixed(1)}%`;  // CSSOM, so no inline style attribute (CSP)
  return h('div', { class: 'score-row', title },
    h('div', { class: 'bar', 'aria-hidden': 'true' }, bar),
    h('span', { class: cls, part: 'score', text, 'aria-label': label }));
}

/**
 * r: a result token. isTop: the identified match (highlighted). kind: 'image' shows similarity;
 * 'text' shows relevance relative to topScore (0: a filters-only search, no score). src: an
 * http(s)/blob URL for the thumbnail, or ''.
 */
export function resultCard(r, { isTop = false, kind = 'image', topScore = 0, src = '' } = {}) {
  const name = displayName(r);
  const thumbBox = h('div', { class: 'thumb-box' });
  if (src) {
    const img = h('img', { class: 'thumb', part: 'thumb', alt: name, loading: 'lazy', decoding: 'async', referrerPolicy: 'no-referrer' });
    img.src = src;
    img.addEventListener('error', () => img.replaceWith(h('span', { class: 'thumb-missing', text: 'image unavailable' })), { once: true });
    thumbBox.append(img);
  } else {
    thumbBox.append(h('span', { class: 'thumb-missing', text: 'no image' }));
  }

  const body = h('div', { class: 'body' },
    h('span', { class: 'name', part: 'name', text: name }),
    h('span', { class: 'meta', part: 'collection', text: str(r.collection_name) || str(r.collection) }),
    h('span', { class: 'meta', part: 'token', text: `Token #${str(r.token_id)}` }));
  const score = Number(r.score);
  if (kind === 'image') {
    // The number the order follows (the core's "relevance": after re-ranking it blends how well the
    // image aligns with the thumbnail and the descriptor similarity; older cores: the similarity).
    const v = Number(r.relevance ?? r.score);
    const pct = Number.isFinite(v) ? Math.max(0, Math.min(1, v)) * 100 : 0;
    body.append(scoreRow(pct, `${pct.toFixed(1)}%`, 'score', `match ${pct.toFixed(1)} percent`, 'how closely it matches (results are in this order)'));
  } else if (topScore > 0 && Number.isFinite(score)) {
    // Relevance: how well the words match, relative to the best result (not a probability).
    const rel = Math.max(0, Math.min(1, score / topScore)) * 100;
    body.append(scoreRow(rel, `relevance ${score.toFixed(1)}`, 'score relevance', `relevance ${score.toFixed(1)}`, 'text relevance (higher is better)'));
  }
  // A rank means something only where traits made a score: without traits every score is 0 and
  // the ranks are just catalogue order. (No score field at all: trust the rank.)
  const rank = Number(r.rarity_rank);
  const rarityScore = r.rarity_score === undefined || r.rarity_score === null ? 1 : Number(r.rarity_score);
  if (Number.isFinite(rank) && rank > 0 && rarityScore > 0) {
    const size = Number(r.collection_size);
    body.append(h('span', { class: 'meta', part: 'rarity', text: `Rarity #${rank.toLocaleString('en-US')}${Number.isFinite(size) && size > 0 ? ` of ${size.toLocaleString('en-US')}` : ''}` }));
  }
  const attrs = Array.isArray(r.attributes) ? r.attributes : [];
  if (attrs.length) {
    const dl = h('dl');
    for (const a of attrs.slice(0, 30)) {
      if (!a || typeof a !== 'object') continue;
      dl.append(h('dt', { text: str(a.trait_type) || 'trait' }), h('dd', { text: str(a.value) }));
    }
    body.append(h('details', { part: 'traits' }, h('summary', { text: `Traits (${attrs.length})` }), dl));
  }
  const href = safeHttpUrl(r.link);
  if (href) {
    let host = '';
    try { host = new URL(href).hostname; } catch { /* checked above */ }
    // Every card has this link: its accessible name says which token it is ("View Noun 12 on
    // opensea.io") while the card shows the short "View on opensea.io ↗".
    const a = h('a', { class: 'link', part: 'link', target: '_blank', rel: 'noopener noreferrer nofollow' },
      'View ', h('span', { class: 'visually-hidden', text: `${name} ` }), `on ${host}`,
      h('span', { 'aria-hidden': 'true', text: ' ↗' }), h('span', { class: 'visually-hidden', text: ' (opens in a new tab)' }));
    a.href = href;
    body.append(a);
  }
  return h('li', { class: isTop ? 'card top' : 'card', part: isTop ? 'card card-match' : 'card' }, thumbBox, body);
}
