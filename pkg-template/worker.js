// The SDK's dedicated worker: models loaded with `{ worker: true }` run here, off the
// page's thread. One protocol serves every model class. Messages from the page are
// calls `{ id, op, ... }`: `init`, `load { cls, url, opts }`, `call { handle, method,
// args }` and `dispose { handle }`; each is answered with `{ id, ok, result | error }`,
// a load's progress and a call's relayed callbacks (a transcription's segments and tokens)
// with `{ id, progress }`. Float32Arrays go back transferred, not
// copied. Models here share this worker's own page session.
// The SDK is the single-thread one (index.js), or with `threads` above 1 where the
// page is cross-origin isolated, the threaded build's (threads.js), chosen at `init`.
let sdk = null;

/** Per class: what the page mirrors of a model, and the methods it may call. The last
 * argument of an async method is its options, to which the call's signal is added. */
const CLASSES = {
  TextEmbedder: {
    info: ['dims', 'backend', 'maxTokens', 'pooling', 'dtype', 'weightBytes', 'backendReasons', 'loadedFrom', 'gpuInfo'],
    extra: (e) => ({ tokenizer: e.tokenizerJson() }),
    methods: { embed: 2, setGpuProfiling: 0, loseDeviceForTesting: 0 },
  },
  ImageEmbedder: {
    info: ['dims', 'dtype', 'weightBytes', 'backend', 'backendReasons', 'loadedFrom', 'gpuInfo', 'hasSaliency', 'unusedWeights'],
    extra: () => ({}),
    methods: { embed: 2, saliency: 2, setGpuProfiling: 0, loseDeviceForTesting: 0 },
  },
  SpeechRecognizer: {
    info: ['dtype', 'weightBytes', 'backend', 'backendReasons', 'loadedFrom', 'gpuInfo', 'isMultilingual', 'unusedWeights'],
    extra: () => ({}),
    methods: { transcribe: 2, setGpuProfiling: 0, loseDeviceForTesting: 0 },
  },
};

const models = new Map(); // handle → { e, kind }
const calls = new Map(); // call id → AbortController, for the page's signals
let nextHandle = 1;
let ready = null;

const snapshot = (e, kind) => Object.fromEntries(CLASSES[kind].info.map((k) => [k, e[k]]));

function model(handle) {
  const m = models.get(handle);
  if (!m) throw Object.assign(new Error(`no model ${handle} in this worker`), { code: 'disposed' });
  return m;
}

/** The Float32Arrays' buffers in a result, to transfer. */
function buffers(v, out = []) {
  if (v instanceof Float32Array) out.push(v.buffer);
  else if (Array.isArray(v)) v.forEach((x) => buffers(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => buffers(x, out));
  return out;
}

const ops = {
  async init({ build, threads = 1 }) {
    ready ??= (async () => {
      const threaded = threads > 1 && self.crossOriginIsolated === true;
      sdk = threaded ? (await import('./threads.js')).sdk : await import('./index.js');
      await sdk.init(undefined, threaded ? { threads } : { build });
    })().catch((e) => {
      ready = null;
      throw e;
    });
    await ready;
    return { threads: sdk.cpuThreads(), cpuPath: sdk.cpuPath() };
  },
  async load({ id, cls, url, opts }) {
    const c = CLASSES[cls];
    if (!c) throw Object.assign(new Error(`no model class ${cls}`), { code: 'invalid_argument' });
    const { progress, ...rest } = opts;
    const e = await sdk[cls].load(url, {
      ...rest,
      signal: calls.get(id).signal,
      ...(progress ? { onProgress: (p) => self.postMessage({ id, progress: p }) } : {}),
    });
    const handle = nextHandle++;
    models.set(handle, { e, kind: cls });
    return { handle, ...snapshot(e, cls), ...c.extra(e) };
  },
  async call({ id, handle, method, args }) {
    const { e, kind } = model(handle);
    const arity = CLASSES[kind].methods[method];
    if (arity === undefined) {
      throw Object.assign(new Error(`${kind} has no method ${method} here`), { code: 'invalid_argument' });
    }
    const a = [...args];
    if (arity > 0) {
      // Callbacks named in `relay` fire here and are posted to the page as progress.
      const { relay = [], ...opts } = a[arity - 1] ?? {};
      for (const name of relay) opts[name] = (value) => self.postMessage({ id, progress: { event: name, value } });
      a[arity - 1] = { ...opts, signal: calls.get(id).signal };
    }
    const value = await e[method](...a);
    return { value, info: snapshot(e, kind) };
  },
  async dispose({ handle }) {
    models.get(handle)?.e.dispose();
    models.delete(handle);
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
    self.postMessage({ id, ok: true, result }, buffers(result));
  } catch (err) {
    self.postMessage({ id, ok: false, error: { message: err?.message ?? String(err), code: err?.code ?? 'worker_failed' } });
  } finally {
    calls.delete(id);
  }
};
