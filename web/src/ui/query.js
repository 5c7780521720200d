// The core's query syntax, as the element writes and reads it (DOM-free: used by the controller and
// the search box).

/** '' for null/undefined, else String(v): bundle fields may be missing or of any type. */
export const str = (v) => (v === undefined || v === null ? '' : String(v));

/** A filter term the core parses: "type":"value" (quotes keep spaces; they cannot be escaped). */
export function quote(s) { return `"${str(s).replace(/"/g, ' ').trim()}"`; }
export function chipFilter(c) { return `${quote(str(c.type).replace(/:/g, ' '))}:${quote(c.value)}`; }

/** The whitespace-separated token being typed (quotes group words). */
export function lastToken(text) {
  const m = str(text).match(/(?:"[^"]*"?|[^\s"])+$/);
  return m ? m[0] : '';
}

/** The text without the token being typed (a chosen suggestion replaces it). */
export function dropLastToken(text) {
  const t = lastToken(text);
  const rest = t ? text.slice(0, text.length - t.length) : text;
  return rest.replace(/\s+$/, '') + (rest.trim() ? ' ' : '');
}

/** Suggest for the word being typed: nothing after a space, nothing for one letter. */
export function wantsSuggestions(text) {
  return !/\s$/.test(text) && lastToken(text).replace(/^[^:]*:/, '').replace(/[^\p{L}\p{N}]/gu, '').length >= 2;
}

/** Text search, suggestions and trait filters: available unless the core says not (info.text;
 *  cores before it: not on partitioned bundles). */
export function textAvailable(info) {
  return info ? (info.text === undefined ? !info.partitioned : !!info.text) : false;
}
