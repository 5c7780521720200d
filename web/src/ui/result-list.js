// The results: a heading that says what was found ("Match: …", "No match — closest tokens:",
// "3 tokens for “…”") and the <ol> of result cards.
import { h, safeHttpUrl } from './dom.js';
import { resultCard, displayName } from './result-card.js';

export class ResultList {
  #controller;

  constructor(controller) {
    this.#controller = controller;
    this.heading = h('h2', { class: 'heading', part: 'heading', hidden: true, id: 'heading' });
    this.list = h('ol', { class: 'results', part: 'results', 'aria-labelledby': 'heading' });
    controller.addEventListener('results', ({ detail }) => this.render(detail));
    for (const type of ['load', 'cleared']) controller.addEventListener(type, () => this.clear());
  }

  clear() {
    this.list.replaceChildren();
    this.heading.hidden = true;
    this.heading.textContent = '';
  }

  /** A thumbnail URL the page may load (the lens vets bundle paths; only http(s) gets through). */
  #imageUrl(r) {
    const lens = this.#controller.lens;
    let url = '';
    try { url = lens ? lens.imageUrl(r) : ''; } catch { url = ''; }
    return safeHttpUrl(url);
  }

  render({ kind, result, words = '', chips = [] }) {
    const { heading } = this;
    const list = Array.isArray(result.results) ? result.results : [];
    const top = list[0];
    const filtered = chips.length > 0;
    heading.hidden = false;
    const isMatch = kind === 'image' && !!(result.match && top);
    heading.classList.toggle('match', isMatch);
    if (kind === 'text') {
      const what = [words, ...chips.map((c) => `${c.type}: ${c.value}`)].filter(Boolean).join(' + ');
      heading.textContent = list.length
        ? `${list.length} token${list.length === 1 ? '' : 's'} for “${what}”${words ? '' : ', rarest first'}`
        : `No tokens found for “${what}”.`;
    } else if (isMatch) heading.textContent = `Match: ${displayName(top)}`;
    else if (list.length) heading.textContent = filtered ? 'Closest tokens with the chosen traits:' : 'No match — closest tokens:';
    else heading.textContent = filtered ? 'No token has all the chosen traits.' : 'No match — the bundle has no tokens in this collection.';

    // Relevance (text) is relative to the best hit; a filters-only search is ordered by rarity.
    const topScore = kind === 'text' && words ? Math.max(...list.map((r) => Number(r.score) || 0), 0) : 0;
    this.list.replaceChildren(...list.map((r, i) => resultCard(r, { isTop: i === 0 && isMatch, kind, topScore, src: this.#imageUrl(r) })));
  }
}
