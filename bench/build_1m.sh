#!/usr/bin/env bash
# bench/build_1m.sh [N ...]: the builder's peak memory and wall time per phase at N tokens
# (default 1000000), measured with /usr/bin/time -v on real image files and a feature cache filled
# from real features (issue #18). Prints a table; run from a checkout after scripts/setup.
#
#   bench/build_1m.sh 100000 300000 1000000
#
# Environment: DATA (default build/bench/build-1m; ~6 GB at 1M, keep it off the repo if small),
# RESULTS (logs, tables and bundles of this run; default $DATA, e.g. $DATA/before for another builder),
# SIZE (image side in px, default 64), REAL (tokens embedded for real, default 2000), NFTLENS (the
# builder to measure, default build/native/bin/nftlens; copied first so a rebuild cannot change it),
# FILL (default build/native/bin/fill_feature_cache), NICE (default 10), KEEP=1 keeps the bundles,
# REPORT_ONLY=1 reprints the table from the logs in $RESULTS.
#
# What runs, per N:
#  1. images: scripts/example/nouns-render.mjs renders max(N) Nouns at SIZE px once (the generator
#     of scripts/make-example, same seed: token i depends only on i), real PNG files; metadata.jsonl
#     only (the per-token metadata/ folder is removed: a million small files). The N-token
#     collection is the first N lines of it, its images hard links to the same files.
#  2. real features: the first REAL tokens are rendered again (same bytes) and embedded by
#     `nftlens build` with the real model (--pairs 0, into $DATA/real-cache).
#  3. the other features: bench/fill_feature_cache copies those records into a cache for N and
#     writes one record per other token under the key the builder forms (image bytes hash, model and
#     recipe): colour layout and ring colour computed from the real image, model features from an
#     additive trait model fitted on the REAL real tokens plus the residual of a random one.
#  4. `nftlens build COLLECTION --out $RESULTS/bundle-N --cache $RESULTS/cache-N` with the defaults
#     (partitioned above 50,000 tokens, --pairs 2000, --calibration-tokens 100, thumbnails), under
#     /usr/bin/time -v and nice: every feature is found in the cache; everything else runs for real
#     (ingest, hashing, decoding, thumbnails, the 2,000 synthetic copies and the calibration copies
#     through the model, learning, k-means partitions, shards, fragments, packs, manifest).
#     Each stderr line is stamped with the seconds since the start; phases are read from the
#     builder's lines (ingest, embed, copies, learn, partitions, thumbs, write, calibrate).
#
# Outputs in $RESULTS: build-N.log (stamped builder output), time-N.txt (/usr/bin/time -v),
# rss-N.log (the builder's RSS twice a second, stamped alike: the table's per-phase peaks),
# fill-N.log, manifest-N.json, bundle-N/ (removed unless KEEP=1), the table in table.txt. Bundle bytes
# are the sum of its files' sizes (the 2.4 MB model included).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000)
DATA=${DATA:-build/bench/build-1m}; SIZE=${SIZE:-64}; REAL=${REAL:-2000}; NICE=${NICE:-10}
NFTLENS=${NFTLENS:-build/native/bin/nftlens}; FILL=${FILL:-build/native/bin/fill_feature_cache}
mkdir -p "$DATA"; DATA=$(cd "$DATA" && pwd)
RESULTS=${RESULTS:-$DATA}; mkdir -p "$RESULTS"; RESULTS=$(cd "$RESULTS" && pwd)
MAX=0; for n in "${SIZES[@]}"; do [ "$n" -gt "$MAX" ] && MAX=$n; done
log() { echo "[build_1m $(date -u +%H:%M:%SZ)] $*" >&2; }
stamp() { perl -MTime::HiRes=time -ne 'BEGIN { $| = 1; $t0 = time } printf "%8.1f %s", time - $t0, $_'; }

