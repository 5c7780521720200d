#!/usr/bin/env bash
# bench/index_compare.sh [BUNDLE]: the int8 HNSW index natively and in wasm (Node), one table.
# Runs index_bench (same source, two builds) on:
#   random  : random Gaussian vectors, n = 10k and 100k
#   reallike: vectors sampled from a Gaussian fitted to a real bundle's codes (bench/make_vectors.py,
#             default bundle build/q10k/bundle), n = 10k and 100k
#   real    : the real bundle's own codes (n = count - QUERIES; the rest seed the queries)
# Queries (QUERIES, default 2000) are database items plus noise (see index_bench.cpp); recall is against exact float search.
# Prints per dataset and ef: recall@1/@10 (native; wasm's graph can differ slightly, its recall in brackets
# when it does), queries/s native and wasm; plus build time and serialised bytes/vector.
# Env: NICE="nice -n 10"  SIZES="10000 100000"  QUERIES=2000  NATIVE=build/native/bin/index_bench
#      WASM=build/wasm/bin/index_bench.js  OUT=build/bench/index  NODE=node
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
mkdir -p "$OUT"
[ -x "$NATIVE" ] || { echo "missing $NATIVE (cmake --build build/native --target index_bench)" >&2; exit 1; }
[ -f "$WASM" ] || { echo "missing $WASM (cmake --build build/wasm --target index_bench)" >&2; exit 1; }

REALLIKE=$OUT/vectors-reallike.f32
REAL=$OUT/vectors-real.f32
DIM=$(/usr/bin/python3 -c "import struct,glob,sys; f=glob.glob(sys.argv[1]+'/index.*.bin')[0]; print(struct.unpack('<9I',open(f,'rb').read(36))[2])" "$BUNDLE")
COUNT=$(/usr/bin/python3 -c "import struct,glob,sys; f=glob.glob(sys.argv[1]+'/index.*.bin')[0]; print(struct.unpack('<9I',open(f,'rb').read(36))[3])" "$BUNDLE")
/usr/bin/python3 bench/make_vectors.py "$BUNDLE" --count 110000 --out "$REALLIKE" --real "$REAL" > "$OUT/make_vectors.txt"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
runs=()
run() {  # label n extra-args...
  local label=$1 n=$2; shift 2
  local f="$OUT/$label-$n"
  echo "index_bench $label n=$n: native ..." >&2
  $NICE "$NATIVE" --n "$n" --queries "$QUERIES" --dim "$DIM" "$@" > "$f.native.txt"
  echo "index_bench $label n=$n: wasm ..." >&2
  $NICE "$NODE" "$WASM" --n "$n" --queries "$QUERIES" --dim "$DIM" "$@" > "$f.wasm.txt"
  runs+=("$label $n $f")
}
for n in $SIZES; do run random "$n"; done
for n in $SIZES; do run reallike "$n" --vectors "$REALLIKE"; done
run real $((COUNT - QUERIES)) --vectors "$REAL"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "index bench: native ($(sed -nE 's/.*kernel=([^ ]+).*/\1/p' "$OUT/random-${SIZES%% *}.native.txt" | head -1)) vs wasm under Node $($NODE --version) ($(sed -nE 's/.*kernel=([^ ]+).*/\1/p' "$OUT/random-${SIZES%% *}.wasm.txt" | head -1)); dim $DIM, M 12, $QUERIES queries; $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load average start $LOAD_START / end $LOAD_END"
sed -n '1,3p' "$OUT/make_vectors.txt" | sed 's/^/  /'
printf "%-9s %7s %-11s %15s %15s %12s %12s %9s\n" vectors n search recall@1 recall@10 "native q/s" "wasm q/s" "wasm/nat"
for r in "${runs[@]}"; do
  set -- $r
  label=$1 n=$2 f=$3
  awk -v label="$label" -v n="$n" '
    FNR == 1 { file++ }
    /^(hnsw|exact)/ { key = ($1 == "hnsw") ? $1 " " $2 : $1; k = (key ~ /exact/) ? 0 : 1;
      if (file == 1) { order[++cnt] = key; r1[key] = $(NF-2); r10[key] = $(NF-1); qn[key] = $NF }
      else { w1[key] = $(NF-2); w10[key] = $(NF-1); qw[key] = $NF } }
    END { for (i = 1; i <= cnt; i++) { key = order[i]
      a = r1[key]; b = r10[key]
      if (w1[key] != r1[key]) a = a "(" w1[key] ")"
      if (w10[key] != r10[key]) b = b "(" w10[key] ")"
      printf "%-9s %7s %-11s %15s %15s %12s %12s %8.2fx\n", label, n, key, a, b, qn[key], qw[key], qw[key] / qn[key] } }' \
    "$f.native.txt" "$f.wasm.txt"
done
echo
printf "%-9s %7s %14s %14s %14s %14s\n" vectors n "native build s" "wasm build s" "native B/vec" "wasm B/vec"
for r in "${runs[@]}"; do
  set -- $r
  bn=$(sed -nE 's/^build ([0-9.]+) s.*/\1/p' "$3.native.txt"); bw=$(sed -nE 's/^build ([0-9.]+) s.*/\1/p' "$3.wasm.txt")
  yn=$(sed -nE 's/.*serialised ([0-9.]+) bytes.*/\1/p' "$3.native.txt"); yw=$(sed -nE 's/.*serialised ([0-9.]+) bytes.*/\1/p' "$3.wasm.txt")
  printf "%-9s %7s %14s %14s %14s %14s\n" "$1" "$2" "$bn" "$bw" "$yn" "$yw"
done
echo "(bytes/vector = serialised index: $DIM B of int8 codes + the delta/varint-coded graph; raw outputs in $OUT/)"
