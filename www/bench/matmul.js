// Measures ops.matmul throughput at MiniLM's layer shapes; the result also lands in
// window.benchResults for the headless runner (scripts/bench-matmul-browser.mjs).
import { init, Tensor, ops, cpuPath } from '../../pkg/index.js';

const SHAPES = [
  [384, 384, 1536],
  [158, 384, 384],
];

function random(n) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

// ?build=relaxed or ?build=simd128 forces a wasm build; otherwise the loader chooses.
const build = new URLSearchParams(location.search).get('build') ?? 'auto';

async function main() {
  await init(undefined, { build });
  document.getElementById('path').textContent = cpuPath();
  const results = [];
  for (const [m, k, n] of SHAPES) {
    const a = new Tensor(random(m * k), [m, k]);
    const b = new Tensor(random(k * n), [k, n]);
    for (let i = 0; i < 3; i++) ops.matmul(a, b).free();
    const times = [];
    const until = performance.now() + 1500;
    while (times.length < 5 || (performance.now() < until && times.length < 200)) {
      const t0 = performance.now();
      ops.matmul(a, b).free();
      times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    const ms = times[times.length >> 1];
    const gflops = (2 * m * k * n) / (ms * 1e6);
    results.push({ shape: `${m}x${k} * ${k}x${n}`, ms, gflops, runs: times.length });
    document.getElementById('rows').insertAdjacentHTML(
      'beforeend',
      `<tr><td>${m}×${k} · ${k}×${n}</td><td>${ms.toFixed(2)}</td><td>${gflops.toFixed(2)}</td></tr>`,
    );
    a.free();
    b.free();
  }
  document.getElementById('status').textContent = 'done';
  window.benchResults = { path: cpuPath(), results };
}

main().catch((e) => {
  document.getElementById('status').textContent = `failed: ${e.code ?? ''} ${e.message}`;
  window.benchResults = { error: e.message };
});
