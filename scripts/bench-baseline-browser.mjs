// Our MiniLM embedding latency against transformers.js fp32 and q8 on the same model, the
// same inputs and the same timing (www/bench/cases.js), in headless Chromium and Firefox.
// A benchmark, not a test: it prints medians and ratios and asserts nothing about speed.
import { runBenchPage } from './bench-page.mjs';

const browsers = (process.argv[2] ?? 'chromium,firefox').split(',');
// The first five values of the fox sentence, from ../shared/ENVIRONMENT.md's float64
// reference: a baseline that computes something else is not timed.
const FOX = [0.04393355, 0.05893441, 0.04817837, 0.0775481, 0.02674442];
const checkFox = (r, tol) => {
  const worst = Math.max(...FOX.map((x, i) => Math.abs(x - r.fox[i])));
  if (!(worst <= tol)) throw new Error(`${r.library} ${r.dtype}: fox values ${r.fox} are ${worst} off the reference`);
  return worst;
};
for (const browser of browsers) {
  const ours = await runBenchPage('bench/embed.html', { browser });
  const fp32 = await runBenchPage('bench/baseline.html?dtype=fp32', { browser });
  const q8 = await runBenchPage('bench/baseline.html?dtype=q8', { browser });
  const fp32Off = checkFox(fp32, 0.005);
  const q8Off = checkFox(q8, 0.02);
  console.log(`\n${ours.browser}: ipfs-accelerate (${ours.path}) vs ${fp32.library}; median ms (p90), ratio = baseline / ours`);
  console.log(`baseline fox values off the reference by at most ${fp32Off.toFixed(4)} (fp32), ${q8Off.toFixed(4)} (q8)`);
  console.log(`model load: ours ${ours.loadMs.toFixed(0)} ms (from ${ours.loadedFrom}), fp32 ${fp32.loadMs.toFixed(0)} ms, q8 ${q8.loadMs.toFixed(0)} ms`);
  console.log(`${'input'.padEnd(22)} ${'ours'.padStart(16)} ${'tjs fp32'.padStart(16)} ${'tjs q8'.padStart(16)} ${'vs fp32'.padStart(8)} ${'vs q8'.padStart(8)}`);
  const cell = (r) => `${r.median.toFixed(1)} (${r.p90.toFixed(0)})`.padStart(16);
  ours.results.forEach((o, i) => {
    const f = fp32.results[i];
    const q = q8.results[i];
    if (f.tokens !== o.tokens || q.tokens !== o.tokens) throw new Error(`token counts differ: ${o.tokens}/${f.tokens}/${q.tokens}`);
    console.log(
      `${o.name.padEnd(22)} ${cell(o)} ${cell(f)} ${cell(q)} ${(f.median / o.median).toFixed(2).padStart(7)}x ${(q.median / o.median).toFixed(2).padStart(7)}x`,
    );
  });
}
