#!/usr/bin/env bash
# bench/quality.sh [N_NOUNS] [N_LORELEI]: retrieval quality of several builder configs on two collections.
#   nouns   : N_NOUNS (default 10000) Nouns from scripts/make-example (CC0 pixel art)
#   lorelei : N_LORELEI (default 10000) DiceBear lorelei avatars from scripts/make-dicebear (CC0 vector art)
# For each collection: make (or reuse) the images and the altered queries (scripts/example/make-queries.sh,
# all 10 transforms, SAMPLE=200 originals, SEED=1), then for each config build a bundle, run `nftlens eval`
# and `nftlens info --json`, and print one table: rows = configs; columns = overall top-1 / top-10 / µAP
# (HNSW path, as shipped), overall top-1 of the exact scan, top-1 per transform, bytes per token (without the
# model) and build seconds.
# Output under $OUT/<collection>-<N>/: data/, queries/, cache/ (feature cache, shared by configs with the same
# features), runs/<config>/{build.log,eval.json,eval.txt,info.json,build_seconds}, summary.txt (with SEED=k other
# than 1: queries-seedk/, runs-seedk/, summary-seedk.txt, to check the choice of config on fresh queries).
# Re-runs reuse data, queries, cache and finished runs (delete runs/<config> to redo one; FORCE=1 redoes all).
# Env: OUT=build/quality  CLI=build/bench-bin/nftlens  COLLECTIONS="nouns lorelei"  CONFIGS="<keys>" (see below)
#      MODEL_CARD=models/mnv2-b13-576.card.json  MODEL_FILE=build/models/mnv2-b13-576.onnx (passed to build explicitly:
#      a copied CLI cannot find them relative to itself)  SAMPLE=200  SEED=1  KEEP_BUNDLES=0
#      THUMBS=0 (bundles are built with --no-thumbs: faster; the catalogue is then ~4 B/token smaller than shipped)
#      NICE="nice -n 10"  FORCE=0
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N_NOUNS=${1:-10000}; N_LORELEI=${2:-10000}
OUT=${OUT:-$ROOT/build/quality}
CLI=${CLI:-$ROOT/build/bench-bin/nftlens}
COLLECTIONS=${COLLECTIONS:-nouns lorelei}
SAMPLE=${SAMPLE:-200}; SEED=${SEED:-1}; KEEP_BUNDLES=${KEEP_BUNDLES:-0}; FORCE=${FORCE:-0}
NICE=${NICE:-nice -n 10}
TRANSFORMS=screenshot,jpeg,crop,rotate,color,text,phone,combo,thumb,mirror
MODEL_CARD=${MODEL_CARD:-$ROOT/models/mnv2-b13-576.card.json}; MODEL_FILE=${MODEL_FILE:-$ROOT/build/models/mnv2-b13-576.onnx}
MODEL_ARGS=(); [ -f "$MODEL_CARD" ] && MODEL_ARGS+=(--model "$MODEL_CARD"); [ -f "$MODEL_FILE" ] && MODEL_ARGS+=(--model-file "$MODEL_FILE")
THUMBS=${THUMBS:-0}; THUMB_ARGS=(); [ "$THUMBS" = 1 ] || THUMB_ARGS=(--no-thumbs)
[ -x "$CLI" ] || { echo "no CLI at $CLI (mkdir -p build/bench-bin && cp build/native/bin/nftlens build/bench-bin/)" >&2; exit 1; }

