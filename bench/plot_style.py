#!/usr/bin/env python3
"""plot_style.py OUT.svg NAME=BUNDLE_DIR:EVAL.json ...: the verdict's collection test as a picture.

One panel per split (bench/verdict_split.sh): histograms of the style test's outside score
(shared/style_model.h; `nftlens eval` writes it per query as "style_outside") of copies of indexed
tokens, of left-out tokens (copies, captures, originals), of images of the other collection and of a
third collection, with the bundle's threshold (at or below it: "looks like this collection").
Plain SVG (no plotting library needed). Needs build/native/bin/nftlens for the threshold."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NFT = os.environ.get("NFTLENS", os.path.join(ROOT, "build/native/bin/nftlens"))
out, specs = sys.argv[1], sys.argv[2:]
GROUPS = ["copies of indexed tokens", "left-out tokens", "another collection", "a third collection"]
COLOURS = ["#2a9d8f", "#e76f51", "#6c757d", "#8e7dbe"]
W, H, PAD, BINS, LO, HI = 420, 230, 40, 30, -4.0, 8.0


def group(kind):
    if kind.startswith("unrelated-third"):
        return 3
    if kind.startswith("unrelated"):
        return 2
    return 1 if kind.startswith("out-") else 0


def panel(x0, name, bundle, evalf):
    info = json.loads(subprocess.run([NFT, "info", bundle, "--json"], capture_output=True, text=True, check=True).stdout)
    model = next(iter(info["style"].values()))
    e = json.load(open(evalf))
    vals = [[] for _ in GROUPS]
    for r in e["rows"] + e.get("negatives", []):
        if "style_outside" in r:
            vals[group(r["transform"])].append(min(HI - 1e-6, max(LO, r["style_outside"])))
    parts = [f'<text x="{x0 + W / 2}" y="18" text-anchor="middle" font-size="13">{name}</text>']
    def sx(v): return x0 + PAD + (v - LO) / (HI - LO) * (W - 2 * PAD)
    top = 1
    hists = []
    for v in vals:
        h = [0] * BINS
        for x in v:
            h[min(BINS - 1, int((x - LO) / (HI - LO) * BINS))] += 1
        f = [c / max(1, len(v)) for c in h]
        hists.append(f)
        top = max(top, max(f) if f else 0)
    for g, f in enumerate(hists):
        pts = " ".join(f"{sx(LO + (i + 0.5) * (HI - LO) / BINS):.1f},{H - PAD - fr / top * (H - 2 * PAD - 10):.1f}" for i, fr in enumerate(f))
        parts.append(f'<polyline fill="none" stroke="{COLOURS[g]}" stroke-width="2" points="{pts}"/>')
    t = model["threshold"]
    parts.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="26" y2="{H - PAD}" stroke="black" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{sx(t) + 4:.1f}" y="36" font-size="11">threshold {t:.2f}</text>')
    parts.append(f'<line x1="{x0 + PAD}" x2="{x0 + W - PAD}" y1="{H - PAD}" y2="{H - PAD}" stroke="#333"/>')
    for v in range(int(LO), int(HI) + 1, 2):
        parts.append(f'<text x="{sx(v):.1f}" y="{H - PAD + 14}" font-size="10" text-anchor="middle">{v}</text>')
    parts.append(f'<text x="{x0 + W / 2}" y="{H - 8}" text-anchor="middle" font-size="11">outside score (left of the line: looks like the collection)</text>')
    return parts


body = []
for i, spec in enumerate(specs):
    name, rest = spec.split("=", 1)
    bundle, evalf = rest.rsplit(":", 1)
    body += panel(i * W, name, bundle, evalf)
legend = [f'<rect x="{20 + 200 * g}" y="{H + 6}" width="12" height="12" fill="{c}"/><text x="{36 + 200 * g}" y="{H + 16}" font-size="12">{GROUPS[g]}</text>'
          for g, c in enumerate(COLOURS)]
svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W * len(specs)}" height="{H + 28}" font-family="sans-serif">'
       f'<rect width="100%" height="100%" fill="white"/>' + "".join(body + legend) + "</svg>\n")
open(out, "w").write(svg)
print(out)
