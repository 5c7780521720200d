#!/usr/bin/env bash
# Hostile images against the builder and `nftlens query`. One collection holds 12 good tokens of
# the example collection plus one token per hostile image; the build must skip each hostile image
# it cannot use with a clear reason (in <out>.build-report.json), build every other token, and stay
# within BUILD_SECS / BUILD_MB (measured with /usr/bin/time -v). Then `nftlens query` on each
# hostile image alone must exit 0 (answered) or 1 (clear "error: ..." message), never on a signal,
# within QUERY_SECS / QUERY_MB. SVG external references must not be fetched or opened.
# Needs the example collection and nftlens (scripts/example-bundle), ImageMagick (/usr/bin/convert),
# python3, strace (optional: the file:// check is skipped without it).
# Prints "ok - ..." lines and "hostile tests: N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NFT=${NFT:-$ROOT/build/native/bin/nftlens}
SRC=$ROOT/build/example/nouns
IM=/usr/bin/convert
BUILD_SECS=${BUILD_SECS:-180}   # whole build: 12 good + all hostile tokens, model load included
BUILD_MB=${BUILD_MB:-2048}
QUERY_SECS=${QUERY_SECS:-20}    # one query: bundle + model load, decode, embed, search
QUERY_MB=${QUERY_MB:-1024}
T=$(mktemp -d "${TMPDIR:-/tmp}/nftlens-hostile.XXXXXX")
hpid=
cleanup() { [ -n "$hpid" ] && kill "$hpid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
no() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }

