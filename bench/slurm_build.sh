#!/usr/bin/env bash
# bench/slurm_build.sh [SHARDS=4]: the distributed build of docs/scale.md ("Slurm array"), run for
# real: a single-node Slurm cluster on this machine, `nftlens build --shard I/N` as an array job,
# `nftlens merge` as a job that depends on it (afterok), the merged bundle checked byte for byte
# against a one-machine `nftlens build` of the same collection. Prints one table of wall times.
#
#   bench/slurm_build.sh            # 4 shards over build/example/nouns (300 tokens)
#   COLLECTION=/data/my-coll bench/slurm_build.sh 3
#
# What runs:
#  1. Slurm and MUNGE from Debian (`apt-get install --no-install-recommends slurm-wlm munge`, as root,
#     only if slurmctld/slurmd/sbatch/munged are missing; INSTALL=0 refuses instead).
#  2. The CLI is copied to $OUT/bin (a rebuild of build/native cannot change it mid-run) and the
#     model card to $OUT/model with the ONNX file linked beside it, where a copied binary finds it
#     (these runs predate `merge --model-file`). Every command gets --model that card.
#  3. One-machine build: `nftlens build COLLECTION --out $OUT/one/bundle --cache $OUT/one/cache`
#     (fresh cache, one worker per core), under /usr/bin/time; its phase lines go to logs/one.log.
#     It runs first, so a broken CLI, model or collection fails here and not inside a job.
#  4. A private cluster in $OUT/slurm, nothing written to /etc: its own MUNGE key (mungekey) and
#     munged on its own socket; slurm.conf (SLURM_CONF, exported to every client and job) with the
#     node line from `slurmd -C`, SlurmctldHost=<hostname -s>(127.0.0.1), ports SLURMCTLD_PORT /
#     SLURMD_PORT (default 16817/16818, off the stock 6817/6818), SlurmUser=root,
#     select/cons_tres + CR_CPU (one CPU per array task), proctrack/linuxproc, task/none (no
#     cgroups), no accounting (jobs are followed with `scontrol show job`, MinJobAge=3600 keeps
#     finished ones listed). slurmctld and slurmd are started as daemons under $NICE (jobs inherit
#     it); the script waits until `sinfo` shows the node idle. An EXIT trap cancels this run's
#     jobs and stops the three daemons it started (by the PIDs in their pid files); daemons left by
#     an interrupted earlier run of the same $OUT are stopped first.
#  5. The jobs, exactly the commands of docs/scale.md plus /usr/bin/time and absolute paths:
#       sbatch --parsable --array=0-(N-1) --cpus-per-task=C --output=... --wrap \
#         'nftlens build COLLECTION --shard ${SLURM_ARRAY_TASK_ID}/N --threads ${SLURM_CPUS_PER_TASK} --out partials/${SLURM_ARRAY_TASK_ID} -q'
#       sbatch --parsable --dependency=afterok:<array id> --kill-on-invalid-dep=yes --exclusive --output=... --wrap \
#         'nftlens merge COLLECTION --partials partials/* --out merged/bundle'
#     (the shards are quiet as in the doc; the merge's phase lines go to logs/merge.out)
#     The script polls `scontrol show job` every 0.2 s; any task or the merge ending other than
#     COMPLETED fails the run (a failed shard leaves the merge DependencyNeverSatisfied, which
#     --kill-on-invalid-dep turns into CANCELLED instead of pending forever).
#  6. `diff -r` of the merged bundle against the one-machine bundle and the SHA-256 of every file of
#     both (sha256-*.txt), `nftlens verify` of the merged bundle. Exit 1 when anything differs.
#
# Wall times: "cluster start" is munged + slurmctld + slurmd until the node is idle; "array job" is
# sbatch of the array until the script sees the last task ended; each shard row is /usr/bin/time
# inside its task ("ran" is Slurm's StartTime-EndTime, seconds after the array's submission, 1 s
# resolution); "merge job" is from the array's end until the merge job ended (scheduling of the
# dependent job included); "sharded, end to end" is submission to merge done. "phases" are the
# builder's own lines (embed, copies, learn, calibrate: seconds) where it printed them.
#
# Environment: NFTLENS (default build/native/bin/nftlens), MODEL_CARD (models/mnv2-b13-576.card.json),
# MODEL_FILE (build/models/mnv2-b13-576.onnx), COLLECTION (default build/example/nouns, made by
# scripts/make-example $TOKENS when missing; TOKENS default 300), OUT (build/bench/slurm; what a
# previous run left there is removed first), CPUS_PER_TASK (1), NICE (nice -n 10), BUILD_ARGS (extra flags given to every
# build and to the merge, e.g. "--pairs 1000": merge needs the shards' values), SLURMCTLD_PORT,
# SLURMD_PORT, INSTALL (1), MAX_WAIT (seconds per wait, 3600), KEEP=1 (keep bundles, partials and
# caches; the default removes them after a successful comparison), FAULT=I (see below).
#
# FAULT=I: "a failed task is simply re-run" (docs/scale.md), tried: once task I is running and its
# partial holds FAULT_BYTES (default 400000) bytes, `scancel <array>_I` kills it mid-way; the merge,
# whose afterok can no longer be met, is cancelled by --kill-on-invalid-dep (checked); task I is
# submitted again with the same --wrap as `sbatch --array=I` (it resumes from the records its
# partial kept) and the merge again with afterok on that job. The comparison is the same.
#
# Outputs in $OUT: table.txt, commands.txt, logs/ (job output, builder logs), times/ (/usr/bin/time),
# slurm/ (slurm.conf, daemon logs), sha256-one.txt, sha256-merged.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SHARDS=${1:-4}
[[ "$SHARDS" =~ ^[1-9][0-9]*$ && "$SHARDS" -ge 2 ]] || { echo "usage: bench/slurm_build.sh [SHARDS >= 2]" >&2; exit 2; }
NFTLENS_SRC=${NFTLENS:-$ROOT/build/native/bin/nftlens}
MODEL_CARD_SRC=${MODEL_CARD:-$ROOT/models/mnv2-b13-576.card.json}
MODEL_FILE_SRC=${MODEL_FILE:-$ROOT/build/models/mnv2-b13-576.onnx}
TOKENS=${TOKENS:-300}
COLLECTION=${COLLECTION:-}
OUT=${OUT:-$ROOT/build/bench/slurm}
CPUS_PER_TASK=${CPUS_PER_TASK:-1}
NICE=${NICE:-nice -n 10}
BUILD_ARGS=${BUILD_ARGS:-}
SLURMCTLD_PORT=${SLURMCTLD_PORT:-16817}
SLURMD_PORT=${SLURMD_PORT:-16818}
INSTALL=${INSTALL:-1}
MAX_WAIT=${MAX_WAIT:-3600}
KEEP=${KEEP:-0}
FAULT=${FAULT:-}
FAULT_BYTES=${FAULT_BYTES:-400000}
[ -z "$FAULT" ] || [[ "$FAULT" =~ ^[0-9]+$ && "$FAULT" -lt "$SHARDS" ]] || { echo "FAULT must be a shard index < $SHARDS" >&2; exit 2; }
TIME=/usr/bin/time

