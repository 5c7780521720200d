#!/usr/bin/env bash
# bench/detection.sh [DATA_DIR]: "is this a copy?" on 10k Nouns. Builds a bundle from the
# collection with half of the evaluation originals left out (hard-linked folder), then runs
# `nftlens eval` on all queries: copies of left-out tokens (and any unrelated images listed with an
# original that is not in the bundle) are the negatives. Prints precision/recall at the bundle's
# stored threshold and at the threshold that keeps 90% recall.
# DATA_DIR defaults to build/q10k (nouns/ + queries/ from bench/quality.sh or scripts/make-example).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=${1:-$ROOT/build/q10k}
NFT=${NFTLENS:-$ROOT/build/native/bin/nftlens}
H=$D/holdout
rm -rf "$H"; mkdir -p "$H/metadata" "$H/images"
cp "$D/nouns/collection.json" "$H/"
# Leave out every second original named in queries.csv.
cut -d, -f2 "$D/queries/queries.csv" | tail -n +2 | tr -d '"' | sort -u | awk 'NR % 2 == 0' | sed 's|images/||; s|\.png$||' > "$H/left-out.txt"
for f in "$D"/nouns/metadata/*.json; do
  id=$(basename "$f" .json)
  grep -qx "$id" "$H/left-out.txt" && continue
  ln "$f" "$H/metadata/$id.json"; ln "$D/nouns/images/$id.png" "$H/images/$id.png"  # hard links: symlinks out of a collection are refused
done
echo "left out $(wc -l < "$H/left-out.txt") tokens; bundle has $(ls "$H/metadata" | wc -l)" >&2
nice "$NFT" build "$H" --out "$H/bundle" --cache "$D/cache" -q
nice "$NFT" eval "$H/bundle" "$D/queries/queries.csv" --json-out "$H/eval.json"
