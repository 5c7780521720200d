// The verdict window: shows one job (its id is the URL's hash) from chrome.storage.session and
// follows its changes. Everything from the bundle is text (textContent via the widget's own views);
// links only http(s), thumbnails only blob: URLs of this extension (made by the engine).
import { imageVerdict } from './nft-lens/src/ui/wording.js';
import { resultCard } from './nft-lens/src/ui/result-card.js';
import { h, safeImageUrl, str } from './nft-lens/src/ui/dom.js';

const key = `job:${location.hash.slice(1)}`;
const $ = (id) => document.getElementById(id);

function hostOf(url) {
  try { const u = new URL(url); return u.protocol === 'data:' ? 'an embedded image' : u.host; } catch { return 'the page'; }
}

// Ask for one site now: must run inside the click (a user gesture), before any await.
function allowButton(entry) {
  const host = hostOf(entry.origin);
  const b = h('button', { type: 'button', text: `Allow NFT Lens to read images from ${host}` });
  b.addEventListener('click', () => {
    chrome.permissions.request({ origins: [`${entry.origin}/*`] }).then((granted) => {
      if (granted) chrome.runtime.sendMessage({ target: 'background', op: 'identify', job: key.slice(4), args: { srcUrl: entry.srcUrl, pageUrl: entry.pageUrl } });
    });
  });
  return b;
}

function render(entry) {
  if (!entry) return;
  document.body.dataset.state = entry.state;
  $('source').textContent = `Image from ${hostOf(entry.srcUrl)}`;
  $('actions').replaceChildren();
  $('cards').replaceChildren();
  $('footer').textContent = '';
  $('closest').textContent = '';
  if (entry.state === 'working') { $('verdict').textContent = 'Identifying…'; return; }
  if (entry.state === 'error') {
    $('verdict').textContent = 'Could not identify this image';
    $('actions').append(h('p', { class: 'error', text: str(entry.error).replace(/^./, (c) => c.toUpperCase()) }));
    if (entry.code === 'permission' && entry.origin) $('actions').append(allowButton(entry));
    if (entry.code === 'no_bundle') {
      const b = h('button', { type: 'button', text: 'Open NFT Lens options' });
      b.addEventListener('click', () => chrome.runtime.openOptionsPage());
      $('actions').append(b);
    }
    return;
  }
  const r = entry.result;
  const v = imageVerdict(r);
  // The widget's three sentences: "This is …", "Looks like a token of …", "No NFT we know".
  $('verdict').textContent = v.verdict === 'none' ? v.spoken.replace(/\.$/, '') : v.heading.replace(/\. Closest tokens:$/, '');
  document.body.dataset.verdict = v.verdict;
  const shown = v.verdict === 'token' ? r.results.slice(0, 1) : v.verdict === 'collection' ? r.results.slice(0, 3) : [];
  if (v.verdict === 'collection' && shown.length) $('closest').textContent = 'Closest tokens:';
  for (const [i, t] of shown.entries()) {
    $('cards').append(resultCard(t, { isTop: v.isMatch && i === 0, src: safeImageUrl(t.thumb_url) }));
  }
  $('footer').textContent = `Identified on this computer in ${Math.round(entry.ms)} ms; the image was not uploaded. Bundle: ${str(r.bundle)}`;
}

chrome.storage.session.get(key).then((got) => render(got[key]));
chrome.storage.session.onChanged.addListener((changes) => { if (changes[key]) render(changes[key].newValue); });
