// The SDK's JS surface over one wasm-bindgen glue module: index.js binds it to the
// single-thread builds, threads.js (loaded in the SDK's worker) to the threaded build.
// Errors thrown here and by the wasm module are `Error`s with a stable `code`.
import { detect } from './detect.js';
import { WorkerImageEmbedder, WorkerSpeechRecognizer, WorkerTextEmbedder, startWorkerThreads } from './worker-host.js';
import { allPixels, toPixels } from './image-input.js';
import { toAudio } from './audio-input.js';

// A module holding one f32x4.relaxed_madd: WebAssembly.validate says whether the engine
// has relaxed SIMD.
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2,
  253, 133, 2, 11,
]);

/**
 * Which wasm build to load: 'relaxed' (GEMM with relaxed-simd fused multiply-add) or
 * 'simd128'. 'auto' takes relaxed wherever the engine validates it. On this project's
 * headless software machine (www/bench/embed.html, 2026-11-28) the two builds were within
 * noise of each other for one 158-token text, and relaxed was faster on a batch of 8
 * (Chromium 156: 1387-1683 vs 1511-1774 ms; Firefox ESR 153: 1470-1510 vs 1671-1703 ms).
 * On real CPUs a fused multiply-add does twice the work per instruction.
 */
export function chooseBuild(build = 'auto') {
  if (build === 'relaxed' || build === 'simd128') return build;
  if (build !== 'auto') throw codeError('invalid_argument', `init: build '${build}' is not one of auto, relaxed, simd128`);
  try {
    return WebAssembly.validate(RELAXED_PROBE) ? 'relaxed' : 'simd128';
  } catch {
    return 'simd128';
  }
}

/** `opts.threads` as a count: 'auto' is the machine's cores (at most 8), a number is
 * itself; anything else is an `invalid_argument`. */
export function threadCount(threads = 1) {
  if (threads === 'auto') return Math.min(8, Math.max(1, globalThis.navigator?.hardwareConcurrency ?? 1));
  if (Number.isInteger(threads) && threads >= 1 && threads <= 64) return threads;
  throw codeError('invalid_argument', `init: threads must be 'auto' or a whole number from 1 to 64, got ${JSON.stringify(threads)}`);
}

export function codeError(code, message) {
  const e = new Error(message);
  e.name = 'IpfsAccelerateError';
  e.code = code;
  return e;
}

/**
 * The SDK over `glue` (a wasm-bindgen module): `wasmUrl(build)` names the wasm file to
 * fetch; `startHelpers(count, exports)`, given only for the threaded build, starts its
 * helper workers.
 */
