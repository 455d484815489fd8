// ImageEmbedder in real browsers (DINOv2 ViT-S/14 from models/dinov2-small, converted by
// scripts/convert/dinov2_from_onnx.py), against onnxruntime's outputs on the original
// ONNX (tests/fixtures/dinov2/reference.json):
// - from a Blob, an ImageData and raw RGBA pixels (the browser's decoder, then our
//   resize): CLS cosine >= 0.99 on wasm and webgpu; on webgpu an image alone equals it in
//   the batch within 1e-4 (on wasm the wasm-bindgen suite checks that); the saliency map within 0.01 mean |difference| on the reference's sample
//   points;
// - bad inputs give coded errors and the next call works: a corrupt image and a closed
//   ImageBitmap (invalid_image), zero size and a wrong channel count (invalid_image), a
//   corrupt weights file (invalid_weights);
// - `{ worker: true }`: the page's 10 ms timer gaps under 50 ms while the worker embeds,
//   its vectors equal the page's within 1e-4, a killed worker fails the call it is running
//   with worker_failed and the next call works;
// - WeightStore.prefetch of the DINOv2 directory (model read from config.json) stores
//   its five files, and verifies them with the network down; two loads in one session share every weight tensor; saliency after
//   embed of the same image is an output-cache hit (one encoder run).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { browsersToTest } from '../../scripts/drive.mjs';
import { openPage } from './page-setup.mjs';

const here = new URL('../fixtures/dinov2/', import.meta.url);
const fixture = JSON.parse(readFileSync(new URL('reference.json', here)));
const ref = Object.fromEntries(fixture.cases.map((c) => [c.image, c]));
const png = (name) => readFileSync(new URL(`images/${name}`, here)).toString('base64');
const IMAGES = ['landscape_320x240.png', 'gray_512x128.png', 'rgba_256x256.png'];
const args = {
  images: Object.fromEntries(IMAGES.map((n) => [n, png(n)])),
  salSample: ref['landscape_320x240.png'].saliency_sample,
};

function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

async function accuracy({ backend, images, salSample }) {
  try {
    const m = await import('/pkg/index.js');
    await m.init();
    const base = new URL('/models/dinov2-small/', location.href).href;
    const blob = (b64) => new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' });
    const code = (p) => p.then(() => 'resolved', (e) => e.code ?? `no code: ${e.message}`);
    // On webgpu no output cache, so an image alone below is run again, not answered from
    // the cache (on wasm the wasm-bindgen suite compares a batch with images alone).
    const session = backend === 'webgpu' ? m.Session.create({ budget: 0 }) : undefined;
    const e = await m.ImageEmbedder.load(base, { backend, cache: false, session });
    const landscape = blob(images['landscape_320x240.png']);
    // An ImageData, and raw RGBA pixels, from the browser's own decoding.
    const bitmap = await createImageBitmap(blob(images['gray_512x128.png']), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0);
    const imageData = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    const rgba = await createImageBitmap(blob(images['rgba_256x256.png']), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    const c2 = new OffscreenCanvas(rgba.width, rgba.height).getContext('2d');
    c2.drawImage(rgba, 0, 0);
    const raw = { data: new Uint8Array(c2.getImageData(0, 0, rgba.width, rgba.height).data.buffer), width: rgba.width, height: rgba.height, channels: 4 };
    const vs = backend === 'wasm' ? await e.embed([landscape, imageData, raw]) : await e.embed([landscape, imageData]);
    // The second image alone gives what it gave in the batch.
    const [alone] = backend === 'webgpu' ? await e.embed([imageData]) : [vs[1]];
    const aloneDiff = Math.max(...Array.from(alone, (x, j) => Math.abs(x - vs[1][j])));
    const sal = await e.saliency(landscape);
    const sample = [];
    for (let y = 0; y < 224; y += 4) for (let x = 0; x < 224; x += 4) sample.push(sal.data[y * 224 + x]);
    const mad = sample.reduce((s, v, i) => s + Math.abs(v - salSample[i]), 0) / sample.length;
    const out = { backend: e.backend, dims: e.dims, vs: vs.map((v) => Array.from(v)), aloneDiff, mad, salSize: [sal.width, sal.height], errors: {} };
    if (backend === 'wasm') {
      // Bad inputs, each followed by a call that works (answered by the output cache).
      const works = async () => (await e.embed([landscape]))[0].length === 384;
      const closed = await createImageBitmap(blob(images['landscape_320x240.png']));
      closed.close();
      const cases = {
        corrupt: () => e.embed([new Blob([new Uint8Array([137, 80, 78, 71, 1, 2, 3])], { type: 'image/png' })]),
        closedBitmap: () => e.embed([closed]),
        zeroSize: () => e.embed([{ data: new Uint8Array(0), width: 0, height: 4, channels: 3 }]),
        wrongChannels: () => e.embed([{ data: new Uint8Array(4 * 4 * 5), width: 4, height: 4, channels: 5 }]),
        shortData: () => e.embed([{ data: new Uint8Array(10), width: 4, height: 4, channels: 3 }]),
        notAnImage: () => e.saliency(42),
      };
      for (const [k, f] of Object.entries(cases)) out.errors[k] = [await code(f()), await works()];
      // A weights file that is not safetensors: every other file is the real model's.
      const realFetch = globalThis.fetch;
      globalThis.fetch = (url, init) =>
        String(url).includes('/broken-dinov2/model.safetensors')
          ? Promise.resolve(new Response(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])))
          : realFetch(String(url).replace('/broken-dinov2/', '/models/dinov2-small/'), init);
      out.errors.badWeights = [await code(m.ImageEmbedder.load(new URL('/broken-dinov2/', location.href).href, { backend, cache: false })), await works()];
      globalThis.fetch = realFetch;
      out.vsAfter = Array.from((await e.embed([landscape], { pooling: 'mean' }))[0]).length;
    }
    e.dispose();
    return out;
  } catch (err) {
    return { error: `${err.code}: ${err.message}\n${err.stack}` };
  }
}

