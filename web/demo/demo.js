// Demo page glue (no inline scripts: the page runs under a strict CSP).
// The <nft-lens> element does the work; this only adds a "try an example" button and a footer line.
const el = document.getElementById('lens');
const example = document.getElementById('example');
const about = document.getElementById('about');

el.addEventListener('nftlens-ready', (e) => {
  const info = e.detail;
  const model = info.model && info.model.name ? info.model.name : 'unknown model';
  about.textContent = `Bundle: ${info.tokens} tokens · model ${model} · ${info.threads} thread${info.threads === 1 ? '' : 's'}.`;
  example.disabled = !(info.tokens > 0);
});

el.addEventListener('nftlens-error', (e) => {
  if (!el.lens) about.textContent = 'The bundle could not be loaded.';
  console.warn('nft-lens:', e.detail.message);
});

// Search with one of the bundle's own thumbnails (a same-origin URL), to show the widget at work.
example.addEventListener('click', async () => {
  const lens = el.lens;
  if (!lens) return;
  example.disabled = true;
  try {
    const index = Math.floor(Math.random() * lens.info().tokens);
    const token = await lens.token(index);
    const input = token.thumb_blob || lens.imageUrl(token);  // (its checked thumbnail, or its image URL)
    if (input) await el.search(input);
  } catch {
    // the element shows the error
  } finally {
    example.disabled = false;
  }
});

// Offline: after this first visit the demo works without a network (web/src/sw.js, served at the
// site root by scripts/serve.mjs as /nft-lens-sw.js).
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/nft-lens-sw.js').catch(() => {});
