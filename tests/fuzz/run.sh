#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS_PER_TARGET]  (default 20; 0 = build and replay the corpus only)
# Builds the libFuzzer targets (clang + ASan + UBSan, cached in build/fuzz), then runs each for the
# given time on a copy of its seed corpus (tests/fuzz/corpus/<target>; new inputs go to
# build/fuzz/work/<target>, crashes to build/fuzz/artifacts/). A target passes if libFuzzer ends
# without a crash, leak, timeout (> 5 s per input) or out-of-memory (> 2048 MB).
# Prints per target its executions, and "fuzz: N passed, M failed".
# Extra libFuzzer flags: FUZZ_FLAGS="-jobs=2 -workers=2" tests/fuzz/run.sh 600
# The mutation seed is fixed (FUZZ_SEED, default 1) so the test tier explores the same inputs on
# every run; long runs for finding bugs should vary it (FUZZ_SEED=$RANDOM).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-20}
B=$ROOT/build/fuzz
TARGETS=${FUZZ_TARGETS:-fuzz_image fuzz_bundle fuzz_metadata}
pass=0; fail=0
mkdir -p "$B"
if ! { [ -f "$B/CMakeCache.txt" ] || CXX=clang++ cmake -S "$ROOT/tests/fuzz" -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$B/configure.log" 2>&1; } ||
   ! cmake --build "$B" -j"$(nproc)" > "$B/build.log" 2>&1; then
  tail -30 "$B/configure.log" "$B/build.log" 2>/dev/null
  echo "fuzz: build failed"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
declare -A MAXLEN=([fuzz_image]=32768 [fuzz_bundle]=65536 [fuzz_metadata]=8192)
for t in $TARGETS; do
  work=$B/work/$t; art=$B/artifacts/$t; mkdir -p "$work" "$art"
  log=$B/$t.log
  if [ "$SECS" = 0 ]; then   # replay the committed corpus once (a regression check)
    "$B/$t" -rss_limit_mb=2048 -timeout=5 -artifact_prefix="$art/" "$ROOT/tests/fuzz/corpus/$t"/* > "$log" 2>&1
  else
    "$B/$t" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=5 -max_len="${MAXLEN[$t]}" -print_final_stats=1 -seed="${FUZZ_SEED:-1}" \
      -artifact_prefix="$art/" ${FUZZ_FLAGS:-} "$work" "$ROOT/tests/fuzz/corpus/$t" > "$log" 2>&1
  fi
  rc=$?
  execs=$(grep -aE '^stat::number_of_executed_units:' "$log" | awk '{s += $2} END {print s + 0}')
  [ "$SECS" = 0 ] && execs=$(ls "$ROOT/tests/fuzz/corpus/$t" | wc -l)
  if [ $rc = 0 ] && ! grep -aqE '^==[0-9]+==ERROR|^SUMMARY: |runtime error:' "$log"; then
    echo "ok - $t: $execs executions in ${SECS} s, no crash"; pass=$((pass + 1))
  else
    echo "not ok - $t: exit $rc after $execs executions; log $log"
    grep -aE 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -5
    fail=$((fail + 1))
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail = 0 ]
