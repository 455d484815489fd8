// Opens www/bench/matmul.html in headless Chromium and prints the simd128 GFLOP/s.
// A benchmark, not a test: it asserts nothing about speed.
import { runBenchPage } from './bench-page.mjs';

const r = await runBenchPage('bench/matmul.html', { timeout: 120_000 });
for (const row of r.results) {
  console.log(`${r.browser} ${r.path}: ${row.shape}: ${row.ms.toFixed(2)} ms, ${row.gflops.toFixed(2)} GFLOP/s (${row.runs} runs)`);
}
