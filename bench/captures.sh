#!/usr/bin/env bash
# bench/captures.sh [STEP]: identification of real captures (issue #16) on three dev collections.
#   nouns    : 10,000 Nouns (scripts/make-example, CC0 pixel art)
#   lorelei  : 10,000 DiceBear lorelei avatars (scripts/make-dicebear, CC0 vector art)
#   openmoji : 4,495 OpenMoji emoji (scripts/make-openmoji, CC BY-SA 4.0 flat art: faces, people with
#              skin-tone siblings, animals, objects, flags)
# For each collection: render (or reuse) the images, make 200 originals x 14 kinds of queries
# (scripts/example/make-queries.sh: the ten transforms of bench/quality.sh + pfp, post, sticker,
# deepcrop; SEED=1), build one default bundle with thumbnails (reused while the CLI's bundle format
# and build defaults stay the same: delete bundle/ to rebuild), and run `nftlens eval` with
# re-ranking on (shipped) and off. STEP (default "current") names the CLI under test: each step
# of the work keeps its rows, so one table shows before/after per kind.
# Prints per collection: top-1 / top-10 per capture kind, the mean top-1 of the ten old transforms,
# and the eval's seconds per query (index + exact search; 2 cores, nice). The shipped run (first of
# RERANKS) also writes runs/STEP/report/index.html (nftlens eval --report: misses first, with the
# region searched and the top 3).
# Env: OUT=build/quality  CLI=build/native/bin/nftlens (copied to runs/STEP/nftlens)  SAMPLE=200  SEED=1
#      COLLECTIONS="nouns lorelei openmoji"  RERANKS="30 0"  FORCE=0 (1: redo this STEP's evals)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEP=${1:-current}
OUT=${OUT:-$ROOT/build/quality}; CLI=${CLI:-$ROOT/build/native/bin/nftlens}
SAMPLE=${SAMPLE:-200}; SEED=${SEED:-1}; FORCE=${FORCE:-0}; RERANKS=${RERANKS:-30 0}
COLLECTIONS=${COLLECTIONS:-nouns lorelei openmoji}
NICE=${NICE:-nice -n 10}
TRANSFORMS=screenshot,jpeg,crop,rotate,color,text,phone,combo,thumb,mirror,pfp,post,sticker,deepcrop
MODEL_ARGS=(--model "$ROOT/models/mnv2-b13-576.card.json" --model-file "$ROOT/build/models/mnv2-b13-576.onnx")
[ -x "$CLI" ] || { echo "no CLI at $CLI" >&2; exit 1; }
for coll in $COLLECTIONS; do
  case $coll in
    nouns)    N=10000; make=("$ROOT/scripts/make-example") ;;
    lorelei)  N=10000; make=("$ROOT/scripts/make-dicebear") ;;
    openmoji) N=4495;  make=("$ROOT/scripts/make-openmoji") ;;
    *) echo "unknown collection $coll" >&2; exit 2 ;;
  esac
  D="$OUT/$coll-$N"; Q="$D/captures-seed$SEED"; RUNS="$D/capture-runs"; [ "$SEED" = 1 ] || RUNS="$D/capture-runs-seed$SEED"; R="$RUNS/$STEP"; mkdir -p "$D/cache" "$R"
  if [ ! -f "$D/data/collection.json" ] || [ "$(find "$D/data/images" -name '*.png' | wc -l)" -lt "$N" ]; then
    echo "== $coll: rendering $N tokens" >&2; rm -rf "$D/data"; $NICE "${make[@]}" "$N" "$D/data"
  fi
  if [ ! -f "$Q/queries.csv" ]; then
    echo "== $coll: making queries" >&2
    SAMPLE=$SAMPLE SEED=$SEED TRANSFORMS=$TRANSFORMS JOBS=2 $NICE "$ROOT/scripts/example/make-queries.sh" "$D/data" "$Q.tmp" && mv "$Q.tmp" "$Q"
  fi
  if [ ! -f "$D/bundle/manifest.json" ]; then
    echo "== $coll: building the bundle" >&2
    $NICE "$CLI" build "$D/data" --out "$D/bundle" --cache "$D/cache" "${MODEL_ARGS[@]}" -q > "$D/build.log" 2>&1 || { tail -5 "$D/build.log" >&2; exit 1; }
  fi
  cp "$CLI" "$R/nftlens"; "$CLI" info "$D/bundle" --json > "$R/info.json"
  for rr in $RERANKS; do
    [ "$FORCE" != 1 ] && [ -f "$R/eval-rerank$rr.json" ] && continue
    echo "== $coll/$STEP: eval --rerank $rr" >&2
    t0=$(date +%s.%N)
    report=(); [ "$rr" = "${RERANKS%% *}" ] && "$R/nftlens" eval --help 2>/dev/null | grep -q -- --report && report=(--report "$R/report")
    $NICE "$R/nftlens" eval "$D/bundle" "$Q/queries.csv" --rerank "$rr" --json-out "$R/eval-rerank$rr.json" "${report[@]}" > "$R/eval-rerank$rr.txt" 2>&1 || { tail -5 "$R/eval-rerank$rr.txt" >&2; exit 1; }
    awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$(($(wc -l < "$Q/queries.csv") - 1))" 'BEGIN{printf "%.3f\n", (b-a)/n}' > "$R/seconds-rerank$rr"
  done
  python3 - "$RUNS" "$coll" "$N" "$RERANKS" "$SAMPLE" "$SEED" > "$RUNS/summary.txt" <<'PY'
import json, os, sys
d, coll, n, reranks, sample, seed = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(), sys.argv[5], sys.argv[6]
old = ["screenshot", "jpeg", "crop", "rotate", "color", "text", "phone", "combo", "thumb", "mirror"]
new = ["pfp", "post", "sticker", "deepcrop"]
head = ["step", "rerank"] + [f"{k} 1/10" for k in new] + ["old10 top1", "s/query"]
rows = []
for step in sorted(os.listdir(d), key=lambda s: os.path.getmtime(os.path.join(d, s))):
    for rr in reranks:
        p = os.path.join(d, step, f"eval-rerank{rr}.json")
        if not os.path.exists(p): continue
        s = json.load(open(p))["summary"]
        ix = lambda k, m: 100 * s[k]["index"][m] if k in s else float("nan")
        secs = open(os.path.join(d, step, f"seconds-rerank{rr}")).read().strip()
        rows.append([step, rr] + [f"{ix(k, 'top1'):.1f} / {ix(k, 'top10'):.1f}" for k in new]
                    + [f"{sum(ix(k, 'top1') for k in old) / len(old):.2f}", secs])
w = [max(len(h), *(len(str(r[i])) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
print(f"{coll}: {n} tokens; {sample} originals per kind (SEED={seed}); top-1 / top-10 in % (HNSW path); old10 = mean top-1 of the ten edit transforms")
print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
for r in rows: print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
PY
  cat "$RUNS/summary.txt"; echo
done
