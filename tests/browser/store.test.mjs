// The IndexedDB weight store in real browsers (Chromium through playwright-core, Firefox
// ESR through puppeteer-core), with real IndexedDB and a real model server that each test
// starts, stops, counts and breaks. The page is served by a second server that stays up,
// so "the network is down" means the model server is down, as for an app whose models
// live on a CDN.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync, createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../scripts/serve.mjs';
import { launch, browsersToTest } from '../../scripts/drive.mjs';

const MODELS = fileURLToPath(new URL('../../models', import.meta.url));
const MODEL = 'all-MiniLM-L6-v2';
const WEIGHTS_PATH = `/models/${MODEL}/model.safetensors`;
const WEIGHTS_SIZE = statSync(`${MODELS}/${MODEL}/model.safetensors`).size;
const CHUNK = 4 << 20;
const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/minilm/embeddings.json', import.meta.url)));

/** A model server that can be stopped and started again on the same port (so the model's
 * URL, its key in the store, stays the same), counting requests and body bytes by path. */
class ModelServer {
  constructor() {
    this.requests = [];
    this.bytes = new Map();
    this.cut = null; // { path, after }: break the next response for path after `after` bytes
    this.answer = null; // (req, res, path) => true: a test's own answer to a request
    this.held = []; // responses a test left hanging, closed on stop
    this.port = 0;
  }
  async start() {
    const hooks = {
      onRequest: (r) => this.requests.push(r),
      onBytes: (path, n) => this.bytes.set(path, (this.bytes.get(path) ?? 0) + n),
      respond: (req, res, path) => this.answer?.(req, res, path) ?? false,
      cutAfter: (path) => {
        if (this.cut?.path !== path) return undefined;
        const after = this.cut.after;
        this.cut = null;
        return after;
      },
    };
    const mounts = [
      ['/models/', MODELS],
      ['/mirror/', MODELS], // the same files under a second source, for deduplication
    ];
    ({ server: this.server, url: this.url } = await startServer({ port: this.port, mounts, hooks }));
    this.port = this.server.address().port;
  }
  async stop() {
    for (const r of this.held.splice(0)) r.destroy();
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
  }
  reset() {
    this.requests = [];
    this.bytes = new Map();
  }
  modelUrl(prefix = 'models') {
    return `${this.url}${prefix}/${MODEL}/`;
  }
}

/** In the page: load the model with `opts` and embed one text; errors come back as data. */
function loadInPage({ url, opts }) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    try {
      const e = await m.TextEmbedder.load(url, opts);
      const [v] = await e.embed(['the weights came from somewhere']);
      const r = { from: e.loadedFrom, head: Array.from(v.slice(0, 8)) };
      e.dispose();
      return r;
    } catch (err) {
      return { code: err.code, message: err.message, needed: err.needed, available: err.available };
    }
  })();
}

/** In the page: the module still works after an error: MiniLM (uncached) gives the float64
 * reference's vector within 1e-4, and an op computes. Returns the worst difference. */
function stillWorksInPage({ url, text, want }) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    const e = await m.TextEmbedder.load(url, { cache: false, backend: 'wasm' });
    const [v] = await e.embed([text]);
    e.free();
    const s = m.ops.add(new m.Tensor(new Float32Array([1, 2]), [2]), new m.Tensor(new Float32Array([3, 4]), [2]));
    const op = Array.from(s.toFloat32Array()).join(',');
    return { diff: Math.max(...want.map((w, i) => Math.abs(w - v[i]))), op };
  })();
}

/** In the page: what a store holds. */
function storeState(name) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    const s = await m.WeightStore.open({ name });
    return { list: await s.list(), usage: await s.usage() };
  })();
}

/** In the page: overwrite chunk `index` of model.safetensors with wrong bytes, in raw IndexedDB. */
function corruptChunk({ name, source, index }) {
  return new Promise((ok, fail) => {
    const open = indexedDB.open(name);
    open.onerror = () => fail(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(['manifests', 'chunks'], 'readwrite');
      const get = tx.objectStore('manifests').get(source);
      get.onsuccess = () => {
        const manifest = JSON.parse(get.result);
        const key = manifest.files.find((f) => f.name === 'model.safetensors').chunks[index].sha256;
        tx.objectStore('chunks').put(new Uint8Array(1000).fill(7), key);
      };
      tx.oncomplete = () => {
        db.close();
        ok();
      };
      tx.onerror = () => fail(tx.error);
    };
  });
}