for need in "$NFT" "$SRC/metadata" "$IM"; do
  [ -e "$need" ] || { no "prerequisite $need" "missing (run scripts/example-bundle)"; # ---- the widget renders bundle strings as text ----
# Token names, traits and links come from the bundle (attacker-controlled metadata): the element
# must never parse them as HTML or code.
sinks=$(grep -nE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(.(href|src)' "$ROOT"/web/src/*.js "$ROOT"/web/src/ui/*.js | grep -v '(never innerHTML)')
[ -z "$sinks" ] && ok "web/src uses no HTML-parsing or eval sinks (bundle strings go through textContent)" || no "no HTML sinks in web/src" "$sinks"

echo "hostile tests: $pass passed, $fail failed"; exit 1; }
done

# A local HTTP server: SVG references to it must never be requested.
mkdir -p "$T/www"; echo x > "$T/www/pixel.png"
(cd "$T/www" && exec python3 -m http.server 0 --bind 127.0.0.1 > "$T/http.log" 2>&1) & hpid=$!
port=
for _ in $(seq 50); do port=$(grep -oE 'port [0-9]+' "$T/http.log" | grep -oE '[0-9]+'); [ -n "$port" ] && break; sleep 0.1; done

# ---- the collection: 12 good tokens ----
C=$T/col; H=$C/hostile
mkdir -p "$C/metadata" "$C/images" "$H"
for f in $(ls "$SRC/metadata" | head -12); do cp "$SRC/metadata/$f" "$C/metadata/"; cp "$SRC/images/${f%.json}.png" "$C/images/"; done
cp "$SRC/collection.json" "$C/"
GOOD=12

# ---- hostile images ----
G=$T/gen; mkdir -p "$G"
base=$SRC/images/$(ls "$SRC/images" | sed -n 20p)
$IM "$base" -resize 128x128 "png24:$G/ok.png"
$IM "$G/ok.png" -quality 85 "$G/ok.jpg"
$IM "$G/ok.png" "$G/ok.gif"
$IM "$G/ok.png" "$G/ok.webp"
cat > "$G/ok.svg" <<'EOF'
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><rect width="64" height="64" fill="#d5d7e1"/><circle cx="32" cy="32" r="20" fill="#e11"/><rect x="12" y="26" width="40" height="8" fill="#000"/></svg>
EOF
for e in png jpg gif webp svg; do
  s=$(stat -c %s "$G/ok.$e"); head -c $((s / 2)) "$G/ok.$e" > "$H/truncated.$e"
  python3 - "$G/ok.$e" "$H/bitflip.$e" <<'PY'
import random, sys
b = bytearray(open(sys.argv[1], "rb").read())
r = random.Random(42)
for i in range(16, len(b), 61): b[i] ^= 1 << r.randrange(8)   # one flipped bit every 61 bytes after the signature
open(sys.argv[2], "wb").write(b)
PY
done
: > "$H/empty.png"
echo "this is not an image" > "$H/text.png"
python3 - "$H" "$G" <<'PY'
import struct, sys, zlib
h, g = sys.argv[1], sys.argv[2]
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
def png(w, hgt, idat): return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, hgt, 8, 2, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
# IHDR claims 100000 x 100000 (CRC correct), almost no data.
open(h + "/bomb-header.png", "wb").write(png(100000, 100000, zlib.compress(b"\0" * 1024)))
# A real deflate bomb: 8000 x 8000 RGB (192 MB of pixels) in ~190 KB; over the 40 M pixel budget.
row = b"\0" + b"\0" * 8000 * 3
co = zlib.compressobj(9); data = b"".join(co.compress(row) for _ in range(8000)) + co.flush()
open(h + "/bomb-deflate.png", "wb").write(png(8000, 8000, data))
# Within the budget: 6000 x 6000 (36 M pixels) in ~100 KB; decodes, bounds memory at the budget.
row = b"\0" + b"\x80" * 6000 * 3
co = zlib.compressobj(9); data = b"".join(co.compress(row) for _ in range(6000)) + co.flush()
open(h + "/large-36mp.png", "wb").write(png(6000, 6000, data))
PY
# JPEG: SOF claims 65000 x 65000; and 6000 x 6000 with the data of a 128 x 128 image (stb decodes
# the missing data as zeros: a 36 M pixel image from 3 KB).
python3 - "$G/ok.jpg" "$H" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"\xff\xc0")
for name, n in (("bomb-sof.jpg", 65000), ("declared-6000.jpg", 6000)):
    c = bytearray(b); c[i + 5:i + 9] = n.to_bytes(2, "big") * 2
    open(sys.argv[2] + "/" + name, "wb").write(c)
PY
# The JPEG that overflowed stb_image's Huffman tables (found by tests/fuzz).
cp "$ROOT/tests/fuzz/corpus/fuzz_image/repro-stb-jpeg-dht-over-256-codes.jpg" "$H/stb-dht-overflow.jpg"
# A progressive JPEG whose scan uses a Huffman table it never defines (stb read uninitialised memory).
cp "$ROOT/tests/fuzz/corpus/fuzz_image/repro-stb-jpeg-undefined-huffman-table.jpg" "$H/stb-undefined-table.jpg"
# GIF: header claims 65535 x 65535; an animation of 5000 frames (frames from ImageMagick).
python3 - "$H/bomb-header.gif" <<'PY'
import struct, sys
open(sys.argv[1], "wb").write(b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0) + b",\0\0\0\0\xff\xff\xff\xff\0\x02\x02\x44\x01\0;")
PY
$IM -size 64x64 -delay 1 xc:red xc:blue -loop 0 "$G/two.gif"
python3 - "$G/two.gif" "$H/frames-5000.gif" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
i = b.rindex(b"\x21\xf9\x04")            # the second frame: graphic control extension .. image data
frame = b[i:-1]
open(sys.argv[2], "wb").write(b[:-1] + frame * 4999 + b";")
PY
# WebP: lossless header claiming 16384 x 16384; an animated WebP.
$IM "$G/ok.png" -define webp:lossless=true "$G/lossless.webp"
python3 - "$G/lossless.webp" "$H/bomb-header.webp" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"VP8L") + 8
assert b[i] == 0x2f
v = int.from_bytes(b[i + 1:i + 5], "little")
v = (v & ~((1 << 28) - 1)) | 0x3fff | (0x3fff << 14)   # width-1 and height-1 = 16383
b[i + 1:i + 5] = v.to_bytes(4, "little")
open(sys.argv[2], "wb").write(b)
PY
$IM -delay 10 "$G/ok.png" "$G/ok.jpg" -loop 0 "$H/animated.webp"
# SVG: external references (local file, HTTP, CSS import), <use> billion laughs, XML entity
# billion laughs, <use> cycles, deep nesting, a huge declared size.
$IM -size 8x8 xc:red "$T/secret.png"
cat > "$H/external-file.svg" <<EOF
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">
<image href="file:///etc/passwd" width="64" height="64"/>
<image xlink:href="file://$T/secret.png" width="64" height="64"/>
<image href="$T/secret.png" width="64" height="64"/>
<rect width="10" height="10" fill="blue"/></svg>
EOF
cat > "$H/external-http.svg" <<EOF
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">
<style>@import url(http://127.0.0.1:$port/style.css);</style>
<image href="http://127.0.0.1:$port/pixel.png" width="64" height="64"/>
<use xlink:href="http://127.0.0.1:$port/sprite.svg#a"/>
<rect width="10" height="10" fill="green" filter="url(http://127.0.0.1:$port/f.svg#f)"/></svg>
EOF
python3 - "$H" <<'PY'
import sys
h = sys.argv[1]
# 10 levels of 10 <use> each: 10^10 rectangles if expanded.
s = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><defs><rect id="a0" width="1" height="1" fill="red"/>'
for n in range(1, 11):
    s += '<g id="a%d">' % n + "".join('<use href="#a%d" x="%d"/>' % (n - 1, k % 3) for k in range(10)) + "</g>"
open(h + "/laughs-use.svg", "w").write(s + '</defs><use href="#a10"/></svg>')
ents = '<!ENTITY a0 "laugh">' + "".join('<!ENTITY a%d "%s">' % (n, ("&a%d;" % (n - 1)) * 10) for n in range(1, 10))
open(h + "/laughs-entity.svg", "w").write('<?xml version="1.0"?><!DOCTYPE svg [' + ents + ']><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><text y="20">&a9;</text></svg>')
open(h + "/use-cycle.svg", "w").write('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><defs><g id="x"><use href="#y"/></g><g id="y"><use href="#x"/></g></defs><use href="#x"/><use id="self" href="#self"/><rect width="9" height="9"/></svg>')
n = 100000
open(h + "/deep-nesting.svg", "w").write('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">' + "<g>" * n + '<rect width="9" height="9"/>' + "</g>" * n + "</svg>")
open(h + "/huge-size.svg", "w").write('<svg xmlns="http://www.w3.org/2000/svg" width="1000000000" height="1000000000"><rect width="1000000000" height="500000000" fill="red"/></svg>')
PY

# Expected outcome per hostile file: "skip:REGEX" (must be skipped, reason matching REGEX) or
# "any" (may be built or skipped; a skip still needs a reason).
declare -A EXPECT=(
  [truncated.png]="skip:corrupt or truncated" [truncated.jpg]="any" [truncated.gif]="any"
  [truncated.webp]="skip:WebP image is corrupt or truncated" [truncated.svg]="skip:SVG cannot be"
  [bitflip.png]="any" [bitflip.jpg]="any" [bitflip.gif]="any" [bitflip.webp]="any" [bitflip.svg]="any"
  [empty.png]="skip:empty" [text.png]="skip:not a decodable"
  [bomb-header.png]="skip:NFT Lens reads images up to" [bomb-deflate.png]="skip:NFT Lens reads images up to" [large-36mp.png]="any"
  [bomb-sof.jpg]="skip:NFT Lens reads images up to" [declared-6000.jpg]="any" [stb-dht-overflow.jpg]="skip:Huffman table" [stb-undefined-table.jpg]="any"
  [bomb-header.gif]="skip:NFT Lens reads images up to" [frames-5000.gif]="any"
  [bomb-header.webp]="skip:NFT Lens reads images up to" [animated.webp]="skip:animated WebP"
  [external-file.svg]="any" [external-http.svg]="any" [laughs-use.svg]="skip:SVG cannot be"
  [laughs-entity.svg]="skip:SVG cannot be" [use-cycle.svg]="any" [deep-nesting.svg]="skip:SVG cannot be"
  [huge-size.svg]="any"
)
for f in $(ls "$H"); do
  [ -n "${EXPECT[$f]:-}" ] || { no "expectation for $f" "none"; continue; }
  id="h-${f//./-}"
  printf '{"token_id": "%s", "name": "hostile %s", "image": "hostile/%s", "attributes": [{"trait_type": "Kind", "value": "hostile"}]}\n' "$id" "$f" "$f" > "$C/metadata/$id.json"
done
nh=$(ls "$H" | wc -l)
echo "# $nh hostile images: $(ls "$H" | tr '\n' ' ')"
echo "# sizes: $(du -b "$H"/* | awk '{printf "%s=%d ", $2, $1}' | sed "s|$H/||g")"

# ---- build ----
/usr/bin/time -v -o "$T/build.time" "$NFT" build "$C" --out "$T/b" --cache "$T/cache" --pairs 100 -q > "$T/build.log" 2>&1
rc=$?
secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$T/build.time")
kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$T/build.time")
echo "# build: exit $rc, ${secs} s wall, $((kb / 1024)) MB max RSS"
[ "$rc" = 3 ] && ok "build with hostile images exits 3 (some tokens skipped)" || no "build exits 3" "rc=$rc $(tail -3 "$T/build.log" | tr '\n' ' ')"
awk -v s="$secs" -v m="$BUILD_SECS" 'BEGIN {exit !(s <= m)}' && ok "build time ${secs} s <= ${BUILD_SECS} s" || no "build time bounded" "${secs} s > ${BUILD_SECS} s"
[ "$((kb / 1024))" -le "$BUILD_MB" ] && ok "build memory $((kb / 1024)) MB <= ${BUILD_MB} MB" || no "build memory bounded" "$((kb / 1024)) MB"
python3 - "$T/b.build-report.json" "$GOOD" "$H" <<'PY' > "$T/report.txt"
import json, os, sys
r = json.load(open(sys.argv[1]))
good = int(sys.argv[2])
skipped = {s["token"]: " ".join(s["reason"].split()) for s in r["skipped"]}
for f in sorted(os.listdir(sys.argv[3])):
    tid = "h-" + f.replace(".", "-")
    print("%s\t%s\t%s" % (f, "skipped" if tid in skipped else "built", skipped.get(tid, "")))
print("#good\t%d\t%d" % (r["tokens"] - sum(1 for f in os.listdir(sys.argv[3]) if "h-" + f.replace(".", "-") not in skipped), good))
PY
while IFS=$'\t' read -r f outcome reason; do
  if [ "$f" = "#good" ]; then
    [ "$outcome" = "$reason" ] && ok "all $reason good tokens are built" || no "good tokens built" "$outcome of $reason"
    continue
  fi
  exp=${EXPECT[$f]:-any}
  if [ "$outcome" = skipped ]; then
    echo "#   $f: skipped: $reason"
    if [ -z "$reason" ]; then no "$f skipped with a reason" "empty reason"
    elif [ "${exp#skip:}" != "$exp" ] && ! grep -qE "${exp#skip:}" <<<"$reason"; then no "$f skipped with a clear reason" "got: $reason"
    else ok "$f: skipped with a clear reason"; fi
  else
    echo "#   $f: built"
    [ "$exp" = any ] && ok "$f: built (usable image)" || no "$f is skipped" "it was built"
  fi
done < "$T/report.txt"

# ---- query each hostile image alone ----
# A query is answered (exit 0) or refused with a message (exit 1); never a signal (>= 128) or a hang.
max_qs=0; max_qkb=0; slow=
for f in $(ls "$H"); do
  /usr/bin/time -f "%e %M" -o "$T/q.time" timeout -s KILL "$QUERY_SECS" "$NFT" query "$T/b" "$H/$f" --json > "$T/q.out" 2> "$T/q.err"
  rc=$?
  read -r qs qkb < <(tail -1 "$T/q.time")
  case $rc in
    0) grep -q '"results"' "$T/q.out" && ok "query $f: answered (${qs} s, $((qkb / 1024)) MB)" || no "query $f answered" "no results line" ;;
    1) grep -q '^error: .\{10,\}' "$T/q.err" && ok "query $f: refused with \"$(grep -m1 '^error:' "$T/q.err" | cut -c8-90)\" (${qs} s, $((qkb / 1024)) MB)" \
         || no "query $f refused clearly" "$(head -c 200 "$T/q.err")" ;;
    *) no "query $f exits 0 or 1" "exit $rc$( [ "$rc" -ge 128 ] && echo " (signal $((rc - 128)))") $(head -c 200 "$T/q.err")" ;;
  esac
  [ -n "$qkb" ] && [ $((qkb / 1024)) -gt "$QUERY_MB" ] && no "query $f memory bounded" "$((qkb / 1024)) MB > $QUERY_MB MB"
  awk -v a="$qs" -v b="$max_qs" 'BEGIN {exit !(a > b)}' && { max_qs=$qs; slow=$f; }
  [ "${qkb:-0}" -gt "$max_qkb" ] && max_qkb=$qkb
