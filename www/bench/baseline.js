// The same benchmark as embed.js, on transformers.js (served from ./baseline/node_modules,
// installed by scripts/setup-baseline.sh) with its onnxruntime-web WASM files served locally:
// nothing comes from a CDN or the hub. Results land in window.benchResults.
import { runCases } from './cases.js';
import { loadTjs } from './tjs.js';

const dtype = new URLSearchParams(location.search).get('dtype') ?? 'fp32';

async function main() {
  document.getElementById('dtype').textContent = dtype;
  const { pipeline, env } = await loadTjs();
  document.getElementById('version').textContent = env.version;
  const t0 = performance.now();
  const extractor = await pipeline('feature-extraction', 'minilm-onnx', { dtype, device: 'wasm' });
  const loadMs = performance.now() - t0;
  const countTokens = (text) => extractor.tokenizer(text).input_ids.dims.at(-1);
  const embed = (texts) => extractor(texts, { pooling: 'mean', normalize: true });
  const [fox] = (await embed(['The quick brown fox jumps over the lazy dog.'])).tolist();
  const results = await runCases(embed, countTokens);
  document.getElementById('status').textContent = `done (model load ${loadMs.toFixed(0)} ms)`;
  window.benchResults = { library: `transformers.js ${env.version}`, dtype, loadMs, fox: fox.slice(0, 5), results };
}

main().catch((e) => {
  document.getElementById('status').textContent = `failed: ${e.message}`;
  window.benchResults = { error: e.message };
});
