// The camera scan's view: the Scan button (only where the browser can open a camera), the live
// video with a Stop button and a frame counter, and the frame grabber the scanner reads. The video
// shows a MediaStream through srcObject: no URL is loaded, so the CSP needs nothing for it.
import { h } from './dom.js';
import { canScan } from './scanner.js';

const MAX_SIDE = 1024;  // frames are analysed at most this large (the model sees far less)

export class ScanView {
  #stopping = false;  // the Stop button was used: give focus back to Scan

  /** actions: {start(), stop()} (the scanner's). */
  constructor(controller, actions) {
    this.button = h('button', { type: 'button', class: 'scan-button', part: 'scan', text: 'Scan',
      'aria-label': 'Scan an NFT with the camera', hidden: !canScan() });
    this.video = h('video', { class: 'scan-video', part: 'scan-video', muted: true, autoplay: true, playsInline: true,
      'aria-label': 'Camera view: hold the NFT inside this picture' });
    this.video.setAttribute('playsinline', '');  // iOS Safari plays inline only with the attribute
    this.note = h('span', { class: 'scan-note' });
    this.stopButton = h('button', { type: 'button', class: 'scan-stop', part: 'scan-stop', text: 'Stop',
      'aria-label': 'Stop scanning and turn the camera off' });
    this.el = h('div', { class: 'scan', part: 'scan-panel', hidden: true, role: 'group', 'aria-label': 'Camera scan' },
      this.video, h('div', { class: 'scan-bar' }, this.note, this.stopButton));

    this.button.addEventListener('click', () => actions.start());
    this.stopButton.addEventListener('click', () => { this.#stopping = true; actions.stop(); });
    controller.addEventListener('scan', ({ detail }) => this.#update(detail));
  }

  #update({ state, frames = 0 }) {
    const shadow = this.el.getRootNode();
    const focusIn = (el) => shadow && shadow.activeElement === el;
    if (state === 'start') {
      const hadFocus = focusIn(this.button);
      this.el.hidden = false;
      this.button.hidden = true;
      this.note.textContent = 'Starting the camera…';
      if (hadFocus) this.stopButton.focus();  // the Scan button is gone: keep the keyboard in the panel
    } else if (state === 'live' || state === 'resume') {
      this.note.textContent = 'Scanning: hold the NFT steady inside the picture.';
    } else if (state === 'pause') {
      this.note.textContent = 'Paused while the page is hidden.';
    } else if (state === 'frame') {
      this.note.textContent = `Scanning: ${frames} frame${frames === 1 ? '' : 's'} analysed.`;
    } else if (state === 'stop') {
      const hadFocus = this.#stopping || focusIn(this.stopButton);
      this.#stopping = false;
      this.el.hidden = true;
      this.button.hidden = !canScan();
      this.note.textContent = '';
      if (hadFocus) this.button.focus();
    }
  }

  /** Show the camera's stream; resolves once it plays. */
  async attach(stream) {
    const v = this.video;
    v.srcObject = stream;
    // (a camera that never sends a picture is noticed by the scanner's grabs, so don't wait forever)
    if (v.readyState < 2) await new Promise((resolve) => { v.addEventListener('loadeddata', resolve, { once: true }); setTimeout(resolve, 5000); });
    await v.play();
  }

  detach() {
    this.video.pause();
    this.video.srcObject = null;
  }

  /** The current frame on a canvas (scaled down to MAX_SIDE), or null while there is no picture. */
  grab() {
    const v = this.video;
    const w = v.videoWidth, hgt = v.videoHeight;
    if (v.readyState < 2 || !w || !hgt) return null;
    const s = Math.min(1, MAX_SIDE / Math.max(w, hgt));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(w * s); canvas.height = Math.round(hgt * s);
    canvas.getContext('2d').drawImage(v, 0, 0, canvas.width, canvas.height);
    return canvas;
  }
}
