// The threaded build in real browsers, on a cross-origin isolated page (scripts/serve.mjs
// sends COOP/COEP): `init(undefined, { threads: 2 })` starts the SDK's worker on the
// threaded build with one helper, `cpuThreads()` says 2, and a CPU model loads there by
// itself and stores its weights in IndexedDB for the next load. Its embeddings of the
// fixture texts match the float64 reference (tests/fixtures/minilm/gen_minilm.py) within
// its stated tolerance, and a 8 × 158-token
// batch (2 × 158 in q8) equals the page's own single-thread results within 1e-5 (the split
// kernels sum in the same order). A bad thread count is an invalid_argument.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { browsersToTest } from '../../scripts/drive.mjs';
import { openPage } from './page-setup.mjs';

const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/minilm/embeddings.json', import.meta.url), 'utf8'));

async function inPage({ cases }) {
  const m = await import('/pkg/index.js');
  const bad = await m.init(undefined, { threads: 0 }).then(
    () => 'resolved',
    (e) => e.code,
  );
  await m.init(undefined, { threads: 2 });
  try {
    const base = new URL('/models/all-MiniLM-L6-v2/', location.href).href;
    const out = { bad, isolated: crossOriginIsolated, threads: m.cpuThreads(), ms: {} };
    // Through a weight store, cleared first: the threaded build writes the chunks, then a
    // second load reads them back (its futures resume in later tasks than a
    // single-thread build's, which once let IndexedDB commit a write half-way).
    const store = await m.WeightStore.open({ name: 'threads-test' });
    await store.clear();
    (await m.TextEmbedder.load(base, { backend: 'wasm', store: 'threads-test' })).dispose();
    const fixture = await m.TextEmbedder.load(base, { backend: 'wasm', store: 'threads-test' });
    out.loadedFrom = fixture.loadedFrom;
    await store.clear();
    // Plain arrays: Firefox's WebDriver returns typed arrays as null.
    out.fixture = (await fixture.embed(cases.map((c) => c.text))).map((v) => Array.from(v));
    out.inWorker = typeof fixture.killWorkerForTesting === 'function';
    let long = '';
    while (fixture.tokenCount(long) < 158) long += 'threads split the work of one text ';
    const texts = Array.from({ length: 8 }, (_, i) => `${i} ${long}`);
    fixture.dispose();
    for (const dtype of ['f32', 'q8']) {
      const opts = { backend: 'wasm', cache: false, dtype };
      const w = await m.TextEmbedder.load(base, opts);
      const page = await m.TextEmbedder.load(base, { ...opts, worker: false });
      // q8's split kernels on two texts (the f32 batch is the one timed for the log).
      const batch = dtype === 'f32' ? texts : texts.slice(0, 2);
      let t = performance.now();
      const got = await w.embed(batch);
      out.ms[`threads ${dtype}`] = performance.now() - t;
      t = performance.now();
      const want = await page.embed(batch);
      out.ms[`page ${dtype}`] = performance.now() - t;
      out[`diff ${dtype}`] = Math.max(...got.map((v, i) => Math.max(...v.map((x, j) => Math.abs(x - want[i][j])))));
      w.dispose();
      page.dispose();
    }
    return out;
  } catch (err) {
    return { error: `${err.code}: ${err.message}\n${err.stack}` };
  }
}

for (const name of browsersToTest()) {
  describe(`threads in ${name}`, () => {
    const ctx = openPage(name);

    test('a threaded worker matches the reference and the page', async () => {
      const cases = FIXTURE.cases.map(({ text }) => ({ text }));
      const r = await ctx.page.evaluate(inPage, { cases });
      assert.ok(!r.error, r.error);
      assert.equal(r.bad, 'invalid_argument');
      assert.equal(r.isolated, true);
      assert.equal(r.threads, 2);
      assert.ok(r.inWorker, 'with threads, a load runs in the SDK worker');
      assert.equal(r.loadedFrom, 'cache', 'the second load reads what the threaded build stored');
      let worst = 0;
      FIXTURE.cases.forEach((c, i) => {
        const d = Math.max(...c.embedding.map((x, j) => Math.abs(x - r.fixture[i][j])));
        worst = Math.max(worst, d);
      });
      assert.ok(worst <= FIXTURE.tolerance.max_abs, `threaded embeddings differ from the reference by ${worst}`);
      for (const dtype of ['f32', 'q8']) assert.ok(r[`diff ${dtype}`] <= 1e-5, `${dtype}: threads and page differ by ${r[`diff ${dtype}`]}`);
      const ms = Object.entries(r.ms).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ');
      console.log(`threads: ${name}: 8 x 158 tokens (q8: 2): ${ms}; reference max diff ${worst.toExponential(2)}`);
    });
  });
}
