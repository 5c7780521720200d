// Getting an image in: the drop zone (click, Enter/Space, or drag and drop anywhere on the element),
// pasting (while the element is hovered or focused), the file picker, the camera button and the
// image-URL field; plus the preview of the query image. Each hands its image to the controller.
import { h, safeHttpUrl, touchFirst, TOUCH_QUERY } from './dom.js';

function isEditable(node) {
  if (!node || node.nodeType !== 1) return false;
  if (node.isContentEditable) return true;
  const tag = node.tagName;
  return tag === 'TEXTAREA' || tag === 'SELECT' || (tag === 'INPUT' && !/^(button|checkbox|radio|file|submit|reset|image|range|color)$/i.test(node.type));
}

function hasDropData(e) {
  const types = e.dataTransfer ? [...e.dataTransfer.types] : [];
  return types.includes('Files') || types.includes('text/uri-list') || types.includes('text/plain');
}

/** The first http(s) URL of a text/uri-list or plain text ('' if none). */
function firstUrl(text) {
  if (!text) return '';
  for (const line of String(text).split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    return safeHttpUrl(t);
  }
  return '';
}

export class ImageInput {
  #controller; #host; #searchInput;
  #hover = false;
  #previewUrl = '';  // object URL of the preview, revoked when replaced
  #onPaste = (e) => this.#handlePaste(e);