log() { echo "[slurm_build] $*" >&2; }
die() { echo "[slurm_build] error: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" -v d="${3:-1}" 'BEGIN { printf "%.*f", d, b - a }'; }

[ -x "$NFTLENS_SRC" ] || die "missing $NFTLENS_SRC (cmake --build build/native -j2 --target nftlens, or NFTLENS=...)"
[ -f "$MODEL_CARD_SRC" ] || die "missing $MODEL_CARD_SRC"
[ -f "$MODEL_FILE_SRC" ] || die "missing $MODEL_FILE_SRC (scripts/make-model)"
[ -x "$TIME" ] || die "missing $TIME (apt-get install time)"

# --- 1. Slurm + MUNGE -------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  [ "$INSTALL" = 1 ] || die "Slurm or MUNGE missing (apt-get install slurm-wlm munge; INSTALL=0 set)"
  [ "$(id -u)" = 0 ] || die "Slurm or MUNGE missing and not root: apt-get install slurm-wlm munge"
  log "installing slurm-wlm and munge (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge >&2; }
fi
PATH=$PATH:/usr/sbin:/sbin
[ "$(id -u)" = 0 ] || die "run as root: the private cluster runs slurmd as root (SlurmdUser=root) to start jobs"

# --- data ----------------------------------------------------------------------------------------------
if [ -z "$COLLECTION" ]; then
  if [ "$TOKENS" = 300 ] && [ -f "$ROOT/build/example/nouns/collection.json" ]; then
    COLLECTION=$ROOT/build/example/nouns
  else
    COLLECTION=$ROOT/build/bench/nouns-$TOKENS
    if [ ! -f "$COLLECTION/collection.json" ]; then
      log "making $TOKENS Nouns in $COLLECTION"
      rm -rf "$COLLECTION"; mkdir -p "$(dirname "$COLLECTION")"
      "$ROOT/scripts/make-example" "$TOKENS" "$COLLECTION"
    fi
  fi
