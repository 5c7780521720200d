#!/usr/bin/env bash
# bench/mixing.sh: does a bundle of several collections identify each one's tokens as well as the
# collection's own bundle? (issue #17: "mixing collections costs at most 0.5 points top-1 on any of
# them against its own bundle; measure with three collections mixed")
#   Collections and queries: those of bench/captures.sh (Nouns 10,000, lorelei 10,000, OpenMoji 4,495;
#   its make-queries output, SEED=1); run bench/captures.sh once first, or this script stops.
#   For each collection: its own bundle (`nftlens build DATA`, default settings); then one bundle of all
#   three (`nftlens build DATA1 DATA2 DATA3`). Features come from each collection's feature cache (the
#   mixed build reads the three caches concatenated: records are self-contained), so only the
#   synthetic copies and calibration run the model.
#   Queries: the first PER originals of each collection's query set (all 14 kinds: ten edits and four
#   capture kinds), evaluated on its own bundle and on the mixed one with `nftlens eval`, the original
#   named as "slug:images/..." (file names repeat across collections).
# Prints per collection and kind: top-1 % alone, mixed, and the difference; then overall, the share of
# the verdict shares (token / right token / collection / none / close call).
# Env: OUT=build/quality  CLI=build/native/bin/nftlens  PER=50  THREADS=2  NICE="nice -n 10"  FORCE=0
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/build/quality}; CLI=${CLI:-$ROOT/build/native/bin/nftlens}
PER=${PER:-50}; THREADS=${THREADS:-2}; NICE=${NICE:-nice -n 10}; FORCE=${FORCE:-0}
MODEL_ARGS=(--model "$ROOT/models/mnv2-b13-576.card.json" --model-file "$ROOT/build/models/mnv2-b13-576.onnx")
declare -A DIR=([nouns]=nouns-10000 [lorelei]=lorelei-10000 [openmoji]=openmoji-4495)
COLLS=(nouns lorelei openmoji)
M="$OUT/mixing"; mkdir -p "$M/mixed/cache"
[ -x "$CLI" ] || { echo "no CLI at $CLI" >&2; exit 1; }

build() {  # build OUTDIR CACHE DATA...
  local out=$1 cache=$2; shift 2
  [ "$FORCE" != 1 ] && [ -f "$out/manifest.json" ] && return 0
  echo "== building $out" >&2; mkdir -p "$(dirname "$out")"
  $NICE "$CLI" build "$@" --out "$out" --cache "$cache" "${MODEL_ARGS[@]}" -q > "$out.log" 2>&1 || { tail -5 "$out.log" >&2; exit 1; }
}

datas=()
for c in "${COLLS[@]}"; do
  D="$OUT/${DIR[$c]}"
  [ -f "$D/captures-seed1/queries.csv" ] || { echo "no queries in $D/captures-seed1: run bench/captures.sh first" >&2; exit 1; }
  datas+=("$D/data")
  build "$M/$c/bundle" "$D/cache" "$D/data"
  # the queries: first PER originals (rows are grouped by original), originals named with the slug
  slug=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['collections'][0]['slug'])" <("$CLI" info "$M/$c/bundle" --json))
  python3 - "$D/captures-seed1/queries.csv" "$M/$c/queries.csv" "$PER" "$slug" "$D/captures-seed1" <<'PY'
import csv, os, sys
src, dst, per, slug, qdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
rows = list(csv.reader(open(src)))
seen, out = [], [rows[0]]
for r in rows[1:]:
    if r[1] not in seen:
        if len(seen) == per: break
        seen.append(r[1])
    out.append([os.path.join(qdir, r[0]), f"{slug}:{r[1]}"] + r[2:])
csv.writer(open(dst, "w", newline="")).writerows(out)
PY
done
if [ ! -f "$M/mixed/bundle/manifest.json" ] || [ "$FORCE" = 1 ]; then
  : > "$M/mixed/cache/features-cat.tmp"
  for c in "${COLLS[@]}"; do cat "$OUT/${DIR[$c]}"/cache/features-*.log >> "$M/mixed/cache/features-cat.tmp"; done
  ns=$(basename "$(ls "$OUT/${DIR[nouns]}"/cache/features-*.log | head -1)")
  mv "$M/mixed/cache/features-cat.tmp" "$M/mixed/cache/$ns"
fi
build "$M/mixed/bundle" "$M/mixed/cache" "${datas[@]}"

for c in "${COLLS[@]}"; do
  for b in "$c" mixed; do
    j="$M/$c/eval-$b.json"
    [ "$FORCE" != 1 ] && [ -f "$j" ] && continue
    echo "== eval $c on the $b bundle" >&2
    $NICE "$CLI" eval "$M/$b/bundle" "$M/$c/queries.csv" --threads "$THREADS" --json-out "$j" > "$M/$c/eval-$b.txt" 2>&1 || { tail -5 "$M/$c/eval-$b.txt" >&2; exit 1; }
  done
done

python3 - "$M" "${COLLS[@]}" <<'PY' | tee "$M/summary.txt"
import json, os, sys
m, colls = sys.argv[1], sys.argv[2:]
print(f"mixing: each collection's queries on its own bundle and on one bundle of {', '.join(colls)}; top-1 % (HNSW path, re-ranked)")
kinds = None
for c in colls:
    a = json.load(open(os.path.join(m, c, "eval-" + c + ".json")))
    x = json.load(open(os.path.join(m, c, "eval-mixed.json")))
    sa, sx = a["summary"], x["summary"]
    kinds = [k for k in sa if k != "overall"]
    n = sa["overall"]["n"] if "n" in sa["overall"] else ""
    print(f"\n{c} ({n} queries)")
    print(f"  {'kind':<11} {'alone':>6} {'mixed':>6} {'diff':>6}")
    for k in kinds + ["overall"]:
        ta, tx = 100 * sa[k]["index"]["top1"], 100 * sx[k]["index"]["top1"]
        print(f"  {k:<11} {ta:6.1f} {tx:6.1f} {tx - ta:+6.1f}")
    for name, d in (("alone", a), ("mixed", x)):
        v = d.get("verdicts", {}).get("overall")
        if v: print(f"  verdicts {name}: token {100*v['token']:.1f}% (right {100*v['token_right']:.1f}%), collection {100*v['collection']:.1f}%, none {100*v['none']:.1f}%, close calls {100*v['close_call']:.1f}%")
PY
