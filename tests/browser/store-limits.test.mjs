// The weight store against a hostile-but-realistic server and tight budgets, in real
// browsers (set-up in store-setup.mjs): invalid downloads never committed, the budget
// without a Content-Length, no eviction for a load that cannot fit, a budget kept across
// opens, an aborted load freeing its source. After each error a reference embedding and
// an op still work.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, createReadStream } from 'node:fs';
import { browsersToTest } from '../../scripts/drive.mjs';
import { MODELS, MODEL, WEIGHTS_PATH, WEIGHTS_SIZE, CHUNK, loadInPage, storeState, storeSuite } from './store-setup.mjs';

for (const browserName of browsersToTest()) {
  describe(`weight store limits in ${browserName}`, () => {
    const s = storeSuite(browserName);

    test('an invalid download is never committed: once the server is fixed the next load asks it again', async () => {
      const p = await s.page();
      const opts = { store: 'poison' };
      const url = s.models.modelUrl();
      // config.json answered with an HTML page.
      s.answerOnce(`/models/${MODEL}/config.json`, 200, { 'Content-Type': 'text/html' }, '<!doctype html><p>Moved</p>');
      const html = await p.evaluate(loadInPage, { url, opts });
      assert.equal(html.code, 'invalid_config', JSON.stringify(html));
      assert.deepEqual((await p.evaluate(storeState, 'poison')).list, [], 'nothing committed');
      await s.assertStillWorks(p);
      // The weights cut short by a server that says so (its Content-Length is the short length).
      const short = readFileSync(`${MODELS}/${MODEL}/model.safetensors`).subarray(0, 5 * CHUNK + 777);
      s.answerOnce(WEIGHTS_PATH, 200, { 'Content-Length': short.length, ETag: '"short"' }, short);
      s.models.reset();
      const cut = await p.evaluate(loadInPage, { url, opts });
      assert.equal(cut.code, 'invalid_weights', JSON.stringify(cut));
      assert.ok(s.models.requests.some((r) => r.path === `/models/${MODEL}/config.json`), 'config.json was asked for again');
      const mid = await p.evaluate(storeState, 'poison');
      assert.deepEqual([mid.list.length, mid.usage.chunks, mid.usage.partialBytes], [0, 0, 0], JSON.stringify(mid.usage));
      await s.assertStillWorks(p);
      // Fixed: the whole model comes from the server, and then from the store.
      s.models.reset();
      const fixed = await p.evaluate(loadInPage, { url, opts });
      assert.equal(fixed.from, 'network', JSON.stringify(fixed));
      assert.equal(s.models.bytes.get(WEIGHTS_PATH), WEIGHTS_SIZE, 'every weight byte fetched afresh');
      assert.equal((await p.evaluate(loadInPage, { url, opts })).from, 'cache');
      await p.close();
    });

    test('the budget holds while streaming a response with no Content-Length', async () => {
      const p = await s.page();
      s.models.answer = (req, res, path) => {
        if (path !== WEIGHTS_PATH) return false;
        // Chunked transfer encoding: the size is unknown until the end.
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        createReadStream(`${MODELS}/${MODEL}/model.safetensors`).pipe(res);
        return true;
      };
      const budget = 10e6;
      const r = await p.evaluate(
        ({ url, budget }) =>
          (async () => {
            const m = await import('/pkg/index.js');
            await m.init();
            await m.WeightStore.open({ name: 'chunked', budget });
            try {
              await m.TextEmbedder.load(url, { store: 'chunked' });
              return { code: 'none' };
            } catch (e) {
              return { code: e.code, message: e.message };
            }
          })(),
        { url: s.models.modelUrl(), budget },
      );
      s.models.answer = null;
      assert.equal(r.code, 'quota_exceeded', JSON.stringify(r));
      const { list, usage } = await p.evaluate(storeState, 'chunked');
      assert.deepEqual(list, []);
      assert.ok(usage.bytes <= budget, `stored ${usage.bytes} bytes over a ${budget}-byte budget`);
      await s.assertStillWorks(p);
      await p.close();
    });

    test('a load that can never fit evicts nothing, and a copy of a stored model needs no room', async () => {
      const p = await s.page();
      const name = 'fit';
      const budget = WEIGHTS_SIZE + 4 * CHUNK;
      await p.evaluate(
        ({ name, budget }) =>
          (async () => {
            const m = await import('/pkg/index.js');
            await m.init();
            await m.WeightStore.open({ name, budget });
          })(),
        { name, budget },
      );
      const first = await p.evaluate(loadInPage, { url: s.models.modelUrl(), opts: { store: name } });
      assert.equal(first.from, 'network', JSON.stringify(first));
      // A second model whose weights could not fit even with the first evicted.
      s.models.answer = (req, res, path) => {
        if (path !== `/mirror/${MODEL}/model.safetensors`) return false;
        res.writeHead(200, { 'Content-Length': String(2 * budget) });
        res.write(Buffer.alloc(1024));
        s.models.held.push(res);
        return true;
      };
      const big = await p.evaluate(loadInPage, { url: s.models.modelUrl('mirror'), opts: { store: name } });
      s.models.answer = null;
      assert.equal(big.code, 'quota_exceeded', JSON.stringify(big));
      assert.equal(big.needed, 2 * budget);
      let state = await p.evaluate(storeState, name);
      assert.deepEqual(state.list.map((m) => m.source), [s.models.modelUrl()], 'the stored model was not evicted');
      await s.assertStillWorks(p);
      // The same files under a second source: every weight chunk is stored already, so the
      // first model stays although the budget has no room for a second copy.
      const copy = await p.evaluate(loadInPage, { url: s.models.modelUrl('mirror'), opts: { store: name } });
      assert.equal(copy.from, 'network', JSON.stringify(copy));
      state = await p.evaluate(storeState, name);
      assert.deepEqual(state.list.map((m) => m.source).sort(), [s.models.modelUrl('mirror'), s.models.modelUrl()].sort());
      assert.ok(state.usage.bytes <= budget, JSON.stringify(state.usage));
      await p.close();
    });

    test('a store keeps its budget when opened again by name, and after a reload', async () => {
      const p = await s.page();
      const budget = 20 * 1024 * 1024;
      const seen = await p.evaluate(
        ({ budget }) =>
          (async () => {
            const m = await import('/pkg/index.js');
            await m.init();
            const a = await m.WeightStore.open({ name: 'kept', budget });
            const b = await m.WeightStore.open({ name: 'kept' });
            return [a.budget, b.budget, (await a.usage()).budget];
          })(),
        { budget },
      );
      assert.deepEqual(seen, [budget, budget, budget]);
      await p.reload();
      const after = await p.evaluate(loadInPage, { url: s.models.modelUrl(), opts: { store: 'kept' } });
      assert.equal(after.code, 'quota_exceeded', JSON.stringify(after));
      assert.match(after.message, new RegExp(`budget is ${budget} bytes`));
      const cleared = await p.evaluate(() =>
        (async () => {
          const m = await import('/pkg/index.js');
          await m.init();
          const s = await m.WeightStore.open({ name: 'kept', budget: null });
          return [s.budget, (await m.WeightStore.open({ name: 'kept' })).budget];
        })(),
      );
      assert.deepEqual(cleared, [null, null]);
      await s.assertStillWorks(p);
      await p.close();
    });

    test('an aborted load releases its source: a load of the same model waiting on it goes ahead', async () => {
      const p = await s.page();
      // The first request for the weights stalls after 1 MB; later ones are served.
      s.models.answer = (req, res, path) => {
        if (path !== WEIGHTS_PATH) return false;
        s.models.answer = null;
        res.writeHead(200, { 'Content-Length': WEIGHTS_SIZE });
        res.write(readFileSync(`${MODELS}/${MODEL}/model.safetensors`).subarray(0, 1 << 20));
        s.models.held.push(res);
        return true;
      };
      const r = await p.evaluate(
        ({ url }) =>
          (async () => {
            const m = await import('/pkg/index.js');
            await m.init();
            const c = new AbortController();
            const first = m.TextEmbedder.load(url, { store: 'slot', signal: c.signal, stallTimeoutMs: 0 });
            const second = m.TextEmbedder.load(url, { store: 'slot' });
            await new Promise((ok) => setTimeout(ok, 500));
            c.abort();
            const [a, b] = await Promise.allSettled([first, second]);
            return { a: a.reason?.code ?? 'loaded', b: b.value?.loadedFrom ?? b.reason?.code };
          })(),
        { url: s.models.modelUrl() },
      );
      assert.deepEqual(r, { a: 'aborted', b: 'network' });
      await s.assertStillWorks(p);
      await p.close();
    });
  });
}
