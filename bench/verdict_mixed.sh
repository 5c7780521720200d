#!/usr/bin/env bash
# bench/verdict_mixed.sh: the verdict in one bundle of three collections (issue #17). Needs the three
# splits of bench/verdict_split.sh (nouns, lorelei, openmoji; same OUT): builds one bundle of their
# three indexed halves (1,500 tokens), asks it every split query but the unrelated ones, and prints
# per collection: left-out tokens answered `collection` (and with their own slug), `token`, `none`;
# copies of indexed tokens found first and answered `token` rightly. Compare with each split's own
# eval (`nftlens eval` on OUT/<name>/bundle), or set ALONE=1 to print each split's own bundle's row on
# the same queries under it. Env: OUT (default build/verdict), MIXED (the mixed bundle's folder,
# default OUT/mixed), ALONE, NFTLENS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NFT=${NFTLENS:-$ROOT/build/native/bin/nftlens}
V=${OUT:-$ROOT/build/verdict}; V=$(cd "$V" && pwd); M=${MIXED:-$V/mixed}
for n in nouns lorelei openmoji; do [ -f "$V/$n/q/split.csv" ] || { echo "run bench/verdict_split.sh $n first (OUT=$V)" >&2; exit 1; }; done
mkdir -p "$M"
"$NFT" build "$V/nouns/half" "$V/lorelei/half" "$V/openmoji/half" --out "$M/bundle" --cache "$V/cache-mixed" -q
python3 - "$V" "$NFT" "$M" "${ALONE:-0}" <<'PY'
import csv, json, os, subprocess, sys
V, NFT, M, ALONE = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
print("collection   left-out: n  collection (own slug)  token   none | indexed: n  top-1  token (right)")
for name, bundle in [(n, b) for n in ["nouns", "lorelei", "openmoji"] for b in [f"{M}/bundle"] + ([f"{V}/{n}/bundle"] if ALONE else [])]:
    d = f"{V}/{name}"
    rows = [r for r in csv.DictReader(open(f"{d}/q/split.csv")) if not r["transform"].startswith("unrelated")]
    paths = [r["query"] if os.path.isabs(r["query"]) else f"{d}/q/{r['query']}" for r in rows]
    res = {}
    for i in range(0, len(paths), 100):
        p = subprocess.run([NFT, "query", bundle, *paths[i:i + 100], "--json", "-k", "1"], capture_output=True, text=True)
        for line in p.stdout.splitlines():
            j = json.loads(line)
            res[j["query"]] = j
    L, I = [], []
    for r, p in zip(rows, paths):
        j = res.get(p)
        if not j or not j.get("results"):
            continue
        top = j["results"][0]
        a = (j["verdict"], j.get("collection"), top["collection"], top["token_id"], os.path.splitext(os.path.basename(r["original"]))[0])
        (L if r["transform"].startswith("out-") else I).append(a)
    pct = lambda k, n: f"{100 * k / max(1, n):5.1f}"
    label = name if bundle.startswith(M) else f"  alone"
    print(f"{label:10s} {len(L):5d}  {pct(sum(v == 'collection' for v, *_ in L), len(L))} ({pct(sum(v == 'collection' and c == name for v, c, *_ in L), len(L))})"
          f"        {pct(sum(v == 'token' for v, *_ in L), len(L))}  {pct(sum(v == 'none' for v, *_ in L), len(L))} | {len(I):5d}  "
          f"{pct(sum(tc == name and t == o for v, c, tc, t, o in I), len(I))}  {pct(sum(v == 'token' and tc == name and t == o for v, c, tc, t, o in I), len(I))}")
PY
