#!/bin/sh
# test_cli_model — `framepipe model info|run` from the outside: output, exit codes, one-line errors.
# usage: test_cli_model.sh FRAMEPIPE MODELS_DIR ONNX_TESTDATA_DIR
set -u
fp=$1 models=$2 tdata=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
check() { # check NAME CONDITION...
    name=$1; shift
    if "$@"; then passes=$((passes + 1)); else fails=$((fails + 1)); echo "FAIL $name"; fi
}
run() { # run EXPECTED_RC CMD... ; leaves stdout in $tmp/out, stderr in $tmp/err
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq "$want" ] || { echo "  '$*' exited $rc, want $want; stderr: $(cat "$tmp/err")"; return 1; }
}

check "info add.onnx" run 0 "$fp" model info "$models/add.onnx"
check "info lists input with symbolic dim" grep -q "x *float32\[batch,3\]" "$tmp/out"
check "info counts ops" grep -q "TAdd *2" "$tmp/out"
check "info lists unsupported ops by name" grep -q "unsupported ops: test.framepipe.TAdd test.framepipe.TConst" "$tmp/out"
check "info opset" grep -q "opset: 13" "$tmp/out"
check "info parameters" grep -q "parameters: 6" "$tmp/out"

check "info truncated -> 6" run 6 "$fp" model info "$models/bad/truncated.onnx"
check "one line naming the file" sh -c "[ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q 'truncated.onnx: load: not a valid ONNX protobuf' '$tmp/err'"
check "info opset 20 -> 4" run 4 "$fp" model info "$models/bad/opset20.onnx"
check "info missing file -> 3" run 3 "$fp" model info "$tmp/nope.onnx"
check "no subcommand -> 2" run 2 "$fp" model
check "bad subcommand -> 2" run 2 "$fp" model frobnicate x.onnx
check "run option on info -> 2" run 2 "$fp" model info "$models/add.onnx" --threads 2
check "bad backend -> 2" run 2 "$fp" model info "$models/add.onnx" --backend tpu

check "run unsupported op -> 4" run 4 "$fp" model run "$models/add.onnx" --output-dir "$tmp"
check "names the op" grep -q "node 'TConst_0' (test.framepipe.TConst): operator not supported" "$tmp/err"
check "run without --output-dir -> 2" run 2 "$fp" model run "$models/add.onnx"

# a model the runtime can run with no op kernels: ONNX's test_constant (Constant becomes a value)
if [ -d "$tdata/node/test_constant" ]; then
    check "run test_constant" run 0 "$fp" model run "$tdata/node/test_constant/model.onnx" --output-dir "$tmp"
    check "output equals ONNX's expected output, byte for byte as numpy writes it" \
        cmp -s "$tmp/values.npy" "$models/test_constant_values.npy"
    check "run unknown input name -> 2" run 2 "$fp" model run "$tdata/node/test_constant/model.onnx" \
        --output-dir "$tmp" --input nope=x.npy
    check "run missing output dir -> 5" run 5 "$fp" model run "$tdata/node/test_constant/model.onnx" \
        --output-dir "$tmp/missing"
fi
# the exported reference models (tests/models), when present
refs=$(dirname "$(dirname "$models")")/models
if [ -f "$refs/rvm_mobilenetv3/model.onnx" ]; then
    check "info rvm" run 0 "$fp" model info "$refs/rvm_mobilenetv3/model.onnx"
    check "info marks the value input" grep -q "downsample_ratio .*its value decides shapes" "$tmp/out"
    check "info marks nothing else" sh -c "[ \$(grep -c 'its value decides' '$tmp/out') -eq 1 ]"
fi
if [ -f "$refs/pairclass/model.onnx" ]; then
    check "run pairclass" run 0 "$fp" model run "$refs/pairclass/model.onnx" \
        --input "pair=$refs/pairclass/step0_in_pair.npy" --output-dir "$tmp" --threads 2
    check "output written" test -s "$tmp/scores.npy"
    check "activation memory reported" grep -q "^plan: .* activation memory" "$tmp/out"
    check "wrong input shape -> 6" run 6 "$fp" model run "$refs/pairclass/model.onnx" \
        --input "pair=$models/f32.npy" --output-dir "$tmp"
    check "names input and expected shape" grep -q "run: input 'pair': expected float32\[" "$tmp/err"
    check "unreadable npy -> 3" run 3 "$fp" model run "$refs/pairclass/model.onnx" \
        --input "pair=$models/bad/truncated.npy" --output-dir "$tmp"
fi
echo "nn.cli_model: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
