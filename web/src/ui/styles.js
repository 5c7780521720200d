// The element's stylesheet: one constructable CSSStyleSheet shared by every <nft-lens> on the page
// (no inline <style>, so a strict CSP needs no style-src 'unsafe-inline'), with a <style> element
// as the fallback for browsers without constructable stylesheets.
import { h } from './dom.js';

export const CSS = `
:host {
  --_accent: var(--nft-lens-accent, #5b4cdb);
  --_bg: var(--nft-lens-bg, #ffffff);
  --_fg: var(--nft-lens-fg, #1d1d26);
  --_card: var(--nft-lens-card-bg, #f5f5f9);
  --_radius: var(--nft-lens-radius, 12px);
  --_muted: color-mix(in srgb, var(--_fg) 62%, var(--_bg));
  --_line: color-mix(in srgb, var(--_fg) 16%, var(--_bg));
  display: block;
  box-sizing: border-box;
  color: var(--_fg);
  background: var(--_bg);
  font: 15px/1.45 var(--nft-lens-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  border-radius: var(--_radius);
  padding: 16px;
  container-type: inline-size;
}
@media (prefers-color-scheme: dark) {
  :host {
    --_bg: var(--nft-lens-bg, #17171f);
    --_fg: var(--nft-lens-fg, #ececf4);
    --_card: var(--nft-lens-card-bg, #22222d);
    --_accent: var(--nft-lens-accent, #8f84ff);
  }
}
:host([hidden]) { display: none; }
*, *::before, *::after { box-sizing: inherit; }
[hidden] { display: none !important; }
:focus-visible { outline: 3px solid var(--_accent); outline-offset: 2px; }

.drop {
  display: flex; align-items: center; gap: 16px;
  min-height: 120px; padding: 16px 20px;
  border: 2px dashed color-mix(in srgb, var(--_accent) 55%, var(--_bg));
  border-radius: var(--_radius);
  background: color-mix(in srgb, var(--_accent) 5%, var(--_bg));
  cursor: pointer; user-select: none;
  transition: background .15s, border-color .15s;
}
.drop:hover, .drop.over { background: color-mix(in srgb, var(--_accent) 12%, var(--_bg)); border-color: var(--_accent); }
.drop:focus-visible { outline: 3px solid var(--_accent); outline-offset: 3px; border-style: solid; }
.drop.busy { cursor: progress; }
.preview {
  width: 88px; height: 88px; flex: none; object-fit: contain;
  border-radius: calc(var(--_radius) * .6); background: var(--_card);
  border: 1px solid var(--_line);
}
.drop-text { display: flex; flex-direction: column; gap: 4px; min-width: 0; }
.drop-text strong { font-size: 1.05em; }
.drop-text .hint { color: var(--_muted); font-size: .9em; }
.pill {
  align-self: flex-start; margin-top: 4px; padding: 5px 12px;
  border-radius: 999px; background: var(--_accent); color: #fff; font-weight: 600; font-size: .9em;
}

.controls { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 12px; align-items: center; }
.url { display: flex; flex: 1 1 260px; gap: 8px; min-width: 0; }
input[type=url], select {
  flex: 1 1 auto; min-width: 0; font: inherit; color: inherit;
  background: var(--_bg); border: 1px solid var(--_line); border-radius: calc(var(--_radius) * .6);
  padding: 7px 10px;
}
select { flex: 0 1 auto; max-width: 100%; }
button {
  font: inherit; font-weight: 600; cursor: pointer; color: var(--_accent);
  background: transparent; border: 1px solid var(--_accent); border-radius: calc(var(--_radius) * .6);
  padding: 7px 14px;
}
button:hover { background: color-mix(in srgb, var(--_accent) 10%, var(--_bg)); }
.camera { display: none; }
@media (pointer: coarse) { .camera { display: inline-block; } }
.scan-button { color: #fff; background: var(--_accent); }
.scan-button:hover { background: color-mix(in srgb, var(--_accent) 85%, var(--_fg)); }
.scan { margin-top: 12px; border: 1px solid var(--_line); border-radius: var(--_radius); overflow: hidden; background: #000; }
.scan-video { display: block; width: 100%; max-height: min(60vh, 480px); object-fit: contain; background: #000; }
.scan-bar { display: flex; align-items: center; gap: 12px; padding: 8px 12px; background: var(--_bg); }
.scan-note { flex: 1 1 auto; min-width: 0; color: var(--_muted); font-size: .9em; }
.visually-hidden {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}

.status { margin: 12px 0 0; color: var(--_muted); font-size: .9em; min-height: 1.45em; }
.progress { display: flex; align-items: center; gap: 10px; margin: 6px 0 0; font-size: .85em; color: var(--_muted); }
.progress-bar { flex: 0 0 min(240px, 40%); height: 6px; border-radius: 3px; overflow: hidden; background: var(--_line); }
.progress-fill { height: 100%; width: 0; background: var(--_accent); transition: width .2s; }
.progress-bar.indeterminate .progress-fill { width: 30% !important; animation: nft-lens-slide 1.2s ease-in-out infinite; }
@keyframes nft-lens-slide { from { transform: translateX(-100%); } to { transform: translateX(340%); } }
@media (prefers-reduced-motion: reduce) { .progress-fill { transition: none; } .progress-bar.indeterminate .progress-fill { animation: none; } }
.error {
  margin: 12px 0 0; padding: 10px 12px; border-radius: calc(var(--_radius) * .6);
  background: color-mix(in srgb, #d92d20 12%, var(--_bg)); color: color-mix(in srgb, #d92d20 75%, var(--_fg));
  border: 1px solid color-mix(in srgb, #d92d20 45%, var(--_bg)); overflow-wrap: anywhere;
}
.error-detail { margin-top: 6px; color: var(--_fg); font-size: .85em; }
.error-detail code { display: block; margin-top: 4px; white-space: pre-wrap; overflow-wrap: anywhere; }
.heading { margin: 16px 0 8px; font-size: 1.1em; overflow-wrap: anywhere; scroll-margin-top: 12px; }
.heading.match { color: var(--_accent); }
.heading.collection { color: inherit; font-style: italic; }
.results.closest .card { opacity: 0.78; border-style: dashed; }
.results.closest .link { font-weight: normal; }

.results {
  list-style: none; margin: 0; padding: 0;
  display: grid; gap: 12px; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
}
.card {
  display: flex; flex-direction: column; background: var(--_card);
  border-radius: var(--_radius); overflow: hidden; border: 1px solid var(--_line); min-width: 0;
}
.card.top { border-color: var(--_accent); box-shadow: 0 0 0 1px var(--_accent); }
.thumb-box { aspect-ratio: 1; background: color-mix(in srgb, var(--_fg) 6%, var(--_bg)); display: grid; place-items: center; }
.thumb { width: 100%; height: 100%; object-fit: contain; display: block; image-rendering: var(--nft-lens-thumb-rendering, auto); }
.thumb-missing { color: var(--_muted); font-size: .85em; }
.body { padding: 10px 12px 12px; display: flex; flex-direction: column; gap: 2px; min-width: 0; }
.name { font-weight: 700; overflow-wrap: anywhere; }
.meta { color: var(--_muted); font-size: .85em; overflow-wrap: anywhere; }
.score-row { display: flex; align-items: center; gap: 8px; margin-top: 6px; font-size: .85em; }
.bar { flex: 1; height: 6px; border-radius: 3px; background: var(--_line); overflow: hidden; }
.bar > span { display: block; height: 100%; background: var(--_accent); }
.score { font-weight: 700; font-variant-numeric: tabular-nums; }
.link { margin-top: 6px; color: var(--_accent); font-size: .85em; font-weight: 600; overflow-wrap: anywhere; }
details { margin-top: 6px; font-size: .85em; }
summary { cursor: pointer; color: var(--_muted); }
dl { margin: 4px 0 0; display: grid; grid-template-columns: auto 1fr; gap: 1px 8px; }
dt { color: var(--_muted); }
dd { margin: 0; overflow-wrap: anywhere; }

/* text search: combobox + suggestions */
.search { display: flex; gap: 8px; margin-top: 12px; align-items: flex-start; }
.combo { position: relative; flex: 1 1 auto; min-width: 0; }
.combo input {
  width: 100%; font: inherit; color: inherit;
  background: var(--_bg); border: 1px solid var(--_line); border-radius: calc(var(--_radius) * .6);
  padding: 7px 10px 7px 32px;
}
.combo .icon { position: absolute; left: 10px; top: 50%; translate: 0 -50%; color: var(--_muted); pointer-events: none; display: block; }
.suggestions {
  position: absolute; z-index: 10; left: 0; right: 0; top: calc(100% + 4px);
  margin: 0; padding: 4px; list-style: none; max-height: 300px; overflow-y: auto;
  background: var(--_bg); border: 1px solid var(--_line); border-radius: calc(var(--_radius) * .6);
  box-shadow: 0 6px 24px rgb(0 0 0 / .14);
}
.suggestion {
  display: flex; align-items: baseline; gap: 8px; padding: 6px 10px; cursor: pointer;
  border-radius: calc(var(--_radius) * .4);
}
.suggestion[aria-selected=true], .suggestion:hover { background: color-mix(in srgb, var(--_accent) 14%, var(--_bg)); }
.suggestion .value { font-weight: 600; overflow-wrap: anywhere; }
.suggestion .type { color: var(--_muted); font-size: .88em; }
.suggestion .count { margin-left: auto; color: var(--_muted); font-size: .85em; font-variant-numeric: tabular-nums; }

/* filter chips */
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 10px; align-items: center; }
.chips-label { color: var(--_muted); font-size: .85em; }
.chip {
  display: inline-flex; align-items: center; gap: 6px; padding: 3px 6px 3px 10px; font-size: .88em;
  border-radius: 999px; background: color-mix(in srgb, var(--_accent) 14%, var(--_bg)); color: var(--_fg);
  border: 1px solid color-mix(in srgb, var(--_accent) 45%, var(--_bg)); font-weight: 500;
}
.chip .x { display: inline-grid; place-items: center; width: 18px; height: 18px; border-radius: 50%; font-weight: 700; color: var(--_accent); }
.chip:hover .x { background: color-mix(in srgb, var(--_accent) 22%, var(--_bg)); }
.chip-clear { padding: 3px 10px; font-size: .85em; border-color: transparent; }
.chip-type { color: var(--_muted); }

/* facets after the results, as in the DOM: beside them (wide) or below them (narrow) */
.area.has-facets { display: grid; gap: 16px; grid-template-columns: minmax(0, 1fr); }
@container (min-width: 700px) { .area.has-facets { grid-template-columns: minmax(0, 1fr) 210px; align-items: start; } }
.facets {
  font-size: .88em; padding: 10px 12px; border: 1px solid var(--_line); border-radius: var(--_radius);
  background: color-mix(in srgb, var(--_card) 60%, var(--_bg));
}
.facets-title { margin: 0 0 6px; font-size: 1em; }
.facet-group { margin: 0 0 8px; }
.facet-group:last-child { margin-bottom: 0; }
.facet-type { margin: 0 0 3px; font-weight: 700; font-size: .95em; color: var(--_muted); overflow-wrap: anywhere; }
.facet-values { display: flex; flex-wrap: wrap; gap: 4px; }
.facet {
  display: inline-flex; gap: 6px; align-items: baseline; padding: 2px 8px; font-size: 1em; font-weight: 500;
  color: var(--_fg); border: 1px solid var(--_line); border-radius: 999px; background: var(--_bg);
  max-width: 100%; text-align: left;
}
.facet .n { color: var(--_muted); font-variant-numeric: tabular-nums; font-size: .92em; }
.facet[aria-pressed=true] { background: var(--_accent); border-color: var(--_accent); color: #fff; }
.facet[aria-pressed=true] .n { color: inherit; }
.facet-more { padding: 2px 8px; font-size: 1em; font-weight: 600; border-color: transparent; }
/* narrow: one scrollable row per trait type, so the panel stays short */
@container (max-width: 699px) {
  .facet-group { display: flex; align-items: center; gap: 8px; margin-bottom: 6px; }
  .facet-type { flex: 0 0 5.5em; margin: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .facet-values { flex-wrap: nowrap; overflow-x: auto; scrollbar-width: thin; padding: 2px; min-width: 0; }
  .facet, .facet-more { flex: none; white-space: nowrap; }
}
.score.relevance { font-weight: 600; }
@container (max-width: 420px) {
  .results { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .drop { min-height: 96px; }
  .preview { width: 64px; height: 64px; }
}
`;

let sheet = null;  // null: not built yet; false: constructable stylesheets unsupported
function styleSheet() {
  if (sheet === null) {
    try { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); } catch { sheet = false; }
  }
  return sheet || null;
}

/** Style a shadow root: adopt the shared sheet, else append a <style> copy. */
export function adoptStyles(root) {
  const s = styleSheet();
  if (s && 'adoptedStyleSheets' in root) root.adoptedStyleSheets = [s];
  else root.append(h('style', { text: CSS }));
}
