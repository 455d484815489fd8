// The page's side of models that run in the SDK's worker (`{ worker: true }` on a load):
// one dedicated module worker per page, started on first use. A worker that dies turns
// its pending calls into `worker_failed` errors, and the next call starts a fresh worker
// and loads the model there again.

let host = null;
// What the worker is started with: the page's `init` options (threads > 1 only where the
// page is cross-origin isolated; see sdk.js).
let start = { build: 'auto', threads: 1 };

class Host {
  constructor(codeError) {
    this.codeError = codeError;
    this.pending = new Map();
    this.next = 1;
    this.dead = false;
    // The `new URL(literal, import.meta.url)` form, which Vite and webpack 5 bundle as a
    // worker with no plugin.
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = ({ data }) => this.answer(data);
    this.worker.onerror = (ev) => {
      ev.preventDefault?.();
      this.fail(`the worker stopped: ${ev.message || 'an uncaught error or a failed start'}`);
    };
    this.worker.onmessageerror = () => this.fail('a message from the worker could not be read');
    this.ready = this.call('init', start);
  }

  answer(data) {
    const p = this.pending.get(data.id);
    if (!p) return;
    if ('progress' in data) {
      p.onProgress?.(data.progress);
      return;
    }
    this.pending.delete(data.id);
    if (data.ok) p.resolve(data.result);
    else p.reject(this.codeError(data.error.code, data.error.message));
  }

  /** Calls `op` in the worker; `signal` aborts it there, `onProgress` hears its progress. */
  call(op, args = {}, { signal, onProgress } = {}) {
    if (this.dead) return Promise.reject(this.codeError('worker_failed', `${op}: the worker has stopped`));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      try {
        this.worker.postMessage({ id, op, ...args });
      } catch (e) {
        this.pending.delete(id);
        reject(this.codeError('invalid_argument', `${op}: its arguments cannot be sent to the worker: ${e.message}`));
        return;
      }
      if (signal) {
        const abort = () => this.worker.postMessage({ op: 'abort', target: id });
        if (signal.aborted) abort();
        else signal.addEventListener('abort', abort, { once: true });
      }
    });
  }

  /** Ends the worker: every pending call fails with `worker_failed`. */
  fail(reason) {
    if (this.dead) return;
    this.dead = true;
    if (host === this) host = null;
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(this.codeError('worker_failed', reason));
    this.pending.clear();
  }
}

function current(codeError) {
  host ??= new Host(codeError);
  return host;
}

/** Starts the SDK's worker with `threads` threads for the models that will run there;
 * resolves with the threads it has (fewer where helpers failed to start). */
export async function startWorkerThreads(threads, build, codeError) {
  start = { build, threads };
  const info = await current(codeError).ready;
  return info.threads;
}

/** The options a load sends to the worker: plain values only. */
function wire(op, opts, codeError) {
  const { worker, signal, onProgress, session, store, ...rest } = opts ?? {};
  if (session !== undefined) {
    throw codeError(
      'invalid_argument',
      `${op}: option session cannot be used with worker: true (a session lives on the thread that made it; models in the worker share the worker's)`,
    );
  }
  const out = { ...rest, progress: typeof onProgress === 'function' };
  if (store !== undefined) out.store = typeof store === 'string' ? store : store?.name;
  return out;
}

/** A model whose work runs in the SDK's worker, behind its class's API: the page keeps
 * the load's options to load it again in a fresh worker after a crash. */
class WorkerModel {
  static async open(cls, url, opts, codeError) {
    const m = new this();
    m.cls = cls;
    m.codeError = codeError;
    m.url = url;
    m.wired = wire(`${cls}.load`, opts, codeError);
    const info = await m.attach({ signal: opts?.signal, onProgress: opts?.onProgress });
    m.update(info);
    return { m, info };
  }

  update(info) {
    for (const [k, v] of Object.entries(info)) if (k !== 'handle' && k !== 'tokenizer') this[k] = v;
  }

  /** The worker holding this model: the current one, loading the model there again when
   * the worker it was loaded in has died. */
  async attach(control = {}) {
    if (this.host && !this.host.dead) return this.host;
    const h = current(this.codeError);
    await h.ready;
    const info = await h.call('load', { cls: this.cls, url: this.url, opts: this.wired }, control);
    this.host = h;
    this.handle = info.handle;
    return info;
  }