table() {
  printf '%-9s %7s %7s %7s %7s %7s %7s %7s %7s %7s %8s %9s %10s %7s\n' tokens ingest embed copies learn partit thumbs write calib total "wall s" "peak RSS" "bundle MB" files
  for n in "${SIZES[@]}"; do
    local L=$RESULTS/build-$n.log T=$RESULTS/time-$n.txt
    [ -f "$L" ] && [ -f "$T" ] || { printf '%-9s (not run)\n' "$n"; continue; }
    perl -e '
      my ($n, $log, $time, $sum) = @ARGV; my %t; my ($prev, $total) = (0, "-");
      open L, $log or die; while (<L>) {
        next unless /^\s*([\d.]+) (\w+):/; my ($s, $k) = ($1, $2);
        $t{ingest} = $s if $k eq "ingest";
        $t{embed_end} = $s if $k eq "embed"; $t{copies_end} = $s if $k eq "copies";
        $t{learn} = $1 if $k eq "learn" && / in ([\d.]+) s/;
        $t{partitions} = $1 if $k eq "partitions" && / in ([\d.]+) s/;
        $t{thumbs} = $1 if $k eq "thumbs" && / in ([\d.]+) s/;
        $t{write} = $1 if $k eq "write" && / in ([\d.]+) s/;
        $t{calibrate} = $1 if $k eq "calibrate" && /: ([\d.]+) s/;
        $total = $1 if $k eq "bundle" && / in ([\d.]+) s$/;
      }
      open T, $time or die; my ($rss, $wall) = ("-", "-");
      while (<T>) { $rss = $1 if /Maximum resident set size \(kbytes\): (\d+)/;
        if (/Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)$/) { $wall = ($1 // 0) * 3600 + $2 * 60 + $3; } }
      my $f = sub { defined $_[0] ? sprintf("%.1f", $_[0]) : "-" };
      my $embed = defined $t{embed_end} ? $t{embed_end} - $t{ingest} : undef;
      my $copies = defined $t{copies_end} ? $t{copies_end} - $t{embed_end} : undef;
      my ($bytes, $files) = split " ", $sum;
      printf "%-9s %7s %7s %7s %7s %7s %7s %7s %7s %7s %8s %9s %10s %7s\n", $n, $f->($t{ingest}), $f->($embed), $f->($copies), $f->($t{learn}),
        $f->($t{partitions}), $f->($t{thumbs}), $f->($t{write}), $f->($t{calibrate}), $f->($total eq "-" ? undef : $total), $f->($wall),
        $rss eq "-" ? "-" : sprintf("%.2f GiB", $rss / 1048576), sprintf("%.1f", $bytes / 1e6), $files;
    ' "$n" "$L" "$T" "$(cat "$RESULTS/bundle-$n.sum" 2>/dev/null || echo '0 0')"
  done
}
# RSS of the builder itself (not the /usr/bin/time wrapper) twice a second, stamped like the build
# log: "seconds VmRSS-kB". phase_peaks LOG RSS prints the highest RSS seen in each phase.
sample_rss() {
  local out=$1 pid="" t0; t0=$(date +%s.%N); : > "$out"
  while [ -z "$pid" ]; do pid=$(pgrep -n -f "^$RESULTS/bin/nftlens build" || true); sleep 0.1; done
  while [ -r "/proc/$pid/status" ]; do
    awk -v t="$(echo "$(date +%s.%N) - $t0" | bc)" '/^VmRSS:/ { printf "%8.1f %s\n", t, $2 }' "/proc/$pid/status" >> "$out" 2>/dev/null || true
    sleep 0.5
  done
}
phase_peaks() {  # the builder prints a phase's line when the phase ends: a sample belongs to the next line printed
  perl -e '
    my ($log, $rss) = @ARGV; my @ph;
    open L, $log or die; while (<L>) { next unless /^\s*([\d.]+) (\w+):/; push @ph, [$1, $2] unless @ph && $ph[-1][1] eq $2 && $2 eq "embed"; $ph[-1][0] = $1; }
    my (%peak, @order);
    open R, $rss or die; while (<R>) { my ($t, $kb) = split; my $p = "(after the last line)";
      for my $e (@ph) { if ($e->[0] >= $t) { $p = $e->[1]; last; } }
      push @order, $p unless exists $peak{$p}; $peak{$p} = $kb if !defined $peak{$p} || $kb > $peak{$p}; }
    printf "  %-22s %6.2f GiB\n", $_, $peak{$_} / 1048576 for @order;
  ' "$1" "$2"
}
report() {
  table
  for n in "${SIZES[@]}"; do  # where the memory went: peak RSS per phase (the phase a sample falls in)
    [ -s "$RESULTS/rss-$n.log" ] && { echo "peak RSS per phase, $n tokens:"; phase_peaks "$RESULTS/build-$n.log" "$RESULTS/rss-$n.log"; }
  done
}
if [ "${REPORT_ONLY:-0}" = 1 ]; then report | tee "$RESULTS/table.txt"; exit 0; fi

[ -x "$NFTLENS" ] && [ -x "$FILL" ] || { echo "build the native tree first (scripts/setup; cmake --build build/native --target nftlens fill_feature_cache)" >&2; exit 1; }
mkdir -p "$RESULTS/bin"; cp "$NFTLENS" "$RESULTS/bin/nftlens"; cp "$FILL" "$RESULTS/bin/fill_feature_cache"
B=$RESULTS/bin/nftlens
# (the copied binaries cannot find the model from their own place)
MODEL=(--model "$ROOT/models/mnv2-b13-576.card.json" --model-file "$ROOT/build/models/mnv2-b13-576.onnx")
[ -f "$ROOT/node_modules/@nouns/assets/package.json" ] || npm install --no-audit --no-fund --loglevel=error
render() {  # render N OUT: Nouns at SIZE px, metadata.jsonl + images/ + collection.json
  local n=$1 out=$2
  if [ -f "$out/.done" ] && [ "$(cat "$out/.done")" = "$n $SIZE" ]; then return; fi
  rm -rf "$out"
  log "rendering $n Nouns at ${SIZE} px into $out"
  nice -n "$NICE" node scripts/example/nouns-render.mjs "$n" "$out" --renderer raw --size "$SIZE" --rng-seed nouns-eval-v1
  rm -rf "$out/metadata"
  printf '{"slug": "nouns", "name": "Nouns (rendered, %s px)", "chain": "ethereum", "contract": "0x9c8ff314c9bc7f6e59a9d9225fb22946427edc03"}\n' "$SIZE" > "$out/collection.json"
  echo "$n $SIZE" > "$out/.done"
}

# 1. images
ALL=$DATA/nouns-$MAX-$SIZE  # (or an earlier, larger render: the first N tokens are the same)
for d in "$DATA"/nouns-*-"$SIZE"; do
  [ -f "$d/.done" ] || continue; read -r have _ < "$d/.done"
  if [ "$have" -ge "$MAX" ] && { [ ! -f "$ALL/.done" ] || [ "$have" -lt "$(cut -d' ' -f1 < "$ALL/.done")" ]; }; then ALL=$d; fi
done
render "$(basename "$ALL" | cut -d- -f2)" "$ALL"
FULL=$(cut -d' ' -f1 < "$ALL/.done")
# 2. real features of the first REAL tokens (same bytes as tokens 0..REAL-1 of every collection)
render "$REAL" "$DATA/real-$REAL-$SIZE"
if [ ! -f "$DATA/real-$REAL-$SIZE/.embedded" ]; then
  log "embedding $REAL tokens with the real model"
  rm -rf "$DATA/real-cache"
  nice -n "$NICE" "$B" build "$DATA/real-$REAL-$SIZE" --out "$DATA/real-bundle" --cache "$DATA/real-cache" --pairs 0 --calibration-tokens 0 --no-thumbs -q "${MODEL[@]}"
  touch "$DATA/real-$REAL-$SIZE/.embedded"
fi

for n in "${SIZES[@]}"; do
  COL=$ALL
  if [ "$n" != "$FULL" ]; then
    COL=$DATA/first-$n-of-$(basename "$ALL")
    if [ ! -f "$COL/.done" ]; then
      rm -rf "$COL"; mkdir -p "$COL"
      head -n "$n" "$ALL/metadata.jsonl" > "$COL/metadata.jsonl"
      mkdir -p "$COL/images"  # hard links (the builder refuses images outside the collection folder, symlinks included)
      perl -ne 'print "$1\n" if /"image":"images\/([^"\/]+)"/' "$COL/metadata.jsonl" | (cd "$ALL/images" && xargs ln -t "$COL/images")
      cp "$ALL/collection.json" "$COL/"
      touch "$COL/.done"
    fi
  fi
  # 3. a cache for this N: the real records, then one filled record per other token
  C=$RESULTS/cache-$n
  rm -rf "$C"; cp -r "$DATA/real-cache" "$C"; rm -rf "$C/downloads"
  log "filling the feature cache for $n tokens"
  nice -n "$NICE" "$RESULTS/bin/fill_feature_cache" "$COL" --cache "$C" --real "$REAL" "${MODEL[@]}" 2>&1 | tee "$RESULTS/fill-$n.log" | grep -v ' written$' >&2
  # 4. the measured build (a fresh output folder; the page cache is left warm: the fill just read every image)
  rm -rf "$RESULTS/bundle-$n" "$RESULTS/bundle-$n.build-report.json"
  log "building $n tokens (measured)"
  rc=0
  sample_rss "$RESULTS/rss-$n.log" & sampler=$!
  { /usr/bin/time -v -o "$RESULTS/time-$n.txt" nice -n "$NICE" "$B" build "$COL" --out "$RESULTS/bundle-$n" --cache "$C" "${MODEL[@]}" 2>&1 >/dev/null; } | stamp > "$RESULTS/build-$n.log" || rc=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  [ "$rc" = 0 ] || log "the build of $n tokens exited with $rc (see $RESULTS/build-$n.log)"
  grep -E '^ *[0-9.]+ (ingest|partitions|learn|thumbs|write|calibrate|verdict|partitioned|bundle):' "$RESULTS/build-$n.log" >&2 || true
  echo "$(find "$RESULTS/bundle-$n" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }') $(find "$RESULTS/bundle-$n" -type f | wc -l)" > "$RESULTS/bundle-$n.sum"
  cp "$RESULTS/bundle-$n/manifest.json" "$RESULTS/manifest-$n.json" 2>/dev/null || true  # (compare builders: same manifest = same files)
  [ "${KEEP:-0}" = 1 ] || rm -rf "$RESULTS/bundle-$n"
  rm -rf "$C"
done
report | tee "$RESULTS/table.txt"
