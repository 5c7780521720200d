// The active trait filters as removable chips ("Glasses: Red ×"), and "Clear all".
import { h } from './dom.js';

export class FilterChips {
  #controller; #focusSearch;

  /** focusSearch(): where focus goes when the last chip is removed. */
  constructor(controller, { focusSearch }) {
    this.#controller = controller;
    this.#focusSearch = focusSearch;
    this.el = h('div', { class: 'chips', part: 'chips', role: 'group', 'aria-label': 'Active filters', hidden: true });
    controller.addEventListener('chips', ({ detail: { chips } }) => this.render(chips));
  }

  render(chips) {
    const box = this.el, controller = this.#controller;
    box.replaceChildren();
    if (!chips.length) { box.hidden = true; return; }
    box.hidden = false;
    box.append(h('span', { class: 'chips-label', text: 'Filters:' }));
    chips.forEach((c, i) => {
      const label = `${c.type}: ${c.value}`;
      const b = h('button', { type: 'button', class: 'chip', part: 'chip', title: `Remove the filter ${label}`, 'aria-label': `Remove filter ${label}` },
        h('span', { class: 'chip-type', text: `${c.type}:` }), h('span', { text: c.value }), h('span', { class: 'x', 'aria-hidden': 'true', text: '×' }));
      b.addEventListener('click', () => {
        controller.removeChip(c.type, c.value);  // re-renders the chips
        // Keep the keyboard user's place: the next chip, else the previous one, else the search box.
        const rest = box.querySelectorAll('.chip');
        const next = rest[Math.min(i, rest.length - 1)];
        if (next) next.focus(); else this.#focusSearch();
        controller.rerun();
      });
      box.append(b);
    });
    if (chips.length > 1) {
      const clear = h('button', { type: 'button', class: 'chip-clear', text: 'Clear all' });
      clear.addEventListener('click', () => { controller.setChips([]); this.#focusSearch(); controller.rerun(); });
      box.append(clear);
    }
  }
}
