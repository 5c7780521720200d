#!/usr/bin/env bash
# bench/build_bench.sh [N]: end-to-end `nftlens build` throughput on N Nouns (default 10000), printed as one table.
#   - data: build/q10k/nouns when N=10000 (if present), else build/bench/nouns-N made by scripts/make-example N
#   - runs embed_bench (pure decode/preprocess and pure inference, same machine, same run) on 512 of the images
#   - builds twice, each with a fresh, empty feature cache: --pairs 0, and the CLI's default pairs,
#     each under /usr/bin/time -v (wall time, peak RSS); reads the embed phase rate from the builder's
#     progress lines ("embed: N/N (R/s ...)") and the copies phase rate ("copies: ...").
#   - ratio = pure inference images/s as the builder runs it (embed_bench's "builder's inference" row: one worker
#     per core x 1 intra-op thread, batch = the CLI's --batch default, 1) / measured images/s.
# Targets: >= 150 images/s end to end; within 1.5x of pure inference.
# The binaries are copied to $OUT/bin first, so a concurrent rebuild of build/native cannot change them mid-run.
# Env: NICE="nice -n 5"  OUT=build/bench/build-N  CLI=build/native/bin/nftlens  EMBED_BENCH=build/native/bin/embed_bench
#      PAIRS_DEFAULT= (unset: the "default pairs" row passes no --pairs, i.e. the CLI default; set to force a value)
#      KEEP=0 (1 keeps the bundles and caches)  REPORT_ONLY=1 (print the table from the logs of the last run)
#      STEPS="embed pairs0 pairs-default" (a subset redoes only those; the table uses the latest logs of each)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${1:-10000}
NICE=${NICE:-nice -n 5}
OUT=${OUT:-$ROOT/build/bench/build-$N}
CLI_SRC=${CLI:-$ROOT/build/native/bin/nftlens}
EB_SRC=${EMBED_BENCH:-$ROOT/build/native/bin/embed_bench}
KEEP=${KEEP:-0}
MODEL_CARD=$ROOT/models/mnv2-b13-576.card.json
MODEL_FILE=$ROOT/build/models/mnv2-b13-576.onnx
for f in "$CLI_SRC" "$EB_SRC"; do [ -x "$f" ] || { echo "missing $f (cmake --build build/native -j2 --target nftlens embed_bench)" >&2; exit 1; }; done
[ -f "$MODEL_FILE" ] || { echo "missing $MODEL_FILE (scripts/make-model)" >&2; exit 1; }

if [ "$N" = 10000 ] && [ -d "$ROOT/build/q10k/nouns/images" ]; then
  DATA=$ROOT/build/q10k/nouns
else
  DATA=$ROOT/build/bench/nouns-$N
  if [ ! -f "$DATA/collection.json" ]; then
    echo "making $N Nouns in $DATA ..." >&2
    rm -rf "$DATA"; mkdir -p "$(dirname "$DATA")"
    "$ROOT/scripts/make-example" "$N" "$DATA"
  fi
fi
NIMG=$(find "$DATA/images" -maxdepth 1 -type f | wc -l)

mkdir -p "$OUT/bin"
if [ "${REPORT_ONLY:-0}" != 1 ] && { [ -z "${STEPS:-}" ] || [ ! -x "$OUT/bin/nftlens" ]; }; then  # a partial re-run keeps the binaries of the run it completes
  cp "$CLI_SRC" "$OUT/bin/nftlens"; cp "$EB_SRC" "$OUT/bin/embed_bench"
fi
CLI=$OUT/bin/nftlens

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STEPS=${STEPS:-embed pairs0 pairs-default}; [ "${REPORT_ONLY:-0}" = 1 ] && STEPS=
has() { case " $STEPS " in *" $1 "*) return 0;; esac; return 1; }
if has embed; then
echo "[1/3] embed_bench (pure decode/preprocess and inference) ..." >&2
$NICE "$OUT/bin/embed_bench" "$DATA/images" --n 512 --card "$MODEL_CARD" --model "$MODEL_FILE" --worker-batches "1,4,32" > "$OUT/embed_bench.txt"
fi
BATCH=${BATCH:-1}   # the CLI's --batch default
# the builder's inference: W workers x 1 intra-op thread at batch $BATCH (columns: batch W x 1 images ms img/s CPU ...)
INFER=$(awk -v b="$BATCH" '/^the builder.s inference/{f=1} /^features of/{f=0} f && $1==b && $3=="x" {print $7}' "$OUT/embed_bench.txt")
INFER_CPU=$(awk -v b="$BATCH" '/^the builder.s inference/{f=1} /^features of/{f=0} f && $1==b && $3=="x" {print $8}' "$OUT/embed_bench.txt")
INFER_OLD=$(awk '/^inference/{f=1} /^the builder/{f=0} f && $1=="32" && $2=="2" {print $6}' "$OUT/embed_bench.txt")
SAME=$(awk -v b="$BATCH" '/^the builder.s inference/{f=1} /^features of/{f=0} f && $1==b && $3=="x" {print $9}' "$OUT/embed_bench.txt")
PREP=$(awk '/all of the above/ && $(NF-3)=="2" {print $(NF-1)}' "$OUT/embed_bench.txt")
# CPU ms per image of the builder's whole per-image work on the workers (embed_bench's pipeline rows): a token
# (read .. thumbnail + inference) and a synthetic copy (decode, augment, .. + inference). On C idle cores the
# embed phase cannot beat C * 1000 / token images/s, nor the whole build C * 1000 / (token + pairs/N * copy).
TOKEN_CPU=$(awk -v b="$BATCH" '$1=="token:" && $5==b {print $NF}' "$OUT/embed_bench.txt")
COPY_CPU=$(awk -v b="$BATCH" '$1=="copy:" && $7==b {print $NF}' "$OUT/embed_bench.txt")

