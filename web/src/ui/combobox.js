// The text search box: an ARIA 1.2 combobox (input + listbox popup) that suggests trait values for
// the word being typed. ↓/↑ move the highlight (aria-activedescendant), Enter chooses it (it
// becomes a filter chip and the search runs) or submits the words, Escape closes the list.
import { h, svg } from './dom.js';
import { dropLastToken } from './query.js';

const SUGGEST_DELAY_MS = 120;

/** A magnifier glyph (SVG built with the DOM, no markup strings). */
function searchIcon() {
  return svg('svg', { class: 'icon', width: '16', height: '16', viewBox: '0 0 16 16', 'aria-hidden': 'true', focusable: 'false' },
    svg('circle', { cx: '6.5', cy: '6.5', r: '4.75', fill: 'none', stroke: 'currentColor', 'stroke-width': '1.8' }),
    svg('path', { d: 'M10 10l4.2 4.2', stroke: 'currentColor', 'stroke-width': '1.8', 'stroke-linecap': 'round' }));
}

export class SearchBox {
  #controller;
  #timer = 0;
  #options = [];  // suggestions shown: [{type, value, count}]
  #active = -1;   // highlighted suggestion

  constructor(controller) {
    this.#controller = controller;
    const q = this.input = h('input', { type: 'text', id: 'q', part: 'search-input', autocomplete: 'off', spellcheck: false,
      enterKeyHint: 'search', role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'suggestions' });
    this.listbox = h('ul', { class: 'suggestions', part: 'suggestions', id: 'suggestions', role: 'listbox', hidden: true,
      'aria-label': 'Trait suggestions' });
    this.el = h('form', { class: 'search', part: 'search', role: 'search' },
      h('div', { class: 'combo' }, searchIcon(), q, this.listbox), h('button', { type: 'submit', text: 'Search' }));
    this.#hint(false, '');

    q.addEventListener('input', () => this.#schedule());
    q.addEventListener('keydown', (e) => this.#onKey(e));
    q.addEventListener('blur', () => this.close());
    this.el.addEventListener('submit', (e) => {
      e.preventDefault();
      this.close();
      controller.searchText(q.value).catch(() => { /* shown in the alert */ });
    });
    controller.addEventListener('load', () => { this.close(); this.#hint(false, ''); });
    // A partitioned bundle (large collections) is fetched per image query; text search and trait
    // filters need its whole catalogue, so they are offered only where the core says it loads it
    // (info.text: one-index bundles, and partitioned ones whose catalogue fits the browser's budget).
    controller.addEventListener('ready', ({ detail: { info, traits, example } }) => {
      this.el.hidden = info.text === false || (info.text === undefined && !!info.partitioned);
      this.#hint(traits, example);
    });
    controller.addEventListener('needquery', () => q.focus());
  }

  focus() { this.input.focus(); }

  /** Placeholder and names from the bundle's own traits; neutral ones when it has none. */
  #hint(traits, example) {
    const what = traits ? 'Search tokens by traits or words' : 'Search tokens by name or words';
    this.input.placeholder = example ? `Search by traits or words, e.g. ${example}` : what;
    this.input.setAttribute('aria-label', what);
    this.el.setAttribute('aria-label', what);
  }

  /** Put text in the box without searching (element.searchText does the search). */
  setValue(text) {
    this.input.value = text;
    this.close();
  }

  close() {
    clearTimeout(this.#timer);
    this.#controller.cancelSuggestions();
    const { input, listbox } = this;
    this.#options = [];
    this.#active = -1;
    listbox.hidden = true;
    listbox.replaceChildren();
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  #schedule() {
    clearTimeout(this.#timer);
    this.#controller.cancelSuggestions();  // an answer for older text must not show
    const text = this.input.value;
    if (!this.#controller.canSuggest(text)) { this.close(); return; }
    this.#timer = setTimeout(async () => {
      const list = await this.#controller.suggest(text);
      if (list === null || this.input.value !== text) return;  // typed on meanwhile
      this.#show(list);
    }, SUGGEST_DELAY_MS);
  }

  #show(list) {
    const { input, listbox } = this;
    this.#options = list;
    this.#active = -1;
    input.removeAttribute('aria-activedescendant');
    listbox.replaceChildren(...list.map((o, i) => {
      const li = h('li', { class: 'suggestion', part: 'suggestion', role: 'option', id: `nl-option-${i}`, 'aria-selected': 'false' },
        h('span', { class: 'value', text: o.value }),
        h('span', { class: 'type', text: o.type }),
        h('span', { class: 'count', text: `${o.count.toLocaleString('en-US')}`, title: `${o.count} tokens` }));
      li.addEventListener('pointerdown', (e) => e.preventDefault());  // keep focus in the box
      li.addEventListener('click', () => this.#choose(i));
      return li;
    }));
    const open = list.length > 0;
    listbox.hidden = !open;
    input.setAttribute('aria-expanded', String(open));
  }

  #highlight(i) {
    const items = this.listbox.children;
    if (!items.length) return;
    this.#active = (i + items.length) % items.length;
    for (let j = 0; j < items.length; j++) items[j].setAttribute('aria-selected', String(j === this.#active));
    const el = items[this.#active];
    this.input.setAttribute('aria-activedescendant', el.id);
    el.scrollIntoView({ block: 'nearest' });
  }

  /** A suggestion becomes a filter chip; the word it completed leaves the box; the search runs. */
  #choose(i) {
    const o = this.#options[i];
    if (!o) return;
    const q = this.input;
    q.value = dropLastToken(q.value);
    this.close();
    this.#controller.addChip(o.type, o.value);
    q.focus();
    this.#controller.searchText(q.value).catch(() => {});
  }

  #onKey(e) {
    const open = !this.listbox.hidden && this.#options.length > 0;
    switch (e.key) {
      case 'ArrowDown':
        e.preventDefault();
        if (open) this.#highlight(this.#active + 1);
        else this.#schedule();
        break;
      case 'ArrowUp':
        if (open) { e.preventDefault(); this.#highlight(this.#active < 0 ? -1 : this.#active - 1); }
        break;
      case 'Enter':
        if (open && this.#active >= 0) { e.preventDefault(); this.#choose(this.#active); }
        else this.close();  // the form submits
        break;
      case 'Escape':
        if (open) { e.preventDefault(); e.stopPropagation(); this.close(); }
        break;
      case 'Tab':
        this.close();
        break;
      default:
    }
  }
}