# key | label | build flags. Flags are explicit (colour grid, dims, copies), so a row means the same thing whichever
# CLI default is current; other build defaults (--window-dims 0, --index-m 12) are assumed. Configs sharing the model,
# colour grid and windows share cached features: keep them adjacent. "default" (no flags: whatever the CLI ships) is
# not in the default list; add it with CONFIGS.
ALL_CONFIGS=(
  "thumb16|16x16 Lab thumbnail baseline|--no-model --color-grid 16 --no-learn --pairs 0"
  "pixel8|pixel recipe: 8x8 Lab + learned whitening 32-d|--no-model --color-grid 8 --dims 32"
  "v1|first shipped default: 8x8 Lab + CNN, 48-d, 4k copies|--color-grid 8 --dims 48 --pairs 4000"
  "dims32|v1, 32-d|--color-grid 8 --dims 32 --pairs 4000"
  "dims64|v1, 64-d|--color-grid 8 --dims 64 --pairs 4000"
  "dims96|v1, 96-d|--color-grid 8 --dims 96 --pairs 4000"
  "pairs8k|v1, 8k copies|--color-grid 8 --dims 48 --pairs 8000"
  "grid6|v1, 6x6 Lab|--color-grid 6 --dims 48 --pairs 4000"
  "grid4|v1, 4x4 Lab|--color-grid 4 --dims 48 --pairs 4000"
  "grid10|v1, 10x10 Lab|--color-grid 10 --dims 48 --pairs 4000"
  "win24|v1 + 18 sub-windows, 24-d|--color-grid 8 --dims 48 --pairs 4000 --window-dims 24"
  "d96p8k|8x8 Lab + CNN, 96-d, 8k copies|--color-grid 8 --dims 96 --pairs 8000"
  "g6p8k|6x6 Lab + CNN, 48-d, 8k copies|--color-grid 6 --dims 48 --pairs 8000"
  "g6d64p8k|6x6 Lab + CNN, 64-d, 8k copies|--color-grid 6 --dims 64 --pairs 8000"
  "g6d96p8k|6x6 Lab + CNN, 96-d, 8k copies (shipped default since commit 2348a15)|--color-grid 6 --dims 96 --pairs 8000"
  "g4p8k|4x4 Lab + CNN, 48-d, 8k copies|--color-grid 4 --dims 48 --pairs 8000"
  "g4d64p8k|4x4 Lab + CNN, 64-d, 8k copies|--color-grid 4 --dims 64 --pairs 8000"
  "g4d96p8k|4x4 Lab + CNN, 96-d, 8k copies|--color-grid 4 --dims 96 --pairs 8000"
  "g4d128p8k|4x4 Lab + CNN, 128-d, 8k copies|--color-grid 4 --dims 128 --pairs 8000"
  "g4d192p8k|4x4 Lab + CNN, 192-d, 8k copies|--color-grid 4 --dims 192 --pairs 8000"
  "g4d256p8k|4x4 Lab + CNN, 256-d, 8k copies|--color-grid 4 --dims 256 --pairs 8000"
  "default|shipped default of this CLI (no flags)|"
)
CONFIGS=${CONFIGS:-$(for c in "${ALL_CONFIGS[@]}"; do [ "${c%%|*}" = default ] || printf '%s ' "${c%%|*}"; done)}

