#!/usr/bin/env bash
# The nftlens CLI on real files: build, query, info, verify; broken tokens; corrupt, swapped and
# old-format bundles; kill -9 during builds; hostile metadata. Needs the example collection
# (scripts/example-bundle). Prints "ok - ..." lines and "cli tests: N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NFT=$ROOT/build/native/bin/nftlens
SRC=$ROOT/build/example/nouns
Q=$ROOT/build/example/queries
T=$(mktemp -d "${TMPDIR:-/tmp}/nftlens-cli.XXXXXX"); trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
no() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@" >>"$T/log" 2>&1; then ok "$name"; else no "$name" "$(tail -3 "$T/log" | tr '\n' ' ')"; fi; }

# A 60-token collection copied from the example (metadata + images).
mkcol() {  # mkcol DIR [N]
  local d=$1 n=${2:-60}
  mkdir -p "$d/metadata" "$d/images"
  for f in $(ls "$SRC/metadata" | head -n "$n"); do cp "$SRC/metadata/$f" "$d/metadata/"; cp "$SRC/images/${f%.json}.png" "$d/images/"; done
  cp "$SRC/collection.json" "$d/"
}
mkcol "$T/col"
B="--cache $T/cache --pairs 300 -q --calibration-tokens 20"

check "build exits 0 on a clean collection" "$NFT" build "$T/col" --out "$T/b1" $B
check "verify accepts the fresh bundle" "$NFT" verify "$T/b1"
"$NFT" info "$T/b1" > "$T/info.txt" 2>&1
grep -q "bytes/token" "$T/info.txt" && grep -q "total without model" "$T/info.txt" && ok "info prints bytes per token by file" || no "info prints bytes per token by file"
per=$("$NFT" info "$T/b1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_per_token_without_model"])')
echo "bytes/token without model (60 tokens): $per"

# query --json: one line per image, best first, the original of an altered copy on top.
orig=$(ls "$T/col/images" | sed -n 5p); id=${orig%.png}
"$NFT" query "$T/b1" "$T/col/images/$orig" "$T/col/images/$(ls "$T/col/images" | sed -n 9p)" --json -k 5 > "$T/q.jsonl" 2>>"$T/log"
python3 - "$T/q.jsonl" "$id" <<'PY' && ok "query --json: one line per image, results best first, exact copy on top" || no "query --json format"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, lines
j = json.loads(lines[0])
assert set(["query", "results", "match"]) <= set(j), j.keys()
r = j["results"]
assert r[0]["token_id"] == sys.argv[2] and r[0]["score"] > 0.99, r[0]
assert all(k in r[0] for k in ("collection", "token_id", "name", "score")), r[0]
# Re-ranked by alignment with the thumbnails (default --rerank 30): best first by alignment + 0.5 x score.
assert all("alignment" in x for x in r), r
keys = [x["alignment"] + 0.5 * x["score"] for x in r]
assert keys == sorted(keys, reverse=True), keys
assert j["match"] is True
PY
"$NFT" query "$T/b1" "$T/col/images/$orig" --json -k 5 --rerank 0 > "$T/q0.jsonl" 2>>"$T/log"
python3 - "$T/q0.jsonl" <<'PY' && ok "query --rerank 0: plain cosine order, no alignment" || no "query --rerank 0"
import json, sys
r = json.loads(open(sys.argv[1]).readline())["results"]
assert [x["score"] for x in r] == sorted([x["score"] for x in r], reverse=True)
assert not any("alignment" in x for x in r)
PY
# The verdict: an indexed token's own image is "token"; the originals of tokens left out of this
# 60-token bundle must not be named as a token (their nearest sibling), but for rare close calls.
"$NFT" query "$T/b1" "$T/col/images/$orig" $(ls "$SRC/images" | sed -n '100,110p' | sed "s|^|$SRC/images/|") --json -k 2 > "$T/v.jsonl" 2>>"$T/log"
python3 - "$T/v.jsonl" <<'PY' && ok "verdict: own image is token (confidence > 0.9); <= 2 of 11 left-out originals called token" || no "verdict on own and left-out images"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 12
own, out = lines[0], lines[1:]
assert own["verdict"] == "token" and own["match"] is True and own["confidence"] > 0.9 and own["collection"] == "nouns", own
for j in lines:
    assert j["verdict"] in ("token", "collection", "none") and 0 <= j["confidence"] <= 1 and isinstance(j["close_call"], bool), j
    assert j["match"] == (j["verdict"] == "token")
