// The SDK's dedicated worker: models loaded with `{ worker: true }` run here, off the
// page's thread. Messages from the page are calls `{ id, op, ... }`; each is answered
// with `{ id, ok, result | error }`, a load's progress with `{ id, progress }`. Vectors
// go back transferred, not copied. Models here share this worker's own page session.
import { init, TextEmbedder } from './index.js';

const models = new Map();
const calls = new Map(); // call id → AbortController, for the page's signals
let nextHandle = 1;
let ready = null;

const snapshot = (e) => ({
  dims: e.dims,
  backend: e.backend,
  maxTokens: e.maxTokens,
  pooling: e.pooling,
  backendReasons: e.backendReasons,
  loadedFrom: e.loadedFrom,
  gpuInfo: e.gpuInfo,
});

function model(handle) {
  const e = models.get(handle);
  if (!e) throw Object.assign(new Error(`no model ${handle} in this worker`), { code: 'disposed' });
  return e;
}

const ops = {
  async init({ build }) {
    ready ??= init(undefined, { build });
    await ready;
    return null;
  },
  async load({ id, url, opts }) {
    const { progress, ...rest } = opts;
    const e = await TextEmbedder.load(url, {
      ...rest,
      signal: calls.get(id).signal,
      ...(progress ? { onProgress: (p) => self.postMessage({ id, progress: p }) } : {}),
    });
    const handle = nextHandle++;
    models.set(handle, e);
    return { handle, ...snapshot(e), tokenizer: e.tokenizerJson() };
  },
  async embed({ id, handle, texts }) {
    const e = model(handle);
    const vectors = await e.embed(texts, { signal: calls.get(id).signal });
    return { vectors, gpuInfo: e.gpuInfo };
  },
  async dispose({ handle }) {
    models.get(handle)?.dispose();
    models.delete(handle);
    return null;
  },
  async setGpuProfiling({ handle, on }) {
    return model(handle).setGpuProfiling(on);
  },
  async loseDeviceForTesting({ handle }) {
    model(handle).loseDeviceForTesting();
    return null;
  },
};

self.onmessage = async ({ data }) => {
  const { id, op } = data;
  if (op === 'abort') {
    calls.get(data.target)?.abort();
    return;
  }
  const ctl = new AbortController();
  calls.set(id, ctl);
  try {
    const result = await ops[op](data);
    const transfer = result?.vectors ? result.vectors.map((v) => v.buffer) : [];
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (err) {
    self.postMessage({ id, ok: false, error: { message: err?.message ?? String(err), code: err?.code ?? 'worker_failed' } });
  } finally {
    calls.delete(id);
  }
};