done
echo "# queries: slowest ${max_qs} s ($slow), max RSS $((max_qkb / 1024)) MB; bounds ${QUERY_SECS} s, ${QUERY_MB} MB"

# ---- external references were never resolved ----
if grep -q '"GET' "$T/http.log"; then no "SVG http(s) references are not fetched" "$(grep '"GET' "$T/http.log" | head -2 | tr '\n' ' ')"
else ok "SVG http(s) references are not fetched (build + query)"; fi
if command -v strace > /dev/null; then
  strace -f -qq -e trace=open,openat,stat,newfstatat,access -o "$T/strace.txt" "$NFT" query "$T/b" "$H/external-file.svg" > /dev/null 2>&1
  if grep -E 'secret\.png|/etc/passwd' "$T/strace.txt" > /dev/null; then no "SVG file references are not opened" "$(grep -E 'secret|passwd' "$T/strace.txt" | head -2)"
  else ok "SVG file:// and relative references are not opened"; fi
else
  echo "# strace not installed: file:// check skipped"
fi

# ---- the widget renders bundle strings as text ----
# Token names, traits and links come from the bundle (attacker-controlled metadata): the element
# must never parse them as HTML or code.
sinks=$(grep -nE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(.(href|src)' "$ROOT"/web/src/*.js "$ROOT"/web/src/ui/*.js | grep -v '(never innerHTML)')
[ -z "$sinks" ] && ok "web/src uses no HTML-parsing or eval sinks (bundle strings go through textContent)" || no "no HTML sinks in web/src" "$sinks"

echo "hostile tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
