// The "Refine by trait" panel: the trait values of the results with their counts, as toggle
// buttons (aria-pressed) that add or remove a filter chip and re-run the search.
import { h, str } from './dom.js';
import { plural } from './wording.js';

const FACET_VALUES_SHOWN = 6;   // per trait type, before "+N more"

/** A search result's facets, {traitType: {value: count}}: counted by the core (text results always,
 *  image results when searched with {facets: true}); none otherwise. */
export function facetsOf(result) {
  return result && result.facets && typeof result.facets === 'object' ? result.facets : {};
}

export class FacetPanel {
  #controller; #focusSearch;
  #expanded = new Set();  // trait types whose list shows every value

  /** focusSearch(): where focus goes when the focused facet disappears. */
  constructor(controller, { focusSearch }) {
    this.#controller = controller;
    this.#focusSearch = focusSearch;
    this.el = h('section', { class: 'facets', part: 'facets', hidden: true, 'aria-labelledby': 'facets-title' });
    controller.addEventListener('results', ({ detail: { result } }) => {
      const list = Array.isArray(result.results) ? result.results : [];
      // Only results the controller can search again can be narrowed (not a transferred ImageBitmap).
      this.render(controller.refinable ? facetsOf(result) : null, list);
    });
    for (const type of ['load', 'cleared', 'searchfailed']) controller.addEventListener(type, () => this.render(null, []));
  }

  render(facets, list) {
    const box = this.el, chips = this.#controller.chips;
    const has = (type, value) => this.#controller.hasChip(type, value);
    const focused = box.getRootNode().activeElement;
    const refocus = focused && focused.classList.contains('facet') ? { type: focused.dataset.type, value: focused.dataset.value } : null;
    box.replaceChildren();
    // Trait types in the order tokens list them, then any others.
    const order = [];
    for (const r of list) for (const a of Array.isArray(r.attributes) ? r.attributes : []) if (a && !order.includes(str(a.trait_type))) order.push(str(a.trait_type));
    const types = facets ? Object.keys(facets) : [];
    types.sort((a, b) => (order.includes(a) ? order.indexOf(a) : 1e9) - (order.includes(b) ? order.indexOf(b) : 1e9) || a.localeCompare(b));
    for (const c of chips) if (!types.includes(c.type)) types.push(c.type);  // an active filter stays removable
    const groups = [];
    types.forEach((type, ti) => {
      const counts = facets && facets[type] && typeof facets[type] === 'object' ? facets[type] : {};
      const values = Object.entries(counts).map(([v, n]) => [v, Number(n) || 0]);
      for (const c of chips) if (c.type === type && !Object.hasOwn(counts, c.value)) values.push([c.value, 0]);
      if (!values.length) return;
      values.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      const expanded = this.#expanded.has(type);
      // Active filters always show; the rest up to the limit unless expanded.
      const shown = expanded ? values : values.filter(([v], i) => i < FACET_VALUES_SHOWN || has(type, v));
      const titleId = `facet-type-${ti}`;
      const ul = h('div', { class: 'facet-values' });
      for (const [value, n] of shown) {
        const pressed = has(type, value);
        // Named as a sentence (else it reads "Grayscale 7 1"); aria-pressed says whether it is on.
        const b = h('button', { type: 'button', class: 'facet', part: pressed ? 'facet facet-active' : 'facet', 'aria-pressed': String(pressed),
          'aria-label': `Filter by ${type || 'trait'}: ${value} (${n ? plural(n, 'result') : 'no results'})`,
          title: pressed ? `Remove the filter ${type}: ${value}` : `Only tokens with ${type}: ${value}` },
        h('span', { text: value }), h('span', { class: 'n', text: String(n) }));
        b.dataset.type = type;
        b.dataset.value = value;
        b.addEventListener('click', () => this.#controller.toggleChip(type, value));
        ul.append(b);
      }
      if (values.length > FACET_VALUES_SHOWN) {
        const more = h('button', { type: 'button', class: 'facet-more', 'aria-expanded': String(expanded),
          text: expanded ? 'fewer' : `+${values.length - shown.length} more` });
        if (!expanded && values.length === shown.length) more.hidden = true;
        more.addEventListener('click', () => {
          if (this.#expanded.has(type)) this.#expanded.delete(type); else this.#expanded.add(type);
          this.render(facets, list);
          const again = [...box.querySelectorAll('.facet-more')].find((x) => x.dataset.type === type);
          if (again) again.focus();
        });
        more.dataset.type = type;
        ul.append(more);
      }
      groups.push(h('div', { class: 'facet-group', part: 'facet-group', role: 'group', 'aria-labelledby': titleId },
        h('h3', { class: 'facet-type', id: titleId, title: type, text: type || 'trait' }), ul));
    });
    const show = groups.length > 0 && list.length + chips.length > 0;
    box.hidden = !show;
    // The results area lays the panel beside (wide) or below (narrow) the results.
    if (box.parentElement) box.parentElement.classList.toggle('has-facets', show);
    if (!show) return;
    box.append(h('h3', { class: 'facets-title', id: 'facets-title', text: 'Refine by trait' }), ...groups);
    if (refocus) {
      const again = [...box.querySelectorAll('.facet')].find((b) => b.dataset.type === refocus.type && b.dataset.value === refocus.value);
      const target = again || box.querySelector('.facet');
      if (target) target.focus(); else this.#focusSearch();
    }
  }
}