fi
[ -d "$COLLECTION" ] || die "no collection folder $COLLECTION"
COLLECTION=$(cd "$COLLECTION" && pwd)
if [ -d "$COLLECTION/metadata" ]; then NTOK=$(find "$COLLECTION/metadata" -maxdepth 1 -type f | wc -l)
else NTOK=$(wc -l < "$COLLECTION/metadata.jsonl"); fi

# --- layout, binary, model --------------------------------------------------------------------------------
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
SL=$OUT/slurm

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop_pid() {  # pidfile, expected command name: SIGTERM, wait up to 15 s, then SIGKILL
  local f=$1 name=$2 pid i
  pid_alive "$f" || return 0
  pid=$(cat "$f")
  [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ] || return 0  # a reused pid: not ours
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  log "$name ($pid) did not stop on SIGTERM; SIGKILL"; kill -9 "$pid" 2>/dev/null || true
}
stop_cluster() {
  stop_pid "$SL/slurmd.pid" slurmd
  stop_pid "$SL/slurmctld.pid" slurmctld
  stop_pid "$SL/munge/munged.pid" munged
}
JOBS=()
cleanup() {
  local rc=$?
  if [ ${#JOBS[@]} -gt 0 ] && [ -f "$SL/slurm.conf" ] && pid_alive "$SL/slurmctld.pid"; then
    SLURM_CONF=$SL/slurm.conf scancel "${JOBS[@]}" 2>/dev/null || true
  fi
  stop_cluster
  exit $rc
}
stop_cluster   # daemons an interrupted run of this $OUT left behind
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$OUT/one" "$OUT/partials" "$OUT/merged" "$OUT/logs" "$OUT/times" "$SL" "$OUT/model"
rm -f "$OUT/table.txt" "$OUT/commands.txt" "$OUT"/sha256-*.txt
mkdir -p "$OUT/bin" "$OUT/model" "$OUT/one" "$OUT/partials" "$OUT/merged" "$OUT/logs" "$OUT/times" "$SL"/{state,spool,log,munge}
cp "$NFTLENS_SRC" "$OUT/bin/nftlens.new" && mv "$OUT/bin/nftlens.new" "$OUT/bin/nftlens"
CLI=$OUT/bin/nftlens
CARD=$OUT/model/$(basename "$MODEL_CARD_SRC")
cp "$MODEL_CARD_SRC" "$CARD"
ONNX_NAME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["file"])' "$CARD")
ln -s "$(cd "$(dirname "$MODEL_FILE_SRC")" && pwd)/$(basename "$MODEL_FILE_SRC")" "$OUT/model/$ONNX_NAME"
VERSION=$("$CLI" --version)
q() { printf '%q' "$1"; }
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STAMP=$(date -u +%Y-%m-%dT%H:%MZ)

# --- 3. one-machine build ------------------------------------------------------------------------------------
ONE_CMD="$(q "$CLI") build $(q "$COLLECTION") --model $(q "$CARD") --out $(q "$OUT/one/bundle") --cache $(q "$OUT/one/cache") $BUILD_ARGS"
log "one-machine build of $NTOK tokens"
echo "# one-machine build" > "$OUT/commands.txt"; echo "$ONE_CMD" >> "$OUT/commands.txt"
$TIME -f '%e %U %S %M' -o "$OUT/times/one.txt" $NICE bash -c "$ONE_CMD" 2> "$OUT/logs/one.log" \
  || die "one-machine build failed: $(tail -3 "$OUT/logs/one.log")"

# --- 4. the cluster ---------------------------------------------------------------------------------------------
for p in "$SLURMCTLD_PORT" "$SLURMD_PORT"; do
  if ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then die "port $p is in use (SLURMCTLD_PORT / SLURMD_PORT)"; fi
done
HOST=$(hostname -s)
NODE_LINE=$(slurmd -C | head -1)   # NodeName=<host> CPUs=.. Boards=.. SocketsPerBoard=.. CoresPerSocket=.. ThreadsPerCore=.. RealMemory=..
NODE_CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<< "$NODE_LINE")
[ "$CPUS_PER_TASK" -le "$NODE_CPUS" ] || die "CPUS_PER_TASK=$CPUS_PER_TASK > the node's $NODE_CPUS CPUs"
T_CLUSTER=$(now)
chmod 755 "$SL" "$SL/munge"                 # munged wants its socket's folder reachable by all
mungekey -c -k "$SL/munge/munge.key" >&2    # mode 0600, owner root, like the daemon that reads it
$NICE munged --socket="$SL/munge/munge.socket" --key-file="$SL/munge/munge.key" --log-file="$SL/log/munged.log" \
  --pid-file="$SL/munge/munged.pid" --seed-file="$SL/munge/munged.seed" \
  || die "munged did not start: $(tail -3 "$SL/log/munged.log" 2>/dev/null)"
