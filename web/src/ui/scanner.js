// Camera scan (issue #20): the state of a live scan, DOM-free apart from the document's visibility.
// It opens the camera, hands each grabbed frame to the controller's own image search (the same
// NftLens call and the same queue as a dropped file, so never two searches at once), and ends at
// the first sure answer or, after `timeout` seconds of scanning, with the best guess so far.
// Its state goes out as controller `scan` events {state, ...}:
//   start                 the camera is being opened
//   live                  the camera shows a picture; frames are being analysed
//   pause / resume        the page was hidden / is visible again (no frames are analysed meanwhile)
//   frame {frames}        one more frame analysed (for the view's counter; not announced)
//   stop {reason, frames, ms}   the camera is off; reason: 'verdict' | 'timeout' | 'stopped' (the
//                         user) | 'interrupted' (another search or bundle) | 'error' | 'nopicture'
import { messageOf } from './controller.js';
import { explainCameraError } from './wording.js';

export const DEFAULT_SCAN_TIMEOUT = 20;  // seconds
const INTERVAL_MS = 400;                 // at most one analysis started per interval
const NO_PICTURE_MS = 10000;             // a camera that shows nothing this long is given up

/** Whether this browser can open a camera (and the page is a secure context). */
export function canScan() {
  return typeof navigator !== 'undefined' && !!(navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === 'function');
}

/** The frame that should represent a scan: higher confidence wins, then the higher top score. */
function better(result, best) {
  if (!best) return true;
  const conf = (r) => (Number.isFinite(Number(r.confidence)) && r.confidence !== null ? Number(r.confidence) : -1);
  const top = (r) => Number(r.results && r.results[0] && r.results[0].score) || 0;
  return conf(result) > conf(best) || (conf(result) === conf(best) && top(result) > top(best));
}

export class Scanner {
  #c; #source; #timeout; #doc;
  #run = 0;              // bumps per scan, so callbacks of an ended one do nothing
  #state = 'idle';       // idle | starting | scanning | paused
  #stream = null;
  #t0 = 0;               // when start() was called
  #frames = 0;
  #best = null;          // {result, canvas} of the most confident frame so far
  #busy = false;         // a frame is being analysed
  #next = 0;             // timer of the next grab
  #clock = { used: 0, since: 0, timer: 0 };  // scanning time counted against the timeout
  #noPicture = 0;        // when grabs started finding no picture
  #onVisibility = () => this.#visibility();

  /**
   * source: the view's {attach(stream): Promise, detach(), grab(): canvas | null};
   * timeout(): seconds of scanning before the best guess is shown.
   */
  constructor(controller, { source, timeout = () => DEFAULT_SCAN_TIMEOUT, doc = typeof document !== 'undefined' ? document : null }) {
    this.#c = controller; this.#source = source; this.#timeout = timeout; this.#doc = doc;
    // Another image search or a new bundle takes the screen: the scan gives way.
    controller.addEventListener('image', () => this.stop('interrupted'));
    controller.addEventListener('load', () => this.stop('interrupted'));
  }

