// Times TextEmbedder.embed at 12 and ~158 tokens (and a batch of 8); results also land in
// window.benchResults for the headless runner (scripts/bench-embed-browser.mjs).
import { init, TextEmbedder, cpuPath } from '../../pkg/index.js';

const MODEL = new URL('../../models/all-MiniLM-L6-v2/', import.meta.url).href;

async function time(f, minRuns = 5, budgetMs = 4000) {
  await f();
  const times = [];
  const until = performance.now() + budgetMs;
  while (times.length < minRuns || (performance.now() < until && times.length < 100)) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1], p90: times[Math.floor(times.length * 0.9)], runs: times.length };
}

// ?build=relaxed or ?build=simd128 forces a wasm build; otherwise the loader chooses.
const build = new URLSearchParams(location.search).get('build') ?? 'auto';

async function main() {
  await init(undefined, { build });
  document.getElementById('path').textContent = cpuPath();
  const t0 = performance.now();
  const e = await TextEmbedder.load(MODEL);
  const loadMs = performance.now() - t0;
  const short = 'The quick brown fox jumps over the lazy dog.';
  // Grow a text word by word until it takes 158 tokens, the length ENVIRONMENT.md measured.
  const words = 'weights are cached by content address so a browser can run the model offline'.split(' ');
  let long = '';
  for (let i = 0; e.tokenCount(long) < 158; i++) long += (long ? ' ' : '') + words[i % words.length];
  const cases = [
    ['12 tokens', [short]],
    ['158 tokens', [long]],
    ['batch 8 × 158 tokens', new Array(8).fill(long)],
  ];
  const results = [];
  for (const [name, texts] of cases) {
    const r = await time(() => e.embed(texts));
    const tokens = e.tokenCount(texts[0]);
    results.push({ name, tokens, ...r });
    document.getElementById('rows').insertAdjacentHTML(
      'beforeend',
      `<tr><td>${name}</td><td>${tokens}</td><td>${r.median.toFixed(1)}</td><td>${r.p90.toFixed(1)}</td><td>${r.runs}</td></tr>`,
    );
  }
  document.getElementById('status').textContent = `done (model load ${loadMs.toFixed(0)} ms)`;
  window.benchResults = { path: cpuPath(), loadMs, results };
}

main().catch((e) => {
  document.getElementById('status').textContent = `failed: ${e.code ?? ''} ${e.message}`;
  window.benchResults = { error: `${e.code ?? ''} ${e.message}` };
});