async function inWorker({ images }) {
  try {
    const m = await import('/pkg/index.js');
    await m.init();
    const base = new URL('/models/dinov2-small/', location.href).href;
    const blob = (b64) => new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' });
    const code = (p) => p.then(() => 'resolved', (e) => e.code ?? `no code: ${e.message}`);
    const imgs = [blob(images['landscape_320x240.png']), blob(images['rgba_256x256.png'])];
    const page = await m.ImageEmbedder.load(base, { backend: 'wasm', cache: false });
    const w = await m.ImageEmbedder.load(base, { backend: 'wasm', cache: false, worker: true });
    const want = await page.embed(imgs);
    let last = performance.now();
    let worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 10);
    const got = await w.embed(imgs);
    clearInterval(timer);
    const diff = Math.max(...got.map((v, i) => Math.max(...v.map((x, j) => Math.abs(x - want[i][j])))));
    const sal = await w.saliency(imgs[0]);
    // A call the worker is running (an image it has not seen, so no cached answer): the
    // kill comes once the image is decoded and posted.
    const inFlight = w.embed([blob(images['gray_512x128.png'])]);
    await new Promise((r) => setTimeout(r, 300));
    w.killWorkerForTesting();
    const killed = await code(inFlight);
    const [again] = await w.embed(imgs.slice(0, 1));
    const againDiff = Math.max(...again.map((x, j) => Math.abs(x - want[0][j])));
    const info = { backend: w.backend, dims: w.dims, hasSaliency: w.hasSaliency, transferred: got[0] instanceof Float32Array };
    w.dispose();
    const afterDispose = await code(w.embed(imgs.slice(0, 1)));
    page.dispose();
    return { diff, worstGap, killed, againDiff, info, afterDispose, salSize: [sal.width, sal.height] };
  } catch (err) {
    return { error: `${err.code}: ${err.message}\n${err.stack}` };
  }
}