munge -n -S "$SL/munge/munge.socket" | unmunge -S "$SL/munge/munge.socket" >/dev/null || die "munge round trip failed"
cat > "$SL/slurm.conf" <<EOF
# written by bench/slurm_build.sh: a single-node cluster private to this run
ClusterName=nftlens-bench
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$SLURMCTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SL/munge/munge.socket
StateSaveLocation=$SL/state
SlurmdSpoolDir=$SL/spool
SlurmctldPidFile=$SL/slurmctld.pid
SlurmdPidFile=$SL/slurmd.pid
SlurmctldLogFile=$SL/log/slurmctld.log
SlurmdLogFile=$SL/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=3600
$NODE_LINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$SL/slurm.conf
$NICE slurmctld -f "$SLURM_CONF" || die "slurmctld did not start: $(tail -5 "$SL/log/slurmctld.log" 2>/dev/null)"
$NICE slurmd -f "$SLURM_CONF" || die "slurmd did not start: $(tail -5 "$SL/log/slurmd.log" 2>/dev/null)"
state=
for i in $(seq 1 300); do
  state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || die "node $HOST not idle after 60 s (sinfo: '$state'); see $SL/log/"
T_READY=$(now)
SLURM_VERSION=$(sinfo --version)
log "cluster up ($SLURM_VERSION, $NODE_LINE) in $(secs "$T_CLUSTER" "$T_READY" 2) s"

