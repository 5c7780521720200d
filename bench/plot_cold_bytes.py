#!/usr/bin/env python3
"""plot_cold_bytes.py OUT.svg LABEL=FILE[@+KB] ...: what a cold image query downloads, as stacked bars.

Each FILE is the output of bench/partition_browser_bench.mjs (Chromium, bytes on the wire: its
"bundle head" and the "mean" row's parts and thumbnails) or of bench/partition_bench (index level:
its "+rerank mean KB" line, first probe). Bars: the page's head (manifest, recipe, partition
table, style model: loaded once at open), shards + catalogue fragments, thumbnails; a line at
1.0 MB (10^6 bytes). "@+KB" adds KB to a run's head: what an older run left out of it (say so in
the label). Plain SVG (no plotting library needed)."""
import re
import sys


def read(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"\+rerank mean KB: head (\d+) .*?shards (\d+), fragments (\d+), thumbnails (\d+)", text)
    if m:  # partition_bench
        head, shards, frags, thumbs = map(float, m.groups())
        return head, shards + frags, thumbs
    head = re.search(r"bundle head (\d+) KB", text)
    row = re.search(r"^mean\s+\S+\s+(\d+)\s+(\d+)", text, re.M)
    if not head or not row:
        sys.exit(f"{path}: neither a partition_bench nor a partition_browser_bench output")
    return float(head.group(1)), float(row.group(1)), float(row.group(2))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, specs = sys.argv[1], sys.argv[2:]
    bars = []
    for spec in specs:
        label, path = spec.split("=", 1)
        extra = 0.0
        if "@+" in path:
            path, add = path.rsplit("@+", 1)
            extra = float(add)
        head, body, thumbs = read(path)
        bars.append((label, (head + extra, body, thumbs)))
    colours = ["#adb5bd", "#2a9d8f", "#e9c46a"]
    names = ["head (once per page)", "shards + fragments", "thumbnails (re-ranking)"]
    left, width, row_h, top = 250, 430, 30, 40
    scale = width / 1400.0  # KB -> px
    h = top + row_h * len(bars) + 60
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<text x="10" y="20" font-size="14">Bytes per cold image query with re-ranking (KB, mean)</text>']
    for i, (label, parts) in enumerate(bars):
        y = top + i * row_h
        svg.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{label}</text>')
        x = left
        for value, colour in zip(parts, colours):
            svg.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{value * scale:.1f}" height="{row_h - 8}" fill="{colour}"/>')
            x += value * scale
        svg.append(f'<text x="{x + 4:.1f}" y="{y + 17}">{sum(parts):.0f}</text>')
    limit = left + 1e6 / 1024 * scale
    bottom = top + row_h * len(bars)
    svg.append(f'<line x1="{limit:.1f}" y1="{top - 4}" x2="{limit:.1f}" y2="{bottom}" stroke="#e76f51" stroke-dasharray="4 3"/>')
    svg.append(f'<text x="{limit:.1f}" y="{top - 8}" text-anchor="middle" fill="#e76f51">1.0 MB</text>')
    for k, (name, colour) in enumerate(zip(names, colours)):
        x = left + k * 150 - 200
        svg.append(f'<rect x="{x}" y="{bottom + 20}" width="12" height="12" fill="{colour}"/><text x="{x + 16}" y="{bottom + 30}">{name}</text>')
    svg.append("</svg>")
    open(out, "w", encoding="utf-8").write("\n".join(svg) + "\n")


main()