for (const browserName of browsersToTest()) {
  describe(`weight store in ${browserName}`, () => {
    let pageServer, browser, models;

    before(async () => {
      ({ server: pageServer } = await startServer());
      pageServer.url = `http://127.0.0.1:${pageServer.address().port}/`;
      models = new ModelServer();
      await models.start();
      browser = await launch(browserName);
    });

    after(async () => {
      await browser?.close();
      pageServer?.close();
      await models?.stop().catch(() => {});
    });

    async function page() {
      const p = await browser.newPage();
      await p.goto(pageServer.url);
      return p;
    }

    /** After an error case: a reference embedding and an op still work in page `p`. */
    async function assertStillWorks(p) {
      const c = FIXTURE.cases[0];
      const r = await p.evaluate(stillWorksInPage, { url: models.modelUrl(), text: c.text, want: c.embedding });
      assert.ok(r.diff <= 1e-4, `reference embedding off by ${r.diff}`);
      assert.equal(r.op, '4,6');
    }

    /** Answers `path` once with `headers` and `body`, then serves normally again. */
    function answerOnce(path, status, headers, body) {
      models.answer = (req, res, p) => {
        if (p !== path || req.method !== 'GET') return false;
        models.answer = null;
        res.writeHead(status, headers);
        res.end(body);
        return true;
      };
    }

    test('offline reload: the second load comes from IndexedDB with no request', async () => {
      const p = await page();
      const opts = { store: 'offline' };
      const first = await p.evaluate(loadInPage, { url: models.modelUrl(), opts });
      assert.equal(first.from, 'network', JSON.stringify(first));
      await models.stop();
      models.reset();
      await p.reload();
      const second = await p.evaluate(loadInPage, { url: models.modelUrl(), opts });
      await models.start();
      assert.equal(second.from, 'cache', JSON.stringify(second));
      assert.deepEqual(second.head, first.head);
      assert.equal(models.requests.length, 0);
      const { list } = await p.evaluate(storeState, 'offline');
      assert.deepEqual(list.map((m) => m.source), [models.modelUrl()]);
      // The manifest names every chunk by hash and CIDv1, and the whole file by its hash.
      const manifest = await p.evaluate(
        ({ url }) =>
          (async () => {
            const m = await import('/pkg/index.js');
            return (await m.WeightStore.open({ name: 'offline' })).manifest(url);
          })(),
        { url: models.modelUrl() },
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

    test('resume: a dropped connection leaves no manifest, and the retry fetches only the rest', async () => {
      const p = await page();
      const opts = { store: 'resume' };
      const cutAt = 10 * CHUNK + 12345;
      models.reset();
      models.cut = { path: WEIGHTS_PATH, after: cutAt };
      const broken = await p.evaluate(loadInPage, { url: models.modelUrl(), opts });
      assert.equal(broken.code, 'fetch_failed', JSON.stringify(broken));
      const mid = await p.evaluate(storeState, 'resume');
      assert.deepEqual(mid.list, [], 'no model is visible after the broken download');
      // Every chunk the page received in full is kept (the browser may drop bytes it had
      // buffered when the connection broke, so fewer than the server sent).
      assert.ok(mid.usage.partialBytes >= CHUNK, JSON.stringify(mid.usage));
      models.reset();
      const retry = await p.evaluate(loadInPage, { url: models.modelUrl(), opts });
      assert.equal(retry.from, 'network', JSON.stringify(retry));
      const weights = models.requests.filter((r) => r.path === WEIGHTS_PATH && r.method === 'GET');
      assert.equal(weights.length, 1);
      const from = Number(/^bytes=(\d+)-$/.exec(weights[0].range ?? '')?.[1]);
      assert.ok(from > 0 && from % CHUNK === 0 && from <= cutAt, `resumed at a stored chunk boundary: ${weights[0].range}`);
      assert.equal(models.bytes.get(WEIGHTS_PATH), WEIGHTS_SIZE - from, 'only the missing part was sent');
      assert.ok(!models.requests.some((r) => r.path.endsWith('/tokenizer.json')), 'finished files are not fetched again');
      const done = await p.evaluate(storeState, 'resume');
      assert.equal(done.list.length, 1);
      assert.equal(done.usage.partialBytes, 0);
      await p.close();
    });

    test('corruption: a damaged chunk is re-fetched, or reported as cache_corrupt offline', async () => {
      const p = await page();
      const opts = { store: 'corrupt' };
      const url = models.modelUrl();
      const good = await p.evaluate(loadInPage, { url, opts });
      assert.equal(good.from, 'network');
      await p.evaluate(corruptChunk, { name: 'corrupt', source: url, index: 3 });
      const healed = await p.evaluate(loadInPage, { url, opts });
      assert.equal(healed.from, 'network', JSON.stringify(healed));
      assert.deepEqual(healed.head, good.head);
      const again = await p.evaluate(loadInPage, { url, opts });
      assert.equal(again.from, 'cache', 'the re-fetch repaired the store');
      await p.evaluate(corruptChunk, { name: 'corrupt', source: url, index: 3 });
      await models.stop();
      const offline = await p.evaluate(loadInPage, { url, opts });
      await models.start();
      assert.equal(offline.code, 'cache_corrupt', JSON.stringify(offline));
      assert.match(offline.message, /model\.safetensors: chunk 3 .* does not match its hash/);
      await p.close();
    });

    test('quota: a model that does not fit fails with numbers and leaves nothing stored', async () => {
      const p = await page();
      let opts;
      if (p.cdp) {
        // Chromium: the browser's own quota for this origin, lowered through DevTools.
        const cdp = await p.cdp();
        await cdp.send('Storage.overrideQuotaForOrigin', {
          origin: pageServer.url.slice(0, -1),
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
      const r = await p.evaluate(loadInPage, { url: models.modelUrl(), opts });
      assert.equal(r.code, 'quota_exceeded', JSON.stringify(r));
      assert.ok(r.needed > 20 * 1024 * 1024 && r.available < 20 * 1024 * 1024, JSON.stringify(r));
      assert.match(r.message, /model\.safetensors needs \d+ bytes but only \d+ bytes are available/);
      const { list, usage } = await p.evaluate(storeState, 'quota');
      assert.deepEqual(list, []);
      assert.deepEqual([usage.bytes, usage.chunks, usage.partialBytes], [0, 0, 0], JSON.stringify(usage));
      await p.close();
    });

    test('concurrency and deduplication: one download for two loads; shared chunks across sources', async () => {
      const p = await page();
      models.reset();
      const url = models.modelUrl();
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
      const gets = models.requests.filter((r) => r.path === WEIGHTS_PATH && r.method === 'GET');
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
        { mirror: models.modelUrl('mirror') },
      );
      assert.equal(usage.two.models, 2);
      assert.equal(usage.two.bytes, usage.one.bytes, 'identical files are stored once');
      assert.equal(usage.two.logicalBytes, 2 * usage.one.logicalBytes);
      await p.close();
    });

    test('an invalid download is never committed: once the server is fixed the next load asks it again', async () => {
      const p = await page();
      const opts = { store: 'poison' };
      const url = models.modelUrl();
      // config.json answered with an HTML page.
      answerOnce(`/models/${MODEL}/config.json`, 200, { 'Content-Type': 'text/html' }, '<!doctype html><p>Moved</p>');
      const html = await p.evaluate(loadInPage, { url, opts });
      assert.equal(html.code, 'invalid_config', JSON.stringify(html));
      assert.deepEqual((await p.evaluate(storeState, 'poison')).list, [], 'nothing committed');
      await assertStillWorks(p);
      // The weights cut short by a server that says so (its Content-Length is the short length).
      const short = readFileSync(`${MODELS}/${MODEL}/model.safetensors`).subarray(0, 5 * CHUNK + 777);
      answerOnce(WEIGHTS_PATH, 200, { 'Content-Length': short.length, ETag: '"short"' }, short);
      models.reset();
      const cut = await p.evaluate(loadInPage, { url, opts });
      assert.equal(cut.code, 'invalid_weights', JSON.stringify(cut));
      assert.ok(models.requests.some((r) => r.path === `/models/${MODEL}/config.json`), 'config.json was asked for again');
      const mid = await p.evaluate(storeState, 'poison');
      assert.deepEqual([mid.list.length, mid.usage.chunks, mid.usage.partialBytes], [0, 0, 0], JSON.stringify(mid.usage));
      await assertStillWorks(p);
      // Fixed: the whole model comes from the server, and then from the store.
      models.reset();
      const fixed = await p.evaluate(loadInPage, { url, opts });
      assert.equal(fixed.from, 'network', JSON.stringify(fixed));
      assert.equal(models.bytes.get(WEIGHTS_PATH), WEIGHTS_SIZE, 'every weight byte fetched afresh');
      assert.equal((await p.evaluate(loadInPage, { url, opts })).from, 'cache');
      await p.close();
    });

    test('the budget holds while streaming a response with no Content-Length', async () => {
      const p = await page();
      models.answer = (req, res, path) => {
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
        { url: models.modelUrl(), budget },
      );
      models.answer = null;
      assert.equal(r.code, 'quota_exceeded', JSON.stringify(r));
      const { list, usage } = await p.evaluate(storeState, 'chunked');
      assert.deepEqual(list, []);
      assert.ok(usage.bytes <= budget, `stored ${usage.bytes} bytes over a ${budget}-byte budget`);
      await assertStillWorks(p);
      await p.close();
    });

    test('a load that can never fit evicts nothing, and a copy of a stored model needs no room', async () => {
      const p = await page();
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
      const first = await p.evaluate(loadInPage, { url: models.modelUrl(), opts: { store: name } });
      assert.equal(first.from, 'network', JSON.stringify(first));
      // A second model whose weights could not fit even with the first evicted.
      models.answer = (req, res, path) => {
        if (path !== `/mirror/${MODEL}/model.safetensors`) return false;
        res.writeHead(200, { 'Content-Length': String(2 * budget) });
        res.write(Buffer.alloc(1024));
        models.held.push(res);
        return true;
      };
      const big = await p.evaluate(loadInPage, { url: models.modelUrl('mirror'), opts: { store: name } });
      models.answer = null;
      assert.equal(big.code, 'quota_exceeded', JSON.stringify(big));
      assert.equal(big.needed, 2 * budget);
      let state = await p.evaluate(storeState, name);
      assert.deepEqual(state.list.map((m) => m.source), [models.modelUrl()], 'the stored model was not evicted');
      await assertStillWorks(p);
      // The same files under a second source: every weight chunk is stored already, so the
      // first model stays although the budget has no room for a second copy.
      const copy = await p.evaluate(loadInPage, { url: models.modelUrl('mirror'), opts: { store: name } });
      assert.equal(copy.from, 'network', JSON.stringify(copy));
      state = await p.evaluate(storeState, name);
      assert.deepEqual(state.list.map((m) => m.source).sort(), [models.modelUrl('mirror'), models.modelUrl()].sort());
      assert.ok(state.usage.bytes <= budget, JSON.stringify(state.usage));
      await p.close();
    });

    test('a store keeps its budget when opened again by name, and after a reload', async () => {
      const p = await page();
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
      const after = await p.evaluate(loadInPage, { url: models.modelUrl(), opts: { store: 'kept' } });
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
      await assertStillWorks(p);
      await p.close();
    });

    test('an aborted load releases its source: a load of the same model waiting on it goes ahead', async () => {
      const p = await page();
      // The first request for the weights stalls after 1 MB; later ones are served.
      models.answer = (req, res, path) => {
        if (path !== WEIGHTS_PATH) return false;
        models.answer = null;
        res.writeHead(200, { 'Content-Length': WEIGHTS_SIZE });
        res.write(readFileSync(`${MODELS}/${MODEL}/model.safetensors`).subarray(0, 1 << 20));
        models.held.push(res);
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
        { url: models.modelUrl() },
      );
      assert.deepEqual(r, { a: 'aborted', b: 'network' });
      await assertStillWorks(p);
      await p.close();
    });
  });
}
