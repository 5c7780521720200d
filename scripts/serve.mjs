#!/usr/bin/env node
// Static file server for the demo and the browser tests (no dependencies):
//   /            -> web/            (demo at /demo/, module at /src/, wasm + runtime at /dist/)
//   /bundle/     -> the bundle folder
//   /example/    -> the example collection (its images, for searches by URL; --example DIR)
// Options: --bundle DIR (default build/example/bundle)  --port N (0 = any)  --host H (127.0.0.1)
//          --no-range (ignore Range headers, as python3 -m http.server does)
//          --isolated  (COOP/COEP headers: enables multi-threaded inference)
//          --csp       (strict Content-Security-Policy, as documented in docs/security.md)
//          --cors      (Access-Control-Allow-Origin: *, as public bundle and image hosts often send)
//          --log       (print "request METHOD PATH BODY-BYTES" per request: tests check what was sent)
// Prints "serving http://HOST:PORT/" once listening.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const flag = (name) => args.includes(name);
const mounts = [
  ['/bundle/', path.resolve(opt('--bundle', path.join(root, 'build/example/bundle')))],
  ['/example/', path.resolve(opt('--example', path.join(root, 'build/example/nouns')))],  // source images (URL searches)
  ['/', path.join(root, 'web')],
];
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.jpg': 'image/jpeg', '.svg': 'image/svg+xml',
  '.webmanifest': 'application/manifest+json', '.onnx': 'application/octet-stream', '.bin': 'application/octet-stream' };
export const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' https: data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'";

const server = http.createServer((req, res) => {
  if (flag('--log')) {
    let n = 0;
    req.on('data', (d) => { n += d.length; });
    req.on('end', () => console.log(`request ${req.method} ${req.url} ${n}`));
  }
  const url = new URL(req.url, 'http://x');
  let pathname;
  try { pathname = decodeURIComponent(url.pathname); } catch { res.writeHead(400).end(); return; }
  if (pathname === '/nft-lens-sw.js') pathname = '/src/sw.js';  // the offline worker, served at the root
  if (flag('--cors')) res.setHeader('access-control-allow-origin', '*');  // (on errors too, as CORS hosts do)
  const [prefix, dir] = mounts.find(([p]) => pathname.startsWith(p));
  let file = path.join(dir, pathname.slice(prefix.length));
  if (!file.startsWith(dir)) { res.writeHead(403).end(); return; }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
  if (!fs.existsSync(file)) { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found'); return; }
  const headers = { 'content-type': types[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-cache' };
  if (/\.[0-9a-f]{16}\.(bin|onnx)$/.test(file)) headers['cache-control'] = 'public, max-age=31536000, immutable';
  if (flag('--isolated')) Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
  if (flag('--csp')) headers['content-security-policy'] = CSP;
  // One byte range (thumbnail packs are read by range) unless --no-range, which answers every
  // request whole like `python3 -m http.server` does (the worker then falls back to whole packs).
  const size = fs.statSync(file).size;
  const m = !flag('--no-range') && /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
  headers['accept-ranges'] = flag('--no-range') ? 'none' : 'bytes';
  if (m) {
    const start = Number(m[1]), end = Math.min(size - 1, m[2] === '' ? size - 1 : Number(m[2]));
    if (start > end) { res.writeHead(416, { 'content-range': `bytes */${size}` }).end(); return; }
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
    fs.createReadStream(file, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': size });
  fs.createReadStream(file).pipe(res);
});
server.listen(Number(opt('--port', '8080')), opt('--host', '127.0.0.1'), () => {
  const { address, port } = server.address();
  console.log(`serving http://${address}:${port}/`);
  console.log(`demo:    http://${address}:${port}/demo/   compare: http://${address}:${port}/demo/compare.html`);
});
