// Image embedding latency of one library on DINOv2 (models/dinov2-small): ours (wasm or
// webgpu) or transformers.js (fp32 or q8 ONNX made from the same weights), batch 1 and 8
// of synthetic 320 × 240 images, the timing of cases.js. Results (with the CLS token of
// the first image, so a driver can check both libraries compute the same thing) land in
// window.benchResults.
import { time } from './cases.js';
import { loadTjs } from './tjs.js';

const q = new URLSearchParams(location.search);
const lib = q.get('lib') ?? 'ours';

/** A smooth colour pattern with some edges, the same in every page. */
function pattern(seed, w = 320, h = 240) {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      data[i] = 128 + 100 * Math.sin(x / (17 + seed) + seed);
      data[i + 1] = 128 + 100 * Math.cos(y / (23 + seed));
      data[i + 2] = ((x >> 5) + (y >> 5) + seed) % 2 ? 220 : 40;
      data[i + 3] = 255;
    }
  }
  return { data, width: w, height: h };
}

async function ours() {
  const m = await import('../../pkg/index.js');
  await m.init();
  const t0 = performance.now();
  const e = await m.ImageEmbedder.load(new URL('../../models/dinov2-small/', import.meta.url).href, {
    backend: q.get('backend') ?? 'wasm',
    session: m.Session.create({ budget: 0 }),
  });
  const toImage = (p) => new ImageData(p.data, p.width, p.height);
  return {
    library: `ipfs-accelerate ${m.version()} (${e.backend}, ${m.cpuPath()})`,
    loadMs: performance.now() - t0,
    embed: async (ps) => (await e.embed(ps.map(toImage))).map((v) => Array.from(v)),
  };
}

async function tjs() {
  const { pipeline, env, RawImage } = await loadTjs();
  const dtype = q.get('dtype') ?? 'fp32';
  const t0 = performance.now();
  const x = await pipeline('image-feature-extraction', 'dinov2-small', { dtype, device: 'wasm' });
  return {
    library: `transformers.js ${env.version} ${dtype}`,
    loadMs: performance.now() - t0,
    embed: async (ps) => {
      const out = await x(ps.map((p) => new RawImage(p.data, p.width, p.height, 4)));
      const [b, t, d] = out.dims;
      const data = out.data;
      return Array.from({ length: b }, (_, i) => Array.from(data.slice(i * t * d, i * t * d + d)));
    },
  };
}

async function main() {
  const m = lib === 'tjs' ? await tjs() : await ours();
  document.getElementById('library').textContent = m.library;
  const images = Array.from({ length: 8 }, (_, i) => pattern(i));
  const [cls] = await m.embed(images.slice(0, 1));
  const results = [];
  for (const batch of [1, 8]) {
    const r = await time(() => m.embed(images.slice(0, batch)), 3, 8000);
    results.push({ batch, ...r, perImage: r.median / batch });
    document.getElementById('rows').insertAdjacentHTML(
      'beforeend',
      `<tr><td>${batch}</td><td>${r.median.toFixed(1)}</td><td>${r.p90.toFixed(1)}</td><td>${r.runs}</td><td>${(r.median / batch).toFixed(1)}</td></tr>`,
    );
  }
  document.getElementById('status').textContent = `done (model load ${m.loadMs.toFixed(0)} ms)`;
  window.benchResults = { library: m.library, loadMs: m.loadMs, cls, results };
}

main().catch((e) => {
  document.getElementById('status').textContent = `failed: ${e.code ?? ''} ${e.message}`;
  window.benchResults = { error: `${e.code ? `${e.code}: ` : ''}${e.message}` };
});