assert sum(j["verdict"] == "token" for j in out) <= 2, [(j["verdict"], j["confidence"]) for j in out]
PY
"$NFT" info "$T/b1" | grep -q '^verdict      "token" from confidence' && ok "info shows the verdict calibration" || no "info shows the verdict calibration"
# The collection test (style model): the left-out originals above still look like Nouns
# ("collection", not "none"); images that are no pixel art (ImageMagick's built-in rose photo, a
# plasma fractal and a gradient) are "none" in the example bundle (300 tokens, the default 100
# calibration tokens; with this bundle's 20 the style model is too loose to promise it for the rose).
python3 - "$T/v.jsonl" <<'PY' && ok "style test: >= 9 of 11 left-out originals answered collection, not none" || no "left-out originals: collection" "$(python3 -c "import json,sys; print([json.loads(l)['verdict'] for l in open(sys.argv[1])])" "$T/v.jsonl")"
import json, sys
out = [json.loads(l) for l in open(sys.argv[1])][1:]
assert sum(j["verdict"] == "collection" for j in out) >= 9, [(j["verdict"], j["confidence"]) for j in out]
PY
convert rose: -resize 320x320 "$T/rose.png"; convert -size 300x300 plasma:fractal -seed 7 "$T/plasma.png" 2>/dev/null || convert -size 300x300 -seed 7 plasma:fractal "$T/plasma.png"
convert -size 320x320 gradient:navy-orange "$T/gradient.png"
"$NFT" query "$ROOT/build/example/bundle" "$T/rose.png" "$T/plasma.png" "$T/gradient.png" --json -k 2 > "$T/u.jsonl" 2>>"$T/log"
python3 - "$T/u.jsonl" <<'PY' && ok "style test: a photo, a plasma fractal and a gradient are none" || no "unrelated images: none" "$(cat "$T/u.jsonl" | head -c 400)"
import json, sys
v = [json.loads(l)["verdict"] for l in open(sys.argv[1])]
assert v == ["none"] * 3, v
PY
python3 -c "import json,sys; m=json.load(open(sys.argv[1])); assert [f for f in m['files'] if f['role']=='style']" "$T/b1/manifest.json" \
  && "$NFT" info "$T/b1" | grep -qE '^style        nouns: [0-9]+ directions' && ok "the bundle lists a style file; info shows the style model" || no "style file / info style line"
# Thousands of paths on one command line (a shell glob over a big folder): ONNX Runtime parses
# /proc/self/cmdline with a recursive regex when it starts; this overflowed the stack (exit 139).
many=(); for i in $(seq 1 2500); do many+=("$T/a-query-image-that-does-not-exist-number-$i.png"); done
"$NFT" query "$T/b1" "$T/col/images/$orig" "${many[@]}" --json -k 1 > "$T/many.jsonl" 2>/dev/null; rc=$?
[ $rc = 1 ] && [ "$(wc -l < "$T/many.jsonl")" = 2501 ] && head -1 "$T/many.jsonl" | grep -q '"results"' \
  && ok "query takes 2,501 paths on one command line (each missing one reported, exit 1)" || no "query with 2,501 paths" "exit $rc, $(wc -l < "$T/many.jsonl") lines"
# An altered copy from the example queries whose original is in this 60-token subset.
qline=$(grep -E ",\"images/($(ls "$T/col/images" | sed 's/.png//' | paste -sd'|'))\.png\",(jpeg|screenshot)," "$Q/queries.csv" | head -1)
if [ -n "$qline" ]; then
  qf=$(cut -d, -f1 <<<"$qline"); want=$(cut -d, -f2 <<<"$qline" | tr -d '"' | sed 's|images/||; s|.png||')
  top=$("$NFT" query "$T/b1" "$Q/$qf" --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["results"][0]["token_id"])')
  [ "$top" = "$want" ] && ok "altered copy ($qf) finds its original" || no "altered copy finds its original" "got $top want $want"
else no "altered copy finds its original" "no query of this subset"; fi

# A second model card (the 1280-d output of the same network) works through the same code.
"$NFT" build "$T/col" --out "$T/b1280" $B --model "$ROOT/models/mnv2-emb-1280.card.json" >>"$T/log" 2>&1
m=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['model']['outputs'][0]['dim'])" "$T/b1280/manifest.json" 2>/dev/null)
top=$("$NFT" query "$T/b1280" "$T/col/images/$orig" --json -k 1 2>>"$T/log" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["results"][0]["token_id"])' 2>/dev/null)
[ "$m" = 1280 ] && [ "$top" = "$id" ] && ok "bundle with the second model card (1280-d embedding) builds and answers" || no "second model card" "dim=$m top=$top"
cp "$ROOT/models/mnv2-b13-576.card.json" "$T/bad.card.json"; sed -i 's/gap_block_13_expand_relu/no_such_output/' "$T/bad.card.json"
"$NFT" build "$T/col" --out "$T/bbadcard" $B --model "$T/bad.card.json" --model-file "$ROOT/build/models/mnv2-b13-576.onnx" > "$T/e.txt" 2>&1; rc=$?
[ $rc = 1 ] && grep -q 'no output named "no_such_output"' "$T/e.txt" && ok "a card naming a missing output is refused with the name" || no "bad card refused" "$(cat "$T/e.txt")"

# Part codes (issue #16): the parts model gives the same global descriptors (recipe and index
# byte-identical to b1's), adds a parts file that verify checks; a zoom on a detail of a token finds
# it first; a plain copy answers the same with and without them; refusals name the model or layout.
PARTS=(--model "$ROOT/models/mnv2-b13-576-parts.card.json" --model-file "$ROOT/build/models/mnv2-b13-576-parts.onnx")
check "build --part-codes with the parts model" "$NFT" build "$T/col" --out "$T/bparts" $B "${PARTS[@]}" --part-codes --part-dims 32
python3 - "$T/b1/manifest.json" "$T/bparts/manifest.json" <<'PY' && ok "part codes: recipe and index identical to the default model's, a parts file listed" || no "part codes manifest"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
fa, fb = ({f["role"]: f["name"] for f in m["files"]} for m in (a, b))
assert fa["recipe"] == fb["recipe"] and fa["index"] == fb["index"], (fa, fb)
assert "parts" in fb and "parts" not in fa, fb
PY
check "verify accepts the bundle with part codes" "$NFT" verify "$T/bparts"
# bparts was a cold build (the parts model's first in this cache): its grid regions came from the
# embed pass. Rebuilt from the cache, the part codes run the model at 224 px themselves: the same bytes.
"$NFT" build "$T/col" --out "$T/bparts2" $B "${PARTS[@]}" --part-codes --part-dims 32 >>"$T/log" 2>&1
diff <(grep -v '"generator"' "$T/bparts/manifest.json") <(grep -v '"generator"' "$T/bparts2/manifest.json") >/dev/null \
  && ok "part codes: grid regions from the embed pass or from their own model run give an identical bundle" || no "part codes rebuild from cache identical"