export function makeSdk(glue, { wasmUrl, startHelpers }) {
  const { ImageEmbedder, Session, Tensor, TextEmbedder, Tokenizer, WeightStore, RawOps, SpeechRecognizer, recommendFor } = glue;
  let ready = null;
  // Threads of the SDK's worker, when this page asked for more than one.
  let workerThreads = 0;
  let workerStart = null;

  /**
   * Loads and instantiates the wasm module; later calls return the same promise.
   * `moduleOrPath` (optional) is a URL, Response, BufferSource or WebAssembly.Module; by
   * default the build `chooseBuild(opts.build)` names is fetched from next to this file.
   * `opts.threads` ('auto' or a count, default 1): in the threaded build, the helper
   * workers to start; on a page, the threads of the SDK's worker, where every model then
   * loads unless its load says `worker: false`.
   */
  function init(moduleOrPath, opts = {}) {
    let threads;
    try {
      threads = threadCount(opts?.threads ?? 1);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!ready) {
      const source = moduleOrPath ?? wasmUrl(chooseBuild(opts?.build));
      ready = (async () => {
        let exports;
        try {
          exports = await glue.default({ module_or_path: source });
        } catch (e) {
          throw codeError('init_failed', `init: the wasm module could not be loaded: ${e?.message ?? e}`);
        }
        if (threads > 1 && startHelpers) await startHelpers(threads - 1, exports);
      })().catch((e) => {
        ready = null; // a failed load may be retried
        throw e;
      });
    }
    // On a page, threads are the SDK worker's; asked for once, by this call or a later one
    // (a page may have called `init()` before it knew it wanted them).
    if (threads > 1 && !startHelpers && !workerStart && globalThis.crossOriginIsolated) {
      workerStart = ready
        .then(() => startWorkerThreads(threads, opts?.build ?? 'auto', codeError))
        .then((n) => {
          workerThreads = n;
        })
        .catch((e) => {
          workerStart = null;
          throw e;
        });
    }
    return workerStart ? ready.then(() => workerStart) : ready;
  }

  /** Threads the CPU backend splits work over: this module's (1 unless it is the threaded
   * build), or on a page that asked for threads, the SDK worker's. */
  function cpuThreads() {
    return workerThreads || glue.cpuThreads();
  }

  // wasm-bindgen (pinned at 0.2.130, see Cargo.toml) zeroes an object's `__wbg_ptr` when it
  // is freed or passed to Rust by value; a later call would reach Rust with a null pointer and
  // throw a bare "null pointer passed to rust". These say `disposed` instead.
  const isFreed = (obj) => obj.__wbg_ptr === 0;
  const disposedError = (what) => codeError('disposed', `${what} was freed and cannot be used`);

  function tensor(op, name, t) {
    if (!(t instanceof Tensor)) {
      throw codeError('invalid_argument', `${op}: ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
    }
    if (isFreed(t)) throw disposedError(`${op}: ${name} (a Tensor)`);
    return t;
  }

  /** Guards every method and getter of `cls` against a freed receiver; a second `free()`
   * does nothing. */
  function guardFreed(cls, what) {
    const proto = cls.prototype;
    const free = proto.free;
    proto.free = function () {
      if (!isFreed(this)) free.call(this);
    };
    for (const key of Object.getOwnPropertyNames(proto)) {
      // wasm-bindgen's own `__` helpers run on objects being freed.
      if (key === 'constructor' || key === 'free' || key.startsWith('__')) continue;
      const d = Object.getOwnPropertyDescriptor(proto, key);
      const wrap = (f) =>
        function (...args) {
          if (isFreed(this)) throw disposedError(`${what}.${key}`);
          return f.apply(this, args);
        };
      if (typeof d.value === 'function') d.value = wrap(d.value);
      if (d.get) d.get = wrap(d.get);
      Object.defineProperty(proto, key, d);
    }
  }
  guardFreed(Tensor, 'Tensor');
  guardFreed(TextEmbedder, 'TextEmbedder');
  guardFreed(ImageEmbedder, 'ImageEmbedder');
  guardFreed(SpeechRecognizer, 'SpeechRecognizer');
  guardFreed(WeightStore, 'WeightStore');
  guardFreed(Session, 'Session');

  // Optional and array arguments are passed to wasm by value, which would invalidate the
  // caller's object; a clone shares the storage and costs nothing.
  const optClone = (op, name, t) => (t == null ? undefined : tensor(op, name, t).clone());

  const unary = (op, raw) => (x) => raw(tensor(op, 'x', x));
  const binary = (op, raw) => (a, b) => raw(tensor(op, 'a', a), tensor(op, 'b', b));

  const ops = Object.freeze({
    matmul: (a, b, opts) => RawOps.matmul(tensor('matmul', 'a', a), tensor('matmul', 'b', b), opts),
    add: binary('add', RawOps.add),
    sub: binary('sub', RawOps.sub),
    mul: binary('mul', RawOps.mul),
    div: binary('div', RawOps.div),
    gelu: unary('gelu', RawOps.gelu),
    geluTanh: unary('geluTanh', RawOps.geluTanh),
    relu: unary('relu', RawOps.relu),
    silu: unary('silu', RawOps.silu),
    tanh: unary('tanh', RawOps.tanh),
    softmax: (x, mask) => RawOps.softmax(tensor('softmax', 'x', x), optClone('softmax', 'mask', mask)),
    layerNorm: (x, gamma, beta, eps) =>
      RawOps.layerNorm(tensor('layerNorm', 'x', x), tensor('layerNorm', 'gamma', gamma), tensor('layerNorm', 'beta', beta), eps),
    gather: (table, ids) => RawOps.gather(tensor('gather', 'table', table), tensor('gather', 'ids', ids)),
    reshape: (x, dims) => RawOps.reshape(tensor('reshape', 'x', x), dims),
    transpose: unary('transpose', RawOps.transpose),
    permute: (x, perm) => RawOps.permute(tensor('permute', 'x', x), perm),
    slice: (x, axis, start, end) => RawOps.slice(tensor('slice', 'x', x), axis, start, end),
    concat: (xs, axis) => {
      if (!Array.isArray(xs)) throw codeError('invalid_argument', 'concat: xs must be an array of Tensors');
      return RawOps.concat(xs.map((t, i) => optClone('concat', `xs[${i}]`, t)), axis);
    },
    mean: (x, axes, keepDims) => RawOps.mean(tensor('mean', 'x', x), axes, keepDims),
    sum: (x, axes, keepDims) => RawOps.sum(tensor('sum', 'x', x), axes, keepDims),
    conv1d: (x, w, bias, opts) =>
      RawOps.conv1d(tensor('conv1d', 'x', x), tensor('conv1d', 'w', w), optClone('conv1d', 'bias', bias), opts),
    conv2d: (x, w, bias, opts) =>
      RawOps.conv2d(tensor('conv2d', 'x', x), tensor('conv2d', 'w', w), optClone('conv2d', 'bias', bias), opts),
    attention: (q, k, v, opts = {}) =>
      RawOps.attention(
        tensor('attention', 'q', q),
        tensor('attention', 'k', k),
        tensor('attention', 'v', v),
        optClone('attention', 'keyMask', opts?.keyMask),
        opts,
      ),
  });

  /**
   * The backend to run `task` on here, with a reason for each backend considered:
   * `{ backend, variant, reasons }`. `opts`: `{ inputTokens, batch }`. Needs `init()`.
   */
  async function recommend(task, opts) {
    return recommendFor(await detect(), task, opts);
  }

  // `backend: 'auto'` (the default) asks `recommend` for the class's task; the choice and
  // its reasons stay on the model as `backend` and `backendReasons`. `worker: true` loads
  // the model in the SDK's worker instead (where 'auto' is resolved), behind the same API.
  function wrapLoad(cls, name, task, workerLoad) {
    const loadWith = cls.load;
    cls.load = async function load(baseUrl, opts) {
      if (opts != null && typeof opts === 'object' && 'worker' in opts) {
        const { worker, ...rest } = opts;
        if (typeof worker !== 'boolean') throw codeError('invalid_argument', `${name}.load: option worker must be a boolean`);
        if (worker) return workerLoad(baseUrl, rest);
        opts = rest;
      } else if (workerThreads > 1) {
        // Threads run in the SDK's worker, never on the page's thread.
        return workerLoad(baseUrl, opts);
      }
      const auto = opts == null || (typeof opts === 'object' && (opts.backend ?? 'auto') === 'auto');
      if (!auto) {
        const e = await loadWith.call(this, baseUrl, opts);
        e.backendReasons = [`${e.backend}: requested by the caller`];
        return e;
      }
      const rec = await recommend(task);
      const e = await loadWith.call(this, baseUrl, { ...opts, backend: rec.backend });
      e.backendReasons = rec.reasons;
      return e;
    };
  }
  wrapLoad(TextEmbedder, 'TextEmbedder', 'text-embedding', (url, opts) =>
    WorkerTextEmbedder.load(url, opts, { codeError, Tokenizer }),
  );
  wrapLoad(ImageEmbedder, 'ImageEmbedder', 'image-embedding', (url, opts) =>
    WorkerImageEmbedder.load(url, opts, { codeError, allPixels, toPixels }),
  );

  wrapLoad(SpeechRecognizer, 'SpeechRecognizer', 'speech-recognition', (url, opts) =>
    WorkerSpeechRecognizer.load(url, opts, { codeError, toAudio }),
  );

  // Audio of every kind becomes samples here (the browser decodes files on this thread).
  const rawTranscribe = SpeechRecognizer.prototype.transcribe;
  SpeechRecognizer.prototype.transcribe = async function transcribe(audio, opts) {
    return rawTranscribe.call(this, await toAudio(audio, 'audio', codeError), opts);
  };

  // Images of every kind become pixels here, before the wasm module sees them.
  const rawEmbed = ImageEmbedder.prototype.embed;
  ImageEmbedder.prototype.embed = async function embed(images, opts) {
    return rawEmbed.call(this, await allPixels(images, 'ImageEmbedder.embed', codeError), opts);
  };
  const rawSaliency = ImageEmbedder.prototype.saliency;
  ImageEmbedder.prototype.saliency = async function saliency(image, opts) {
    return rawSaliency.call(this, await toPixels(image, 'image', codeError), opts);
  };

  return {
    init,
    ops,
    recommend,
    cpuThreads,
    ImageEmbedder,
    Session,
    SpeechRecognizer,
    Tensor,
    TextEmbedder,
    WeightStore,
    memoryBytes: glue.memoryBytes,
    version: glue.version,
    cpuPath: glue.cpuPath,
  };
}
