// One page visit of `harness bench`: loads a model with one library (ours or transformers.js,
// the baseline) and measures it. URL parameters:
//   lib=ours|tjs, backend=wasm|webgpu (ours), dtype=fp32|f16|q8|q4 (ours; fp32 is our f32)
//   or fp32|q8 (tjs), phase=network|cache,
//   task=text|image|speech, shapes=12x1,158x8 (tokens x batch; for images, pixels x
//   batch; for speech, a committed clip by its seconds: 4 hello.wav, 65 long.wav, x 1),
//   threads=N (both libraries; ours runs in a worker on the threaded build when N > 1),
//   iters=N, model=NAME (a folder of models/; the default is each library's MiniLM,
//   DINOv2 for images or Whisper tiny.en for speech, and a missing one is how tests force
//   a failure). For speech a cell's throughput is audio seconds per second (the real-time
//   factor) and firstMs the time to the first segment of a warm run (ours; null for tjs,
//   whose pipeline returns segments at the end).
// phase=network empties the library's cache first and times the load only; phase=cache
// times the load from the cache, then for each shape the first inference, a warm-up and N
// timed runs. Results land in window.cellResults; a failure in window.cellResults.error.
import { cases, clip } from './cases.js';
import { loadTjs, transcribeLong } from './tjs.js';

const q = new URLSearchParams(location.search);
const lib = q.get('lib') ?? 'ours';
const phase = q.get('phase') ?? 'cache';
const iters = Number(q.get('iters') ?? 10);
const shapes = (q.get('shapes') ?? '12x1').split(',').map((s) => s.split('x').map(Number));
const model = q.get('model');
const image = q.get('task') === 'image';
const speech = q.get('task') === 'speech';
const CLIPS = { 4: 'hello.wav', 65: 'long.wav' };

document.getElementById('params').textContent = location.search;

/** Ours in a worker on the threaded build (cell-worker.js), behind the same interface;
 * token counts come from a page-side tokenizer, synchronously. */
async function oursThreaded(threads) {
  const w = new Worker(new URL('./cell-worker.js', import.meta.url), { type: 'module' });
  let next = 0;
  const waiting = new Map();
  w.onmessage = ({ data }) => {
    const p = waiting.get(data.id);
    waiting.delete(data.id);
    if (data.ok) p.resolve(data.value);
    else p.reject(new Error(data.error));
  };
  const call = (op, args = {}) =>
    new Promise((resolve, reject) => {
      waiting.set(++next, { resolve, reject });
      w.postMessage({ id: next, op, ...args });
    });
  const m = await import('../../pkg/index.js');
  await m.init();
  if (phase === 'network') await (await m.WeightStore.open({ name: 'harness' })).clear();
  const folder = model ?? (speech ? 'whisper-tiny.en' : image ? 'dinov2-small' : 'all-MiniLM-L6-v2');
  const url = new URL(`../../models/${folder}/`, import.meta.url).href;
  const t0 = performance.now();
  const info = await call('load', {
    url,
    backend: q.get('backend') ?? 'wasm',
    dtype: { fp32: 'f32' }[q.get('dtype') ?? 'fp32'] ?? q.get('dtype'),
    threads,
    speech,
    image,
  });
  // The page's own copy of the tokenizer, for synchronous token counts.
  const tok = speech || image ? null : await m.TextEmbedder.load(url, { backend: 'wasm', store: 'harness' });
  return {
    ...info,
    loadMs: performance.now() - t0,
    embed: (inputs) => call('embed', { inputs }),
    transcribe: (audio) => call('transcribe', { audio }),
    countTokens: (t) => tok.tokenCount(t),
    memoryBytes: () => null,
  };
}

