#!/usr/bin/env bash
# bench/capture_speed.sh BUNDLE QUERIES_DIR [N]: native `nftlens query` time per image, per query
# kind, on one thread (--threads 1 for ONNX Runtime; re-ranking is single-threaded anyway).
# QUERIES_DIR holds make-queries.sh output (queries.csv). For each kind, the first N (default 30)
# images are queried in one process, and the time of a one-image run (start-up: bundle and model
# loading) is subtracted, so the table shows the steady per-image cost: decode, plan, up to three
# model runs, search, re-ranking (env KINDS="jpeg pfp ..." limits the kinds). Also prints the mean model runs per query (describe's views, first 10 images). Prints a table.
set -euo pipefail
B=${1:?usage: capture_speed.sh BUNDLE QUERIES_DIR [N]}; Q=${2:?usage}; N=${3:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NFT=${NFTLENS:-$ROOT/build/native/bin/nftlens}
now() { date +%s.%N; }
kinds=${KINDS:-$(tail -n +2 "$Q/queries.csv" | cut -d, -f3 | awk '!seen[$0]++')}
printf "%-12s %5s %12s %14s\n" kind n "ms/image" "model runs"
for k in $kinds; do
  mapfile -t files < <(tail -n +2 "$Q/queries.csv" | awk -F, -v k="$k" '$3 == k {print $1}' | head -n "$N" | sed "s|^|$Q/|")
  [ ${#files[@]} -gt 0 ] || continue
  t0=$(now); "$NFT" query "$B" "${files[0]}" --threads 1 --json > /dev/null; t1=$(now)
  "$NFT" query "$B" "${files[@]}" --threads 1 --json > /dev/null; t2=$(now)
  runs=0; m=0
  for f in "${files[@]:0:10}"; do m=$((m + 1))
    r=$("$NFT" describe "$B" "$f" | python3 -c 'import json,sys; print(len({v["model_run"] for v in json.load(sys.stdin)["views"]}))')
    runs=$((runs + r))
  done
  awk -v k="$k" -v n=${#files[@]} -v a="$t0" -v b="$t1" -v c="$t2" -v r=$runs -v m=$m \
    'BEGIN{one=b-a; all=c-b; printf "%-12s %5d %12.1f %14.2f\n", k, n, 1000*(all-one)/(n-1 > 0 ? n-1 : 1), r/m}'
done
