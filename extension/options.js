// Options: the list of bundle URLs (chrome.storage.local). A URL is added only after its
// manifest.json loads and looks like a bundle; the engine then opens it and fetches its model, so
// every file is checked by the core and cached (Cache API, this extension's origin) for offline use.
import { h, str } from './nft-lens/src/ui/dom.js';

const $ = (id) => document.getElementById(id);
const say = (text, cls = '') => { $('status').textContent = text; $('status').className = cls; };

const getBundles = async () => (await chrome.storage.local.get({ bundles: [] })).bundles;

function folderUrl(text) {
  const u = new URL(text.trim());
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('a bundle URL starts with https:// (or http://)');
  u.hash = ''; u.search = '';
  u.pathname = u.pathname.replace(/manifest\.json$/, '');
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.href;
}

// The manifest, fetched and sanity-checked here (the core checks every file when the engine opens it).
async function loadManifest(url) {
  const res = await fetch(new URL('manifest.json', url), { cache: 'no-cache', credentials: 'omit' });
  if (!res.ok) throw new Error(`manifest.json: HTTP ${res.status}`);
  const m = await res.json().catch(() => { throw new Error('manifest.json is not JSON'); });
  const ok = m && Array.isArray(m.files) && m.files.length && m.files.every((f) => f && typeof f.name === 'string' && /^[0-9a-f]{64}$/.test(f.sha256))
    && m.files.some((f) => f.role === 'model');
  if (!ok) throw new Error('manifest.json is not an NFT Lens bundle manifest');
  return m;
}

const send = (op, args) => chrome.runtime.sendMessage({ target: 'background', op, args }).then((r) => {
  if (!r || !r.ok) throw new Error(r ? r.error : 'no answer');
  return r.result;
});

async function add(url) {
  say(`Checking ${url} …`);
  $('actions').replaceChildren();
  let manifest;
  try {
    manifest = await loadManifest(url);
  } catch (err) {
    const origin = new URL(url).origin;
    if (err instanceof TypeError && !(await chrome.permissions.contains({ origins: [`${origin}/*`] }))) {
      // No CORS headers on that server: the extension may read it only with the user's leave.
      say(`${new URL(url).host} does not let extensions read the bundle unless you allow it.`, 'error');
      const b = h('button', { type: 'button', text: `Allow NFT Lens to read ${new URL(url).host}` });
      b.addEventListener('click', () => {  // (the request must come straight from the click)
        chrome.permissions.request({ origins: [`${origin}/*`] }).then((granted) => { if (granted) add(url); });
      });
      $('actions').append(b);
      return;
    }
    say(`Not added: ${err.message}`, 'error');
    return;
  }
  say(`Loading and caching the bundle (${manifest.files.length} files) …`);
  try {
    const info = await send('prepare', { bundleUrl: url });
    const bundles = (await getBundles()).filter((b) => b.url !== url);
    bundles.push({ url, tokens: info.tokens, collections: info.collections.map((c) => str(c.name) || str(c.slug)), added: Date.now() });
    await chrome.storage.local.set({ bundles });
    say(`Added: ${info.tokens} tokens, cached for offline use.`, 'ok');
  } catch (err) {
    say(`Not added: ${err.message}`, 'error');
  }
  show();
}

async function show() {
  const list = await getBundles();
  $('bundles').replaceChildren(...list.map((b) => {
    const remove = h('button', { type: 'button', text: 'Remove' });
    remove.addEventListener('click', async () => {
      await chrome.storage.local.set({ bundles: (await getBundles()).filter((x) => x.url !== b.url) });
      send('forget', { bundleUrl: b.url }).catch(() => {});
      show();
    });
    return h('li', { class: 'bundle' }, h('span', { class: 'url', text: b.url }),
      h('span', { class: 'meta', text: `${b.tokens} tokens: ${b.collections.join(', ')}` }), remove);
  }));
  if (!list.length) $('bundles').append(h('li', { class: 'meta', text: 'No bundle yet: right-clicked images cannot be identified until you add one.' }));
}

$('add').addEventListener('submit', (e) => {
  e.preventDefault();
  let url;
  try { url = folderUrl($('url').value); } catch (err) { say(`Not a bundle URL: ${err.message}`, 'error'); return; }
  add(url);
});
show();
