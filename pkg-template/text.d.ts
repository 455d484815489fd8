// Types of the text family (TextEmbedder), re-exported by index.d.ts.
import type { GpuInfo, LoadControl, LoadProgress, Session, WeightDtype, WeightStore } from './index.js';

export interface TextEmbedderOptions extends LoadControl {
  /** 'wasm' runs the WASM SIMD CPU backend, 'webgpu' the WebGPU backend; 'auto' (the
   * default) asks `recommend()`. 'webnn' is not built yet (backend_unavailable). */
  backend?: 'auto' | 'wasm' | 'webgpu' | 'webnn';
  /** With backend 'webgpu': force a shader variant instead of the variant table's choice
   * ('tiled', 'subgroup' or 'f16'); one the adapter lacks is a backend_unavailable error. */
  shaderVariant?: 'tiled' | 'subgroup' | 'f16';
  onProgress?: (p: LoadProgress) => void;
  /** Overrides the model's 1_Pooling/config.json; 'none' returns every token's vector. */
  pooling?: 'mean' | 'cls' | 'none';
  /** Overrides whether modules.json asks for L2 normalisation. */
  normalize?: boolean;
  /** Texts over the model's limit (sentence_bert_config.json max_seq_length) are cut
   * ('truncate', the default, as sentence-transformers does) or rejected ('error'). */
  truncation?: 'truncate' | 'error';
  /** The form the linear layers' weights are held in (default 'f32', as stored): 'f16',
   * 'q8' (int8 in groups of 64) or 'q4' (int4 in blocks of 32 for queries, keys and the
   * token table, int8 for the layers 4 bits hurt most), made from the file's weights at
   * load. With `keep`, layers whose weight name contains one of its strings stay f32.
   * The token table takes the same form; WebGPU keeps the weights in their form too. */
  dtype?: WeightDtype | { default: WeightDtype; keep?: string[] };
  /** Load through the IndexedDB weight store (default true); where IndexedDB does not
   * exist (Node) the load goes to the network uncached. */
  cache?: boolean;
  /** The store to use: an opened WeightStore or its name (default 'ipfs-accelerate'). */
  store?: WeightStore | string;
  /** Run the model in the SDK's dedicated Web Worker (default false), off the page's
   * thread, behind the same API: vectors come back transferred. A worker that dies fails
   * its pending calls with 'worker_failed', and the next call starts a fresh worker
   * (loading the model there again). Models in the worker share the worker's session, so
   * `session` cannot be given with it; `store` is passed by name. */
  worker?: boolean;
  /** The session the model joins (default: the page's, `Session.page()`): models in one
   * session hold each weight tensor once, share backends, plans and the output cache,
   * and take turns on each device. */
  session?: Session;
}

/** A BERT-family sentence embedder (e.g. all-MiniLM-L6-v2) loaded from a base URL. */
export class TextEmbedder {
  private constructor();
  static load(baseUrl: string, opts?: TextEmbedderOptions): Promise<TextEmbedder>;
  /** One vector per text, in order; each text's vector does not depend on the others.
   * Texts run in batches of 8 with a yield to the event loop between batches, where a
   * fired `signal` ends the call with code 'aborted'. */
  embed(texts: string[], opts?: { signal?: AbortSignal }): Promise<Float32Array[]>;
  tokenCount(text: string): number;
  readonly dims: number;
  readonly backend: string;
  readonly maxTokens: number;
  readonly pooling: string;
  /** The form the linear layers' weights are held in (the `dtype` load option). */
  readonly dtype: WeightDtype;
  /** Bytes of wasm memory the weights hold: the f32 file as read; for another dtype its
   * quantized tensors and copies of the rest (the f32 file is freed after the load). */
  readonly weightBytes: number;
  /** Why this backend: `recommend()`'s reasons for 'auto', else that the caller asked. */
  backendReasons: string[];
  /** Where the files came from: the weight store or the network. */
  readonly loadedFrom: 'cache' | 'network';
  /** On WebGPU: the adapter, shader variant, granted features and counters; else null. */
  readonly gpuInfo: GpuInfo | null;
  /** Destroys the GPU device as a driver reset would; the next embed makes a new one. */
  loseDeviceForTesting(): void;
  /** Times each GPU dispatch with timestamp queries from now on (gpuInfo.lastGpuMs);
   * false where the device has no timestamp queries or the model runs on the CPU. */
  setGpuProfiling(on: boolean): boolean;
  /** Frees the model; later calls reject with code 'disposed'. */
  dispose(): void;
  free(): void;
  /** With `worker: true`: ends the worker as a crash would (pending calls fail with
   * 'worker_failed'; the next call starts a fresh worker). For tests. */
  killWorkerForTesting?(): void;
}
