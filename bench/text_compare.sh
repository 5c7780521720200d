#!/usr/bin/env bash
# bench/text_compare.sh: text search natively and in wasm (Node) on the same catalogues.
#   SIZES="10000 100000" QUERIES=1000 BUNDLE=build/q10k/bundle bench/text_compare.sh
#   (NATIVE=... WASM=... OUT=... to time other builds of text_bench, e.g. an older index)
# For each size N, bench/nouns_metadata.mjs writes N Nouns' metadata (no images), the native
# text_bench turns it into a catalogue as `nftlens build` would (written to OUT/nouns-N.cat) and
# times the queries; the wasm text_bench (build/wasm/bin/text_bench.js, core only, the shipped
# module's -Oz/LTO flags and allocator) loads that catalogue and times the same queries. BUNDLE (if
# it exists) adds a row pair for a real bundle's catalogue. Every run also dumps its rankings, and
# the script checks that native and wasm agree. Prints one table; outputs go to OUT
# (default build/bench/text).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=${SIZES:-"10000 100000"}
QUERIES=${QUERIES:-1000}
BUNDLE=${BUNDLE:-$ROOT/build/q10k/bundle}
OUT=${OUT:-$ROOT/build/bench/text}
NATIVE=${NATIVE:-$ROOT/build/native/bin/text_bench}
WASM=${WASM:-$ROOT/build/wasm/bin/text_bench.js}
for f in "$NATIVE" "$WASM"; do
  [ -f "$f" ] || { echo "missing $f: cmake --build build/native --target text_bench; cmake --build build/wasm --target text_bench" >&2; exit 1; }
done
mkdir -p "$OUT"
# Private copies: a concurrent rebuild cannot change the binaries mid-run.
cp "$NATIVE" "$OUT/text_bench"
cp "$WASM" "$OUT/text_bench.js"
cp "${WASM%.js}.wasm" "$OUT/text_bench.wasm"
echo '{"type": "commonjs"}' > "$OUT/package.json"

echo "# text search, $(date -u +%Y-%m-%d\ %H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg), node $(node --version), $QUERIES queries per row"
header=1
status=0
run_pair() {  # label, native source args...
  local label=$1; shift
  local h=--no-header
  [ $header = 1 ] && h= && header=0
  nice -n 10 "$OUT/text_bench" "$@" --write-catalogue "$OUT/$label.cat" --queries "$QUERIES" --label "$label" \
    --dump "$OUT/$label.native.dump" $h | tee "$OUT/$label.native.txt"
  nice -n 10 node "$OUT/text_bench.js" --catalogue "$OUT/$label.cat" --queries "$QUERIES" --label "$label" \
    --dump "$OUT/$label.wasm.dump" --no-header | tee "$OUT/$label.wasm.txt"
  if ! cmp -s "$OUT/$label.native.dump" "$OUT/$label.wasm.dump"; then
    echo "!! $label: native and wasm rank differently (diff $OUT/$label.native.dump $OUT/$label.wasm.dump)"
    status=1
  fi
}
if [ -f "$BUNDLE/manifest.json" ]; then run_pair "$(basename "$(dirname "$BUNDLE")")-bundle" "$BUNDLE"; fi
for n in $SIZES; do
  dir=$OUT/nouns-$n
  [ -s "$dir/metadata.jsonl" ] && [ "$(wc -l < "$dir/metadata.jsonl")" = "$n" ] || node "$ROOT/bench/nouns_metadata.mjs" "$n" "$dir" > /dev/null 2>&1
  run_pair "nouns-$n" --metadata "$dir"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg); rankings native = wasm: $([ $status = 0 ] && echo yes || echo NO)"
exit $status