"$NFT" info "$T/bparts" | grep -q "^parts " && ok "info lists the part codes" || no "info lists parts"
"$NFT" info "$T/bparts" --json > "$T/partsinfo.json" 2>>"$T/log"
python3 - "$T/partsinfo.json" <<'PY' && ok "info --json: the part codes count in the total, not in what loads at open" || no "info parts always/total" "$(head -c 300 "$T/partsinfo.json")"
import json, sys
j = json.load(open(sys.argv[1]))
f = {x["role"]: x for x in j["files"]}
n = j["tokens"]
at_open = sum(f[r]["bytes"] for r in ("manifest", "recipe", "index", "catalogue", "windows", "style") if r in f)
assert abs(j["bytes_per_token_always"] * n - at_open) < 1, (j["bytes_per_token_always"] * n, at_open)
assert j["bytes_per_token_total"] * n >= at_open + f["parts"]["bytes"] - 1, j
PY
# a zoom on 45% x 45% of token 7 near its top right (glasses and head), at 300 px: the first stage
# is not sure of it (below the threshold), so the part codes' candidates join the re-ranking
zorig=$(ls "$T/col/images" | sed -n 7p); zid=${zorig%.png}
convert "$T/col/images/$zorig" -gravity NorthEast -crop 45%x45%+20+40 +repage -resize 300x300 "$T/zoom.png"
"$NFT" query "$T/bparts" "$T/zoom.png" --json -k 3 > "$T/zq.json" 2>>"$T/log"
python3 - "$T/zq.json" "$zid" <<'PY' && ok "part codes: a zoom on a detail finds its token first" || no "part codes zoom query" "$(head -c 300 "$T/zq.json")"
import json, sys
r = json.loads(open(sys.argv[1]).readline())["results"]
assert r[0]["token_id"] == sys.argv[2], [x["token_id"] for x in r]
PY
# The same zoom twice in one run: the first is answered after fetching its needs (the parts file,
# the part candidates' thumbnails; the engine keeps its first re-ranking across those calls), the
# second with everything at hand: the same document.
"$NFT" query "$T/bparts" "$T/zoom.png" "$T/zoom.png" --json -k 5 > "$T/zq2.json" 2>>"$T/log"
python3 - "$T/zq2.json" <<'PY' && ok "part codes: a zoom answered across fetches equals the same zoom with everything at hand" || no "part codes zoom twice" "$(head -c 300 "$T/zq2.json")"
import json, sys
a, b = (json.loads(l) for l in open(sys.argv[1]).read().splitlines())
assert a == b and a["results"], (a, b)
PY
"$NFT" query "$T/bparts" "$T/col/images/$orig" --json -k 5 > "$T/pa.json" 2>>"$T/log"; "$NFT" query "$T/bparts" "$T/col/images/$orig" --json -k 5 --no-parts > "$T/pb.json" 2>>"$T/log"
python3 - "$T/pa.json" "$T/pb.json" "$id" <<'PY' && ok "part codes: a plain copy is the same token, verdict token, with and without --no-parts" || no "part codes plain query" "$(head -c 300 "$T/pa.json")"
import json, sys
a, b = (json.loads(open(p).readline()) for p in sys.argv[1:3])
assert a["results"][0]["token_id"] == b["results"][0]["token_id"] == sys.argv[3], (a["results"][0], b["results"][0])
assert a["verdict"] == b["verdict"] == "token", (a["verdict"], b["verdict"])
PY
"$NFT" build "$T/col" --out "$T/bpx" $B --part-codes > "$T/e.txt" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "mnv2-b13-576.*has no parts map" "$T/e.txt" && ok "--part-codes with a model without a parts map is refused by name" || no "--part-codes default model" "$(cat "$T/e.txt")"
"$NFT" build "$T/col" --out "$T/bpx" $B "${PARTS[@]}" --part-codes --partitions 2 > "$T/e.txt" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "partitioned" "$T/e.txt" && ok "--part-codes with partitions is refused" || no "--part-codes partitioned" "$(cat "$T/e.txt")"

# Determinism: a second build from the cache is byte-identical.
"$NFT" build "$T/col" --out "$T/b2" $B >>"$T/log" 2>&1
diff <(grep -v '"generator"' "$T/b1/manifest.json") <(grep -v '"generator"' "$T/b2/manifest.json") >/dev/null && ok "rebuild from cache gives an identical bundle" || no "rebuild from cache gives an identical bundle"

# Distributed build: 3 shards in parallel, then merge: identical to the one-machine build.
for i in 0 1 2; do "$NFT" build "$T/col" --shard $i/3 --out "$T/part$i" --pairs 300 -q >>"$T/log" 2>&1 & done; wait
"$NFT" merge "$T/col" --partials "$T/part0" "$T/part1" "$T/part2" --out "$T/bm" --cache "$T/mcache" --pairs 300 --calibration-tokens 20 -q >>"$T/log" 2>&1
diff <(grep -v '"generator"' "$T/b1/manifest.json") <(grep -v '"generator"' "$T/bm/manifest.json") >/dev/null \
  && ok "build --shard I/3 x3 in parallel + merge == one-machine build (byte-identical manifest)" || no "shard + merge identical"

