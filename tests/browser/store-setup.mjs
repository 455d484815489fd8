// Shared by the weight-store browser tests: the model server a test starts, stops,
// counts and breaks; the in-page probes; and the per-browser set-up (a page server that
// stays up, a model server, a browser), so "the network is down" means the model server
// is down, as for an app whose models live on a CDN.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../../scripts/drive.mjs';

export const MODELS = fileURLToPath(new URL('../../models', import.meta.url));
export const MODEL = 'all-MiniLM-L6-v2';
export const WEIGHTS_PATH = `/models/${MODEL}/model.safetensors`;
export const WEIGHTS_SIZE = statSync(`${MODELS}/${MODEL}/model.safetensors`).size;
export const CHUNK = 4 << 20;
export const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/minilm/embeddings.json', import.meta.url)));

/** A model server that can be stopped and started again on the same port (so the model's
 * URL, its key in the store, stays the same), counting requests and body bytes by path. */
export class ModelServer {
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
export function loadInPage({ url, opts }) {
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
export function storeState(name) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    const s = await m.WeightStore.open({ name });
    return { list: await s.list(), usage: await s.usage() };
  })();
}

/** In the page: empties a store. */
export function clearStore(name) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    await (await m.WeightStore.open({ name })).clear();
  })();
}

/** In the page: overwrite chunk `index` of model.safetensors with wrong bytes, in raw IndexedDB. */
export function corruptChunk({ name, source, index }) {
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

/** Registers the set-up of one browser's store tests; the returned object's servers and
 * browser are there once `before` has run. */
export function storeSuite(browserName) {
  const s = {};
  before(async () => {
    ({ server: s.pageServer } = await startServer());
    s.pageServer.url = `http://127.0.0.1:${s.pageServer.address().port}/`;
    s.models = new ModelServer();
    await s.models.start();
    s.browser = await launch(browserName);
  });
  after(async () => {
    await s.browser?.close();
    s.pageServer?.close();
    await s.models?.stop().catch(() => {});
  });
  /** A fresh page on the page server. */
  s.page = async () => {
    const p = await s.browser.newPage();
    await p.goto(s.pageServer.url);
    return p;
  };
  /** After an error case: a reference embedding and an op still work in page `p`. */
  s.assertStillWorks = async (p) => {
    const c = FIXTURE.cases[0];
    const r = await p.evaluate(stillWorksInPage, { url: s.models.modelUrl(), text: c.text, want: c.embedding });
    assert.ok(r.diff <= 1e-4, `reference embedding off by ${r.diff}`);
    assert.equal(r.op, '4,6');
  };
  /** Answers `path` once with `headers` and `body`, then serves normally again. */
  s.answerOnce = (path, status, headers, body) => {
    s.models.answer = (req, res, p) => {
      if (p !== path || req.method !== 'GET') return false;
      s.models.answer = null;
      res.writeHead(status, headers);
      res.end(body);
      return true;
    };
  };
  return s;
}
