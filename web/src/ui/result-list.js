// The results: a heading that says what was found — the core's verdict for an image ("This is …",
// "Looks like a token of …, but not one in this bundle", "No NFT we know"), or "3 tokens for “…”"
// for words — and the <ol> of result cards (only an identified token's card is styled as the answer).
import { h, safeImageUrl, reveal } from './dom.js';
import { resultCard } from './result-card.js';
import { plural, textCounts, imageVerdict, scanVerdict } from './wording.js';

export class ResultList {
  #controller;

  constructor(controller) {
    this.#controller = controller;
    this.heading = h('h2', { class: 'heading', part: 'heading', hidden: true, id: 'heading' });
    this.list = h('ol', { class: 'results', part: 'results', 'aria-labelledby': 'heading' });
    controller.addEventListener('results', ({ detail }) => this.render(detail));
    for (const type of ['load', 'cleared', 'searchfailed']) controller.addEventListener(type, () => this.clear());
  }

  clear() {
    this.list.replaceChildren();
    this.heading.hidden = true;
    this.heading.textContent = '';
  }

  /** A thumbnail URL the page may load (the lens's object URL of a checked thumbnail, or http(s)). */
  #imageUrl(r) {
    const lens = this.#controller.lens;
    let url = '';
    try { url = lens ? lens.imageUrl(r) : ''; } catch { url = ''; }
    return safeImageUrl(url);
  }

  render({ kind, result, words = '', chips = [], k = 0, refined = false, scan = null }) {
    const { heading } = this;
    const list = Array.isArray(result.results) ? result.results : [];
    const top = list[0];
    heading.hidden = false;
    const said = kind !== 'image' ? null : scan ? scanVerdict(result, scan) : imageVerdict(result, chips.length > 0);
    const isMatch = !!said && said.isMatch;
    heading.classList.toggle('match', isMatch);
    heading.classList.toggle('collection', !!said && said.verdict === 'collection' && !!top);
    if (kind === 'text') {
      const what = [words, ...chips.map((c) => `${c.type}: ${c.value}`)].filter(Boolean).join(' + ');
      // Say how many match, not only how many are shown; never call a full page the total.
      const { shown, total } = textCounts(result, k);
      const count = total === null ? `${plural(shown, 'token')} shown`
        : total > shown ? `Showing ${shown.toLocaleString('en-US')} of ${plural(total, 'token')}` : plural(shown, 'token');
      heading.textContent = list.length
        ? `${count} for “${what}”${words || !list.some((r) => Number(r.rarity_score) > 0) ? '' : ', rarest first'}`
        : `No tokens found for “${what}”.`;
    } else heading.textContent = said.heading;
    // Cards of an unidentified image are shown as "closest", not as answers.
    this.list.classList.toggle('closest', kind === 'image' && !isMatch);

    // Relevance (text) is relative to the best hit; a filters-only search is ordered by rarity.
    const topScore = kind === 'text' && words ? Math.max(...list.map((r) => Number(r.score) || 0), 0) : 0;
    this.list.replaceChildren(...list.map((r, i) => resultCard(r, { isTop: i === 0 && isMatch, kind, topScore, src: this.#imageUrl(r) })));
    // On a phone the answer lands below the fold: bring the verdict and the top card into view.
    // Not after a facet or chip re-ran the search: the user is working in the panel.
    if (!refined) reveal(heading, this.list.firstElementChild || heading);
  }
}
