#!/usr/bin/env bash
# bench/verdict_split.sh [nouns|lorelei|openmoji] [N]: the verdict on a split (issue #17). A bundle is
# built from every second token of an N-token collection (default 1000); `nftlens eval` then runs
#   <transform>           altered copies of indexed tokens          -> should be "token" (and right)
#   out-<transform>       altered copies of left-out tokens         -> should not be "token" ("collection")
#   out-original          the original images of left-out tokens    -> should not be "token" ("collection")
#   unrelated[-transform] tokens of the other collection, originals and altered -> should be "none"
#   unrelated-third[-transform] the same from a third collection (of another art style: a check
#                         on a collection nothing was tuned on)
# and prints its verdict table (token / right / collection / none / close call per kind) and the
# precision at 95% recall of "this is the token" by confidence, then the main rates with 95% intervals
# from a bootstrap over tokens (bench/verdict_intervals.py). Writes build/verdict/<name>/eval.json.
# Env: SPLIT (alternate: every second token in id order, the default; random: a random half by SEED),
# SAMPLE (originals per query set, default 200: at 60 one hard left-out token moves the left-out
# rate by 2 points, and its interval spans 1-14%), SEED (default 1), NFTLENS, TRANSFORMS (the
# altered copies; default make-queries.sh's nine; "...,captures" adds pfp, post, sticker, deepcrop),
# OUT (default build/verdict; the rendered collections are reused from there).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=${1:-nouns}; N=${2:-1000}
case "$NAME" in nouns) OTHER=lorelei THIRD=openmoji ;; lorelei) OTHER=nouns THIRD=openmoji ;; openmoji) OTHER=nouns THIRD=lorelei ;;
  *) echo "usage: verdict_split.sh nouns|lorelei|openmoji [N]" >&2; exit 2 ;; esac
NFT=${NFTLENS:-$ROOT/build/native/bin/nftlens}
SAMPLE=${SAMPLE:-200}; SEED=${SEED:-1}
V=${OUT:-$ROOT/build/verdict}; mkdir -p "$V"; V=$(cd "$V" && pwd); D=$V/$NAME  # (absolute: the query list names images outside its folder)
make_col() {  # make_col NAME DIR
  [ -f "$2/.done-$N" ] && return
  rm -rf "$2"
  case "$1" in
    nouns) "$ROOT/scripts/make-example" "$N" "$2" >/dev/null 2>&1 ;;
    lorelei) "$ROOT/scripts/make-dicebear" "$N" "$2" >/dev/null 2>&1 ;;
    openmoji) "$ROOT/scripts/make-openmoji" "$N" "$2" >/dev/null 2>&1 ;;
  esac
  touch "$2/.done-$N"
}
mkdir -p "$V"
make_col "$NAME" "$V/col-$NAME"; make_col "$OTHER" "$V/col-$OTHER"; make_col "$THIRD" "$V/col-$THIRD"

# The indexed half (hard links: symlinks out of a collection are refused): every second token in id
# order, or with SPLIT=random a random half (seeded by SEED). A collection that lists its variants
# together (OpenMoji: six skin tones of each person in a row) puts a variant's same-tone
# counterparts in the same half when every second token is taken; a random half does not.
rm -rf "$D"; mkdir -p "$D/half/metadata" "$D/half/images" "$D/q"
cp "$V/col-$NAME/collection.json" "$D/half/"
ls "$V/col-$NAME/metadata" | sort > "$D/all-ids.txt"
if [ "${SPLIT:-alternate}" = random ]; then
  python3 -c 'import random,sys; ids=open(sys.argv[1]).read().split(); random.seed(int(sys.argv[2])); keep=set(random.sample(ids, (len(ids)+1)//2)); print("\n".join("1" if i in keep else "0" for i in ids))' "$D/all-ids.txt" "$SEED" > "$D/in-half.txt"