# Broken tokens are skipped with reasons; exit code 3; the rest is built.
mkcol "$T/bad" 20
head -c 300 "$T/bad/images/$(ls "$T/bad/images" | sed -n 2p)" > "$T/trunc" && mv "$T/trunc" "$T/bad/images/$(ls "$T/bad/images" | sed -n 2p)"
echo '{"name": "broken' > "$T/bad/metadata/$(ls "$T/bad/metadata" | sed -n 3p)"
m4=$(ls "$T/bad/metadata" | sed -n 4p); python3 - "$T/bad/metadata/$m4" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); j["image"] = "../../../../etc/passwd"; json.dump(j, open(sys.argv[1], "w"))
PY
m5=$(ls "$T/bad/metadata" | sed -n 5p); python3 - "$T/bad/metadata/$m5" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); j["name"] = "<img src=x onerror=alert(1)>"; j["attributes"].append({"trait_type": "<b>x</b>", "value": "javascript:alert(1)"}); json.dump(j, open(sys.argv[1], "w"))
PY
python3 -c "print('['*100000)" > "$T/bad/metadata/deep.json"
"$NFT" build "$T/bad" --out "$T/bbad" $B >>"$T/log" 2>&1; rc=$?
[ $rc = 3 ] && ok "build with broken tokens exits 3" || no "build with broken tokens exits 3" "rc=$rc"
python3 - "$T/bbad.build-report.json" <<'PY' && ok "report lists truncated image, broken JSON, escaping path, deep nesting" || no "build report reasons"
import json, sys
r = json.load(open(sys.argv[1]))
reasons = " | ".join(s["reason"] for s in r["skipped"])
assert r["tokens"] == 17, r["tokens"]
for needle in ("corrupt or truncated", "not valid JSON", "outside the collection folder", "nested deeper"):
    assert needle in reasons, (needle, reasons)
PY
hid=$(python3 -c "import json;print(json.load(open('$T/bad/metadata/$m5'))['edition'])" 2>/dev/null)
"$NFT" query "$T/bbad" "$T/bad/images/${m5%.json}.png" --json -k 1 > "$T/h.json"
grep -qF '"name":"<img src=x onerror=alert(1)>"' "$T/h.json" && ok "hostile name comes back as a JSON string, verbatim" || no "hostile name verbatim in JSON"

# Corrupt bundles: truncated, bit-flipped, swapped, old format: clear errors, no crash.
cp -r "$T/b1" "$T/c1"; idx=$(ls "$T/c1" | grep '^index\.'); head -c 100 "$T/b1/$idx" > "$T/c1/$idx"
"$NFT" verify "$T/c1" > "$T/v.txt" 2>&1; rc=$?
[ $rc != 0 ] && grep -q "MISMATCH.*$idx" "$T/v.txt" && ok "verify names a truncated index" || no "verify names a truncated index" "rc=$rc"
"$NFT" verify "$T/c1" --json > "$T/v.json" 2>&1; rc=$?
python3 - "$T/v.json" "$idx" <<'PY' && [ $rc = 1 ] && ok "verify --json: ok false, the truncated index named in a mismatch entry, exit 1" || no "verify --json on a damaged bundle" "rc=$rc $(head -c 300 "$T/v.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["ok"] is False and j["problems"] >= 1, j
assert any(c["status"] == "mismatch" and sys.argv[2] in c["error"] for c in j["checks"]), j["checks"]
PY
"$NFT" verify "$T/b1" --json | python3 -c "import json,sys; j=json.load(sys.stdin); assert j['ok'] and j['problems']==0 and all(c['status']=='ok' for c in j['checks']) and len(j['checks'])>=4, j" \
  && ok "verify --json on a sound bundle: ok true, every file ok" || no "verify --json on a sound bundle"
"$NFT" query "$T/c1" "$T/col/images/$orig" > "$T/e.txt" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "$idx" "$T/e.txt" && ok "query refuses a truncated index, naming it" || no "query refuses a truncated index" "$(cat "$T/e.txt")"
cp -r "$T/b1" "$T/c2"; cat=$(ls "$T/c2" | grep '^catalogue\.')
python3 - "$T/c2/$cat" <<'PY'
import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0x10; open(p, "wb").write(b)
PY
"$NFT" verify "$T/c2" > "$T/v.txt" 2>&1; rc=$?
[ $rc != 0 ] && grep -q "SHA-256" "$T/v.txt" && ok "verify catches a flipped bit in the catalogue" || no "verify catches a flipped bit"
"$NFT" build "$T/col" --out "$T/b3" $B --dims 32 >>"$T/log" 2>&1
cp -r "$T/b1" "$T/c3"; rm "$T/c3/$(ls "$T/c3" | grep '^recipe\.')"; r3=$(ls "$T/b3" | grep '^recipe\.'); cp "$T/b3/$r3" "$T/c3/$(ls "$T/b1" | grep '^recipe\.')"
"$NFT" query "$T/c3" "$T/col/images/$orig" > "$T/e.txt" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "recipe" "$T/e.txt" && ok "a file swapped in from another bundle is refused" || no "swapped file refused" "$(cat "$T/e.txt")"
cp -r "$T/b1" "$T/c4"; sed -i 's/"version": 2/"version": 0/' "$T/c4/manifest.json"
"$NFT" info "$T/c4" > "$T/e.txt" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "version 0 is not supported" "$T/e.txt" && ok "an older format version is refused with its number" || no "old version refused" "$(cat "$T/e.txt")"