  check(op) {
    if (this.disposed) throw this.codeError('disposed', `${this.cls}.${op}: the model was disposed`);
  }

  /** Calls `method(...args)` on the model in the worker; the options (last) argument's
   * signal aborts it there; `onEvent` hears the callbacks the worker relays. */
  async invoke(method, args, signal, onEvent) {
    this.check(method);
    await this.attach({ signal });
    const r = await this.host.call('call', { handle: this.handle, method, args }, { signal, onProgress: onEvent });
    this.update(r.info);
    return r.value;
  }

  setGpuProfiling(on) {
    this.check('setGpuProfiling');
    // Applies from the next run; the answer is the worker's.
    this.invoke('setGpuProfiling', [Boolean(on)]).catch(() => {});
    return Boolean(on) && this.backend === 'webgpu' && Boolean(this.gpuInfo?.granted?.includes('timestamp-query'));
  }

  loseDeviceForTesting() {
    this.invoke('loseDeviceForTesting', []).catch(() => {});
  }

  /** Ends the worker, as a crash would: pending calls fail with `worker_failed`, and the
   * next call starts a fresh worker. For tests. */
  killWorkerForTesting() {
    this.host?.fail('the worker was killed (killWorkerForTesting)');
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    if (this.host && !this.host.dead) this.host.call('dispose', { handle: this.handle }).catch(() => {});
  }

  free() {
    this.dispose();
  }
}

/** A `TextEmbedder` whose model runs in the SDK's worker; the same API. `tokenCount`
 * stays synchronous through a page-side copy of the tokenizer. */
export class WorkerTextEmbedder extends WorkerModel {
  static async load(url, opts, { codeError, Tokenizer }) {
    const { m, info } = await this.open('TextEmbedder', url, opts, codeError);
    m.tokenizer = Tokenizer.fromJson(info.tokenizer, info.maxTokens);
    return m;
  }

  embed(texts, opts) {
    return this.invoke('embed', [texts, strip(opts)], opts?.signal);
  }

  tokenCount(text) {
    this.check('tokenCount');
    return this.tokenizer.tokenCount(text);
  }

  dispose() {
    if (!this.disposed) this.tokenizer?.free();
    super.dispose();
  }
}

/** An `ImageEmbedder` whose model runs in the SDK's worker; the same API. Images are
 * read into pixels on the page (elements and canvases cannot be sent to a worker). */
export class WorkerImageEmbedder extends WorkerModel {
  static async load(url, opts, { codeError, allPixels, toPixels }) {
    const { m } = await this.open('ImageEmbedder', url, opts, codeError);
    m.allPixels = allPixels;
    m.toPixels = toPixels;
    return m;
  }

  async embed(images, opts) {
    this.check('embed');
    const px = await this.allPixels(images, 'ImageEmbedder.embed', this.codeError);
    return this.invoke('embed', [px, strip(opts)], opts?.signal);
  }

  async saliency(image, opts) {
    this.check('saliency');
    const px = await this.toPixels(image, 'image', this.codeError);
    return this.invoke('saliency', [px, strip(opts)], opts?.signal);
  }
}

/** A `SpeechRecognizer` whose model runs in the SDK's worker; the same API. Encoded audio
 * is decoded on the page (workers have no audio decoder); `onSegment` and `onToken` are
 * relayed from the worker as they fire. */
export class WorkerSpeechRecognizer extends WorkerModel {
  static async load(url, opts, { codeError, toAudio }) {
    const { m } = await this.open('SpeechRecognizer', url, opts, codeError);
    m.toAudio = toAudio;
    return m;
  }

  async transcribe(audio, opts) {
    this.check('transcribe');
    const samples = await this.toAudio(audio, 'audio', this.codeError);
    const { signal, ...rest } = opts ?? {};
    const events = {};
    for (const name of ['onSegment', 'onToken']) {
      // A function cannot be sent; anything else goes as it is, for the worker to refuse.
      if (typeof rest[name] === 'function') {
        events[name] = rest[name];
        delete rest[name];
      }
    }
    const args = [samples, { ...rest, relay: Object.keys(events) }];
    return this.invoke('transcribe', args, signal, ({ event, value }) => events[event]?.(value));
  }
}

/** Options without their signal, which cannot be sent (the call forwards it). */
function strip(opts) {
  if (opts == null || typeof opts !== 'object') return opts;
  const { signal, ...rest } = opts;
  return rest;
}
