// DINOv2 image embedding latency, ours against transformers.js fp32 and q8 on the same
// weights and the same synthetic images (www/bench/image.html), in headless Chromium and
// Firefox, one thread each. A benchmark, not a test: it prints medians and ratios. It
// checks the libraries compute the same thing (CLS cosine >= 0.98 for fp32; q8 is
// reported), since each preprocesses the images itself (ours as Pillow does, theirs on a
// canvas) and the q8 weights are rounded.
import { runBenchPage } from './bench-page.mjs';

const browsers = (process.argv[2] ?? 'chromium,firefox').split(',');
const backends = (process.argv[3] ?? 'wasm,webgpu').split(',');
const cos = (a, b) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) (d += a[i] * b[i]), (na += a[i] * a[i]), (nb += b[i] * b[i]);
  return d / Math.sqrt(na * nb);
};
for (const browser of browsers) {
  const runs = {};
  for (const b of backends) runs[b] = await runBenchPage(`bench/image.html?lib=ours&backend=${b}`, { browser, timeout: 600_000 });
  const fp32 = await runBenchPage('bench/image.html?lib=tjs&dtype=fp32', { browser, timeout: 600_000 });
  const q8 = await runBenchPage('bench/image.html?lib=tjs&dtype=q8', { browser, timeout: 600_000 });
  const ours = runs[backends[0]];
  const agree = cos(ours.cls, fp32.cls);
  if (!(agree >= 0.98)) throw new Error(`${browser}: our CLS and transformers.js fp32's differ (cosine ${agree})`);
  console.log(`\n${ours.browser}: ms per 224 image (median of a batch / batch), ratio = ours / baseline`);
  console.log(`CLS cosine ours vs tjs fp32 ${agree.toFixed(4)}, vs q8 ${cos(ours.cls, q8.cls).toFixed(4)}`);
  console.log(`model load: ${Object.entries(runs).map(([b, r]) => `ours ${b} ${r.loadMs.toFixed(0)} ms`).join(', ')}, tjs fp32 ${fp32.loadMs.toFixed(0)} ms, q8 ${q8.loadMs.toFixed(0)} ms`);
  for (const [i, batch] of [1, 8].entries()) {
    const best = Math.min(fp32.results[i].perImage, q8.results[i].perImage);
    const line = Object.entries(runs).map(([b, r]) => `ours ${b} ${r.results[i].perImage.toFixed(1)} (${(r.results[i].perImage / best).toFixed(2)}x)`);
    console.log(`batch ${batch}: ${line.join(', ')}; tjs fp32 ${fp32.results[i].perImage.toFixed(1)}, q8 ${q8.results[i].perImage.toFixed(1)}`);
  }
}