# --- 5. the jobs ---------------------------------------------------------------------------------------------------
terminal() {  # every state given is a final one
  local s
  for s in "$@"; do
    case $s in PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|RESIZING|SIGNALING|STAGE_OUT|RESV_DEL_HOLD) return 1;; esac
  done
  return 0
}
states() { scontrol show job -o "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
wait_job() {  # job id -> waits until every task has a final state
  local t0 s
  t0=$(date +%s)
  while :; do
    s=$(states "$1") || die "scontrol show job $1 failed"
    [ -n "$s" ] && terminal $s && return 0
    [ $(( $(date +%s) - t0 )) -lt "$MAX_WAIT" ] || die "job $1 not done after $MAX_WAIT s: $(echo $s)"
    sleep 0.2
  done
}
cd "$OUT"   # the jobs' working folder (sbatch's default: where it is called); paths are absolute anyway
SHARD_WRAP="$TIME -f \"%e %U %S %M\" -o $(q "$OUT/times")/shard-\${SLURM_ARRAY_TASK_ID}.txt $(q "$CLI") build $(q "$COLLECTION") --model $(q "$CARD") --shard \${SLURM_ARRAY_TASK_ID}/$SHARDS --threads \${SLURM_CPUS_PER_TASK} --out $(q "$OUT/partials")/\${SLURM_ARRAY_TASK_ID} -q $BUILD_ARGS"
MERGE_WRAP="$TIME -f \"%e %U %S %M\" -o $(q "$OUT/times/merge.txt") $(q "$CLI") merge $(q "$COLLECTION") --model $(q "$CARD") --partials $(q "$OUT/partials")/* --out $(q "$OUT/merged/bundle") $BUILD_ARGS"
{
  echo "# array job (one task per shard)"
  echo "sbatch --parsable --array=0-$((SHARDS - 1)) --cpus-per-task=$CPUS_PER_TASK --output=$OUT/logs/shard-%a.out --wrap '$SHARD_WRAP'"
  echo "# merge, once every task ended with exit code 0"
  echo "sbatch --parsable --dependency=afterok:<array job id> --kill-on-invalid-dep=yes --exclusive --output=$OUT/logs/merge.out --wrap '$MERGE_WRAP'"
} >> "$OUT/commands.txt"
log "submitting $SHARDS shards + merge"
T_SUBMIT=$(now)
ARRAY_ID=$(sbatch --parsable --array=0-$((SHARDS - 1)) --cpus-per-task="$CPUS_PER_TASK" --output="$OUT/logs/shard-%a.out" --wrap "$SHARD_WRAP")
JOBS+=("$ARRAY_ID")
MERGE_ID=$(sbatch --parsable --dependency=afterok:"$ARRAY_ID" --kill-on-invalid-dep=yes --exclusive --output="$OUT/logs/merge.out" --wrap "$MERGE_WRAP")
JOBS+=("$MERGE_ID")
RETRY_NOTE=
if [ -n "$FAULT" ]; then
  # A shard killed mid-way: cancel task $FAULT once it has written $FAULT_BYTES bytes of features.
  t0=$(date +%s); st=; b=0
  while :; do
    st=$(scontrol show job -o "${ARRAY_ID}_$FAULT" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)
    b=$(du -sb "$OUT/partials/$FAULT" 2>/dev/null | cut -f1 || true); b=${b:-0}
    [ "$st" = RUNNING ] && [ "$b" -ge "$FAULT_BYTES" ] && break
    [ -n "$st" ] && terminal "$st" && die "task $FAULT ended ($st) before it could be cancelled: lower FAULT_BYTES"
    [ $(( $(date +%s) - t0 )) -lt "$MAX_WAIT" ] || die "task $FAULT did not reach $FAULT_BYTES bytes"
    sleep 0.1
  done
  scancel "${ARRAY_ID}_$FAULT"; KILLED_BYTES=$b
  log "cancelled task $FAULT with $KILLED_BYTES bytes in partials/$FAULT"
  wait_job "$ARRAY_ID"; wait_job "$MERGE_ID"
  scontrol show job -o "$ARRAY_ID" > "$OUT/logs/array-job.txt"
  scontrol show job -o "$MERGE_ID" > "$OUT/logs/merge-job-cancelled.txt"
  grep " ArrayTaskId=$FAULT " "$OUT/logs/array-job.txt" | grep -q 'JobState=CANCELLED' || die "task $FAULT was not cancelled"
  FIRST_MERGE=$(grep -o 'JobState=[A-Z_]* Reason=[^ ]*' "$OUT/logs/merge-job-cancelled.txt")
  # Re-run the one task: the same --wrap, --array=$FAULT (so SLURM_ARRAY_TASK_ID=$FAULT); then the merge again.
  T_RETRY=$(now)
  RETRY_ID=$(sbatch --parsable --array="$FAULT" --cpus-per-task="$CPUS_PER_TASK" --output="$OUT/logs/shard-%a-retry.out" --wrap "$SHARD_WRAP")
  JOBS+=("$RETRY_ID")
  MERGE_ID=$(sbatch --parsable --dependency=afterok:"$RETRY_ID" --kill-on-invalid-dep=yes --exclusive --output="$OUT/logs/merge.out" --wrap "$MERGE_WRAP")
  JOBS+=("$MERGE_ID")
  {
    echo "# FAULT=$FAULT: task $FAULT cancelled (scancel ${ARRAY_ID}_$FAULT) at $KILLED_BYTES bytes; the merge: $FIRST_MERGE; then"
    echo "sbatch --parsable --array=$FAULT <same options and --wrap as the array>"
    echo "sbatch --parsable --dependency=afterok:<that job id> <same options and --wrap as the merge>"
  } >> "$OUT/commands.txt"
  wait_job "$RETRY_ID"
  T_ARRAY=$(now)
  scontrol show job -o "$RETRY_ID" > "$OUT/logs/retry-job.txt"
  grep -q 'JobState=COMPLETED' "$OUT/logs/retry-job.txt" || die "the re-run of task $FAULT did not complete (log: $OUT/logs/shard-$FAULT-retry.out)"
  RETRY_NOTE="shard $FAULT cancelled at $((KILLED_BYTES / 1024)) KiB of its $(( $(du -sb "$OUT/partials/$FAULT" | cut -f1) / 1024 )) KiB partial, re-run by sbatch --array=$FAULT; the first merge job ended $FIRST_MERGE"
  bad=$(grep -v 'JobState=COMPLETED' "$OUT/logs/array-job.txt" | grep -v " ArrayTaskId=$FAULT " | sed 's/.*ArrayTaskId=\([^ ]*\).*JobState=\([A-Z_]*\).*/task \1 \2/' | tr '\n' ' ' || true)
else
  wait_job "$ARRAY_ID"
  T_ARRAY=$(now)
  scontrol show job -o "$ARRAY_ID" > "$OUT/logs/array-job.txt"
  bad=$(grep -v 'JobState=COMPLETED' "$OUT/logs/array-job.txt" | sed 's/.*ArrayTaskId=\([^ ]*\).*JobState=\([A-Z_]*\).*/task \1 \2/' | tr '\n' ' ' || true)
fi
[ -z "$bad" ] || die "array tasks did not complete: $bad (logs in $OUT/logs/shard-*.out)"
wait_job "$MERGE_ID"
T_MERGE=$(now)
scontrol show job -o "$MERGE_ID" > "$OUT/logs/merge-job.txt"
grep -q 'JobState=COMPLETED' "$OUT/logs/merge-job.txt" || die "merge job did not complete: $(grep -o 'JobState=[A-Z_]* Reason=[^ ]*' "$OUT/logs/merge-job.txt") (log: $OUT/logs/merge.out)"
stop_cluster; JOBS=()
log "jobs done; cluster stopped"

# --- 6. compare -----------------------------------------------------------------------------------------------------
(cd "$OUT/one/bundle" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$OUT/sha256-one.txt"
(cd "$OUT/merged/bundle" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$OUT/sha256-merged.txt"
NFILES=$(wc -l < "$OUT/sha256-one.txt")
NBYTES=$(du -sb --apparent-size "$OUT/one/bundle" | cut -f1)
if diff -r "$OUT/one/bundle" "$OUT/merged/bundle" > "$OUT/logs/diff.txt" 2>&1 && cmp -s "$OUT/sha256-one.txt" "$OUT/sha256-merged.txt"; then
  SAME="identical: $NFILES files, $NBYTES bytes (diff -r; SHA-256 of every file)"; SAME_OK=1
else
  SAME="DIFFERENT: see $OUT/logs/diff.txt and $OUT/sha256-{one,merged}.txt"; SAME_OK=0
fi
"$CLI" verify "$OUT/merged/bundle" > "$OUT/logs/verify.txt" 2>&1 && VERIFY=ok || VERIFY="FAILED ($OUT/logs/verify.txt)"

# --- table ------------------------------------------------------------------------------------------------------------
rate_s() {  # the last "PHASE: n/n (R/s ..." progress line (not a terminal) or "PHASE: n/n in Ss" -> seconds
  tr '\r' '\n' < "$1" | grep -o "^$2: [0-9]*/[0-9]* \(([0-9.]*/s\|in [0-9.]*s\)" | tail -1 \
    | awk '{ split($2, a, "/"); if ($3 == "in") { sub(/s$/, "", $4); print $4 } else { r = substr($3, 2) + 0; if (r > 0) printf "%.1f", a[1] / r } }'
}
phases() {  # the builder's phase lines in a log: "embed 1.2, copies 3.4, learn 0.5, calibrate 45.4"
  local f=$1 e c l k
  e=$(rate_s "$f" embed)
  c=$(rate_s "$f" copies)
  l=$(grep -o '^learn: .* in [0-9.]* s' "$f" | tail -1 | sed 's/.* in \([0-9.]*\) s/\1/')
  k=$(grep -o '^calibrate: [0-9.]* s' "$f" | tail -1 | sed 's/calibrate: \([0-9.]*\) s/\1/')
  printf 'embed %.1f, copies %.1f, learn %.1f, calibrate %.1f' "${e:-0}" "${c:-0}" "${l:-0}" "${k:-0}"
}
tfield() { tail -1 "$1" | awk -v f="$2" '{print $f}'; }          # /usr/bin/time -f '%e %U %S %M'
tcpu() { tail -1 "$1" | awk '{printf "%.1f", $2 + $3}'; }
trss() { tail -1 "$1" | awk '{printf "%.0f", $4 / 1024}'; }
epoch() { date -d "$1" +%s; }
SUBMIT_S=$(epoch "$(grep -o 'SubmitTime=[^ ]*' "$OUT/logs/array-job.txt" | head -1 | cut -d= -f2)")
{
  echo "slurm_build $STAMP: $NTOK tokens ($COLLECTION), $SHARDS shards, $CPUS_PER_TASK CPU per task; $SLURM_VERSION, one node $HOST ($NODE_CPUS CPUs); $VERSION; ${NICE:-no nice}${BUILD_ARGS:+; BUILD_ARGS=$BUILD_ARGS}; load average $LOAD_START -> $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  printf '%-48s %8s %8s %8s  %-6s  %s\n' step "wall s" "CPU s" "RSS MiB" "ran" "phases (s; embed, copies: from the progress rate)"
  printf '%-48s %8s %8s %8s  %-6s  %s\n' "one-machine build (plain nftlens build)" "$(tfield "$OUT/times/one.txt" 1)" "$(tcpu "$OUT/times/one.txt")" "$(trss "$OUT/times/one.txt")" "" "$(phases "$OUT/logs/one.log")"
  printf '%-48s %8s\n' "cluster start (munged, slurmctld, slurmd: idle)" "$(secs "$T_CLUSTER" "$T_READY" 2)"
  printf '%-48s %8s\n' "array job: submit -> last task ended" "$(secs "$T_SUBMIT" "$T_ARRAY")"
  [ -z "$FAULT" ] || printf '%-48s %8s\n' "  of which shard $FAULT re-run: resubmit -> ended" "$(secs "$T_RETRY" "$T_ARRAY")"
  for ((i = 0; i < SHARDS; i++)); do
    line=$(grep " ArrayTaskId=$i " "$OUT/logs/array-job.txt")
    [ "$i" = "$FAULT" ] && line=$(cat "$OUT/logs/retry-job.txt")
    st=$(epoch "$(grep -o 'StartTime=[^ ]*' <<< "$line" | cut -d= -f2)"); en=$(epoch "$(grep -o 'EndTime=[^ ]*' <<< "$line" | cut -d= -f2)")
    printf '%-48s %8s %8s %8s  %s\n' "  shard $i/$SHARDS (inside its task)" "$(tfield "$OUT/times/shard-$i.txt" 1)" "$(tcpu "$OUT/times/shard-$i.txt")" "$(trss "$OUT/times/shard-$i.txt")" "$((st - SUBMIT_S))-$((en - SUBMIT_S))"
  done
  st=$(epoch "$(grep -o 'StartTime=[^ ]*' "$OUT/logs/merge-job.txt" | cut -d= -f2)"); en=$(epoch "$(grep -o 'EndTime=[^ ]*' "$OUT/logs/merge-job.txt" | cut -d= -f2)")
  printf '%-48s %8s\n' "merge job: array ended -> merge ended" "$(secs "$T_ARRAY" "$T_MERGE")"
  printf '%-48s %8s %8s %8s  %-6s  %s\n' "  merge (inside its job)" "$(tfield "$OUT/times/merge.txt" 1)" "$(tcpu "$OUT/times/merge.txt")" "$(trss "$OUT/times/merge.txt")" "$((st - SUBMIT_S))-$((en - SUBMIT_S))" "$(phases "$OUT/logs/merge.out")"
  printf '%-48s %8s\n' "sharded build end to end: submit -> merge ended" "$(secs "$T_SUBMIT" "$T_MERGE")"
  echo
  echo "merged bundle vs one-machine bundle: $SAME"
  echo "nftlens verify of the merged bundle: $VERIFY"
  [ -z "$RETRY_NOTE" ] || echo "$RETRY_NOTE (its row: the re-run)"
  echo "ran: Slurm's StartTime-EndTime of the job, seconds after the array's SubmitTime (1 s resolution)"
} | tee "$OUT/table.txt"
[ "$KEEP" = 1 ] || [ "$SAME_OK" != 1 ] || rm -rf "$OUT/one" "$OUT/partials" "$OUT/merged"
[ "$SAME_OK" = 1 ] && [ "$VERIFY" = ok ]
