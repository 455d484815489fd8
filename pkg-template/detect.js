// Capability detection: one plain object describing the browser, WebGPU, WebNN, WASM
// features, the machine and storage. Every probe is time-bounded, and a probe that throws
// or times out is reported as unavailable with its reason; detect() itself never throws.

const DEFAULT_TIMEOUT_MS = 3000;

/** Resolves to `{ ok: true, value }` or `{ ok: false, reason }` within `ms`. */
function bounded(what, ms, run) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `${what} did not answer within ${ms} ms` }), ms);
  });
  const attempt = (async () => {
    try {
      return { ok: true, value: await run() };
    } catch (e) {
      return { ok: false, reason: `${what} failed: ${e?.message ?? e}` };
    }
  })();
  return Promise.race([attempt, timeout]).finally(() => clearTimeout(timer));
}

const nav = () => (typeof navigator === 'object' && navigator) || undefined;

/** Engine, name and version: UA Client Hints where the browser has them, else the UA string. */
async function browserInfo(ms) {
  const n = nav();
  if (!n) {
    const node = typeof process === 'object' && process.versions?.node;
    return { engine: node ? 'node' : 'unknown', name: node ? 'Node.js' : 'unknown', version: node || '', source: 'runtime' };
  }
  const uad = n.userAgentData;
  if (uad?.brands?.length) {
    const r = await bounded('userAgentData.getHighEntropyValues', ms, () => uad.getHighEntropyValues(['fullVersionList']));
    const list = (r.ok && r.value.fullVersionList) || uad.brands;
    const real = list.filter((b) => !/not.?a.?brand/i.test(b.brand));
    const pick = real.find((b) => b.brand !== 'Chromium') ?? real[0] ?? list[0];
    return { engine: 'blink', name: pick.brand, version: pick.version, source: 'ua-ch' };
  }
  const ua = n.userAgent ?? '';
  let m;
  if ((m = /Firefox\/([\d.]+)/.exec(ua))) return { engine: 'gecko', name: 'Firefox', version: m[1], source: 'ua' };
  if ((m = /(?:Chrome|Chromium)\/([\d.]+)/.exec(ua))) {
    const name = /Edg\//.test(ua) ? 'Microsoft Edge' : /Chromium\//.test(ua) ? 'Chromium' : 'Chrome';
    return { engine: 'blink', name, version: m[1], source: 'ua' };
  }
  if ((m = /Version\/([\d.]+).*Safari\//.exec(ua))) return { engine: 'webkit', name: 'Safari', version: m[1], source: 'ua' };
  if (/AppleWebKit\//.test(ua)) return { engine: 'webkit', name: 'WebKit', version: '', source: 'ua' };
  return { engine: 'unknown', name: 'unknown', version: '', source: 'ua' };
}

const LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxStorageBuffersPerShaderStage',
  'minSubgroupSize',
  'maxSubgroupSize',
];

/** `navigator[name]`, or `{ threw }` when its getter throws (a privacy shim, a locked-down
 * embed), so that probing never rejects and `auto` falls back with the reason. */
function navProp(name) {
  try {
    return { value: nav()?.[name] };
  } catch (e) {
    return { threw: `reading navigator.${name} threw: ${e?.message ?? e}` };
  }
}

async function webgpuInfo(ms) {
  const { value: gpu, threw } = navProp('gpu');
  if (threw) return { available: false, reason: threw };
  if (!gpu) return { available: false, reason: 'navigator.gpu is absent (WebGPU not exposed by this browser or context)' };
  const r = await bounded('navigator.gpu.requestAdapter', ms, () => gpu.requestAdapter());
  if (!r.ok) return { available: false, reason: r.reason };
  const adapter = r.value;
  if (!adapter) return { available: false, reason: 'navigator.gpu.requestAdapter() returned null (no usable adapter)' };
  const info = adapter.info ?? {};
  const limits = {};
  for (const k of LIMITS) if (adapter.limits?.[k] !== undefined) limits[k] = adapter.limits[k];
  return {
    available: true,
    adapter: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
    },
    features: [...(adapter.features ?? [])].sort(),
    limits,
  };
}

// Two contexts asked for: an accelerated one (a GPU or NPU) and a CPU one, with the spec's
// `accelerated` option and Chromium's older `deviceType` beside it (unknown members are
// ignored). `accelerated` is what the context says it got (null where it does not say).
const WEBNN_PROBES = [
  ['accelerated', { accelerated: true, powerPreference: 'high-performance', deviceType: 'gpu' }],
  ['cpu', { accelerated: false, deviceType: 'cpu' }],
];

async function webnnInfo(ms) {
  const { value: ml, threw } = navProp('ml');
  const contexts = {};
  if (!ml) {
    for (const [name] of WEBNN_PROBES) contexts[name] = { available: false, reason: threw ?? 'navigator.ml is absent' };
    return { present: false, contexts };
  }
  for (const [name, options] of WEBNN_PROBES) {
    const r = await bounded(`navigator.ml.createContext(${JSON.stringify(options)})`, ms, () => ml.createContext(options));
    if (!r.ok) {
      contexts[name] = { available: false, reason: r.reason };
      continue;
    }
    const accelerated = typeof r.value?.accelerated === 'boolean' ? r.value.accelerated : null;
    try {
      r.value?.destroy?.();
    } catch {
      // A context that cannot be destroyed is let go.
    }
    contexts[name] = { available: true, accelerated };
  }
  return { present: true, contexts };
}

// Tiny modules that WebAssembly.validate accepts only with the feature.
const PROBES = {
  // (func (result v128) v128.const 0)
  simd: [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, ...new Array(16).fill(0), 11],
  // (func (param v128 v128 v128) (result v128) f32x4.relaxed_madd)
  relaxedSimd: [0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11],
  // (memory 1 1 shared)
  sharedMemory: [0, 97, 115, 109, 1, 0, 0, 0, 5, 4, 1, 3, 1, 1],
  // (memory i64 1)
  memory64: [0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 4, 1],
};

function validates(bytes) {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
}

function wasmInfo() {
  const sab = typeof SharedArrayBuffer === 'function';
  const isolated = typeof crossOriginIsolated === 'boolean' ? crossOriginIsolated : typeof window === 'undefined';
  const shared = validates(PROBES.sharedMemory);
  const threads = {
    available: sab && isolated && shared,
    sharedArrayBuffer: sab,
    crossOriginIsolated: isolated,
    sharedMemory: shared,
  };
  if (!threads.available) {
    threads.reason = !sab
      ? 'SharedArrayBuffer is not available'
      : !isolated
        ? 'the page is not cross-origin isolated (COOP/COEP headers)'
        : 'shared wasm memory does not validate';
  }
  return { simd: validates(PROBES.simd), relaxedSimd: validates(PROBES.relaxedSimd), threads, memory64: validates(PROBES.memory64) };
}

async function storageInfo(ms) {
  const { value: s, threw } = navProp('storage');
  if (threw) return { available: false, reason: threw };
  if (!s?.estimate) return { available: false, reason: 'navigator.storage.estimate is absent' };
  const est = await bounded('navigator.storage.estimate', ms, () => s.estimate());
  if (!est.ok) return { available: false, reason: est.reason };
  const persisted = s.persisted ? await bounded('navigator.storage.persisted', ms, () => s.persisted()) : { ok: false };
  return {
    available: true,
    usage: est.value.usage ?? 0,
    quota: est.value.quota ?? 0,
    persisted: persisted.ok ? Boolean(persisted.value) : false,
  };
}

let cached = null;

/**
 * Probes the platform. Resolves to the same object on later calls unless `fresh: true`.
 * `timeoutMs` bounds each probe (default 3000).
 */
export function detect({ timeoutMs = DEFAULT_TIMEOUT_MS, fresh = false } = {}) {
  if (!cached || fresh) {
    cached = (async () => {
      const [browser, webgpu, webnn, storage] = await Promise.all([
        browserInfo(timeoutMs),
        webgpuInfo(timeoutMs),
        webnnInfo(timeoutMs),
        storageInfo(timeoutMs),
      ]);
      const n = nav();
      return {
        browser,
        webgpu,
        webnn,
        wasm: wasmInfo(),
        hardwareConcurrency: n?.hardwareConcurrency ?? null,
        deviceMemory: n?.deviceMemory ?? null,
        storage,
      };
    })();
  }
  return cached;
}