# kill -9 at random moments: the previous bundle stays valid; the resumed build equals a clean one.
mkcol "$T/big" 200
"$NFT" build "$T/big" --out "$T/kb" --cache "$T/kcache" --pairs 400 -q >>"$T/log" 2>&1   # previous bundle
cp "$T/kb/manifest.json" "$T/kb.prev"
mkcol "$T/big2" 240   # a grown collection: the next build has new work to be interrupted
cp "$T/big/collection.json" "$T/big2/"
intact=1
for delay in 0.3 0.9 1.6 2.4; do
  "$NFT" build "$T/big2" --out "$T/kb" --cache "$T/kcache" --pairs 400 -q >>"$T/log" 2>&1 &
  pid=$!; sleep "$delay"; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  "$NFT" verify "$T/kb" >>"$T/log" 2>&1 || intact=0
done
[ $intact = 1 ] && ok "bundle stays valid across 4 kill -9 during a rebuild" || no "bundle stays valid across kill -9"
"$NFT" build "$T/big2" --out "$T/kb" --cache "$T/kcache" --pairs 400 -q >>"$T/log" 2>&1
"$NFT" build "$T/big2" --out "$T/kclean" --cache "$T/kcache-clean" --pairs 400 -q >>"$T/log" 2>&1
diff <(grep -v '"generator"' "$T/kb/manifest.json") <(grep -v '"generator"' "$T/kclean/manifest.json") >/dev/null \
  && ok "resumed build is identical to an uninterrupted one" || no "resumed build identical to a clean one"

# Remote collection over real HTTP on 127.0.0.1: base URI + ipfs:// via a gateway; cached by URL.
mkdir -p "$T/www/meta" "$T/www/ipfs/QmTestCid"
for i in 0 1 2 3 4 5 6 7; do
  f=$(ls "$SRC/metadata" | sed -n "$((i + 1))p")
  cp "$SRC/images/${f%.json}.png" "$T/www/ipfs/QmTestCid/$i.png"
  python3 - "$SRC/metadata/$f" "$T/www/meta/$i" "$i" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); j["image"] = "ipfs://QmTestCid/%s.png" % sys.argv[3]; j.pop("token_id", None)
json.dump(j, open(sys.argv[2], "w"))
PY
done
rm "$T/www/ipfs/QmTestCid/6.png"   # one image 404s: skipped with a reason
(cd "$T/www" && exec python3 -m http.server 0 --bind 127.0.0.1 > "$T/http.log" 2>&1) & hpid=$!
for _ in $(seq 50); do port=$(grep -oE 'port [0-9]+' "$T/http.log" | grep -oE '[0-9]+'); [ -n "$port" ] && break; sleep 0.1; done
mkdir -p "$T/remote"
echo "{\"slug\": \"remote\", \"base_uri\": \"http://127.0.0.1:$port/meta/\", \"token_ids\": \"0-7\", \"ipfs_gateway\": \"http://127.0.0.1:$port/ipfs/\"}" > "$T/remote/collection.json"
"$NFT" build "$T/remote" --out "$T/rb" --cache "$T/rcache" --pairs 50 -q >>"$T/log" 2>&1; rc=$?
n1=$(grep -c '"GET' "$T/http.log")
python3 - "$T/rb.build-report.json" <<'PY' && [ $rc = 3 ] && ok "remote collection over HTTP + IPFS gateway: 7 built, the 404 skipped" || no "remote collection" "rc=$rc"
import json, sys
r = json.load(open(sys.argv[1])); assert r["tokens"] == 7, r; assert "HTTP 404" in r["skipped"][0]["reason"], r
PY
"$NFT" build "$T/remote" --out "$T/rb" --cache "$T/rcache" --pairs 50 -q >>"$T/log" 2>&1
n2=$(grep -c '"GET' "$T/http.log")
[ $((n2 - n1)) -le 1 ] && ok "a re-run downloads nothing twice (only the missing image is retried)" || no "re-run downloads again" "$n1 -> $n2 requests"
kill $hpid 2>/dev/null