async function ours() {
  const threads = Number(q.get('threads') ?? 1);
  if (threads > 1) return oursThreaded(threads);
  const m = await import('../../pkg/index.js');
  await m.init();
  if (phase === 'network') await (await m.WeightStore.open({ name: 'harness' })).clear();
  const t0 = performance.now();
  const Model = speech ? m.SpeechRecognizer : image ? m.ImageEmbedder : m.TextEmbedder;
  const folder = model ?? (speech ? 'whisper-tiny.en' : image ? 'dinov2-small' : 'all-MiniLM-L6-v2');
  const e = await Model.load(new URL(`../../models/${folder}/`, import.meta.url).href, {
    backend: q.get('backend') ?? 'wasm',
    dtype: { fp32: 'f32' }[q.get('dtype') ?? 'fp32'] ?? q.get('dtype'),
    store: 'harness',
    // No output cache: every timed run must run the model, not repeat a cached answer.
    session: m.Session.create({ budget: 0 }),
  });
  return {
    library: `ipfs-accelerate ${m.version()} (${m.cpuPath()}) ${e.dtype}`,
    loadMs: performance.now() - t0,
    loadedFrom: e.loadedFrom,
    embed: (inputs) => e.embed(inputs),
    transcribe: async (audio) => {
      const t = performance.now();
      let first = null;
      await e.transcribe(audio, { onSegment: () => (first ??= performance.now() - t) });
      return first;
    },
    countTokens: (t) => e.tokenCount(t),
    memoryBytes: () => m.memoryBytes(),
    // On WebGPU with timestamp queries: the GPU time of one more, profiled pass (kept out
    // of the timed runs, since a pass per dispatch changes what is timed).
    gpuMs: async (texts) => {
      if (!e.setGpuProfiling(true)) return null;
      await e.embed(texts);
      e.setGpuProfiling(false);
      return e.gpuInfo.lastGpuMs;
    },
  };
}

async function tjs() {
  const { pipeline, env, RawImage } = await loadTjs({ cache: true, threads: Number(q.get('threads') ?? 1) }); // its model cache
  if (phase === 'network') for (const k of await caches.keys()) await caches.delete(k);
  const t0 = performance.now();
  if (speech) {
    const x = await pipeline('automatic-speech-recognition', model ?? 'whisper-tiny.en', { dtype: q.get('dtype') ?? 'fp32', device: 'wasm' });
    return {
      library: `transformers.js ${env.version} ${q.get('dtype') ?? 'fp32'} (${env.backends.onnx.wasm.numThreads} threads)`,
      loadMs: performance.now() - t0,
      loadedFrom: phase,
      transcribe: async (audio) => (await transcribeLong(x, audio), null),
      memoryBytes: () => null,
    };
  }
  if (image) {
    const x = await pipeline('image-feature-extraction', model ?? 'dinov2-small', { dtype: q.get('dtype') ?? 'fp32', device: 'wasm' });
    return {
      library: `transformers.js ${env.version} ${q.get('dtype') ?? 'fp32'} (${env.backends.onnx.wasm.numThreads} threads)`,
      loadMs: performance.now() - t0,
      loadedFrom: phase,
      embed: (images) => x(images.map((p) => new RawImage(p.data, p.width, p.height, 4))),
      memoryBytes: () => null,
    };
  }
  const x = await pipeline('feature-extraction', model ?? 'minilm-onnx', { dtype: q.get('dtype') ?? 'fp32', device: 'wasm' });
  return {
    library: `transformers.js ${env.version} ${q.get('dtype') ?? 'fp32'} (${env.backends.onnx.wasm.numThreads} threads)`,
    loadMs: performance.now() - t0,
    loadedFrom: phase,
    embed: (texts) => x(texts, { pooling: 'mean', normalize: true }),
    countTokens: (t) => x.tokenizer(t).input_ids.dims.at(-1),
    memoryBytes: () => null, // onnxruntime-web's wasm memory is not reachable from here
  };
}

