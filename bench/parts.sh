#!/usr/bin/env bash
# bench/parts.sh: part codes (shared/part_codes.h, issue #16) on the three capture dev collections.
# For each collection (the images and SEED=1 capture queries of bench/captures.sh, which makes them
# if missing): build a one-index bundle with the parts model and --part-codes, then `nftlens eval`
# on all 14 query kinds with the part codes used (shipped) and with --no-parts (the same bundle, the
# same global descriptors: the before). Prints top-1 / top-10 per kind and the build's part time.
# Env: OUT=build/quality  CLI=build/native/bin/nftlens  COLLECTIONS="nouns lorelei openmoji"
#      PART_DIMS=64  TAG=dims$PART_DIMS (runs/<TAG> keeps each setting's evals)  FORCE=0
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/build/quality}; CLI=${CLI:-$ROOT/build/native/bin/nftlens}
COLLECTIONS=${COLLECTIONS:-nouns lorelei openmoji}; PART_DIMS=${PART_DIMS:-64}; TAG=${TAG:-dims$PART_DIMS}
FORCE=${FORCE:-0}; NICE=${NICE:-nice -n 10}
MODEL_ARGS=(--model "$ROOT/models/mnv2-b13-576-parts.card.json" --model-file "$ROOT/build/models/mnv2-b13-576-parts.onnx")
for coll in $COLLECTIONS; do
  case $coll in nouns) N=10000 ;; lorelei) N=10000 ;; openmoji) N=4495 ;; *) echo "unknown collection $coll" >&2; exit 2 ;; esac
  D="$OUT/$coll-$N"; Q="$D/captures-seed1"; B="$D/bundle-parts-$TAG"; R="$D/parts-runs/$TAG"; mkdir -p "$R"
  [ -f "$Q/queries.csv" ] || { COLLECTIONS=$coll RERANKS=30 "$ROOT/bench/captures.sh" >/dev/null; }
  if [ ! -f "$B/manifest.json" ] || [ "$FORCE" = 1 ]; then
    echo "== $coll: building with part codes ($PART_DIMS dims)" >&2
    /usr/bin/time -v $NICE "$CLI" build "$D/data" --out "$B" --cache "$D/cache-parts" "${MODEL_ARGS[@]}" --part-codes --part-dims "$PART_DIMS" > "$R/build.log" 2>&1 || { tail -5 "$R/build.log" >&2; exit 1; }
  fi
  "$CLI" info "$B" --json > "$R/info.json"
  for mode in parts no-parts; do
    [ "$FORCE" != 1 ] && [ -f "$R/eval-$mode.json" ] && continue
    echo "== $coll: eval ($mode)" >&2
    flag=(); [ $mode = no-parts ] && flag=(--no-parts)
    t0=$(date +%s.%N)
    $NICE "$CLI" eval "$B" "$Q/queries.csv" "${flag[@]}" --json-out "$R/eval-$mode.json" > "$R/eval-$mode.txt" 2>&1 || { tail -5 "$R/eval-$mode.txt" >&2; exit 1; }
    awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$(($(wc -l < "$Q/queries.csv") - 1))" 'BEGIN{printf "%.3f\n", (b-a)/n}' > "$R/seconds-$mode"
  done
done
python3 - "$OUT" "$TAG" $COLLECTIONS <<'PY'
import json, os, re, sys
out, tag, colls = sys.argv[1], sys.argv[2], sys.argv[3:]
sizes = {"nouns": 10000, "lorelei": 10000, "openmoji": 4495}
kinds = ["pfp", "post", "sticker", "deepcrop"]
old = ["screenshot", "jpeg", "crop", "rotate", "color", "text", "phone", "combo", "thumb", "mirror"]
print(f"part codes ({tag}): top-1 / top-10 in % (HNSW path, re-ranking on); old10 = mean top-1 of the ten edits")
print(f"{'collection':10} {'mode':9} " + " ".join(f"{k:>12}" for k in kinds) + f" {'old10':>6} {'s/query':>8} {'parts B/token':>13}")
for c in colls:
    r = os.path.join(out, f"{c}-{sizes[c]}", "parts-runs", tag)
    info = json.load(open(os.path.join(r, "info.json")))
    pb = next((f["bytes"] for f in info.get("files", []) if f.get("role") == "parts"), 0)
    for mode in ["no-parts", "parts"]:
        p = os.path.join(r, f"eval-{mode}.json")
        if not os.path.exists(p): continue
        e = {k: v["index"] for k, v in json.load(open(p))["summary"].items()}
        cell = lambda k: f"{100*e[k]['top1']:.0f} / {100*e[k]['top10']:.0f}" if k in e else "-"
        o = sum(100 * e[k]["top1"] for k in old if k in e) / max(1, sum(k in e for k in old))
        sec = open(os.path.join(r, f"seconds-{mode}")).read().strip()
        print(f"{c:10} {mode:9} " + " ".join(f"{cell(k):>12}" for k in kinds) + f" {o:6.1f} {sec:>8} {pb / sizes[c]:13.0f}")
PY
