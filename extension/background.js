// Background (a service worker in Chromium): the context-menu entry, and one job per click. The
// engine runs in an offscreen document (a service worker has no DOM and cannot start the engine's
// worker); the verdict is shown by verdict.html in a small window, from chrome.storage.session.
const MENU = 'nftlens-identify';

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: MENU, title: 'Identify with NFT Lens', contexts: ['image'] });
});

// Only one offscreen document may exist: concurrent callers share its creation.
let creating = null;
async function ensureEngine() {
  const have = await chrome.runtime.getContexts({ contextTypes: ['OFFSCREEN_DOCUMENT'] });
  if (have.length) return;
  creating = creating || chrome.offscreen.createDocument({
    url: 'offscreen.html', reasons: ['WORKERS'],
    justification: 'Runs the NFT Lens engine (WebAssembly + onnxruntime-web in a worker) to identify images locally.',
  }).finally(() => { creating = null; });
  await creating;
}

async function engine(op, args) {
  let reply;
  if (chrome.offscreen) {
    await ensureEngine();
    reply = await chrome.runtime.sendMessage({ target: 'offscreen', op, args });
  } else {
    // Browsers without chrome.offscreen (Firefox) run background scripts in a page: use it directly.
    const mod = await import('./engine.js');
    reply = await mod[op](args).then((result) => ({ ok: true, result }), (err) => ({ ok: false, error: String(err.message || err), code: err.code, origin: err.origin }));
  }
  if (!reply) throw new Error('the NFT Lens engine did not answer');
  if (!reply.ok) throw Object.assign(new Error(reply.error), { code: reply.code, origin: reply.origin });
  return reply.result;
}

/**
 * The context menu's handler: identify the image at srcUrl and show the verdict. Also what the
 * verdict window's "try again" calls (with its job id). Resolves with the job's final state.
 */
async function identify({ srcUrl, pageUrl = '' }, { job = null, show = true } = {}) {
  const id = job || crypto.randomUUID();
  const key = `job:${id}`;
  const started = Date.now();
  await chrome.storage.session.set({ [key]: { state: 'working', srcUrl, pageUrl, started } });
  if (show && !job) await chrome.windows.create({ url: `verdict.html#${id}`, type: 'popup', width: 440, height: 600 });
  let entry;
  try {
    const { bundles } = await chrome.storage.local.get({ bundles: [] });
    const result = await engine('identify', { srcUrl, bundles: bundles.map((b) => b.url) });
    entry = { state: 'done', srcUrl, pageUrl, started, result, ms: Date.now() - started };
  } catch (err) {
    entry = { state: 'error', srcUrl, pageUrl, started, error: err.message, code: err.code || 'error', origin: err.origin || null };
    if (err.code === 'unreadable') {
      // Unreadable and not granted: the host sends no CORS headers; the window offers to allow it.
      const granted = err.origin && await chrome.permissions.contains({ origins: [`${err.origin}/*`] });
      if (err.origin && !granted) Object.assign(entry, { code: 'permission', error: `${new URL(err.origin).host} does not let extensions read its images unless you allow it` });
      else entry.code = 'network';
    }
  }
  await chrome.storage.session.set({ [key]: entry });
  await forgetOldJobs();
  return { job: id, ...entry };
}

// Session storage is small (10 MB): keep the last 20 verdicts (their windows may still be open).
async function forgetOldJobs() {
  const all = await chrome.storage.session.get(null);
  const jobs = Object.entries(all).filter(([k]) => k.startsWith('job:')).sort((a, b) => b[1].started - a[1].started);
  if (jobs.length > 20) await chrome.storage.session.remove(jobs.slice(20).map(([k]) => k));
}

chrome.contextMenus.onClicked.addListener((info) => {
  if (info.menuItemId === MENU) identify({ srcUrl: info.srcUrl, pageUrl: info.pageUrl });
});

// Requests from our own pages: the options page (prepare/forget a bundle) and the verdict window.
chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  if (!msg || msg.target !== 'background' || sender.id !== chrome.runtime.id) return false;
  const run = msg.op === 'identify' ? identify(msg.args, { job: msg.job })
    : ['prepare', 'forget'].includes(msg.op) ? engine(msg.op, msg.args) : null;
  if (!run) return false;
  run.then((result) => reply({ ok: true, result }), (err) => reply({ ok: false, error: err.message, code: err.code }));
  return true;
});

// For the tests, which cannot click a native context menu: the same handler.
self.nftLens = { identify, onMenuClick: (info) => identify({ srcUrl: info.srcUrl, pageUrl: info.pageUrl }) };
