// What the element says in words, shared by the views that say it (DOM-free). Only our own
// sentences are built here; bundle strings (names, trait values) are inserted as plain text and
// shown with textContent by the caller.

export const plural = (n, word) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/**
 * How many tokens a text search matched. `shown` is the results on screen; `total` the tokens that
 * match, or null when unknown: the core says it in `result.total` (newer cores), else a page that
 * came back shorter than the k asked for holds every match, and a full page may not.
 */
export function textCounts(result, k = 0) {
  const shown = Array.isArray(result && result.results) ? result.results.length : 0;
  const t = Number(result && result.total);
  if (Number.isInteger(t) && t >= shown) return { shown, total: t };
  return { shown, total: shown === 0 || (k > 0 && shown < k) ? shown : null };
}
