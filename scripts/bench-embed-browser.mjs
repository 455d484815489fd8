// Opens www/bench/embed.html in headless Chromium and prints ms per embedding beside the
// transformers.js numbers measured on this machine (../shared/ENVIRONMENT.md).
// A benchmark, not a test: it asserts nothing about speed.
import { runBenchPage } from './bench-page.mjs';

const BASELINE = { '12 tokens': 50, '158 tokens': 357, 'batch 8 × 158 tokens': 1930 };
const r = await runBenchPage('bench/embed.html');
console.log(`${r.browser}, ${r.path}, model load ${r.loadMs.toFixed(0)} ms`);
for (const row of r.results) {
  const base = BASELINE[row.name];
  console.log(
    `${row.name.padEnd(22)} median ${row.median.toFixed(1).padStart(7)} ms  p90 ${row.p90.toFixed(1).padStart(7)} ms` +
      `  (transformers.js int8: ${base} ms, ratio ${(base / row.median).toFixed(2)}x)`,
  );
}
