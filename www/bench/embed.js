// Times TextEmbedder.embed at 12 and ~158 tokens (and a batch of 8); results also land in
// window.benchResults for the headless runner (scripts/bench-embed-browser.mjs).
import { init, Session, TextEmbedder, cpuPath } from '../../pkg/index.js';
import { runCases } from './cases.js';

const MODEL = new URL('../../models/all-MiniLM-L6-v2/', import.meta.url).href;

// ?build=relaxed or ?build=simd128 forces a wasm build; otherwise the loader chooses.
const build = new URLSearchParams(location.search).get('build') ?? 'auto';

async function main() {
  await init(undefined, { build });
  document.getElementById('path').textContent = cpuPath();
  const t0 = performance.now();
  // No output cache: every timed run must run the model, not repeat a cached answer.
  const e = await TextEmbedder.load(MODEL, { session: Session.create({ budget: 0 }) });
  const loadMs = performance.now() - t0;
  const results = await runCases((texts) => e.embed(texts), (text) => e.tokenCount(text));
  document.getElementById('status').textContent = `done (model load ${loadMs.toFixed(0)} ms, from ${e.loadedFrom})`;
  window.benchResults = { path: cpuPath(), loadMs, loadedFrom: e.loadedFrom, results };
}

main().catch((e) => {
  document.getElementById('status').textContent = `failed: ${e.code ?? ''} ${e.message}`;
  window.benchResults = { error: `${e.code ?? ''} ${e.message}` };
});