async function storeAndSession({ images }) {
  try {
    const m = await import('/pkg/index.js');
    await m.init();
    const base = new URL('/models/dinov2-small/', location.href).href;
    const blob = (b64) => new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' });
    const store = await m.WeightStore.open({ name: 'images-test' });
    await store.clear();
    const entry = await store.prefetch(base);
    const session = m.Session.create();
    const a = await m.ImageEmbedder.load(base, { backend: 'wasm', session, store });
    const one = session.stats();
    const b = await m.ImageEmbedder.load(base, { backend: 'wasm', session, store });
    const two = session.stats();
    const img = blob(images['landscape_320x240.png']);
    await a.embed([img]);
    const before = session.stats().outputs;
    await b.saliency(img);
    const after = session.stats().outputs;
    a.dispose();
    b.dispose();
    // With the network down, prefetch verifies the stored model (its family read from the
    // stored config.json).
    const realFetch = globalThis.fetch;
    globalThis.fetch = () => Promise.reject(new TypeError('the network is down'));
    let offline;
    try {
      offline = (await store.prefetch(base)).files.length;
    } catch (e) {
      offline = `${e.code}: ${e.message}`;
    } finally {
      globalThis.fetch = realFetch;
    }
    await store.clear();
    return { files: entry.files.slice().sort(), one, two, before, after, offline, loadedFrom: [a.loadedFrom, b.loadedFrom] };
  } catch (err) {
    return { error: `${err.code}: ${err.message}\n${err.stack}` };
  }
}

for (const name of browsersToTest()) {
  describe(`ImageEmbedder in ${name}`, () => {
    const ctx = openPage(name);

    for (const backend of ['wasm', 'webgpu']) {
      test(`matches onnxruntime from every input kind (${backend})`, async () => {
        const r = await ctx.page.evaluate(accuracy, { backend, ...args });
        assert.ok(!r.error, r.error);
        assert.equal(r.backend, backend);
        assert.equal(r.dims, 384);
        const names = ['landscape_320x240.png', 'gray_512x128.png', 'rgba_256x256.png'];
        r.vs.forEach((v, i) => {
          const cos = cosine(v, ref[names[i]].cls);
          assert.ok(cos >= 0.99, `${names[i]}: CLS cosine ${cos}`);
          console.log(`images: ${name} ${backend} ${names[i]} CLS cosine ${cos.toFixed(6)}`);
        });
        assert.ok(r.aloneDiff <= 1e-4, `an image alone and in a batch differ by ${r.aloneDiff}`);
        assert.deepEqual(r.salSize, [224, 224]);
        assert.ok(r.mad <= 0.01, `saliency mean |diff| ${r.mad}`);
        if (backend === 'wasm') {
          const want = {
            corrupt: 'invalid_image',
            closedBitmap: 'invalid_image',
            zeroSize: 'invalid_image',
            wrongChannels: 'invalid_image',
            shortData: 'invalid_image',
            notAnImage: 'invalid_image',
            badWeights: 'invalid_weights',
          };
          for (const [k, c] of Object.entries(want)) assert.deepEqual(r.errors[k], [c, true], k);
          assert.equal(r.vsAfter, 384);
        }
      });
    }

    test('{ worker: true } keeps the page responsive and agrees', async () => {
      const r = await ctx.page.evaluate(inWorker, args);
      assert.ok(!r.error, r.error);
      assert.deepEqual(r.info, { backend: 'wasm', dims: 384, hasSaliency: true, transferred: true });
      assert.ok(r.diff <= 1e-4, `worker and page differ by ${r.diff}`);
      assert.ok(r.worstGap < 50, `the page's 10 ms timer gapped ${r.worstGap.toFixed(1)} ms`);
      assert.equal(r.killed, 'worker_failed');
      assert.ok(r.againDiff <= 1e-4);
      assert.equal(r.afterDispose, 'disposed');
      assert.deepEqual(r.salSize, [224, 224]);
      console.log(`images worker: ${name}: worst timer gap ${r.worstGap.toFixed(1)} ms, max diff ${r.diff}`);
    });

    test('prefetch stores the DINOv2 files; two loads share weights; saliency reuses embed', async () => {
      const r = await ctx.page.evaluate(storeAndSession, args);
      assert.ok(!r.error, r.error);
      assert.deepEqual(r.files, ['config.json', 'model.safetensors', 'preprocessor_config.json', 'saliency_head.safetensors', 'saliency_head_config.json']);
      assert.deepEqual(r.loadedFrom, ['cache', 'cache']);
      assert.equal(r.two.models, 2);
      assert.equal(r.two.tensors.count, r.one.tensors.count, 'the second load added no tensors');
      assert.equal(r.two.tensors.shared, r.two.tensors.count);
      assert.equal(r.after.hits, r.before.hits + 1, 'saliency found the encoder output embed left');
      assert.equal(r.offline, 5, 'prefetch of a stored model works offline');
      console.log(`images store: ${name}: ${r.files.length} files; ${r.two.tensors.count} tensors shared by 2 loads`);
    });
  });
}
