#!/usr/bin/env bash
# Release wasm build into pkg/: wasm-bindgen's output under pkg/wasm/ plus the package
# files from pkg-template/ (the JS facade, its types, package.json).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --lib --release --target wasm32-unknown-unknown --quiet
rm -rf pkg
wasm-bindgen --target web --out-dir pkg/wasm --out-name ipfs_accelerate \
  target/wasm32-unknown-unknown/release/ipfs_accelerate.wasm
cp pkg-template/index.js pkg-template/index.d.ts pkg-template/README.md pkg/
VERSION=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
sed "s/__VERSION__/$VERSION/" pkg-template/package.json >pkg/package.json
printf '[build] pkg/ %s: wasm %s bytes, %s bytes gzipped\n' "$VERSION" \
  "$(stat -c %s pkg/wasm/ipfs_accelerate_bg.wasm)" "$(gzip -9c pkg/wasm/ipfs_accelerate_bg.wasm | wc -c)"
