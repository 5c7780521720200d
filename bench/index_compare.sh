#!/usr/bin/env bash
# bench/index_compare.sh [BUNDLE]: the int8 HNSW index natively and in wasm (Node), one table.
# Runs index_bench (same source, two builds) on:
#   random  : random Gaussian vectors, n = 10k and 100k
#   reallike: vectors sampled from a Gaussian fitted to a real bundle's codes (bench/make_vectors.py,
#             default bundle build/q10k/bundle), n = 10k and 100k
#   real    : the real bundle's own codes (n = count - QUERIES; the rest seed the queries)
#   realfloat (with IMAGES and CACHE): the bundle's real float descriptors, recomputed from the build's
#             feature cache (make_vectors.py --float-base), n = count (- QUERIES without QUERIES_CSV)
# Queries (QUERIES, default 2000) are database items plus noise (see index_bench.cpp), or with
# QUERIES_CSV (a make-queries.sh queries.csv) real altered copies described by `nftlens describe` (CLI)
# for the realfloat rows; recall is against exact float search.
# Prints per dataset and ef: recall@1/@10 (native; wasm's graph can differ slightly, its recall in brackets
# when it does), queries/s native and wasm, native CPU us/query; plus build time and serialised bytes/vector.
# Env: NICE="nice -n 10"  SIZES="10000 100000"  QUERIES=2000  NATIVE=build/native/bin/index_bench
#      WASM=build/wasm/bin/index_bench.js (WASM=none: native only)  OUT=build/bench/index  NODE=node
#      index settings passed to index_bench: M=12 EFC=200 EFS=16,32,64,96,128 SCALE=q99.99 (the builder's
#      quantiser; "max" was this script's rule before) ROTATE=0 (seed of a random rotation) RERANK=0 (1: add
#      rows re-ranked by float query vs int8 codes) RERANK_K=40 (how many hits are re-ranked; search.cpp asks for 40)
#      DATASETS="random reallike real realfloat"  IMAGES= CACHE= QUERIES_CSV= CLI=build/native/bin/nftlens
#      REUSE=1: keep the vector files of an earlier run in OUT (describing 2000 queries takes ~15 min)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUNDLE=${1:-build/q10k/bundle}
NICE=${NICE:-nice -n 10}
SIZES=${SIZES:-10000 100000}
QUERIES=${QUERIES:-2000}
NATIVE=${NATIVE:-build/native/bin/index_bench}
WASM=${WASM:-build/wasm/bin/index_bench.js}
NODE=${NODE:-node}
OUT=${OUT:-build/bench/index}
M=${M:-12}; EFC=${EFC:-200}; EFS=${EFS:-16,32,64,96,128}; SCALE=${SCALE:-q99.99}; ROTATE=${ROTATE:-0}; RERANK=${RERANK:-0}; RERANK_K=${RERANK_K:-40}
DATASETS=${DATASETS:-random reallike real realfloat}
IMAGES=${IMAGES:-}; CACHE=${CACHE:-}; QUERIES_CSV=${QUERIES_CSV:-}; CLI=${CLI:-build/native/bin/nftlens}
mkdir -p "$OUT"
[ -x "$NATIVE" ] || { echo "missing $NATIVE (cmake --build build/native --target index_bench)" >&2; exit 1; }
[ "$WASM" = none ] || [ -f "$WASM" ] || { echo "missing $WASM (cmake --build build/wasm --target index_bench)" >&2; exit 1; }
has() { [[ " $DATASETS " == *" $1 "* ]]; }
INDEX_ARGS=(--M "$M" --efc "$EFC" --ef "$EFS" --scale "$SCALE" --rotate "$ROTATE" --rerank "$RERANK" --rerank-k "$RERANK_K")

REALLIKE=$OUT/vectors-reallike.f32
REAL=$OUT/vectors-real.f32
DIM=$(/usr/bin/python3 -c "import struct,glob,sys; f=glob.glob(sys.argv[1]+'/index.*.bin')[0]; print(struct.unpack('<9I',open(f,'rb').read(36))[2])" "$BUNDLE")
COUNT=$(/usr/bin/python3 -c "import struct,glob,sys; f=glob.glob(sys.argv[1]+'/index.*.bin')[0]; print(struct.unpack('<9I',open(f,'rb').read(36))[3])" "$BUNDLE")
REALFLOAT=$OUT/vectors-realfloat.f32
REALQ=$OUT/vectors-realqueries.f32
MV_ARGS=(--count 110000 --out "$REALLIKE" --real "$REAL")
if has realfloat && [ -n "$IMAGES" ] && [ -n "$CACHE" ]; then
  MV_ARGS+=(--float-base "$REALFLOAT" --images "$IMAGES" --cache "$CACHE")
  [ -z "$QUERIES_CSV" ] || MV_ARGS+=(--queries "$QUERIES_CSV" --query-out "$REALQ" --cli "$CLI")
