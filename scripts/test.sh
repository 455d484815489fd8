#!/usr/bin/env bash
# `npm test`: set-up, release build, every test binary compiled once, then every suite.
# Prints one summary line per build step and per suite, with its seconds, and a closing
# "total: N passed, M failed"; exits non-zero if anything failed.
#
# `npm run test:quick` (QUICK=1) is the edit-test loop: native tests but the WebGPU model
# passes and the browser-driving harness test, then the wasm tests in Chromium; no release
# build, no page suites.
set -uo pipefail
cd "$(dirname "$0")/.."
QUICK=${QUICK:-0}
START=$SECONDS

# lavapipe complains loudly without a runtime dir.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
LOGS=$(mktemp -d)
declare -a LINES=()
TOTAL_PASS=0
TOTAL_FAIL=0

# step NAME COMMAND...: a build step; its seconds go in the summary, and a failure stops.
step() {
  local name=$1 start=$SECONDS
  shift
  echo "=== build $name: $*"
  "$@" || build_failed "$name" "$((SECONDS - start)) s"
  LINES+=("build $name: ($((SECONDS - start)) s)")
}

# build_failed NAME TIME: a build step failed; the summary so far, and stop.
build_failed() {
  LINES+=("build $1: FAILED ($2)")
  printf '%s\n' "${LINES[@]}"
  echo "total: $TOTAL_PASS passed, $((TOTAL_FAIL + 1)) failed"
  exit 1
}

# run_suite NAME COMMAND...: runs a suite, counts cargo/libtest and node:test results.
run_suite() {
  local name=$1 start=$SECONDS
  shift
  echo "=== suite $name: $*"
  "$@" 2>&1 | tee "$LOGS/$name.log"
  tally "$name" "${PIPESTATUS[0]}" "$((SECONDS - start)) s"
}

# beside WHAT NAME COMMAND...: starts a build step or suite (WHAT) in the background, its
# output to its log only; joined NAME waits for it, prints the log, and sets RC and SECS.
# For work that leaves a core mostly idle and asserts no timing, beside work of that kind.
declare -A BESIDE=()
beside() {
  local what=$1 name=$2
  shift 2
  echo "=== $what $name (beside what follows; its log comes when it ends): $*"
  (
    start=$SECONDS
    "$@" >"$LOGS/$name.log" 2>&1
    echo "$? $((SECONDS - start))" >"$LOGS/$name.done"
  ) &
  BESIDE[$name]=$!
}
joined() {
  local name=$1
  wait "${BESIDE[$name]}"
  unset "BESIDE[$name]"
  echo "=== $name (log)"
  cat "$LOGS/$name.log"
  read -r RC SECS <"$LOGS/$name.done" || { RC=1 SECS=?; }
}
# collect NAME: a suite started with `beside`, counted.
collect() {
  joined "$1"
  tally "$1" "$RC" "$SECS s, beside others"
}

# tally NAME RC TIME: counts a finished suite's results from its log.
tally() {
  local name=$1 rc=$2 took=$3
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
  LINES+=("$name: $pass passed, $fail failed ($took)")
}

step setup bash scripts/setup.sh

# The release build runs beside the test builds below. Most of its time is on one core
# (this crate's LTO with one codegen unit, then wasm-opt), and the test builds fill the
# other; cargo locks each profile's directory on its own, so neither waits on the other.
# The suites that serve pkg/ start once it is done (wait_release, below).
[ "$QUICK" = 1 ] || beside build release-wasm bash scripts/build.sh
wait_release() {
  [ -n "${BESIDE[release-wasm]:-}" ] || return 0
  joined release-wasm
  [ "$RC" -eq 0 ] || build_failed release-wasm "$SECS s, beside the test builds"
  LINES+=("build release-wasm: ($SECS s, beside the test builds)")
}

# The wasm suites fetch the model from a real server, whose URL is baked in at compile time.
node scripts/serve.mjs 0 >"$LOGS/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER ${BESIDE[*]} 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q 'http://' "$LOGS/server.log" && break; sleep 0.1; done
PORT=$(grep -oE 'localhost:[0-9]+' "$LOGS/server.log" | head -1 | cut -d: -f2)
[ -n "$PORT" ] || { echo "the model server did not start:"; cat "$LOGS/server.log"; exit 1; }
export IPFS_ACCELERATE_MODEL_URL="http://127.0.0.1:$PORT/models/all-MiniLM-L6-v2/"
export IPFS_ACCELERATE_DINOV2_URL="http://127.0.0.1:$PORT/models/dinov2-small/"
export IPFS_ACCELERATE_WHISPER_URL="http://127.0.0.1:$PORT/models/whisper-tiny.en/"
rm -rf target/test-logs/places # written afresh by the tests (tests/common/backends.rs)

# Clippy runs as the compiler of this workspace's own crates while they are built for the
# tests (clippy-driver as RUSTC_WORKSPACE_WRAPPER, which is how `cargo clippy` itself
# works), so linting costs no second build of any dependency. A lint is an error
# (-D warnings): the build step fails and names it.
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

# A wasm test binary's tests share one timeout in the browser runner (20 s by default);
# the references run on every backend there (tests/common/backends.rs), MiniLM's for
# about a minute in Chromium.
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}

# Every host test target.
NATIVE=(cargo test --locked --workspace)
# The quick tier leaves out the WebGPU MiniLM passes and the harness test that drives
# both browsers through whole benchmark runs.
[ "$QUICK" = 1 ] && NATIVE+=(--exclude harness --lib --bins --test ops_reference --test errors
  --test minilm_reference --test proptest_kernels --test store --test webgpu_ops --test decoder --test session)