run_build() {  # name, extra args...
  local name=$1; shift
  local dir=$OUT/$name
  rm -rf "$dir"; mkdir -p "$dir"
  echo "[$name] nftlens build $* (fresh cache) ..." >&2
  /usr/bin/time -v -o "$dir/time.txt" $NICE "$CLI" build "$DATA" --out "$dir/bundle" --cache "$dir/cache" \
    --model "$MODEL_CARD" --model-file "$MODEL_FILE" "$@" 2> "$dir/build.log"
  [ "$KEEP" = 1 ] || rm -rf "$dir/bundle" "$dir/cache"
}
if has pairs0; then
  echo "[2/3] build --pairs 0 ..." >&2
  run_build pairs0 --pairs 0
fi
if has pairs-default; then
  echo "[3/3] build with default pairs ..." >&2
  if [ -n "${PAIRS_DEFAULT:-}" ]; then run_build pairs-default --pairs "$PAIRS_DEFAULT"; else run_build pairs-default; fi
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "${REPORT_ONLY:-0}" != 1 ]; then
  echo "DATE='$(date -u +%Y-%m-%dT%H:%MZ)' LOAD_START='$LOAD_START' LOAD_END='$LOAD_END'" > "$OUT/meta.sh"
elif [ -f "$OUT/meta.sh" ]; then
  . "$OUT/meta.sh"
fi

wall_s() { awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$1"; }
rss_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }
cpu_pct() { awk -F': ' '/Percent of CPU/ {print $2}' "$1"; }
cpu_s() { awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$1"; }
last_rate() { { grep "^$2: " "$1" || true; } | tail -1 | sed -E 's/.*\(([0-9.]+)\/s.*/\1/'; }
pairs_of() { sed -nE 's/.* ([0-9]+) copy pairs.*/\1/p' "$1" | tail -1 || true; }

echo
echo "build bench: $NIMG Nouns from $DATA, $(nproc) cores, ${DATE:-$(date -u +%Y-%m-%dT%H:%MZ)}, load average start $LOAD_START / end $LOAD_END"
echo "pure (embed_bench, 512 images, same run): decode+preprocess $PREP images/s on 2 threads; inference $INFER images/s as the builder runs it ($(nproc) workers x 1 intra-op thread, batch $BATCH; features $SAME to batch 32 x 2 threads), $INFER_OLD at batch 32 x 2 intra-op threads (the builder before #5)"
awk -v t="$TOKEN_CPU" -v cp="$COPY_CPU" -v i="$INFER_CPU" -v c="$(nproc)" 'BEGIN { printf "CPU per image on the workers: token %.2f ms, synthetic copy %.2f ms (inference alone %.2f ms) -> CPU-bound ceiling on %d idle cores: embed phase %.0f images/s, copies %.0f/s\n", t, cp, i, c, c * 1000 / t, c * 1000 / cp }'
printf "%-14s %6s %9s %10s %6s %11s %12s %12s %12s %14s %14s %12s\n" config pairs "wall s" "peak RSS" "CPU" "CPU ms/img" "embed img/s" "copies/s" "overall/s" "infer/embed" "infer/overall" "CPU-bound/s"
for name in pairs0 pairs-default; do
  d=$OUT/$name
  [ -f "$d/build.log" ] || continue  # (a step not run in this OUT)
  if ! grep -q "^bundle: " "$d/build.log"; then echo "$name: build failed, see $d/build.log" >&2; tail -5 "$d/build.log" >&2; continue; fi
  w=$(wall_s "$d/time.txt"); e=$(last_rate "$d/build.log" embed); c=$(last_rate "$d/build.log" copies); p=$(pairs_of "$d/build.log")
  awk -v name="$name" -v p="${p:-0}" -v w="$w" -v rss="$(rss_mb "$d/time.txt")" -v cpu="$(cpu_pct "$d/time.txt")" -v cs="$(cpu_s "$d/time.txt")" -v e="$e" -v c="${c:--}" \
      -v n="$NIMG" -v inf="$INFER" -v cores="$(nproc)" 'BEGIN {
    o = n / w
    printf "%-14s %6s %9.1f %7s MB %6s %11.2f %12.1f %12s %12.1f %13.2fx %13.2fx %12.0f\n", name, p, w, rss, cpu, 1000 * cs / n, e, c, o, inf / e, inf / o, cores * n / cs }'
done
echo "targets: overall >= 150 images/s; infer/overall <= 1.5x (infer = pure inference as the builder runs it, one image at a time per worker;"
echo " the default build runs the model on N + pairs images, so overall can reach at most infer * N / (N + pairs))"
echo "(CPU = share of one core the build got; CPU ms/img = (user+sys) / images; CPU-bound/s = cores / CPU per image: the overall"
echo " rate if the whole build's CPU work were spread perfectly over idle cores -- an upper bound, for comparing contended runs)"
echo "(logs: $OUT/{embed_bench.txt,pairs0,pairs-default}/{build.log,time.txt})"
echo
cat "$OUT/embed_bench.txt"
