// The IndexedDB weight store in real browsers (Chromium through playwright-core, Firefox
// ESR through puppeteer-core), with real IndexedDB and a real model server that each test
// starts, stops, counts and breaks (set-up in store-setup.mjs): offline reload, resume,
// corruption, quota, concurrency and deduplication. store-limits.test.mjs has the
// hostile-server and budget cases.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { browsersToTest } from '../../scripts/drive.mjs';
import { MODELS, MODEL, WEIGHTS_PATH, WEIGHTS_SIZE, CHUNK, loadInPage, storeState, corruptChunk, storeSuite } from './store-setup.mjs';

for (const browserName of browsersToTest()) {
  describe(`weight store in ${browserName}`, () => {
    const s = storeSuite(browserName);

    test('offline reload: the second load comes from IndexedDB with no request', async () => {
      const p = await s.page();
      const opts = { store: 'offline' };
      const first = await p.evaluate(loadInPage, { url: s.models.modelUrl(), opts });
      assert.equal(first.from, 'network', JSON.stringify(first));
      await s.models.stop();
      s.models.reset();
      await p.reload();
      const second = await p.evaluate(loadInPage, { url: s.models.modelUrl(), opts });
      await s.models.start();
      assert.equal(second.from, 'cache', JSON.stringify(second));
      assert.deepEqual(second.head, first.head);
      assert.equal(s.models.requests.length, 0);
      const { list } = await p.evaluate(storeState, 'offline');
      assert.deepEqual(list.map((m) => m.source), [s.models.modelUrl()]);
      // The manifest names every chunk by hash and CIDv1, and the whole file by its hash.
      const manifest = await p.evaluate(
        ({ url }) =>
          (async () => {
            const m = await import('/pkg/index.js');
            return (await m.WeightStore.open({ name: 'offline' })).manifest(url);
          })(),
        { url: s.models.modelUrl() },
      );
      const weights = manifest.files.find((f) => f.name === 'model.safetensors');
      assert.equal(weights.size, WEIGHTS_SIZE);
      assert.equal(weights.chunks.length, Math.ceil(WEIGHTS_SIZE / CHUNK));
      const sha = createHash('sha256').update(readFileSync(`${MODELS}/${MODEL}/model.safetensors`)).digest('hex');
      assert.equal(weights.sha256, sha, 'the whole-file sha-256 the store computed matches the file');
      assert.ok(weights.chunks.every((c) => /^bafkrei[a-z2-7]{52}$/.test(c.cid)), weights.chunks[0].cid);
      assert.match(weights.etag, /^"/);
      await p.close();
    });

    test('held weights: a q8 load keeps the weights it made; the next reads them, not the f32 file', async () => {
      const p = await s.page();
      const run = ({ url }) =>
        (async () => {
          const m = await import('/pkg/index.js');
          await m.init();
          const read = {};
          const onProgress = (ev) => (read[ev.file] = Math.max(read[ev.file] ?? 0, ev.loaded));
          const e = await m.TextEmbedder.load(url, { store: 'held', dtype: 'q8', onProgress });
          const [v] = await e.embed(['held weights']);
          const r = { from: e.loadedFrom, dtype: e.dtype, read, v: Array.from(v) };
          e.dispose();
          return r;
        })();
      const first = await p.evaluate(run, { url: s.models.modelUrl() });
      const second = await p.evaluate(run, { url: s.models.modelUrl() });
      assert.deepEqual([first.from, second.from, second.dtype], ['network', 'cache', 'q8']);
      assert.equal(first.read['model.safetensors'], WEIGHTS_SIZE);
      assert.equal(second.read['model.safetensors'], undefined, JSON.stringify(second.read));
      const bytes = (r) => Object.values(r.read).reduce((a, b) => a + b, 0);
      console.log(`held weights (${browserName}): the first q8 load read ${bytes(first)} bytes, the second ${bytes(second)}`);
      assert.ok(second.read['model.held.safetensors'] < 30e6 && bytes(second) < 30e6, JSON.stringify(second.read));
      assert.deepEqual(second.v, first.v, 'the held weights embed to the same bits');
      // They are not a model of their own.
      const { list } = await p.evaluate(storeState, 'held');
      assert.deepEqual(list.map((m) => m.source), [s.models.modelUrl()]);
      await p.close();
    });

    test('resume: a dropped connection leaves no manifest, and the retry fetches only the rest', async () => {
      const p = await s.page();
      const opts = { store: 'resume' };
      const cutAt = 10 * CHUNK + 12345;
      s.models.reset();
      s.models.cut = { path: WEIGHTS_PATH, after: cutAt };
      const broken = await p.evaluate(loadInPage, { url: s.models.modelUrl(), opts });
      assert.equal(broken.code, 'fetch_failed', JSON.stringify(broken));
      const mid = await p.evaluate(storeState, 'resume');
      assert.deepEqual(mid.list, [], 'no model is visible after the broken download');
      // Every chunk the page received in full is kept (the browser may drop bytes it had
      // buffered when the connection broke, so fewer than the server sent).
      assert.ok(mid.usage.partialBytes >= CHUNK, JSON.stringify(mid.usage));
      s.models.reset();
      const retry = await p.evaluate(loadInPage, { url: s.models.modelUrl(), opts });
      assert.equal(retry.from, 'network', JSON.stringify(retry));
      const weights = s.models.requests.filter((r) => r.path === WEIGHTS_PATH && r.method === 'GET');
      assert.equal(weights.length, 1);
      const from = Number(/^bytes=(\d+)-$/.exec(weights[0].range ?? '')?.[1]);
      assert.ok(from > 0 && from % CHUNK === 0 && from <= cutAt, `resumed at a stored chunk boundary: ${weights[0].range}`);
      assert.equal(s.models.bytes.get(WEIGHTS_PATH), WEIGHTS_SIZE - from, 'only the missing part was sent');
      assert.ok(!s.models.requests.some((r) => r.path.endsWith('/tokenizer.json')), 'finished files are not fetched again');
      const done = await p.evaluate(storeState, 'resume');
      assert.equal(done.list.length, 1);
      assert.equal(done.usage.partialBytes, 0);
      await p.close();
    });

    test('corruption: a damaged chunk is re-fetched, or reported as cache_corrupt offline', async () => {
      const p = await s.page();
      const opts = { store: 'corrupt' };
      const url = s.models.modelUrl();
      const good = await p.evaluate(loadInPage, { url, opts });
      assert.equal(good.from, 'network');
      await p.evaluate(corruptChunk, { name: 'corrupt', source: url, index: 3 });
      const healed = await p.evaluate(loadInPage, { url, opts });
      assert.equal(healed.from, 'network', JSON.stringify(healed));
      assert.deepEqual(healed.head, good.head);
      const again = await p.evaluate(loadInPage, { url, opts });
      assert.equal(again.from, 'cache', 'the re-fetch repaired the store');
      await p.evaluate(corruptChunk, { name: 'corrupt', source: url, index: 3 });
      await s.models.stop();
      const offline = await p.evaluate(loadInPage, { url, opts });
      await s.models.start();
      assert.equal(offline.code, 'cache_corrupt', JSON.stringify(offline));
      assert.match(offline.message, /model\.safetensors: chunk 3 .* does not match its hash/);
      await p.close();
    });

    test('quota: a model that does not fit fails with numbers and leaves nothing stored', async () => {
      const p = await s.page();
      let opts;
      if (p.cdp) {
        // Chromium: the browser's own quota for this origin, lowered through DevTools.
        const cdp = await p.cdp();
        await cdp.send('Storage.overrideQuotaForOrigin', {
          origin: s.pageServer.url.slice(0, -1),
          quotaSize: 20 * 1024 * 1024,
        });
        opts = { store: 'quota' };
      } else {
        // Firefox has no quota override: a store byte budget, the same code path's other limit.
        await p.evaluate(async () => {
          const m = await import('/pkg/index.js');
          await m.init();
          await m.WeightStore.open({ name: 'quota', budget: 20 * 1024 * 1024 });
        });
        opts = { store: 'quota' };
      }
      const r = await p.evaluate(loadInPage, { url: s.models.modelUrl(), opts });
      assert.equal(r.code, 'quota_exceeded', JSON.stringify(r));
      assert.ok(r.needed > 20 * 1024 * 1024 && r.available < 20 * 1024 * 1024, JSON.stringify(r));
      assert.match(r.message, /model\.safetensors needs \d+ bytes but only \d+ bytes are available/);
      const { list, usage } = await p.evaluate(storeState, 'quota');
      assert.deepEqual(list, []);
      assert.deepEqual([usage.bytes, usage.chunks, usage.partialBytes], [0, 0, 0], JSON.stringify(usage));
      await p.close();
    });

    test('concurrency and deduplication: one download for two loads; shared chunks across sources', async () => {
      const p = await s.page();
      s.models.reset();
      const url = s.models.modelUrl();
      const both = await p.evaluate(
        ({ url }) =>
          (async () => {
            const m = await import('/pkg/index.js');
            await m.init();
            const [a, b] = await Promise.all([
              m.TextEmbedder.load(url, { store: 'dedup' }),
              m.TextEmbedder.load(url, { store: 'dedup' }),
            ]);
            return [a.loadedFrom, b.loadedFrom].sort();
          })(),
        { url },
      );
      assert.deepEqual(both, ['cache', 'network']);
      const gets = s.models.requests.filter((r) => r.path === WEIGHTS_PATH && r.method === 'GET');
      assert.equal(gets.length, 1, 'downloaded once');
      const usage = await p.evaluate(
        ({ mirror }) =>
          (async () => {
            const m = await import('/pkg/index.js');
            const s = await m.WeightStore.open({ name: 'dedup' });
            const one = await s.usage();
            await s.prefetch(mirror);
            return { one, two: await s.usage(), list: await s.list() };
          })(),
        { mirror: s.models.modelUrl('mirror') },
      );
      assert.equal(usage.two.models, 2);
      assert.equal(usage.two.bytes, usage.one.bytes, 'identical files are stored once');
      assert.equal(usage.two.logicalBytes, 2 * usage.one.logicalBytes);
      await p.close();
    });
  });
}