# --no-fail-fast: one failing test binary must not hide the others' results.
WASM=(cargo test --locked --target wasm32-unknown-unknown --no-fail-fast)
WASM_ALL=("${WASM[@]}" --test '*')
# The CPU suites, which the relaxed-simd build changes (Node 20 has no relaxed SIMD without
# a flag, so they run in the browsers only).
CPU_TESTS=(--test ops_reference --test errors --test minilm_reference)

[ "$QUICK" = 1 ] || NATIVE+=(--all-targets) # the benches too: built, linted, run once each
step native-tests "${NATIVE[@]}" --no-run
step wasm-tests "${WASM_ALL[@]}" --no-run
CLIPPED=("the host build (every target of every workspace member)" "the wasm32 build (the library and its wasm tests)")

# The native suite runs beside the wasm suites: each leaves a core mostly idle (one test
# binary at a time, most of them one long test), and none asserts a timing. It is
# collected before the page suites, whose responsiveness checks want the machine. Its
# harness tests serve pkg/, so it starts once the release build is done; the wasm-bindgen
# suites do not read pkg/, so when the release build is still running, wasm-chromium runs
# beside it, and the native suite starts the moment the release build ends, not once
# wasm-chromium does (the release build's last minutes are wasm-opt on one core).
start_native() { beside suite native "$@" "${NATIVE[@]}" --no-fail-fast; }
# after_release COMMAND...: COMMAND once the release build has succeeded.
after_release() {
  local start=$SECONDS
  while [ ! -f "$LOGS/release-wasm.done" ]; do sleep 1; done
  read -r rc _ <"$LOGS/release-wasm.done"
  [ "$rc" -eq 0 ] || { echo "the release build failed: the native suite did not run"; return 1; }
  echo "(waited $((SECONDS - start)) s for the release build)"
  "$@"
}
# The wasm tests run in the browsers only: Node's engine is Chromium's V8, so the CPU
# references there would repeat wasm-chromium's CPU places, and Node has no WebGPU or
# IndexedDB.
# --nocapture: the WebGPU op test prints what it checked per variant for the summary.
wasm_chromium() {
  run_suite wasm-chromium env WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver "${WASM_ALL[@]}" -- --nocapture
}
if [ -z "${BESIDE[release-wasm]:-}" ] || [ -f "$LOGS/release-wasm.done" ]; then
  wait_release
  start_native
  wasm_chromium
else
  start_native after_release
  wasm_chromium
  wait_release
fi
if [ "$QUICK" != 1 ]; then
  run_suite wasm-firefox env WASM_BINDGEN_USE_BROWSER=1 GECKODRIVER="$(command -v geckodriver)" "${WASM_ALL[@]}" -- --nocapture
  # The CPU suites again on the relaxed-simd build, which the loader picks in both
  # browsers. Relaxed SIMD changes only the CPU kernels, so the WebGPU and weight-store
  # tests are not run twice; only this crate is rebuilt (the relaxed_simd cfg, build.rs).
  export IPFS_ACCELERATE_RELAXED_SIMD=1
  step wasm-tests-relaxed "${WASM[@]}" "${CPU_TESTS[@]}" --no-run
  CLIPPED+=("the wasm32 relaxed-simd build")
  run_suite wasm-chromium-relaxed env WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver "${WASM[@]}" "${CPU_TESTS[@]}"
  run_suite wasm-firefox-relaxed env WASM_BINDGEN_USE_BROWSER=1 GECKODRIVER="$(command -v geckodriver)" "${WASM[@]}" "${CPU_TESTS[@]}"
  unset IPFS_ACCELERATE_RELAXED_SIMD
fi
collect native
if [ "$QUICK" != 1 ]; then
  run_suite js-node node --test tests/js/
  run_suite package node --test tests/package/
  run_suite pages-chromium env BROWSERS=chromium node --test tests/browser/
  run_suite pages-firefox env BROWSERS=firefox node --test tests/browser/
fi
# lint: rustfmt, plus the clippy passes that ran inside the build steps above (a lint
# there fails its step and stops the run, so reaching here means each one passed).
lint() {
  local p=0 f=0 c
  if cargo fmt --all -- --check; then p=$((p + 1)); else f=$((f + 1)); fi
  for c in "${CLIPPED[@]}"; do
    echo "clippy -D warnings: clean in $c"
    p=$((p + 1))
  done
  echo "# pass $p"
  echo "# fail $f"
  [ "$f" -eq 0 ]
}
run_suite lint lint

echo
echo "=== summary"
for l in "${LINES[@]}"; do echo "$l"; done
# What the reference tests checked on each backend of each place (tests/common/backends.rs:
# natively a file per test, since cargo test hides a passing test's output; the browsers
# print to the suite logs), and what the WebGPU-only tests checked per variant.
echo "--- references per place and backend: tests, cases checked"
per_place() {
  grep -ohE 'place-count: .*' "$@" 2>/dev/null | awk -v at="$PLACE" '
    $3 ~ /^[0-9]+$/ { t[$2]++; n[$2] += $3; next }
    { print $0 " [" at "]" }
    END { for (p in t) printf "%s: %d tests, %d cases [%s]\n", p, t[p], n[p], at }' | sort
}
PLACE=native per_place target/test-logs/places/*.txt
for s in wasm-chromium wasm-firefox wasm-chromium-relaxed wasm-firefox-relaxed; do
  [ -f "$LOGS/$s.log" ] && PLACE=$s per_place "$LOGS/$s.log"
done
for s in wasm-chromium wasm-firefox pages-chromium pages-firefox; do
  grep -ohE 'webgpu-count: .*' "$LOGS/$s.log" 2>/dev/null | sed "s/\$/ [$s]/" || true
done
echo "all: $((SECONDS - START)) s"
echo "total: $TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ]
