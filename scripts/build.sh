#!/usr/bin/env bash
# Release wasm builds into pkg/: wasm-bindgen's output under pkg/wasm/ plus the package
# files from pkg-template/ (the JS facade, its types, package.json).
#
# Three builds of the same code: simd128 (every browser), simd128 + relaxed-simd (the
# `relaxed_simd` cfg), whose GEMM uses fused multiply-add, and that with threads (below).
# The first two's wasm-bindgen glue is identical (checked below), so the loader in
# index.js instantiates whichever .wasm suits the browser with one glue file.
# Ends with `npm pack` of pkg/ into target/pack/, and checks the size budgets.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/wasm32-unknown-unknown/release/ipfs_accelerate.wasm
BUILDS=target/builds
mkdir -p "$BUILDS"
# The relaxed build differs only by this crate's `relaxed_simd` cfg (build.rs), so the
# second build compiles this crate alone and reuses every dependency of the first. Each
# build's wasm is copied out, since both end at the same path.
cargo build --locked --lib --release --target wasm32-unknown-unknown --quiet
cp "$OUT" "$BUILDS/simd128.wasm"
IPFS_ACCELERATE_RELAXED_SIMD=1 cargo build --locked --lib --release --target wasm32-unknown-unknown --quiet
cp "$OUT" "$BUILDS/relaxed.wasm"
rm -rf pkg "$BUILDS/bindgen"
wasm-bindgen --target web --no-typescript --out-dir pkg/wasm --out-name ipfs_accelerate "$BUILDS/simd128.wasm"
wasm-bindgen --target web --no-typescript --out-dir "$BUILDS/bindgen" --out-name ipfs_accelerate "$BUILDS/relaxed.wasm"
# No TypeScript from wasm-bindgen: the package's types are its own (index.d.ts and the
# files it names), so the generated ones would only add size.
# Compared without comment lines: wasm-bindgen's comments name closure shim indices,
# which differ between the two builds while the code that runs is the same.
strip_comments() { grep -v '^[[:space:]]*//' "$1"; }
if ! cmp -s <(strip_comments pkg/wasm/ipfs_accelerate.js) <(strip_comments "$BUILDS/bindgen/ipfs_accelerate.js"); then
  echo "[build] the relaxed-simd build's JS glue differs from the simd128 build's; one loader cannot serve both" >&2
  exit 1
fi
cp "$BUILDS/bindgen/ipfs_accelerate_bg.wasm" pkg/wasm/ipfs_accelerate_relaxed_bg.wasm

# The threaded build: simd128 + relaxed-simd with atomics and one shared memory, for the
# SDK's worker on cross-origin isolated pages (pkg-template/threads.js). std itself must
# be rebuilt with atomics, so it takes the pinned nightly that scripts/setup.sh installs
# and its own target directory (its flags differ from the other builds' for every crate).
# Its glue differs from theirs (it imports the memory), so it has its own directory.
THREADS_TOOLCHAIN=nightly-2026-05-20
IPFS_ACCELERATE_RELAXED_SIMD=1 CARGO_TARGET_DIR=target/threads \
  RUSTFLAGS='-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals' \
  cargo "+$THREADS_TOOLCHAIN" build --locked --lib --release --target wasm32-unknown-unknown \
  -Z build-std=std,panic_abort --quiet
wasm-bindgen --target web --no-typescript --out-dir pkg/wasm-threads --out-name ipfs_accelerate \
  target/threads/wasm32-unknown-unknown/release/ipfs_accelerate.wasm

# wasm-opt (npm binaryen) on both wasm files, side by side (about 45 s each here, mostly
# on one core). Its output is kept under target/wasm-opt/, keyed by the input's hash.
OPT_CACHE=target/wasm-opt
mkdir -p "$OPT_CACHE"
optimise() { # optimise FILE: replaces FILE by its wasm-opt -O3 output, cached by hash
  local w=$1 key
  key=$(sha256sum "$w" | cut -c1-32)
  if [ ! -f "$OPT_CACHE/$key.wasm" ]; then
    node_modules/.bin/wasm-opt -O3 --enable-simd --enable-relaxed-simd --enable-bulk-memory \
      --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
      --enable-reference-types --enable-multivalue --enable-threads "$w" -o "$OPT_CACHE/$key.$$.tmp"
    mv "$OPT_CACHE/$key.$$.tmp" "$OPT_CACHE/$key.wasm"
  fi
  cp "$OPT_CACHE/$key.wasm" "$w"
}
pids=()
for w in pkg/wasm/*.wasm pkg/wasm-threads/*.wasm; do
  optimise "$w" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { echo "[build] wasm-opt failed" >&2; exit 1; }; done

cp pkg-template/index.js pkg-template/sdk.js pkg-template/threads.js pkg-template/thread.js pkg-template/detect.js pkg-template/react.js pkg-template/react.d.ts \
  pkg-template/worker.js pkg-template/worker-host.js pkg-template/image-input.js \
  pkg-template/audio-input.js pkg-template/index.d.ts pkg-template/text.d.ts pkg-template/image.d.ts pkg-template/speech.d.ts pkg-template/README.md pkg/
VERSION=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
sed "s/__VERSION__/$VERSION/" pkg-template/package.json >pkg/package.json

# Size budgets: each shipped wasm under 1.5 MB gzipped; the tarball, which carries the
# three builds, under three wasm budgets plus 150 KB for the JS, types and README (about
# 80 KB of source today): it holds whenever every build holds its own.
WASM_BUDGET=1500000
TARBALL_BUDGET=$((3 * WASM_BUDGET + 150000))
over=0
for w in pkg/wasm/*.wasm pkg/wasm-threads/*.wasm; do
  gz=$(gzip -9c "$w" | wc -c)
  printf '[build] %s: %s bytes, %s bytes gzipped (budget %s)\n' "$w" "$(stat -c %s "$w")" "$gz" "$WASM_BUDGET"
  [ "$gz" -le "$WASM_BUDGET" ] || over=1
done
mkdir -p target/pack
rm -f target/pack/*.tgz
TARBALL=target/pack/$(cd pkg && npm pack --silent --pack-destination ../target/pack)
tb=$(stat -c %s "$TARBALL")
printf '[build] %s: %s bytes (gzipped tarball, budget %s)\n' "$TARBALL" "$tb" "$TARBALL_BUDGET"
[ "$tb" -le "$TARBALL_BUDGET" ] || over=1
if [ "$over" -ne 0 ]; then
  echo "[build] over the size budget" >&2
  exit 1
fi
