// `{ worker: true }` in real browsers, on wasm and webgpu: the model runs in the SDK's
// dedicated worker, so a 10 ms timer on the page never gaps over 50 ms during an
// 8 × 158-token batch (2 × 158 on webgpu, where the work is the device's, not the page's
// thread's, and the software adapters here take seconds per text); the vectors equal the page's own within 1e-5 and its token counts
// agree; a killed worker (the test hook) fails the call in flight with worker_failed, and
// the next call works on a fresh worker.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { browsersToTest } from '../../scripts/drive.mjs';
import { openPage } from './page-setup.mjs';

async function inPage({ backend }) {
  const m = await import('/pkg/index.js');
  await m.init();
  try {
    const base = new URL('/models/all-MiniLM-L6-v2/', location.href).href;
    const opts = { backend, cache: false };
    const w = await m.TextEmbedder.load(base, { ...opts, worker: true });
    const page = await m.TextEmbedder.load(base, opts);
    let long = '';
    while (page.tokenCount(long) < 158) long += 'a worker keeps the page responsive ';
    const texts = Array.from({ length: backend === 'wasm' ? 8 : 2 }, (_, i) => `${i} ${long}`);
    const want = await page.embed(texts);
    // The page's timer while the worker embeds the batch.
    let last = performance.now();
    let worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 10);
    const got = await w.embed(texts);
    clearInterval(timer);
    const diff = Math.max(...got.map((v, i) => Math.max(...v.map((x, j) => Math.abs(x - want[i][j])))));
    const counts = [w.tokenCount(long), page.tokenCount(long), w.tokenCount('short')];
    const wantCounts = [page.tokenCount(long), page.tokenCount(long), page.tokenCount('short')];
    // A worker killed while a call is in flight.
    const inFlight = w.embed(texts.slice(0, 2));
    w.killWorkerForTesting();
    const killed = await inFlight.then(
      () => 'resolved',
      (e) => e.code,
    );
    const [again] = await w.embed([texts[0]]);
    const againDiff = Math.max(...again.map((x, j) => Math.abs(x - want[0][j])));
    const info = { backend: w.backend, dims: w.dims, maxTokens: w.maxTokens, reasons: w.backendReasons };
    w.dispose();
    const afterDispose = await w.embed(['x']).then(
      () => 'resolved',
      (e) => e.code,
    );
    page.dispose();
    return { diff, worstGap, counts, wantCounts, killed, againDiff, info, afterDispose, transferred: got[0] instanceof Float32Array };
  } catch (err) {
    return { error: `${err.code}: ${err.message}\n${err.stack}` };
  }
}

for (const name of browsersToTest()) {
  describe(`models in a worker in ${name}`, () => {
    const ctx = openPage(name);

    for (const backend of ['wasm', 'webgpu']) {
      test(`the page stays responsive and the results agree (${backend})`, async () => {
        const r = await ctx.page.evaluate(inPage, { backend });
        assert.ok(!r.error, r.error);
        assert.equal(r.info.backend, backend);
        assert.equal(r.info.dims, 384);
        assert.ok(r.transferred);
        assert.ok(r.diff <= 1e-5, `worker and page differ by ${r.diff}`);
        assert.deepEqual(r.counts, r.wantCounts);
        assert.ok(r.worstGap < 50, `the page's 10 ms timer gapped ${r.worstGap.toFixed(1)} ms`);
        assert.equal(r.killed, 'worker_failed');
        assert.ok(r.againDiff <= 1e-5, 'the call after the kill works on a fresh worker');
        assert.equal(r.afterDispose, 'disposed');
        console.log(`worker: ${name} ${backend}: worst timer gap ${r.worstGap.toFixed(1)} ms, max diff ${r.diff}`);
      });
    }
  });
}