  get active() { return this.#state !== 'idle'; }
  get state() { return this.#state; }

  #emit(state, extra = {}) { this.#c.dispatchEvent(new CustomEvent('scan', { detail: { state, ...extra } })); }

  /** Open the camera and scan until a sure answer, the timeout, or stop(). */
  async start() {
    if (this.active) return;
    const run = ++this.#run;
    this.#state = 'starting';
    this.#t0 = performance.now();
    this.#frames = 0; this.#best = null; this.#busy = false; this.#noPicture = 0;
    this.#clock = { used: 0, since: 0, timer: 0 };
    this.#emit('start');
    let stream;
    try {
      if (!canScan()) throw Object.assign(new Error('getUserMedia is not available'), { name: 'NotSupportedError' });
      // The back camera on phones (the one that points at a screen); any camera elsewhere.
      stream = await navigator.mediaDevices.getUserMedia({ audio: false,
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } } });
    } catch (err) {
      if (run !== this.#run) return;
      this.#end('error');
      const { message, detail } = explainCameraError(err);
      this.#c.fail(message, detail);
      return;
    }
    if (run !== this.#run) { stream.getTracks().forEach((t) => t.stop()); return; }  // stopped while asking
    this.#stream = stream;
    try {
      await this.#source.attach(stream);
    } catch (err) {
      if (run !== this.#run) return;
      this.#end('error');
      this.#c.fail('The camera opened but its picture could not be shown.', messageOf(err));
      return;
    }
    if (run !== this.#run) return;
    this.#state = 'scanning';
    this.#emit('live');
    this.#doc?.addEventListener('visibilitychange', this.#onVisibility);
    if (this.#doc?.hidden) this.#visibility(); else this.#tick(run);
  }

  /** Stop scanning and turn the camera off (no answer is shown). */
  stop(reason = 'stopped') {
    if (!this.active) return;
    this.#end(reason);
  }

  /** Release everything; announce the stop. */
  #end(reason) {
    this.#run++;
    clearTimeout(this.#next);
    this.#pauseClock();
    this.#doc?.removeEventListener('visibilitychange', this.#onVisibility);
    if (this.#stream) { for (const t of this.#stream.getTracks()) t.stop(); }  // the camera light goes off
    this.#stream = null;
    this.#source.detach();
    this.#state = 'idle';
    this.#busy = false;
    this.#emit('stop', { reason, frames: this.#frames, ms: Math.round(performance.now() - this.#t0) });
  }

  // Scanning time runs only while visible and only from the first answer on, so a first-time
  // download of the image model does not use up the timeout.
  #startClock() {
    if (this.#clock.since || this.#state !== 'scanning') return;
    this.#clock.since = performance.now();
    const left = Math.max(0, this.#timeout() * 1000 - this.#clock.used);
    const run = this.#run;
    this.#clock.timer = setTimeout(() => { if (run === this.#run && !this.#busy) this.#finish(null); }, left);
  }
  #pauseClock() {
    clearTimeout(this.#clock.timer);
    if (this.#clock.since) this.#clock.used += performance.now() - this.#clock.since;
    this.#clock.since = 0;
  }
  #timeUp() {
    const used = this.#clock.used + (this.#clock.since ? performance.now() - this.#clock.since : 0);
    return this.#frames > 0 && used >= this.#timeout() * 1000;
  }

  #visibility() {
    if (this.#state === 'scanning' && this.#doc.hidden) {
      this.#state = 'paused';
      clearTimeout(this.#next);
      this.#pauseClock();
      this.#emit('pause');
    } else if (this.#state === 'paused' && !this.#doc.hidden) {
      this.#state = 'scanning';
      this.#emit('resume');
      if (this.#frames) this.#startClock();
      this.#tick(this.#run);
    }
  }

  #schedule(run, ms) {
    clearTimeout(this.#next);
    this.#next = setTimeout(() => this.#tick(run), ms);
  }

  /** Analyse the current frame, unless one is being analysed (then its answer schedules the next). */
  async #tick(run) {
    if (run !== this.#run || this.#state !== 'scanning' || this.#busy) return;
    if (this.#timeUp()) { this.#finish(null); return; }
    const canvas = this.#source.grab();
    if (!canvas) {
      // No picture yet (the camera is warming up); a camera that never shows one is given up.
      const now = performance.now();
      if (!this.#noPicture) this.#noPicture = now;
      if (now - this.#noPicture > NO_PICTURE_MS) { this.#finish(null); return; }
      this.#schedule(run, 100);
      return;
    }
    this.#noPicture = 0;
    this.#busy = true;
    const started = performance.now();
    let result;
    try {
      // (a bitmap of the canvas goes to the worker; the canvas stays, should this frame be the answer)
      result = await this.#c.scanFrame(await createImageBitmap(canvas));
    } catch (err) {
      if (run !== this.#run) return;
      this.#end('error');
      this.#c.reportSearchError(err);
      return;
    }
    this.#busy = false;
    if (run !== this.#run || !result) return;
    this.#frames++;
    this.#emit('frame', { frames: this.#frames });
    if (better(result, this.#best && this.#best.result)) this.#best = { result, canvas };
    const sure = result.verdict === 'token' && !result.close_call && Array.isArray(result.results) && result.results.length > 0;
    if (sure) { this.#finish({ result, canvas }); return; }
    if (this.#state !== 'scanning') return;  // paused while this frame was analysed
    this.#startClock();
    if (this.#timeUp()) { this.#finish(null); return; }
    this.#schedule(run, Math.max(0, INTERVAL_MS - (performance.now() - started)));
  }

  /** End the scan with an answer: the sure frame, else (time is up) the best guess. */
  #finish(sure) {
    const pick = sure || this.#best;
    const frames = this.#frames;
    const ms = Math.round(performance.now() - this.#t0);
    this.#end(sure ? 'verdict' : pick ? 'timeout' : 'nopicture');
    if (!pick) {
      this.#c.fail('The camera showed no picture to analyse. Check that no other app is using it, or choose a photo instead.');
      return;
    }
    const result = pick.result;
    result.scan = { frames, ms, bestGuess: !sure, timeout: this.#timeout() };
    // The frame becomes the query, as a file would: it is previewed and re-run by the refine panel.
    this.#c.showScanResult(new Promise((resolve) => pick.canvas.toBlob(resolve, 'image/png')), result);
  }
}