# WebP and SVG tokens (many on-chain NFTs are SVG).
mkcol "$T/fmt" 6
f1=$(ls "$T/fmt/images" | sed -n 1p); /usr/bin/convert "$T/fmt/images/$f1" "$T/fmt/images/${f1%.png}.webp" && rm "$T/fmt/images/$f1"
f2=$(ls "$T/fmt/images" | grep png | sed -n 1p); rm "$T/fmt/images/$f2"
printf '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" fill="#d5d7e1"/><rect x="8" y="8" width="16" height="12" fill="#e11"/><image href="file:///etc/passwd" width="1" height="1"/></svg>' > "$T/fmt/images/${f2%.png}.svg"
for m in "$T"/fmt/metadata/*.json; do python3 -c "import json,sys; j=json.load(open(sys.argv[1])); j.pop('image'); json.dump(j, open(sys.argv[1],'w'))" "$m"; done
"$NFT" build "$T/fmt" --out "$T/fb" --cache "$T/fcache" --pairs 50 -q >>"$T/log" 2>&1; rc=$?
top=$("$NFT" query "$T/fb" "$T/fmt/images/${f2%.png}.svg" --json -k 1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["results"][0]["token_id"])')
[ $rc = 0 ] && [ "$top" = "${f2%.png}" ] && ok "WebP and SVG token images are decoded (SVG external refs ignored)" || no "WebP/SVG tokens" "rc=$rc top=$top"

# Words and traits: typed descriptions (words dropped, shuffled, misspelt) find their token.
"$ROOT/build/native/bin/text_bench" "$ROOT/build/example/bundle" --queries 300 --min-top10 0.9 > "$T/text.txt" 2>&1 \
  && ok "text search: typed trait descriptions find their token in the top 10 >= 90% ($(tail -1 "$T/text.txt" | awk '{print $10}'))" \
  || no "text search top-10 >= 0.9" "$(tail -1 "$T/text.txt")"
"$NFT" text "$T/b1" "glasses:$(python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['attributes']; print([x['value'] for x in a if x['trait_type']=='Glasses'][0].split()[0])" "$T/col/metadata/$id.json")" --json -k 50 > "$T/t.json"
python3 - "$T/t.json" <<'PY' && ok "text --json with a trait filter returns only matching tokens" || no "text trait filter"
import json, sys
j = json.load(open(sys.argv[1])); q = j["query"].split(":")[1].lower()
assert j["results"], "no results"
for r in j["results"]:
    assert any(a["trait_type"] == "Glasses" and q in a["value"].lower() for a in r["attributes"]), r["attributes"]
PY
"$NFT" text "$T/b1" "glasses" --json -k 3 > "$T/t3.json"; "$NFT" text "$T/b1" "glasses" --json -k 1000 > "$T/tall.json"
python3 - "$T/t3.json" "$T/tall.json" <<'PY' && ok "text --json: total counts every match, not only the k shown" || no "text total"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert len(a["results"]) == 3 and a["total"] == b["total"] == len(b["results"]) > 3, (a["total"], b["total"], len(b["results"]))
PY
"$NFT" query "$T/b1" "$T/col/images/$orig" --json -k 10 > "$T/rel.json"; "$NFT" query "$T/b1" "$T/col/images/$orig" -k 10 > "$T/rel.txt"
python3 - "$T/rel.json" "$T/rel.txt" <<'PY' && ok "query: relevance (json) and the numbers printed follow the order of the results" || no "relevance order" "$(cat "$T/rel.txt")"
import json, re, sys
j = json.loads(open(sys.argv[1]).readline())
rel = [r["relevance"] for r in j["results"]]
assert len(rel) == 10 and all(0 <= x <= 1 for x in rel) and rel == sorted(rel, reverse=True), rel
printed = [float(m) for m in re.findall(r"^\s+\d+\. ([0-9.]+)", open(sys.argv[2]).read(), re.M)]
assert len(printed) == 10 and printed == sorted(printed, reverse=True), printed
PY
"$NFT" query "$T/b1" "$T/col/images/$orig" --filter "rank:1-5" --json -k 5 > "$T/f.json"
python3 - "$T/f.json" <<'PY' && ok "query --filter restricts image results (rank:1-5)" || no "query --filter"
import json, sys
j = json.loads(open(sys.argv[1]).readline())
assert j["results"] and all(r["rarity_rank"] <= 5 for r in j["results"]), j["results"]
PY

check "every subcommand has --help" bash -c "for c in build merge query text eval info verify describe; do '$NFT' \$c --help >/dev/null || exit 1; done"
# Issue #19, items 7-8: errors name the file (a folder, a missing file); a build prints no CUDA note.
"$NFT" query "$T/b1" "$T/col" > "$T/e.txt" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "$T/col: is a folder, not an image file" "$T/e.txt" && ok "query names a folder given as an image" || no "query on a folder" "rc=$rc $(cat "$T/e.txt")"
"$NFT" query "$T/b1" "$T/no-such.png" --json > "$T/e.json" 2>/dev/null; rc=$?
[ $rc = 1 ] && python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['query'].endswith('no-such.png') and 'no-such.png' in j['error'] and j['code'], j" "$T/e.json" && ok "query --json names a missing image file in its error line" || no "missing image named" "rc=$rc $(cat "$T/e.json")"
"$NFT" build "$T/col" --out "$T/bq" --cache "$T/cache" --pairs 300 --calibration-tokens 20 > "$T/bq.out" 2> "$T/bq.err"; rc=$?
[ $rc = 0 ] && ! grep -qi "cuda" "$T/bq.err" && grep -q "^bundle: " "$T/bq.err" && ok "a CPU build prints no CUDA note" || no "CUDA note" "rc=$rc $(grep -i cuda "$T/bq.err")"
# Usage: --version and help exit 0; an unknown command is named; usage errors exit 2.
"$NFT" --version > "$T/u.txt" 2>&1; rc=$?
[ $rc = 0 ] && grep -q "^nftlens [0-9]" "$T/u.txt" && ok "--version prints the version, exit 0" || no "--version" "rc=$rc $(head -2 "$T/u.txt")"
"$NFT" help > "$T/u.txt" 2>&1; rc=$?
[ $rc = 0 ] && grep -q "Usage: nftlens" "$T/u.txt" && grep -q "query" "$T/u.txt" && ok "help lists the commands, exit 0" || no "help" "rc=$rc $(head -2 "$T/u.txt")"
"$NFT" frobnicate > "$T/u.txt" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "unknown command 'frobnicate'" "$T/u.txt" && ok "an unknown command is named, exit 2" || no "unknown command" "rc=$rc $(head -2 "$T/u.txt")"
rcs=""
for args in "" "query" "query $T/b1" "query $T/b1 x.png --no-such-flag" "query $T/b1 x.png -k 0" "query $T/b1 x.png --rerank 999"; do
  "$NFT" $args > /dev/null 2>&1; rcs="$rcs $?"
done
[ "$rcs" = " 2 2 2 2 2 2" ] && ok "usage errors (no command, missing arguments, unknown flag, option out of range) exit 2" || no "usage errors exit 2" "exit codes:$rcs"
"$NFT" query "$T/b1" /nonexistent.png > "$T/e.txt" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "/nonexistent.png" "$T/e.txt" && ok "missing query image: clear error naming it" || no "missing query image error"

# Partitioned bundle (forced on 60 tokens): parts listed in the table, searched per query, checked
# by verify; rebuilding as one index removes the parts.
check "build --partitions 4 writes a partitioned bundle" "$NFT" build "$T/col" --out "$T/pb" $B --partitions 4 --probe 1 --fragment-tokens 16
nshards=$(ls "$T/pb" | grep -c '^shards\.'); nfrag=$(ls "$T/pb" | grep -c '^tokens\.'); npacks=$(ls "$T/pb" | grep -c '^thumbs\.'); ndir=$(ls "$T/pb" | grep -c '^directory\.')
python3 - "$T/pb/manifest.json" "$nshards" "$nfrag" "$npacks" "$ndir" <<'PY' && ok "manifest lists the layout; its shards, 4 fragments and thumbnails in one file each (60 tokens), one directory" || no "partitioned layout" "$nshards shard files, $nfrag fragment files, $npacks packs, $ndir directories"
import json, sys
m = json.load(open(sys.argv[1]))
L = m["layout"]
assert L["kind"] == "partitioned" and 2 <= L["partitions"] <= 4, L
assert L["fragments"] == 4 and L["default_probe"] == 1, L
assert int(sys.argv[2]) == 1 and int(sys.argv[3]) == 1, "shards and fragments are grouped into files of 1,000 tokens or more"
# (partition table version 5 lists the thumbnail packs and the directory; the manifest only the head)
assert {f["role"] for f in m["files"]} == {"model", "recipe", "partitions", "catalogue", "stats", "style"}, m["files"]
assert int(sys.argv[4]) == 1, "packs hold whole partitions, 1,000 tokens or more: one pack for 60 tokens"
assert int(sys.argv[5]) == 1, "one directory"
assert m["counts"]["tokens"] == 60
PY
"$NFT" query "$T/pb" "$T/col/images/$orig" --json -k 3 > "$T/pq.json" 2>>"$T/log"
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['results'][0]['token_id']==sys.argv[2] and j['match'], j" "$T/pq.json" "$id" \
  && ok "query on a partitioned bundle finds the exact copy" || no "partitioned query" "$(head -c 300 "$T/pq.json")"
"$NFT" info "$T/pb" | grep -q "partitions fetched per query" && "$NFT" info "$T/pb" | grep -q "^shards" && ok "info shows the partitions and shard bytes" || no "partitioned info"
check "verify checks every shard and fragment" "$NFT" verify "$T/pb"
cp -r "$T/pb" "$T/pc"; s1=$(ls "$T/pc" | grep '^shards\.' | head -1); printf '\x01' | dd of="$T/pc/$s1" bs=1 seek=40 conv=notrunc 2>/dev/null
"$NFT" verify "$T/pc" > "$T/v.txt" 2>&1; rc=$?
[ $rc != 0 ] && grep -q "MISMATCH.*$s1.*SHA-256" "$T/v.txt" && ok "verify names a damaged shard" || no "verify damaged shard" "rc=$rc $(cat "$T/v.txt" | tail -2)"
# Every kind of file, damaged, is named by verify; query refuses each one it reads (every shard and
# fragment with --probe all and k 1000; thumbnail packs: the range of the token it re-ranks; part
# codes: a query that looks like a part, the zoom above, while a plain copy never reads them; stats
# are not read by query).
python3 - "$NFT" "$T" "$T/col/images/$orig" <<'PY' && ok "each kind of bundle file damaged (one-index, partitioned, with part codes): verify and query name it" || no "damage each kind of file"
import json, os, re, shutil, subprocess, sys
nft, T, img = sys.argv[1:]
def run(*a): p = subprocess.run([nft, *a], capture_output=True, text=True); return p.returncode, p.stdout + p.stderr
bad = []
for src in (f"{T}/b1", f"{T}/pb", f"{T}/bparts"):
    m = json.load(open(f"{src}/manifest.json"))
    top = json.loads(run("query", src, img, "--json", "-k", "1")[1].splitlines()[0])["results"][0]
    names = {f["name"]: f["role"] for f in m["files"]}
    names.update({n: n.split(".")[0] for n in os.listdir(src) if re.match(r"^(shards?|tokens|lexicon|words|directory|thumbs)\.", n)})
    for name, kind in names.items():
        d = f"{T}/dmg"; shutil.rmtree(d, ignore_errors=True); shutil.copytree(src, d)
        b = bytearray(open(f"{d}/{name}", "rb").read())
        at = top["thumb"]["offset"] + 50 if name == top["thumb"]["pack"] else len(b) // 2
        b[at] ^= 0x08; open(f"{d}/{name}", "wb").write(b)
        rc, out = run("verify", d)
        if rc != 1 or name not in out: bad.append(f"verify {kind} {name}: rc {rc} {out[-200:]}")
        if kind in ("stats", "lexicon", "words", "directory") or (kind == "thumbs" and name != top["thumb"]["pack"]): continue  # (the word index, the directory: text only)
        if kind == "parts":
            rc, out = run("query", d, img, "--json", "-k", "1")
            if rc != 0 or json.loads(out.splitlines()[0])["results"][0]["token_id"] != top["token_id"]: bad.append(f"plain query, damaged {name}: rc {rc} {out[-200:]}")
        rc, out = run("query", d, f"{T}/zoom.png" if kind == "parts" else img, "--json", "-k", "1000", *(["--probe", "1000"] if "layout" in m else []))
        if rc == 0 or name not in out: bad.append(f"query {kind} {name}: rc {rc} {out[-200:]}")
    print(src, len(names), "files damaged one by one")
assert not bad, bad
PY
files=$(ls "$T/pb" | wc -l); parts=$(ls "$T/pb" | grep -cE '^(shards?|tokens|thumbs)\.')
"$NFT" info "$T/pb" --json > "$T/pinfo.json" 2>>"$T/log"
python3 - "$T/pinfo.json" "$files" <<'PY' && ok "info --json: bytes_per_token_always < bytes_per_token_total, file_count = files on disk" || no "info always/total bytes" "$(head -c 300 "$T/pinfo.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert 0 < j["bytes_per_token_always"] < j["bytes_per_token_total"] == j["bytes_per_token_without_model"], j
assert j["file_count"] == int(sys.argv[2]), (j["file_count"], sys.argv[2])
assert {f["role"] for f in j["files"]} >= {"manifest", "recipe", "partitions", "catalogue", "thumbs", "stats", "shards", "fragments", "lexicon", "words"}, j["files"]
assert j["layout"]["word_chunks"] >= 1 and j["layout"]["lexicon_bytes"] > 0, j["layout"]
PY
f1=$(ls "$T/pc" | grep '^tokens\.' | head -1); rm "$T/pc/$f1"
"$NFT" verify "$T/pc" > "$T/v.txt" 2>&1; grep -q "$f1: missing" "$T/v.txt" && ok "verify names a missing catalogue fragment" || no "verify missing fragment"
"$NFT" eval "$T/pb" "$Q/queries.csv" --json-out "$T/peval.json" > "$T/peval.txt" 2>&1 && grep -q overall "$T/peval.txt" && ok "eval runs on a partitioned bundle" || no "partitioned eval" "$(tail -2 "$T/peval.txt")"
"$NFT" text "$T/pb" "glasses" --json -k 3 | python3 -c "import json,sys; assert len(json.load(sys.stdin)['results'])==3" && ok "text search natively on a partitioned bundle (fragments joined)" || no "partitioned text"
check "rebuilding the folder as one index" "$NFT" build "$T/col" --out "$T/pb" $B
[ "$(ls "$T/pb" | grep -cE '^(shards?|tokens|partitions|directory|lexicon|words)\.')" = 0 ] && "$NFT" verify "$T/pb" >/dev/null && ok "...removes the partitioned parts and verifies" || no "partition parts left behind"

# Two collections in one bundle: a verdict model per collection (each has 30 calibration tokens),
# the first result's collection's decides; info shows one line per collection; a bad value in a
# collection's model is refused naming manifest.json and the field.
mkdir -p "$T/col2/metadata" "$T/col2/images"
for f in $(ls "$SRC/metadata" | sed -n '61,120p'); do cp "$SRC/metadata/$f" "$T/col2/metadata/"; cp "$SRC/images/${f%.json}.png" "$T/col2/images/"; done
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); j['slug']='nouns2'; json.dump(j, open(sys.argv[2], 'w'))" "$SRC/collection.json" "$T/col2/collection.json"
"$NFT" build "$T/col" "$T/col2" --out "$T/b2c" --cache "$T/cache" --pairs 300 --calibration-tokens 30 > "$T/b2c.out" 2>&1
img2=$(ls "$T/col2/images" | sed -n 3p)
"$NFT" query "$T/b2c" "$T/col2/images/$img2" --json -k 2 > "$T/q2c.jsonl" 2>>"$T/log"
python3 - "$T/b2c/manifest.json" "$T/q2c.jsonl" "${img2%.png}" <<'PY' && ok "two collections: a verdict model per collection in the manifest; a token of the second is named with its slug" || no "per-collection verdict models" "$(grep -E 'verdict|nouns' "$T/b2c.out" | tr '\n' ' ')"
import json, sys
v = json.load(open(sys.argv[1]))["verdict"]
assert set(v["collections"]) == {"nouns", "nouns2"}, v.keys()
for m in [v] + list(v["collections"].values()):  # (an operating point per kind of evidence: re-ranked, and not)
    assert 0.5 <= m["token_confidence"] <= 1 and 0.5 <= m["plain_token_confidence"] <= 1 and "aligned" in m and "plain" in m, m
j = json.loads(open(sys.argv[2]).readline())
assert j["verdict"] == "token" and j["collection"] == "nouns2" and j["results"][0]["token_id"] == sys.argv[3], j["verdict"]
PY
"$NFT" info "$T/b2c" > "$T/info2c.txt"
grep -q '^verdict      global: "token" from confidence' "$T/info2c.txt" && grep -qE '^ +nouns2: "token" from confidence' "$T/info2c.txt" \
  && ok "info shows the global and each collection's verdict calibration" || no "info per-collection verdict lines" "$(grep -A3 '^verdict' "$T/info2c.txt" | tr '\n' ' ')"
cp -r "$T/b2c" "$T/b2cbad"
python3 -c "import json,sys; p=sys.argv[1]; j=json.load(open(p)); j['verdict']['collections']['nouns2']['collection_threshold']=9; json.dump(j, open(p, 'w'))" "$T/b2cbad/manifest.json"
"$NFT" query "$T/b2cbad" "$T/col2/images/$img2" --json > "$T/e.txt" 2>&1; rc=$?
[ $rc != 0 ] && grep -q 'manifest.json: verdict.collections.nouns2.collection_threshold must be a number in -1..1' "$T/e.txt" \
  && ok "a hostile per-collection verdict value is refused, naming manifest.json and the field" || no "hostile per-collection verdict value" "rc=$rc $(head -c 300 "$T/e.txt")"

echo "cli tests: $pass passed, $fail failed"
[ $fail = 0 ]