else
  DATASETS=${DATASETS//realfloat/}
fi
if [ "${REUSE:-0}" = 1 ] && [ -s "$OUT/make_vectors.txt" ]; then
  echo "REUSE=1: keeping the vectors in $OUT (make_vectors.txt says how they were made)" >&2
else
  $NICE /usr/bin/python3 bench/make_vectors.py "$BUNDLE" "${MV_ARGS[@]}" > "$OUT/make_vectors.txt"
fi

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
runs=()
run() {  # label n extra-args...
  local label=$1 n=$2; shift 2
  local f="$OUT/$label-$n"
  echo "index_bench $label n=$n: native ..." >&2
  $NICE "$NATIVE" --n "$n" --queries "$QUERIES" --dim "$DIM" "${INDEX_ARGS[@]}" "$@" > "$f.native.txt"
  if [ "$WASM" = none ]; then cp "$f.native.txt" "$f.wasm.txt"; else
    echo "index_bench $label n=$n: wasm ..." >&2
    $NICE "$NODE" "$WASM" --n "$n" --queries "$QUERIES" --dim "$DIM" "${INDEX_ARGS[@]}" "$@" > "$f.wasm.txt"
  fi
  runs+=("$label $n $f")
}
if has random; then for n in $SIZES; do run random "$n"; done; fi
if has reallike; then for n in $SIZES; do run reallike "$n" --vectors "$REALLIKE"; done; fi
if has real; then run real $((COUNT - QUERIES)) --vectors "$REAL"; fi
if has realfloat; then
  if [ -n "$QUERIES_CSV" ]; then run realfloat "$COUNT" --vectors "$REALFLOAT" --query-vectors "$REALQ"
  else run realfloat $((COUNT - QUERIES)) --vectors "$REALFLOAT"; fi
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

echo
first=${runs[0]##* }
echo "index bench: native ($(sed -nE 's/.*kernel=([^ ]+).*/\1/p' "$first.native.txt" | head -1)) vs wasm ($([ "$WASM" = none ] && echo "not run" || echo "under Node $($NODE --version), $(sed -nE 's/.*kernel=([^ ]+).*/\1/p' "$first.wasm.txt" | head -1)")); dim $DIM, M $M, ef_construction $EFC, scale $SCALE, rotation ${ROTATE/#0/none}, $QUERIES queries; $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load average start $LOAD_START / end $LOAD_END"
sed -n '1,10p' "$OUT/make_vectors.txt" | grep -v '^  wrote' | sed 's/^/  /'
printf "%-9s %7s %-14s %15s %15s %12s %12s %9s %9s\n" vectors n search recall@1 recall@10 "native q/s" "wasm q/s" "wasm/nat" "CPU us/q"
for r in "${runs[@]}"; do
  set -- $r
  label=$1 n=$2 f=$3
  awk -v label="$label" -v n="$n" '
    FNR == 1 { file++ }
    /^(hnsw|exact)/ { key = ($1 ~ /^hnsw/) ? $1 " " $2 : $1;
      if (file == 1) { order[++cnt] = key; r1[key] = $(NF-3); r10[key] = $(NF-2); qn[key] = $(NF-1); cpu[key] = $NF }
      else { w1[key] = $(NF-3); w10[key] = $(NF-2); qw[key] = $(NF-1) } }
    END { for (i = 1; i <= cnt; i++) { key = order[i]
      a = r1[key]; b = r10[key]
      if (w1[key] != r1[key]) a = a "(" w1[key] ")"
      if (w10[key] != r10[key]) b = b "(" w10[key] ")"
      printf "%-9s %7s %-14s %15s %15s %12s %12s %8.2fx %9s\n", label, n, key, a, b, qn[key], qw[key], qw[key] / qn[key], cpu[key] } }' \
    "$f.native.txt" "$f.wasm.txt"
done
echo
printf "%-9s %7s %14s %14s %14s %14s  %s\n" vectors n "native build s" "wasm build s" "native B/vec" "wasm B/vec" quantisation
for r in "${runs[@]}"; do
  set -- $r
  bn=$(sed -nE 's/^build ([0-9.]+) s.*/\1/p' "$3.native.txt"); bw=$(sed -nE 's/^build ([0-9.]+) s.*/\1/p' "$3.wasm.txt")
  yn=$(sed -nE 's/.*serialised ([0-9.]+) bytes.*/\1/p' "$3.native.txt"); yw=$(sed -nE 's/.*serialised ([0-9.]+) bytes.*/\1/p' "$3.wasm.txt")
  qz=$(sed -nE 's/^quantisation: scale [^ ]+ = ([0-9.]+) \(([0-9.]+%).*/scale \1, \2 clipped/p' "$3.native.txt")
  printf "%-9s %7s %14s %14s %14s %14s  %s\n" "$1" "$2" "$bn" "$bw" "$yn" "$yw" "$qz"
done
echo "(bytes/vector = serialised index: $DIM B of int8 codes + the delta/varint-coded graph; raw outputs in $OUT/)"
