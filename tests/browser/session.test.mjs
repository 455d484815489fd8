// Sessions in real browsers, on the CPU (wasm) and WebGPU backends: MiniLM loaded twice
// in one session (the second load from the weight store, whose weights file the session
// already holds) adds under 10 MB of wasm memory and of GPU bytes, and stats() shows every
// tensor shared by the two loads; 16 concurrent embeds over the two embedders all succeed
// and equal the sequential results (within 1e-6); disposing one load leaves the other
// working, disposing both leaves no model tensors; a load whose weights the session let go
// mid-load reads them from the store after all.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { browsersToTest } from '../../scripts/drive.mjs';
import { openPage } from './page-setup.mjs';

/** In the page: the whole scenario on `backend`; returns what the test checks. */
async function inPage({ backend, store }) {
  const m = await import('/pkg/index.js');
  await m.init();
  try {
    const base = new URL('/models/all-MiniLM-L6-v2/', location.href).href;
    // No output cache, so every embed below runs.
    const session = m.Session.create({ budget: 0 });
    const opts = { backend, session, store };
    const texts = Array.from({ length: 16 }, (_, i) => `concurrent call number ${i} of sixteen`);
    const a = await m.TextEmbedder.load(base, opts);
    const sequential = [];
    for (const t of texts) sequential.push(Array.from((await a.embed([t]))[0]));
    const one = session.stats();
    const memBefore = m.memoryBytes();
    const b = await m.TextEmbedder.load(base, opts);
    await b.embed([texts[0]]);
    const two = session.stats();
    const memGrew = m.memoryBytes() - memBefore;
    // 16 calls at once, alternating between the two loads.
    const all = await Promise.all(texts.map((t, i) => (i % 2 ? b : a).embed([t])));
    const worst = Math.max(...all.map(([v], i) => Math.max(...v.map((x, j) => Math.abs(x - sequential[i][j])))));
    a.dispose();
    const afterOne = session.stats();
    const still = Array.from((await b.embed([texts[3]]))[0]);
    const stillDiff = Math.max(...still.map((x, j) => Math.abs(x - sequential[3][j])));
    b.dispose();
    const none = session.stats();
    // The only other holder of the weights goes while a load, having left the weights
    // file unread, still reads the files after it: the load reads the weights after all.
    const s2 = m.Session.create({ budget: 0 });
    const x = await m.TextEmbedder.load(base, { ...opts, session: s2 });
    let racedAt = null;
    const y = await m.TextEmbedder.load(base, {
      ...opts,
      session: s2,
      onProgress: (p) => {
        if (racedAt === null && p.file === '1_Pooling/config.json') {
          racedAt = p.file;
          x.dispose();
        }
      },
    });
    const raced = Array.from((await y.embed([texts[3]]))[0]);
    const racedDiff = Math.max(...raced.map((v, j) => Math.abs(v - sequential[3][j])));
    const racedFrom = y.loadedFrom;
    y.dispose();
    return {
      one, two, memGrew, worst, afterOne, stillDiff, none, loadedFrom: [a.loadedFrom, b.loadedFrom],
      racedAt, racedDiff, racedFrom,
    };
  } catch (err) {
    return { error: `${err.code}: ${err.message}\n${err.stack}` };
  }
}

for (const name of browsersToTest()) {
  describe(`sessions in ${name}`, () => {
    const ctx = openPage(name);

    for (const backend of ['wasm', 'webgpu']) {
      test(`two loads share one copy, and 16 concurrent embeds agree (${backend})`, async () => {
        const r = await ctx.page.evaluate(inPage, { backend, store: `session-test-${backend}` });
        assert.ok(!r.error, r.error);
        assert.deepEqual(r.loadedFrom.slice(1), ['cache'], 'the second load reads the store');
        assert.equal(r.two.models, 2);
        assert.equal(r.two.tensors.count, r.one.tensors.count, 'the second load added no tensors');
        assert.equal(r.two.tensors.shared, r.two.tensors.count, 'every tensor is shared');
        assert.equal(r.two.tensors.maxSharing, 2);
        assert.equal(r.two.bytes.wasm, r.one.bytes.wasm);
        const gpuGrew = r.two.bytes.webgpu - r.one.bytes.webgpu;
        assert.ok(r.memGrew < 10 << 20, `the second load grew wasm memory by ${r.memGrew} bytes`);
        assert.ok(gpuGrew < 10 << 20, `the second load added ${gpuGrew} GPU bytes`);
        assert.ok(r.worst <= 1e-6, `concurrent results differ from sequential ones by ${r.worst}`);
        assert.equal(r.afterOne.models, 1);
        assert.equal(r.afterOne.tensors.count, r.one.tensors.count, 'the remaining load keeps the tensors');
        assert.ok(r.stillDiff <= 1e-6);
        assert.equal(r.none.models, 0);
        assert.equal(r.none.tensors.count, 0, 'disposing both leaves no model tensors');
        assert.equal(r.none.bytes.wasm, 0);
        assert.equal(r.racedAt, '1_Pooling/config.json', 'the dispose happened after the weights were skipped');
        assert.equal(r.racedFrom, 'cache', 'the raced load still read the store, not the network');
        assert.ok(r.racedDiff <= 1e-6, `the raced load differs by ${r.racedDiff}`);
        console.log(
          `session: ${name} ${backend}: ${r.two.tensors.count} tensors shared, wasm memory +${r.memGrew} B, GPU +${gpuGrew} B, worst concurrent diff ${r.worst}`,
        );
      });
    }
  });
}