elif [ "${SPLIT:-alternate}" = alternate ]; then
  awk '{print (NR % 2 == 1) ? 1 : 0}' "$D/all-ids.txt" > "$D/in-half.txt"
else
  echo "SPLIT must be alternate or random" >&2; exit 2
fi
paste -d' ' "$D/all-ids.txt" "$D/in-half.txt" | while read -r f keep; do
  id=${f%.json}
  if [ "$keep" = 1 ]; then ln "$V/col-$NAME/metadata/$f" "$D/half/metadata/$f"; ln "$V/col-$NAME/images/$id.png" "$D/half/images/$id.png"; else echo "$id" >> "$D/left-out.txt"; fi
done
echo "bundle: $(ls "$D/half/metadata" | wc -l) of $N $NAME tokens; $(wc -l < "$D/left-out.txt") left out" >&2
"$NFT" build "$D/half" --out "$D/bundle" --cache "$V/cache-$NAME" -q

# Queries: altered copies over the whole collection (half of them of left-out tokens), left-out
# originals, and the other collection (originals and altered copies) as unrelated images.
SAMPLE=$SAMPLE SEED=$SEED TRANSFORMS=${TRANSFORMS:-screenshot,jpeg,crop,rotate,color,text,phone,combo,thumb} "$ROOT/scripts/example/make-queries.sh" "$V/col-$NAME" "$D/q/own" >/dev/null 2>&1
SAMPLE=$((SAMPLE / 3)) SEED=$SEED TRANSFORMS=screenshot,jpeg,crop "$ROOT/scripts/example/make-queries.sh" "$V/col-$OTHER" "$D/q/other" >/dev/null 2>&1
SAMPLE=$((SAMPLE / 3)) SEED=$SEED TRANSFORMS=screenshot,jpeg,crop "$ROOT/scripts/example/make-queries.sh" "$V/col-$THIRD" "$D/q/third" >/dev/null 2>&1
python3 - "$D" "$V/col-$NAME" "$V/col-$OTHER" "$SAMPLE" "$V/col-$THIRD" <<'PY'
import csv, os, sys, random
d, own, other, sample, third = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
left = set(open(os.path.join(d, "left-out.txt")).read().split())
rows = []
for r in csv.DictReader(open(os.path.join(d, "q/own/queries.csv"))):
    tok = os.path.splitext(os.path.basename(r["original"]))[0]
    rows.append(("own/" + r["query"], r["original"], ("out-" if tok in left else "") + r["transform"]))
random.seed(1)
for tok in random.sample(sorted(left), min(sample, len(left))):
    rows.append((os.path.join(own, "images", tok + ".png"), "left-out/" + tok, "out-original"))
for r in csv.DictReader(open(os.path.join(d, "q/other/queries.csv"))):
    # (named so that no stem collides with a token of the bundle)
    rows.append(("other/" + r["query"], "unrelated/other-" + os.path.basename(r["original"]), "unrelated-" + r["transform"]))
for f in random.sample(sorted(os.listdir(os.path.join(other, "images"))), sample // 2):
    rows.append((os.path.join(other, "images", f), "unrelated/other-" + f, "unrelated-original"))
for r in csv.DictReader(open(os.path.join(d, "q/third/queries.csv"))):
    rows.append(("third/" + r["query"], "unrelated/third-" + os.path.basename(r["original"]), "unrelated-third-" + r["transform"]))
for f in random.sample(sorted(os.listdir(os.path.join(third, "images"))), sample // 2):
    rows.append((os.path.join(third, "images", f), "unrelated/third-" + f, "unrelated-third-original"))
with open(os.path.join(d, "q/split.csv"), "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["query", "original", "transform"])
    w.writerows(rows)
print(f"{len(rows)} queries", file=sys.stderr)
PY
"$NFT" eval "$D/bundle" "$D/q/split.csv" --json-out "$D/eval.json" 2>/dev/null | sed -n '/verdicts/,$p'
python3 "$ROOT/bench/verdict_intervals.py" "$D/eval.json"
