// React hooks over the SDK. A model is shared by every component that asks for the same
// URL and options, loaded once, and disposed when the last of them unmounts. Models the
// hooks load join the page's session (or the `session` in their options), so two hooks
// on one model with different options still hold its weights once. Disposal is
// deferred by a tick, so StrictMode's mount → unmount → mount in development reuses the
// model instead of loading it twice.
import { useCallback, useEffect, useReducer, useState } from 'react';
import { detect, ImageEmbedder, init, SpeechRecognizer, TextEmbedder } from './index.js';

const models = new Map();
const stats = { loads: 0, disposed: 0 };

/** How many models the hooks have loaded and disposed, and how many are live now. */
export function modelStats() {
  return { loads: stats.loads, disposed: stats.disposed, live: models.size };
}

function keyOf(url, opts) {
  // Functions (onProgress) are not part of a model's identity.
  return `${url}\n${JSON.stringify(opts ?? {}, (k, v) => (typeof v === 'function' ? undefined : v))}`;
}

function acquire(key, cls, url, opts) {
  let entry = models.get(key);
  if (entry) {
    entry.refs += 1;
    clearTimeout(entry.disposeTimer);
    return entry;
  }
  entry = { refs: 1, status: 'loading', progress: null, error: null, embedder: null, listeners: new Set() };
  const notify = () => entry.listeners.forEach((f) => f());
  stats.loads += 1;
  entry.ready = init()
    .then(() =>
      cls.load(url, {
        ...opts,
        onProgress: (p) => {
          entry.progress = p;
          opts?.onProgress?.(p);
          notify();
        },
      }),
    )
    .then(
      (e) => {
        entry.embedder = e;
        entry.status = 'ready';
        notify();
        return e;
      },
      (err) => {
        entry.error = err;
        entry.status = 'error';
        notify();
        return null;
      },
    );
  models.set(key, entry);
  return entry;
}

function release(key, entry) {
  entry.refs -= 1;
  if (entry.refs > 0) return;
  entry.disposeTimer = setTimeout(() => {
    if (entry.refs > 0) return;
    models.delete(key);
    entry.ready.then((e) => {
      if (e) {
        e.dispose();
        stats.disposed += 1;
      }
    });
  }, 0);
}

/** The `detect()` report, or null until it is ready. */
export function useCapabilities(opts) {
  const [caps, setCaps] = useState(null);
  useEffect(() => {
    let live = true;
    detect(opts).then((c) => live && setCaps(c));
    return () => {
      live = false;
    };
  }, []);
  return caps;
}

/** A shared model of class `cls` for `url` (null: none), and its entry's state. */
function useModel(hook, cls, url, opts) {
  const key = url == null ? null : `${cls.name ?? hook}\n${keyOf(url, opts)}`;
  const [, rerender] = useReducer((n) => n + 1, 0);
  useEffect(() => {
    if (key == null) return undefined;
    const entry = acquire(key, cls, url, opts);
    entry.listeners.add(rerender);
    rerender();
    return () => {
      entry.listeners.delete(rerender);
      release(key, entry);
    };
    // The key captures url and opts.
  }, [key]);
  const entry = key == null ? undefined : models.get(key);
  /** Calls `method` on the loaded model, waiting for the load. */
  const call = useCallback(
    async (method, ...args) => {
      const e = key == null ? null : models.get(key);
      const model = e && (await e.ready);
      if (!model) {
        const err = new Error(`${hook}: no model is loaded${e?.error ? `: ${e.error.message}` : ''}`);
        err.name = 'IpfsAccelerateError';
        err.code = e?.error?.code ?? 'disposed';
        throw err;
      }
      return model[method](...args);
    },
    [key],
  );
  const state = {
    status: entry?.status ?? 'idle',
    progress: entry?.progress ?? null,
    error: entry?.error ?? null,
    backend: entry?.embedder?.backend ?? null,
    backendReasons: entry?.embedder?.backendReasons ?? null,
    loadedFrom: entry?.embedder?.loadedFrom ?? null,
  };
  return { call, state };
}

/**
 * A shared `TextEmbedder` for `url` (null: none). Returns `{ embed, status, progress,
 * error, backend, backendReasons, loadedFrom }`; `status` is 'idle', 'loading', 'ready'
 * or 'error'.
 */
export function useTextEmbedder(url, opts) {
  const { call, state } = useModel('useTextEmbedder', TextEmbedder, url, opts);
  const embed = useCallback((texts) => call('embed', texts), [call]);
  return { embed, ...state };
}

/**
 * A shared `ImageEmbedder` for `url` (null: none). Returns `{ embed, saliency, status,
 * progress, error, backend, backendReasons, loadedFrom }`.
 */
export function useImageEmbedder(url, opts) {
  const { call, state } = useModel('useImageEmbedder', ImageEmbedder, url, opts);
  const embed = useCallback((images, o) => call('embed', images, o), [call]);
  const saliency = useCallback((image, o) => call('saliency', image, o), [call]);
  return { embed, saliency, ...state };
}

/**
 * A shared `SpeechRecognizer` for `url` (null: none). Returns `{ transcribe, status,
 * progress, error, backend, backendReasons, loadedFrom }`.
 */
export function useSpeechRecognizer(url, opts) {
  const { call, state } = useModel('useSpeechRecognizer', SpeechRecognizer, url, opts);
  const transcribe = useCallback((audio, o) => call('transcribe', audio, o), [call]);
  return { transcribe, ...state };
}
