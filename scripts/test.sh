#!/usr/bin/env bash
# `npm test`: set-up, release build, then every suite. Prints one summary line per suite
# and a closing "total: N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || exit 1
bash scripts/build.sh || exit 1

# lavapipe complains loudly without a runtime dir.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
LOGS=$(mktemp -d)
rm -f target/test-logs/webgpu-native.txt # written afresh by tests/webgpu_ops.rs
declare -a LINES=()
TOTAL_PASS=0
TOTAL_FAIL=0

# run_suite NAME COMMAND...: runs a suite, counts cargo/libtest and node:test results.
run_suite() {
  local name=$1 start=$SECONDS
  shift
  echo "=== suite $name: $*"
  "$@" 2>&1 | tee "$LOGS/$name.log"
  local rc=${PIPESTATUS[0]}
  local pass fail
  pass=$(grep -oE '^test result: [A-Za-z]+\. [0-9]+ passed' "$LOGS/$name.log" | awk '{s+=$4} END {print s+0}')
  fail=$(grep -oE '[0-9]+ failed' <(grep -E '^test result:' "$LOGS/$name.log") | awk '{s+=$1} END {print s+0}')
  if grep -qE '^# pass [0-9]+' "$LOGS/$name.log"; then
    pass=$((pass + $(awk '/^# pass / {s+=$3} END {print s+0}' "$LOGS/$name.log")))
    fail=$((fail + $(awk '/^# fail / {s+=$3} END {print s+0}' "$LOGS/$name.log")))
  fi
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
    fail=1 # the suite broke before reporting a failing test (build error, crash)
  fi
  if [ "$pass" -eq 0 ] && [ "$fail" -eq 0 ]; then
    fail=1 # a suite that ran nothing is a failure, not a pass
  fi
  TOTAL_PASS=$((TOTAL_PASS + pass))
  TOTAL_FAIL=$((TOTAL_FAIL + fail))
  LINES+=("$name: $pass passed, $fail failed ($((SECONDS - start)) s)")
}

# lint: counts each check as one test.
lint() {
  local p=0 f=0
  if cargo fmt --all -- --check; then p=$((p + 1)); else f=$((f + 1)); fi
  if cargo clippy --workspace --all-targets --quiet -- -D warnings; then p=$((p + 1)); else f=$((f + 1)); fi
  if cargo clippy --lib --target wasm32-unknown-unknown --quiet -- -D warnings; then p=$((p + 1)); else f=$((f + 1)); fi
  echo "# pass $p"
  echo "# fail $f"
  [ "$f" -eq 0 ]
}

# The wasm suites fetch the model from a real server, whose URL is baked in at compile time.
node scripts/serve.mjs 0 >"$LOGS/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q 'http://' "$LOGS/server.log" && break; sleep 0.1; done
PORT=$(grep -oE 'localhost:[0-9]+' "$LOGS/server.log" | head -1 | cut -d: -f2)
[ -n "$PORT" ] || { echo "the model server did not start:"; cat "$LOGS/server.log"; exit 1; }
export IPFS_ACCELERATE_MODEL_URL="http://127.0.0.1:$PORT/models/all-MiniLM-L6-v2/"

# --nocapture: the WebGPU op test prints what it checked per variant for the summary.
WASM_TESTS=(cargo test --target wasm32-unknown-unknown --test '*' -- --nocapture)
run_suite native cargo test --workspace
# Node has no IndexedDB, so the store tests run in the browsers only.
run_suite wasm-node cargo test --target wasm32-unknown-unknown --test ops_reference --test errors --test minilm_reference
run_suite wasm-chromium env WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver "${WASM_TESTS[@]}"
run_suite wasm-firefox env WASM_BINDGEN_USE_BROWSER=1 GECKODRIVER="$(command -v geckodriver)" "${WASM_TESTS[@]}"
# The CPU suites again against the relaxed-simd build the loader picks in both browsers
# (Node 20 has no relaxed SIMD without a flag). Relaxed SIMD changes only the CPU kernels,
# so the WebGPU and weight-store tests are not run twice.
RELAXED=(env CARGO_TARGET_DIR=target/relaxed RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" WASM_BINDGEN_USE_BROWSER=1)
RELAXED_TESTS=(cargo test --target wasm32-unknown-unknown --test ops_reference --test errors --test minilm_reference)
run_suite wasm-chromium-relaxed "${RELAXED[@]}" CHROMEDRIVER=/usr/bin/chromedriver "${RELAXED_TESTS[@]}"
run_suite wasm-firefox-relaxed "${RELAXED[@]}" GECKODRIVER="$(command -v geckodriver)" "${RELAXED_TESTS[@]}"
run_suite js-node node --test tests/js/
run_suite package node --test tests/package/
run_suite pages-chromium env BROWSERS=chromium node --test tests/browser/
run_suite pages-firefox env BROWSERS=firefox node --test tests/browser/
run_suite lint lint

echo
echo "=== summary"
for l in "${LINES[@]}"; do echo "$l"; done
# What the WebGPU tests checked, per place and shader variant (natively the test writes a
# file, since cargo test hides a passing test's output; browsers print to the suite logs).
echo "--- WebGPU: cases checked per place and variant"
cat target/test-logs/webgpu-native.txt 2>/dev/null || echo "webgpu-count: none natively"
for s in wasm-chromium wasm-firefox pages-chromium pages-firefox; do
  grep -ohE 'webgpu-count: .*' "$LOGS/$s.log" 2>/dev/null | sed "s/\$/ [$s]/" || true
done
echo "total: $TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ]
