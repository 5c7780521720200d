#!/usr/bin/env python3
"""plot_verdict.py OUT.svg BUNDLE_MANIFEST EVAL.json [TITLE]: the verdict's evidence as a picture.

Two panels from `nftlens eval` on a split (bench/verdict_split.sh): the confidence of copies of
indexed tokens, of left-out tokens (their copies and originals) and of unrelated images, with the
bundle's "token" operating point; and their first-result cosine, with the collection threshold.
Plain SVG (no plotting library needed)."""
import json
import sys

out, manifest, evalf = sys.argv[1], sys.argv[2], sys.argv[3]
title = sys.argv[4] if len(sys.argv) > 4 else evalf
m = json.load(open(manifest))
v = m.get("verdict", {})
e = json.load(open(evalf))
groups = {"copies of indexed tokens": [], "left-out tokens": [], "unrelated images": []}
for r in e["rows"]:
    groups["copies of indexed tokens"].append((r.get("confidence") or 0, r["top_score"]))
for r in e.get("negatives", []):
    g = "unrelated images" if r["transform"].startswith("unrelated") else "left-out tokens"
    c = r.get("confidence") if r.get("verdict") != "none" else 0
    groups[g].append((c or 0, r["top_score"]))
colours = ["#2a9d8f", "#e76f51", "#6c757d"]
W, H, PAD, BINS = 460, 220, 40, 25


def panel(x0, idx, lo, hi, line, label, line_label):
    parts = [f'<text x="{x0 + W / 2}" y="18" text-anchor="middle" font-size="13">{label}</text>']
    hists = []
    for vals in groups.values():
        h = [0] * BINS
        for t in vals:
            b = min(BINS - 1, max(0, int((t[idx] - lo) / (hi - lo) * BINS)))
            h[b] += 1
        n = max(1, len(vals))
        hists.append([c / n for c in h])
    top = max(max(h) for h in hists) or 1
    bw = (W - 2 * PAD) / BINS
    for gi, h in enumerate(hists):
        for b, f in enumerate(h):
            if f == 0:
                continue
            bh = f / top * (H - 2 * PAD)
            parts.append(f'<rect x="{x0 + PAD + b * bw + gi * bw / 3:.1f}" y="{H - PAD - bh:.1f}" width="{bw / 3:.1f}" height="{bh:.1f}" fill="{colours[gi]}"/>')
    parts.append(f'<line x1="{x0 + PAD}" y1="{H - PAD}" x2="{x0 + W - PAD}" y2="{H - PAD}" stroke="#333"/>')
    for t in range(6):
        val = lo + (hi - lo) * t / 5
        x = x0 + PAD + (W - 2 * PAD) * t / 5
        parts.append(f'<text x="{x:.1f}" y="{H - PAD + 14}" text-anchor="middle" font-size="10">{val:.1f}</text>')
    if line is not None:
        x = x0 + PAD + (W - 2 * PAD) * (line - lo) / (hi - lo)
        parts.append(f'<line x1="{x:.1f}" y1="{PAD - 8}" x2="{x:.1f}" y2="{H - PAD}" stroke="#000" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{x + 3:.1f}" y="{PAD - 10}" font-size="10">{line_label} {line:.2f}</text>')
    return parts


svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 60}" font-family="sans-serif">',
       f'<rect width="100%" height="100%" fill="white"/>']
svg += [f'<g transform="translate(0,20)">'] + panel(0, 0, 0, 1, v.get("token_confidence"), "confidence (share of each group)", "token from") + ['</g>']
ct = v.get("collection_threshold", m.get("recipe", {}).get("match_threshold"))
svg += [f'<g transform="translate(0,20)">'] + panel(W, 1, 0, 1, ct, "first-result cosine", "collection threshold") + ['</g>']
svg.append(f'<text x="{W}" y="14" text-anchor="middle" font-size="14" font-weight="bold">{title}</text>')
for gi, (name, vals) in enumerate(groups.items()):
    x = 40 + gi * 260
    svg.append(f'<rect x="{x}" y="{H + 40}" width="12" height="12" fill="{colours[gi]}"/>')
    svg.append(f'<text x="{x + 16}" y="{H + 50}" font-size="12">{name} ({len(vals)})</text>')
svg.append('</svg>')
open(out, "w").write("\n".join(svg) + "\n")
print(f"wrote {out}", file=sys.stderr)
