// Shared helpers for the Chromium tests: launch Debian's chromium headless via playwright-core,
// start scripts/serve.mjs on a free port.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

// A copy of the bundle folder `dir` under build/ (a new folder named `prefix`...) with one bit
// (`bit`) flipped in the middle byte of every file `damage(name)` picks: a damaged bundle to serve.
export function damagedCopy(dir, prefix, damage, bit) {
  const dmg = fs.mkdtempSync(path.join(root, 'build', prefix));
  for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(dmg, f));
  for (const f of fs.readdirSync(dmg).filter(damage)) {
    const b = fs.readFileSync(path.join(dmg, f)); b[b.length >> 1] ^= bit; fs.writeFileSync(path.join(dmg, f), b);
  }
  return dmg;
}

export async function serve(extraArgs = []) {
  const child = spawn(process.execPath, [path.join(root, 'scripts/serve.mjs'), '--port', '0', ...extraArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];  // everything it prints (with --log: one line per request)
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const parts = buf.split('\n'); buf = parts.pop(); lines.push(...parts);
      const m = lines.join('\n').match(/serving (http:\S+)/); if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { url, lines, close: () => child.kill() };
}
