// The offscreen document (Chromium): a DOM for NftLens and its worker, which a service worker
// lacks. It answers the background's messages addressed to it and nothing else.
import * as engine from './engine.js';

const ops = { identify: engine.identify, prepare: engine.prepare, forget: engine.forget };

chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  if (!msg || msg.target !== 'offscreen' || sender.id !== chrome.runtime.id || !ops[msg.op]) return false;
  ops[msg.op](msg.args).then((result) => reply({ ok: true, result }),
    (err) => reply({ ok: false, error: String(err && err.message || err), code: err && err.code, origin: err && err.origin }));
  return true;  // (the reply is asynchronous)
});
