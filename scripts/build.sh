#!/usr/bin/env bash
# Release wasm builds into pkg/: wasm-bindgen's output under pkg/wasm/ plus the package
# files from pkg-template/ (the JS facade, its types, package.json).
#
# Two builds of the same code: simd128 (every browser) and simd128 + relaxed-simd, whose
# GEMM uses fused multiply-add. Their wasm-bindgen glue is identical (checked below), so
# the loader in index.js instantiates whichever .wasm suits the browser with one glue file.
set -euo pipefail
cd "$(dirname "$0")/.."
RELAXED_TARGET=target/relaxed
cargo build --lib --release --target wasm32-unknown-unknown --quiet
# RUSTFLAGS replaces .cargo/config.toml's rustflags, so it repeats +simd128.
CARGO_TARGET_DIR=$RELAXED_TARGET RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" \
  cargo build --lib --release --target wasm32-unknown-unknown --quiet
rm -rf pkg "$RELAXED_TARGET/bindgen"
wasm-bindgen --target web --out-dir pkg/wasm --out-name ipfs_accelerate \
  target/wasm32-unknown-unknown/release/ipfs_accelerate.wasm
wasm-bindgen --target web --out-dir "$RELAXED_TARGET/bindgen" --out-name ipfs_accelerate \
  "$RELAXED_TARGET/wasm32-unknown-unknown/release/ipfs_accelerate.wasm"
if ! cmp -s pkg/wasm/ipfs_accelerate.js "$RELAXED_TARGET/bindgen/ipfs_accelerate.js"; then
  echo "[build] the relaxed-simd build's JS glue differs from the simd128 build's; one loader cannot serve both" >&2
  exit 1
fi
cp "$RELAXED_TARGET/bindgen/ipfs_accelerate_bg.wasm" pkg/wasm/ipfs_accelerate_relaxed_bg.wasm
cp pkg-template/index.js pkg-template/index.d.ts pkg-template/README.md pkg/
VERSION=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
sed "s/__VERSION__/$VERSION/" pkg-template/package.json >pkg/package.json
for w in pkg/wasm/*.wasm; do
  printf '[build] %s: %s bytes, %s bytes gzipped\n' "$w" "$(stat -c %s "$w")" "$(gzip -9c "$w" | wc -c)"
done