async function main() {
  if (phase === 'none') return; // a blank page, for probes
  const m = lib === 'tjs' ? await tjs() : await ours();
  const out = { library: m.library, phase, loadMs: m.loadMs, loadedFrom: m.loadedFrom, cells: [] };
  if (phase === 'cache' && speech) {
    for (const [seconds] of shapes) {
      if (!CLIPS[seconds]) throw new Error(`no committed clip of ${seconds} s (4: hello.wav, 65: long.wav)`);
      const audio = await clip(CLIPS[seconds]);
      const t0 = performance.now();
      await m.transcribe(audio);
      const coldMs = performance.now() - t0;
      let first = null;
      const r = await timeWithin(async () => (first = await m.transcribe(audio)), iters, coldMs);
      const audioSeconds = audio.length / 16000;
      out.cells.push({
        tokens: seconds,
        batch: 1,
        firstMs: first,
        medianMs: r.median,
        p90Ms: r.p90,
        runs: r.runs,
        throughput: (audioSeconds * 1000) / r.median,
        memoryBytes: m.memoryBytes(),
        gpuMs: null,
      });
    }
  } else if (phase === 'cache') {
    for (const [tokens, batch] of shapes) {
      const texts = image ? imagesOf(tokens, batch) : new Array(batch).fill(textOf(tokens, m.countTokens));
      const t0 = performance.now();
      await m.embed(texts);
      const firstMs = performance.now() - t0;
      const r = await timeWithin(() => m.embed(texts), iters, firstMs);
      out.cells.push({
        tokens,
        actualTokens: image ? tokens : m.countTokens(texts[0]),
        batch,
        firstMs,
        medianMs: r.median,
        p90Ms: r.p90,
        runs: r.runs,
        throughput: (batch * 1000) / r.median,
        memoryBytes: m.memoryBytes(),
        gpuMs: m.gpuMs ? await m.gpuMs(texts) : null,
      });
    }
  }
  document.getElementById('status').textContent = JSON.stringify(out, null, 1);
  window.cellResults = out;
}

/** Up to `iters` timed runs after a warm-up, within about CELL_BUDGET_MS and never fewer
 * than two: on a software GPU (SwiftShader, lavapipe) one WebGPU pass of 8 × 158 tokens
 * takes over 30 s, and the default matrix must fit in 10 minutes. A first inference over
 * a second already warmed everything up. */
const CELL_BUDGET_MS = 10_000;
async function timeWithin(f, iters, firstMs) {
  if (firstMs < 1000) await f();
  const times = [];
  const until = performance.now() + CELL_BUDGET_MS;
  while (times.length < 2 || (times.length < iters && performance.now() < until)) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1], p90: times[Math.floor(times.length * 0.9)], runs: times.length };
}

/** `batch` distinct square images of `n` pixels (a smooth pattern with edges), as
 * `ImageData` for ours; the baseline wraps the same pixels as its RawImage. */
function imagesOf(n, batch) {
  return Array.from({ length: batch }, (_, k) => {
    const data = new Uint8ClampedArray(n * n * 4);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const i = (y * n + x) * 4;
        data[i] = 128 + 100 * Math.sin(x / (17 + k) + k);
        data[i + 1] = 128 + 100 * Math.cos(y / (23 + k));
        data[i + 2] = ((x >> 5) + (y >> 5) + k) % 2 ? 220 : 40;
        data[i + 3] = 255;
      }
    }
    return new ImageData(data, n, n);
  });
}

/** A text of `n` tokens: the 12-token fox sentence, or the long text cases() grows. */
function textOf(n, countTokens) {
  const [[, [short]], [, [long]]] = cases(countTokens);
  if (n === countTokens(short)) return short;
  if (n === countTokens(long)) return long;
  const words = long.split(' ');
  let t = '';
  for (let i = 0; countTokens(t) < n; i++) t += (t ? ' ' : '') + words[i % words.length];
  return t;
}

main().catch((e) => {
  document.getElementById('status').textContent = `failed: ${e.code ?? ''} ${e.message}`;
  window.cellResults = { error: `${e.code ? `${e.code}: ` : ''}${e.message}` };
});
