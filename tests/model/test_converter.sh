#!/usr/bin/env bash
# Tests of the model converter (scripts/make-model, scripts/model/) and the model cards (models/).
#
#   tests/model/test_converter.sh
#
# Builds the models twice from scratch into temp dirs (about 2 s each) and checks: byte-identical
# output, the SHA-256/size pinned in each card, onnx.checker, card input/outputs vs the graph,
# idempotency, recovery from a corrupted output, refusal of a tampered nsfwjs tarball, card
# validation, and numerical parity with the original tfjs model (tests/model/tfjs_parity.mjs,
# tolerance 1e-3). The parity test needs @tensorflow/tfjs: it is installed once with npm into
# build/model-parity/ (not a project dependency); set NFTLENS_NO_NPM=1 to skip it instead.
# Ends with "model tests: N passed, M failed, K skipped"; exit status 1 if anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
MAKE_MODEL=$ROOT/scripts/make-model
CARD_PY=$ROOT/scripts/model/card.py
CARDS=("$ROOT/models/mnv2-b13-576.card.json" "$ROOT/models/mnv2-emb-1280.card.json")
TFJS_VERSION=4.22.0
PARITY_DIR=$ROOT/build/model-parity
TARBALL=${NSFWJS_TARBALL:-$ROOT/build/deps/nsfwjs-4.4.0.tgz}

