// The collection menu (<select part="filter">), shown when the bundle has more than one collection.
import { h, str } from './dom.js';

export class CollectionFilter {
  constructor(controller) {
    this.select = h('select', { part: 'filter', id: 'filter' });
    const label = h('label', { class: 'visually-hidden', text: 'Collection' });
    label.htmlFor = 'filter';
    this.el = h('span', { hidden: true }, label, this.select);
    this.select.addEventListener('change', () => controller.setCollection(this.select.value));
    controller.addEventListener('load', () => this.fill([], ''));
    controller.addEventListener('ready', ({ detail: { collections } }) => this.fill(collections, controller.collection));
  }

  fill(collections, selected) {
    const { select } = this;
    select.replaceChildren(h('option', { value: '', text: 'All collections' }));
    for (const c of collections) {
      const label = `${str(c.name) || str(c.slug)}${Number.isFinite(c.count) ? ` (${c.count.toLocaleString('en-US')})` : ''}`;
      select.append(h('option', { value: str(c.slug), text: label }));
    }
    select.value = collections.some((c) => str(c.slug) === selected) ? selected : '';
    this.el.hidden = collections.length <= 1;
  }
}
