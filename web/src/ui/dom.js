// DOM helpers for the element's views. Every string the bundle supplies is attacker-controlled, so
// elements are built with createElement and filled with textContent; URLs go through safeHttpUrl.

export { str } from './query.js';  // views get it here; the definition is DOM-free (the controller uses it)

/** Create an element with properties (never innerHTML). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'part') el.setAttribute('part', v);
    else if (k === 'class') el.className = v;
    else if (k.startsWith('aria-') || k === 'role') el.setAttribute(k, String(v));
    else el[k] = v;
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

/** An SVG element with attributes (our own constants only, never bundle data). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** An http(s) URL string or '' (for links and remote images from the bundle: attacker-controlled). */
/** An image URL a card may load: http(s), or a blob: URL of this page's origin (the lens makes
 *  those of the thumbnails it fetched and checked). */
export function safeImageUrl(value) {
  if (typeof value === 'string' && value.startsWith(`blob:${location.origin}/`)) return value;
  return safeHttpUrl(value);
}

export function safeHttpUrl(value) {
  if (typeof value !== 'string' || !/^https?:\/\//i.test(value)) return '';
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : '';
  } catch { return ''; }
}

/** Touch is the main way in (phones, tablets): there is nothing to drop and no Ctrl+V to press.
 *  The same test as the stylesheet's, which shows the camera button. */
export const TOUCH_QUERY = '(pointer: coarse)';
export function touchFirst() {
  return typeof matchMedia === 'function' && matchMedia(TOUCH_QUERY).matches;
}

/** Scroll `el` into view unless it (and `last`, if given) already is: smoothly, or at once for
 *  users who ask for reduced motion. */
export function reveal(el, last = el) {
  if (!el || !el.isConnected || typeof el.scrollIntoView !== 'function') return;
  const vh = window.innerHeight || document.documentElement.clientHeight;
  const top = el.getBoundingClientRect().top, bottom = (last || el).getBoundingClientRect().bottom;
  if (top >= 0 && bottom <= vh) return;
  const reduce = typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
  el.scrollIntoView({ behavior: reduce ? 'auto' : 'smooth', block: 'start' });
}