T=$(mktemp -d "${TMPDIR:-/tmp}/nftlens-model-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

pass=0 fail=0 skip=0
ok()   { echo "PASS $*"; pass=$((pass + 1)); }
bad()  { echo "FAIL $*"; fail=$((fail + 1)); }
skip() { echo "SKIP $*"; skip=$((skip + 1)); }
check() { local name=$1; shift; if "$@" >"$T/log" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/    /' "$T/log"; fi; }

field() { "$PYTHON" "$CARD_PY" get "$1" "$2"; }

# ---- cards ----------------------------------------------------------------------------------
for c in "${CARDS[@]}"; do
  check "card is valid: ${c#"$ROOT"/}" "$PYTHON" "$CARD_PY" check "$c"
done

reject_card() {   # name, python expression mutating `c` -> the validator must reject the result
  "$PYTHON" - "${CARDS[0]}" "$2" >"$T/log" 2>&1 <<'EOF'
import json, os, sys
sys.path.insert(0, os.environ['CARD_DIR'])
import card
c = json.load(open(sys.argv[1]))
exec(sys.argv[2])
try:
    card.validate(c)
except card.CardError as e:
    print('rejected:', e); sys.exit(0)
print('accepted a bad card'); sys.exit(1)
EOF
  local rc=$?
  if (( rc == 0 )); then ok "card validator rejects: $1"; else bad "card validator rejects: $1"; sed 's/^/    /' "$T/log"; fi
}
export CARD_DIR=$ROOT/scripts/model
reject_card "missing key"           "del c['trained_on']"
reject_card "unknown key"           "c['extra'] = 1"
reject_card "wrong format"          "c['format'] = 'nftlens-model-card/2'"
reject_card "NC output with pooling" "c['outputs'][0]['pooling'] = 'mean'"
reject_card "bad sha256"            "c['sha256'] = 'ABC'"
reject_card "path in file"          "c['file'] = '../x.onnx'"
reject_card "mean of wrong length"  "c['input']['mean'] = [0, 0]"

# ---- build twice from scratch ---------------------------------------------------------------
built=1
for d in a b; do
  if "$MAKE_MODEL" "$T/$d" >"$T/make-$d.log" 2>&1; then
    ok "make-model builds into a fresh dir ($d): $(grep 'built in' "$T/make-$d.log" | sed 's/model: //')"
  else
    bad "make-model builds into a fresh dir ($d)"; sed 's/^/    /' "$T/make-$d.log"; built=0
  fi
done

if (( built )); then
  for c in "${CARDS[@]}"; do
    f=$(field "$c" file)
    check "deterministic: $f identical across two builds" cmp "$T/a/$f" "$T/b/$f"
    check "pinned: $f sha256 = card" test "$(sha256sum "$T/a/$f" | cut -d' ' -f1)" = "$(field "$c" sha256)"
    check "pinned: $f size = card" test "$(stat -c %s "$T/a/$f")" = "$(field "$c" bytes)"
    check "onnx.checker + card input/outputs match graph: $f" "$PYTHON" "$CARD_PY" check "$c" "$T/a/$f"
  done

  # Explicit expectations for the two shipped models (independent of the card validator).
  check "graphs: opset 13, ir 7, input [N,224,224,3], outputs [N,576] / [N,1280]" "$PYTHON" - "$T/a" <<'EOF'
import sys, onnx
d = sys.argv[1]
def dims(v): return [x.dim_value if x.HasField('dim_value') else x.dim_param for x in v.type.tensor_type.shape.dim]
for f, out, dim in (('mnv2-b13-576.onnx', 'gap_block_13_expand_relu', 576), ('mnv2-emb-1280.onnx', 'embedding', 1280)):
    m = onnx.load(f'{d}/{f}')
    onnx.checker.check_model(m, full_check=True)
    assert m.ir_version == 7, (f, m.ir_version)
    assert [(o.domain, o.version) for o in m.opset_import] == [('', 13)], (f, m.opset_import)
    ins = [v for v in m.graph.input if v.name not in {t.name for t in m.graph.initializer}]
    assert [v.name for v in ins] == ['input'], (f, [v.name for v in ins])
    assert dims(ins[0]) == ['N', 224, 224, 3], (f, dims(ins[0]))
    assert [v.name for v in m.graph.output] == [out], (f, [v.name for v in m.graph.output])
    assert dims(m.graph.output[0]) == ['N', dim], (f, dims(m.graph.output[0]))
    print(f, 'ok')
EOF

  check "idempotent: second run says up to date" \
    bash -c "'$MAKE_MODEL' '$T/a' >'$T/again.log' && grep -qx 'model: up to date' '$T/again.log'"

  f=$(field "${CARDS[0]}" file)
  printf 'corrupt' | dd of="$T/a/$f" bs=1 seek=1000 conv=notrunc status=none
  check "a corrupted output is detected and rebuilt" \
    bash -c "'$MAKE_MODEL' '$T/a' >'$T/rebuild.log' 2>&1 && grep -q 'does not match the hash' '$T/rebuild.log' &&
             cmp '$T/a/$f' '$T/b/$f'"
else
  skip "determinism, pins, checker, idempotency (build failed)"
fi

# ---- a tampered package is refused ----------------------------------------------------------
if [[ -f $TARBALL ]]; then
  cp "$TARBALL" "$T/tampered.tgz" && printf 'x' >>"$T/tampered.tgz"
  check "a tampered nsfwjs tarball is refused, naming expected and actual sha1" bash -c "
    ! NSFWJS_TARBALL='$T/tampered.tgz' '$MAKE_MODEL' '$T/c' >'$T/tamper.log' 2>&1 &&
    grep -q 'expected 706017d11e44de0803b73a568819f800a50ae470' '$T/tamper.log' &&
    grep -q \"sha1 is \$(sha1sum '$T/tampered.tgz' | cut -d' ' -f1)\" '$T/tamper.log' &&
    [ ! -e '$T/c' ]"
else
  skip "tampered tarball ($TARBALL not present)"
fi

# ---- numerical parity with the original tfjs model ------------------------------------------
tfjs_ok=0
if [[ -f $PARITY_DIR/node_modules/@tensorflow/tfjs/package.json ]]; then
  tfjs_ok=1
elif [[ -z ${NFTLENS_NO_NPM:-} ]]; then
  mkdir -p "$PARITY_DIR"
  [[ -f $PARITY_DIR/package.json ]] || echo '{"name": "nftlens-model-parity", "private": true}' >"$PARITY_DIR/package.json"
  if (cd "$PARITY_DIR" && npm install --no-audit --no-fund --loglevel=error "@tensorflow/tfjs@$TFJS_VERSION") >"$T/npm.log" 2>&1; then
    tfjs_ok=1
  else
    sed 's/^/    /' "$T/npm.log"
  fi
fi
if (( ! built )); then
  skip "tfjs parity (build failed)"
elif (( ! tfjs_ok )); then
  skip "tfjs parity (@tensorflow/tfjs not available in $PARITY_DIR)"
else
  mkdir -p "$T/pkg"
  if tar -xzf "$TARBALL" -C "$T/pkg" package/dist/models/mobilenet_v2 &&
     node "$ROOT/scripts/model/extract.cjs" "$T/pkg/package" mobilenet_v2 "$T/tfjs" >/dev/null; then
    if TFJS_MODULE_DIR=$PARITY_DIR node "$ROOT/tests/model/tfjs_parity.mjs" "$T/tfjs" "$T/b" \
         --tol 1e-3 >"$T/parity.log" 2>&1; then
      ok "tfjs vs ONNX (onnxruntime-web) parity, tolerance 1e-3"
    else
      bad "tfjs vs ONNX (onnxruntime-web) parity, tolerance 1e-3"
    fi
    grep -E '^(ok|FAIL)|Error' "$T/parity.log" | sed 's/^/    /'
  else
    bad "extract the tfjs model for the parity test"
  fi
fi

echo "model tests: $pass passed, $fail failed, $skip skipped"
(( fail == 0 ))