t_all=$(date +%s)
for coll in $COLLECTIONS; do
  case $coll in
    nouns)   N=$N_NOUNS;   make=("$ROOT/scripts/make-example") ;;
    lorelei) N=$N_LORELEI; make=("$ROOT/scripts/make-dicebear") ;;
    *) echo "unknown collection $coll" >&2; exit 2 ;;
  esac
  D="$OUT/$coll-$N"; sfx=""; [ "$SEED" = 1 ] || sfx="-seed$SEED"   # another SEED: own queries, runs, summary
  Q="$D/queries$sfx"; RUNS="$D/runs$sfx"; mkdir -p "$RUNS" "$D/cache"
  t_coll=$(date +%s)
  if [ ! -f "$D/data/collection.json" ] || [ "$(find "$D/data/images" -name '*.png' | wc -l)" -ne "$N" ]; then
    echo "== $coll: rendering $N tokens" >&2
    rm -rf "$D/data"; $NICE "${make[@]}" "$N" "$D/data"
  fi
  if [ ! -f "$Q/queries.csv" ] || [ "$(($(wc -l < "$Q/queries.csv") - 1))" -ne "$((SAMPLE * 10))" ]; then
    echo "== $coll: making queries" >&2
    rm -rf "$Q"
    SAMPLE=$SAMPLE SEED=$SEED TRANSFORMS=$TRANSFORMS JOBS=${JOBS:-2} $NICE "$ROOT/scripts/example/make-queries.sh" "$D/data" "$Q"
  fi
  for key in $CONFIGS; do
    line=""; for c in "${ALL_CONFIGS[@]}"; do [ "${c%%|*}" = "$key" ] && line=$c; done
    [ -n "$line" ] || { echo "unknown config $key" >&2; exit 2; }
    IFS='|' read -r _ label flags <<< "$line"
    R="$RUNS/$key"
    if [ "$FORCE" != 1 ] && [ -f "$R/eval.json" ] && [ -f "$R/info.json" ]; then echo "== $coll/$key: reusing $R" >&2; continue; fi
    rm -rf "$R"; mkdir -p "$R"; printf '%s\n%s\n' "$label" "$flags" > "$R/config.txt"
    echo "== $coll/$key: build $flags" >&2
    c0=$(du -sb "$D/cache" | cut -f1); t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    $NICE "$CLI" build "$D/data" --out "$R/bundle" --cache "$D/cache" "${THUMB_ARGS[@]}" "${MODEL_ARGS[@]}" $flags > "$R/build.log" 2>&1 \
      || { tail -5 "$R/build.log" >&2; exit 1; }
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f\n", b-a}' > "$R/build_seconds"
    [ "$(du -sb "$D/cache" | cut -f1)" -gt "$((c0 + 4096))" ] && echo cold > "$R/cache_state" || echo warm > "$R/cache_state"
    "$CLI" info "$R/bundle" --json > "$R/info.json"
    $NICE "$CLI" eval "$R/bundle" "$Q/queries.csv" --json-out "$R/eval.json" > "$R/eval.txt" 2>&1 \
      || { tail -5 "$R/eval.txt" >&2; exit 1; }
    [ "$KEEP_BUNDLES" = 1 ] || rm -rf "$R/bundle"
  done
  echo "== $coll: $(( $(date +%s) - t_coll ))s" >&2
  python3 - "$RUNS" "$coll" "$N" "$SAMPLE" "$SEED" $CONFIGS > "$D/summary$sfx.txt" <<'PY'
import json, os, sys
d, coll, n, sample, seed, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
tf = ["screenshot", "jpeg", "crop", "rotate", "color", "text", "phone", "combo", "thumb", "mirror"]
short = {"screenshot": "shot", "rotate": "rot", "mirror": "mirr"}
head = ["config", "top1", "top10", "µAP", "ex.top1"] + [short.get(t, t) for t in tf] + ["B/token", "build s"]
rows = []
for k in keys:
    r = os.path.join(d, k)
    try:
        ev = json.load(open(os.path.join(r, "eval.json")))["summary"]; info = json.load(open(os.path.join(r, "info.json")))
    except (OSError, ValueError):
        continue
    o = ev["overall"]
    pct = lambda x: f"{100 * x:.1f}"
    secs = open(os.path.join(r, "build_seconds")).read().strip()
    state = open(os.path.join(r, "cache_state")).read().strip() if os.path.exists(os.path.join(r, "cache_state")) else ""
    rows.append([k, pct(o["index"]["top1"]), pct(o["index"]["top10"]), f'{o["index"]["micro_ap"]:.3f}', pct(o["exact"]["top1"])]
                + [pct(ev[t]["index"]["top1"]) if t in ev else "-" for t in tf]
                + [f'{info["bytes_per_token_without_model"]:.0f}', secs + ("*" if state == "cold" else "")])
w = [max(len(h), *(len(x[i]) for x in rows)) if rows else len(h) for i, h in enumerate(head)]
print(f"{coll}: {n} tokens, {int(sample) * len(tf)} queries ({sample} originals x {len(tf)} transforms, SEED={seed}); top-1/top-10 in %, HNSW path")
print("  ".join(h.ljust(w[i]) if i == 0 else h.rjust(w[i]) for i, h in enumerate(head)))
for x in rows:
    print("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(x)))
print("configs:")
for k in keys:
    p = os.path.join(d, k, "config.txt")
    if os.path.exists(p):
        label, flags = (open(p).read().split("\n") + [""])[:2]
        print(f"  {k:8s} {label}  [{flags or 'no flags'}]")
print("ex.top1 = exact scan; build s: * = features computed in this run (cold cache), else reused from the cache")
PY
  cat "$D/summary$sfx.txt"; echo
done
echo "quality.sh: total $(( $(date +%s) - t_all ))s" >&2
