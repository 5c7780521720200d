#!/usr/bin/env bash
# Regenerates the seed corpora in tests/fuzz/corpus/ (committed; run this only to refresh them).
# Needs ImageMagick (/usr/bin/convert), the example collection and nftlens (scripts/example-bundle)
# and the fuzz build (tests/fuzz/run.sh 0 builds it and replays the corpus). Total size is kept well under 300 KB.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
C=$ROOT/tests/fuzz/corpus
IM=/usr/bin/convert
NOUNS=$ROOT/build/example/nouns
mkdir -p "$C/fuzz_image" "$C/fuzz_bundle" "$C/fuzz_metadata"

# fuzz_image: small real files of every decoded format and variant (colour types, bit depths,
# interlacing, progressive JPEG, palette GIF/BMP, transparency), a real token image cut down, and
# headers that claim huge sizes.
I=$C/fuzz_image
find "$I" -type f ! -name "repro-*" -delete   # repro-*: crash reproducers, kept
noun=$NOUNS/images/$(ls "$NOUNS/images" | head -1)
$IM "$noun" -resize 32x32 "png8:$I/noun-palette.png"
$IM "$noun" -resize 24x24 -quality 80 "$I/noun.jpg"
$IM -size 20x14 gradient:red-blue "png24:$I/rgb.png"
$IM -size 20x14 gradient:red-blue -alpha set -channel A -evaluate set 50% +channel "png32:$I/rgba.png"
$IM -size 17x9 gradient:white-black -colorspace Gray -depth 16 "$I/gray16.png"
$IM -size 17x9 gradient:white-black -colorspace Gray -depth 1 "$I/gray1.png"
$IM -size 16x16 plasma:fractal -seed 1 -interlace PNG "png24:$I/interlaced.png" 2>/dev/null || $IM -size 16x16 gradient: -interlace PNG "$I/interlaced.png"
$IM -size 16x16 xc:none -fill red -draw 'circle 8,8 8,3' "png32:$I/transparent.png"
$IM -size 19x11 gradient:yellow-green -quality 70 -sampling-factor 2x2 "$I/baseline.jpg"
$IM -size 19x11 gradient:yellow-green -interlace JPEG -quality 60 "$I/progressive.jpg"
$IM -size 19x11 gradient:white-black -colorspace Gray "$I/gray.jpg"
$IM -size 16x12 gradient:red-blue -colors 16 "$I/static.gif"
$IM -size 12x12 -delay 10 xc:red xc:blue xc:none -loop 0 "$I/animated.gif"
$IM -size 15x9 gradient:red-blue "bmp3:$I/rgb24.bmp"
$IM -size 15x9 gradient:red-blue -alpha set "bmp:$I/rgba32.bmp"
$IM -size 15x9 gradient:red-blue -colors 8 -type Palette "bmp3:$I/palette8.bmp"
python3 - "$I" <<'PY'
import struct, sys, zlib
d = sys.argv[1]
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
# A PNG whose IHDR claims 100000 x 100000 (valid CRC): must be refused by the pixel budget.
ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
open(d + "/bomb.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
# GIF and BMP headers claiming 65535 x 65535.
open(d + "/bomb.gif", "wb").write(b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0) + b",\0\0\0\0\xff\xff\xff\xff\0\x02\x02\x44\x01\0;")
open(d + "/bomb.bmp", "wb").write(b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 65535, -65535, 1, 24, 0, 16, 0, 0, 0, 0) + b"\0" * 16)
PY
# A JPEG whose SOF0 claims 65000 x 65000 (the rest of a real JPEG kept).
python3 - "$I/baseline.jpg" "$I/bomb.jpg" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"\xff\xc0")
b[i + 5:i + 9] = (65000).to_bytes(2, "big") + (65000).to_bytes(2, "big")
open(sys.argv[2], "wb").write(b)
PY

# fuzz_metadata: real token metadata, variants of the fields the parser reads, and text queries
# (after a NUL byte).
M=$C/fuzz_metadata
find "$M" -type f ! -name "repro-*" -delete
for f in $(ls "$NOUNS/metadata" | head -4); do cp "$NOUNS/metadata/$f" "$M/noun-$f"; done
sed -n 7p "$NOUNS/metadata.jsonl" > "$M/jsonl-line.json"
cat > "$M/traits-variant.json" <<'J'
{"id": 42, "name": ["odd", {"type": 1}], "image_url": "ipfs://ipfs/QmX/1.png", "traits": [{"trait_type": "Eyes", "value": 3.5}, {"trait_type": "", "value": ""}, {"value": null}, {"trait_type": "Hat"}], "external_url": "HTTPS://example.org/a b"}
J
cat > "$M/hostile.json" <<'J'
{"token_id": "../../x\u0000y", "name": "<img src=x onerror=alert(1)>", "description": "\ud800 bad surrogate \u00e9\u4e2d", "image": "javascript:alert(1)", "external_url": "javascript:alert(1)", "attributes": [{"trait_type": "<b>x</b>", "value": "javascript:alert(1)"}]}
J
cat > "$M/attributes-not-list.json" <<'J'
{"token_id": 1, "attributes": {"a": 1}}
J
printf '{"token_id":"7","name":"Noun 7","attributes":[{"trait_type":"Head","value":"Pizza"},{"trait_type":"Glasses","value":"Square Red"}]}\0glasses:red "head":"pizza" rank:1-100 collection:fuzz noggles pizz' > "$M/with-query.bin"
printf '{"name":"camelCaseName glasses2000 boxes"}\0rank:abc-5 rank:99999999999999999999 :x y: a:b:c "unterminated' > "$M/query-edge.bin"
# fuzz_bundle: seeds written by make_seeds from a real bundle, built here by the current nftlens
# from 40 tokens of the example collection (so its format always matches the sources).
SB=$ROOT/build/fuzz/seed-bundle
rm -rf "$SB"; mkdir -p "$SB/col/metadata" "$SB/col/images"
for f in $(ls "$NOUNS/metadata" | head -40); do cp "$NOUNS/metadata/$f" "$SB/col/metadata/"; cp "$NOUNS/images/${f%.json}.png" "$SB/col/images/"; done
cp "$NOUNS/collection.json" "$SB/col/"
"$ROOT/build/native/bin/nftlens" build "$SB/col" --out "$SB/bundle" --cache "$SB/cache" --pairs 200 -q
# (and partitioned: make_seeds takes its partition table from bundle-partitioned beside it)
"$ROOT/build/native/bin/nftlens" build "$SB/col" --out "$SB/bundle-partitioned" --cache "$SB/cache" --pairs 200 --partitions 4 --fragment-tokens 8 -q
find "$C/fuzz_bundle" -type f ! -name "repro-*" -delete
"$ROOT/build/fuzz/make_seeds" "$SB/bundle" "$NOUNS/metadata" "$C/fuzz_bundle"

du -sh "$C"; du -sb "$C" "$C"/*