  /** host: the <nft-lens> element (drops and pastes land on it); searchInput: text dropped on
   *  the search box stays text there. */
  constructor(controller, { host, searchInput }) {
    this.#controller = controller;
    this.#host = host;
    this.#searchInput = searchInput;
    const file = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', tabIndex: -1, part: 'file-input', 'aria-hidden': 'true' });
    const camera = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', tabIndex: -1, 'aria-hidden': 'true' });
    camera.setAttribute('capture', 'environment');
    this.fileInputs = [file, camera];
    const preview = this.preview = h('img', { class: 'preview', part: 'preview', alt: 'Your image', hidden: true, decoding: 'async', referrerPolicy: 'no-referrer' });
    preview.addEventListener('error', () => { preview.hidden = true; });
    const dropTitle = h('strong');
    const hint = h('span', { class: 'hint' });
    const pill = h('span', { class: 'pill', 'aria-hidden': 'true' });
    const drop = this.drop = h('div', { class: 'drop', part: 'dropzone', role: 'button', tabIndex: 0 },
      preview, h('div', { class: 'drop-text' }, dropTitle, hint, pill));
    // Touch users cannot drop a file or press Ctrl/⌘+V: tell them what they can do.
    const words = () => {
      const touch = touchFirst();
      dropTitle.textContent = touch ? 'Choose or take a photo of an NFT' : 'Drop an NFT image here';
      hint.textContent = touch ? 'a screenshot, a saved image or a photo of a screen' : 'or paste it (Ctrl/⌘+V), or';
      pill.textContent = touch ? 'Choose photo' : 'Choose image';
      drop.setAttribute('aria-label', touch ? 'Choose or take a photo of an NFT to identify.'
        : 'Choose an image to identify. You can also drop or paste an image here.');
    };
    words();
    if (typeof matchMedia === 'function') matchMedia(TOUCH_QUERY).addEventListener?.('change', words);
    this.cameraButton = h('button', { type: 'button', class: 'camera', part: 'camera', text: 'Take photo' });
    const url = this.url = h('input', { type: 'url', placeholder: 'or an image URL (https://…)', autocomplete: 'off', spellcheck: false,
      'aria-label': 'Image URL', inputMode: 'url' });
    this.urlForm = h('form', { class: 'url', part: 'url', role: 'search', 'aria-label': 'Identify an image by URL' },
      url, h('button', { type: 'submit', text: 'Identify' }));

    // picking
    const pick = () => file.click();
    drop.addEventListener('click', pick);
    drop.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ' || e.key === 'Spacebar') { e.preventDefault(); pick(); }
    });
    this.cameraButton.addEventListener('click', () => camera.click());
    for (const input of this.fileInputs) {
      input.addEventListener('change', () => {
        const f = input.files && input.files[0];
        input.value = '';  // choosing the same file again still fires change
        if (f) this.#search(f);
      });
    }
    this.urlForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#search(url.value.trim());
    });

    // drag & drop anywhere on the element (text dropped on the search box is just text)
    let depth = 0;
    const over = (on) => { drop.classList.toggle('over', on); if (on) dropTitle.textContent = 'Drop to identify'; else words(); };
    const intoSearchBox = (e) => e.composedPath()[0] === searchInput && !(e.dataTransfer && [...e.dataTransfer.types].includes('Files'));
    host.addEventListener('dragenter', (e) => { if (hasDropData(e) && !intoSearchBox(e)) { e.preventDefault(); depth++; over(true); } });
    host.addEventListener('dragover', (e) => { if (hasDropData(e) && !intoSearchBox(e)) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; } });
    host.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) over(false); });
    host.addEventListener('drop', (e) => {
      depth = 0; over(false);
      const dt = e.dataTransfer;
      if (!dt || intoSearchBox(e)) return;
      e.preventDefault();
      const f = [...(dt.files || [])].find((x) => !x.type || /^image\//i.test(x.type)) || (dt.files && dt.files[0]);
      if (f) { this.#search(f); return; }
      const link = firstUrl(dt.getData('text/uri-list')) || firstUrl(dt.getData('text/plain'));
      if (link) { url.value = link; this.#search(link); return; }
      controller.fail('nothing to identify in what was dropped: drop an image file');
    });

    // paste target is active while hovered or focused
    host.addEventListener('pointerenter', () => { this.#hover = true; });
    host.addEventListener('pointerleave', () => { this.#hover = false; });

    // The drop zone shows progress while a bundle loads or a search runs.
    const busy = (on) => drop.classList.toggle('busy', on);
    controller.addEventListener('image', ({ detail: { input } }) => this.setPreview(input));
    // A refused file (not an image, too large) never became the query: don't leave the old one shown.
    controller.addEventListener('searchfailed', ({ detail: { refused } }) => { if (refused) this.setPreview(null); });
    controller.addEventListener('load', () => busy(true));
    controller.addEventListener('ready', ({ detail: { searching } }) => { if (!searching) busy(false); });
    controller.addEventListener('loaderror', () => busy(false));
    controller.addEventListener('search', () => busy(true));
    controller.addEventListener('done', () => busy(false));
  }

  /** Listen for pastes on the document (while connected): a page-level Ctrl+V reaches us too. */
  connect() { document.addEventListener('paste', this.#onPaste); }
  disconnect() { document.removeEventListener('paste', this.#onPaste); }

  #search(input) {
    this.#controller.searchImage(input).catch(() => { /* shown in the alert and the nftlens-error event */ });
  }

  #handlePaste(e) {
    const host = this.#host;
    const path = e.composedPath ? e.composedPath() : [];
    const inside = path.includes(host);
    if (!inside && !this.#hover && !host.matches(':focus-within')) return;
    const target = path[0];
    const cd = e.clipboardData;
    if (!cd) return;
    const file = [...(cd.files || [])].find((f) => /^image\//i.test(f.type))
      || [...(cd.items || [])].filter((it) => it.kind === 'file' && /^image\//i.test(it.type)).map((it) => it.getAsFile()).find(Boolean);
    if (file) {
      e.preventDefault();
      this.#search(file);
      return;
    }
    // Text: typing into a field (ours or the page's) behaves normally.
    if (isEditable(target)) return;
    const url = firstUrl(cd.getData('text/plain'));
    if (url && (inside || this.#hover || host.matches(':focus-within'))) {
      e.preventDefault();
      this.url.value = url;
      this.#search(url);
    }
  }

  /** Show the query image (null hides it and frees its object URL). */
  setPreview(input) {
    const { preview } = this;
    if (this.#previewUrl) { URL.revokeObjectURL(this.#previewUrl); this.#previewUrl = ''; }
    let src = '';
    if (typeof Blob !== 'undefined' && input instanceof Blob) {
      src = this.#previewUrl = URL.createObjectURL(input);
    } else if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
      src = this.#previewUrl = URL.createObjectURL(new Blob([input]));
    } else if (typeof input === 'string') {
      try {
        const u = new URL(input, document.baseURI);
        if (u.protocol === 'https:' || u.protocol === 'http:') src = u.href;
      } catch { /* no preview */ }
    }
    if (src) { preview.src = src; preview.hidden = false; } else { preview.removeAttribute('src'); preview.hidden = true; }
  }
}
