// Hand-written types for the package facade (index.js); the wasm glue has its own.

/** Every error the SDK throws: an `Error` with a stable machine-readable `code`. */
export interface IpfsAccelerateError extends Error {
  name: 'IpfsAccelerateError';
  code:
    | 'shape_mismatch'
    | 'invalid_argument'
    | 'dtype_mismatch'
    | 'invalid_graph'
    | 'backend_unavailable'
    | 'init_failed'
    | 'invalid_weights'
    | 'unsupported_model'
    | 'invalid_config'
    | 'fetch_failed'
    | 'input_too_long'
    | 'disposed'
    | 'cache_corrupt'
    | 'quota_exceeded'
    | 'store_failed'
    | 'gpu_device_lost'
    | 'gpu_error'
    | 'gpu_out_of_memory'
    | 'non_finite_output'
    | 'out_of_memory'
    | 'aborted'
    | 'invalid_image'
    | 'invalid_audio'
    | 'integrity'
    | 'invalid_dag'
    | 'webnn_context_lost'
    | 'webnn_error'
    | 'worker_failed';
  /** With code 'quota_exceeded': bytes the write needed and bytes that were available. */
  needed?: number;
  available?: number;
}

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOptions {
  /** Which wasm build to fetch when no module is given: 'auto' (default) picks
   * 'relaxed' (relaxed-simd FMA) where the engine has it and it is faster, else 'simd128'. */
  build?: 'auto' | 'relaxed' | 'simd128';
  /** CPU threads (default 1). 'auto' is the machine's cores, at most 8. More than one
   * needs a cross-origin isolated page (COOP `same-origin` and COEP `require-corp`
   * headers): the SDK's worker then runs the threaded build with that many threads, and
   * every model loads there unless its load says `worker: false` (a page's own thread
   * never blocks on threads). Elsewhere it stays 1; `cpuThreads()` says what ran. */
  threads?: 'auto' | number;
}

/** Loads the wasm module once; call (and await) before anything else. */
export function init(moduleOrPath?: InitInput | Promise<InitInput>, opts?: InitOptions): Promise<void>;
/** The wasm build `init` would fetch for `build` in this engine. */
export function chooseBuild(build?: 'auto' | 'relaxed' | 'simd128'): 'relaxed' | 'simd128';
export function version(): string;
/** The CPU kernel path of the loaded build: 'simd128', 'simd128+relaxed' or 'portable'. */
export function cpuPath(): string;
/** CPU threads the models of this page's CPU backend split their work over: 1, or the
 * SDK worker's threads after `init(undefined, { threads })`. */
export function cpuThreads(): number;
/** Bytes of the wasm module's linear memory (it only grows, so this is also the peak). */
export function memoryBytes(): number;

export class Tensor {
  constructor(data: Float32Array | number[], dims: number[]);
  static fromInt32(data: Int32Array | number[], dims: number[]): Tensor;
  readonly dims: Uint32Array;
  readonly dtype: 'f32' | 'i32';
  readonly size: number;
  /** A tensor sharing this one's storage. */
  clone(): Tensor;
  toFloat32Array(): Float32Array;
  toInt32Array(): Int32Array;
  /** Releases the wasm memory now rather than at garbage collection. A second call does
   * nothing; any other use of a freed Tensor (or passing it to an op) throws `disposed`. */
  free(): void;
}

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

export interface ConvOptions {
  stride?: number | number[];
  padding?: number | number[];
  dilation?: number | number[];
  groups?: number;
}

export interface AttentionOptions {
  /** `[B, Sk]`: 1 keeps a key, 0 ignores it. */
  keyMask?: Tensor;
  causal?: boolean;
  /** Defaults to 1 / sqrt(D). */
  scale?: number;
}

/** Eager ops; each runs a one-op graph on the CPU backend and returns a new Tensor. */
export declare const ops: Readonly<{
  matmul(a: Tensor, b: Tensor, opts?: MatmulOptions): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
  sub(a: Tensor, b: Tensor): Tensor;
  mul(a: Tensor, b: Tensor): Tensor;
  div(a: Tensor, b: Tensor): Tensor;
  gelu(x: Tensor): Tensor;
  geluTanh(x: Tensor): Tensor;
  relu(x: Tensor): Tensor;
  silu(x: Tensor): Tensor;
  tanh(x: Tensor): Tensor;
  /** Softmax over the last axis after adding an optional broadcast additive mask. */
  softmax(x: Tensor, mask?: Tensor): Tensor;
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps?: number): Tensor;
  gather(table: Tensor, ids: Tensor): Tensor;
  reshape(x: Tensor, dims: number[]): Tensor;
  transpose(x: Tensor): Tensor;
  permute(x: Tensor, perm: number[]): Tensor;
  slice(x: Tensor, axis: number, start: number, end: number): Tensor;
  concat(xs: Tensor[], axis: number): Tensor;
  mean(x: Tensor, axes: number[], keepDims?: boolean): Tensor;
  sum(x: Tensor, axes: number[], keepDims?: boolean): Tensor;
  conv1d(x: Tensor, w: Tensor, bias?: Tensor, opts?: ConvOptions): Tensor;
  conv2d(x: Tensor, w: Tensor, bias?: Tensor, opts?: ConvOptions): Tensor;
  attention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions): Tensor;
}>;

export interface LoadProgress {
  /** The file being downloaded or read, relative to the base URL; 'model.held.safetensors'
   * when a quantized load reads the weights the store kept for its dtype. */
  file: string;
  loaded: number;
  /** From Content-Length (or a UnixFS file's size); undefined until it is known. */
  total?: number;
  /** Set when an IPFS gateway failed the load (it is not asked again in this load): its
   * URL, the error's code ('integrity' for a block that did not verify, 'fetch_failed'
   * for a dead, stalled or short answer) and message. Beside these, `loaded`/`total` are
   * absent. */
  gateway?: string;
  error?: string;
  reason?: string;
}

/** What every load and prefetch accepts beside its own options. */
export interface LoadControl {
  /** Aborts the load: it rejects with code 'aborted', its download is cancelled (finished
   * chunks stay stored for the next load), and a load of the same model that was waiting
   * for it goes ahead. */
  signal?: AbortSignal;
  /** A download that receives no bytes for this many ms fails with 'fetch_failed'
   * (default 30000; 0 or Infinity for no limit). */
  stallTimeoutMs?: number;
  /** The Hugging Face hub that `hf:owner/name[@revision]` sources resolve against
   * (default 'https://huggingface.co'): each file is
   * `{hubUrl}/{owner}/{name}/resolve/{revision}/{file}`, revision 'main' unless named. */
  hubUrl?: string;
  /** IPFS trustless gateways that `ipfs://<cid>[/path]`, `/ipfs/<cid>[/path]` and bare-CID
   * sources are read through, in order of preference (default
   * ['https://trustless-gateway.link', 'https://ipfs.io']). Every block is verified
   * against its CID; a gateway that fails is dropped for the rest of the load and the
   * read goes on at the next from the bytes already verified. */
  gateways?: string[];
}

/** The forms a model's weights can be held in. */
export type WeightDtype = 'f32' | 'f16' | 'q8' | 'q4';

export interface SessionOptions {
  /** Bytes of outputs the output cache keeps (default 16 MiB; 0 turns it off). */
  budget?: number;
  /** The IPFS gateways the session's loads use unless they name their own. */
  gateways?: string[];
}

export interface SessionStats {
  /** Models loaded in the session and not yet disposed. */
  models: number;
  /** Bytes per device: weights in wasm memory; WebGPU weights and plan buffers; WebNN
   * constant tensors. */
  bytes: { wasm: number; webgpu: number; webnn: number };
  /** Weight tensors held (each once), how many more than one model uses, and the most
   * models sharing one. */
  tensors: { count: number; shared: number; maxSharing: number };
  plans: { hits: number; misses: number };
  /** The output cache: a repeated input (same model, same tokens) is a hit, served
   * without a run. */
  outputs: { hits: number; misses: number };
  /** Runs under way or waiting, per device. */
  queue: { wasm: number; webgpu: number; webnn: number };
  /** WebNN graphs built and dispatched, and the nodes its context refused
   * (`opSupportLimits()`), which run on the CPU: how many, and why (a line per reason). */
  webnn: { builds: number; dispatches: number; fallbackNodes: number; fallback: string[] };
}

/** What models share: weights by content, backends, plans, the output cache, a run queue
 * per device. Loads that name no session share the page's. */
export class Session {
  private constructor();
  static create(opts?: SessionOptions): Session;
  /** The page's implicit session. */
  static page(): Session;
  readonly id: number;
  /** The IPFS gateways the session's loads use unless they name their own (null: the
   * SDK's defaults). Set on `Session.page()` for every load that names no session. */
  gateways: string[] | null;
  stats(): SessionStats;
  free(): void;
}

export * from './text.js';
export * from './image.js';
export * from './speech.js';

export interface GpuInfo {
  adapter: string;
  shaderVariant: 'tiled' | 'subgroup' | 'f16';
  /** Optional features the device was granted: 'shader-f16', 'subgroups', 'timestamp-query'. */
  granted: string[];
  /** Queue submissions and readbacks so far: one each per forward pass. */
  submissions: number;
  readbacks: number;
  /** Devices made so far: more than one after a device loss. */
  devices: number;
  /** Bytes on the device: uploaded weights, the buffers of cached plans, and values kept
   * there between runs (a decoder's caches; none once a transcription ends). */
  weightBytes: number;
  planBytes: number;
  valueBytes: number;
  /** GPU milliseconds of the last profiled forward pass (see setGpuProfiling), else null. */
  lastGpuMs: number | null;
}

export interface WeightStoreOptions {
  /** IndexedDB database name (default 'ipfs-accelerate'). */
  name?: string;
  /** Bytes of chunks to keep at most; least recently used models are evicted to fit. The
   * budget is saved in the store: left out, the store keeps the one it has; null removes it. */
  budget?: number | null;
  /** Ask the browser for persistent storage (navigator.storage.persist()). */
  persist?: boolean;
}

export interface StoredModel {
  /** The model's key: its base URL with a trailing '/', or 'ipfs://<CIDv1>/' for a model
   * loaded by CID. */
  source: string;
  files: string[];
  bytes: number;
  /** Milliseconds since the epoch. */
  lastUsed: number;
}

export interface StoredManifest {
  source: string;
  bytes: number;
  created: number;
  lastUsed: number;
  files: {
    name: string;
    size: number;
    /** Whole-file sha-256, hex. */
    sha256: string;
    etag: string | null;
    lastModified: string | null;
    chunks: { sha256: string; cid: string; size: number }[];
  }[];
  /** The root CID of the files (see WeightStore.cidOf), once computed; else null. */
  cid: string | null;
}

export interface StoreUsage {
  /** Bytes of distinct chunks: content shared by models counts once. */
  bytes: number;
  /** Bytes the models would take without deduplication. */
  logicalBytes: number;
  models: number;
  chunks: number;
  /** Bytes kept from broken-off downloads, for resuming. */
  partialBytes: number;
  budget: number | null;
  /** navigator.storage.estimate() for the whole origin, where available. */
  originUsage: number | null;
  originQuota: number | null;
}

/** The content-addressed IndexedDB cache of model files. */
export class WeightStore {
  private constructor();
  static open(opts?: WeightStoreOptions): Promise<WeightStore>;
  readonly name: string;
  readonly persisted: boolean;
  /** The store's byte budget, or null for none. */
  readonly budget: number | null;
  list(): Promise<StoredModel[]>;
  /** The manifest of a stored model (chunks with sha-256 and CIDv1), or null. */
  manifest(source: string): Promise<StoredManifest | null>;
  usage(): Promise<StoreUsage>;
  delete(source: string): Promise<boolean>;
  clear(): Promise<void>;
  /** The root CID the `unixfs-v1-2025` import profile (CIDv1, raw leaves, 1 MiB chunks,
   * 1024 links per node, wrapped in a directory) gives a stored model's files: the CID
   * any conforming IPFS importer gives the same files. */
  cidOf(source: string): Promise<string>;
  /** A CARv1 of that DAG (its root the CAR's root), to pin or serve by CID. */
  exportCar(source: string): Promise<Blob>;
  /** Downloads a model into the store, checked as a load checks it. */
  /** Downloads a model into the store, or verifies it there: the file set of the family
   * `model` names, by default ('auto') the one its config.json's model_type says. Its
   * configs and weight headers are checked before anything is committed. */
  prefetch(
    baseUrl: string,
    opts?: LoadControl & { onProgress?: (p: LoadProgress) => void; model?: 'auto' | Task },
  ): Promise<StoredModel>;
  free(): void;
}

export interface DetectOptions {
  /** Bound for each probe, in ms (default 3000). */
  timeoutMs?: number;
  /** Probe again instead of returning the first report. */
  fresh?: boolean;
}

/** A probe's result when the feature is missing or the probe failed. */
export interface Unavailable {
  available: false;
  reason: string;
}

export interface WebGpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

export type WebGpuCaps =
  | {
      available: true;
      adapter: WebGpuAdapterInfo;
      features: string[];
      /** maxStorageBufferBindingSize, maxBufferSize, maxComputeWorkgroupStorageSize, ... */
      limits: Record<string, number>;
    }
  | Unavailable;

/** A WebNN context asked for: made (and whether it says it is accelerated; null where it
 * does not say), or why not. */
export type ContextProbe = { available: true; accelerated: boolean | null } | Unavailable;

export interface Capabilities {
  browser: {
    engine: 'blink' | 'gecko' | 'webkit' | 'node' | 'unknown';
    name: string;
    version: string;
    /** 'ua-ch' (User-Agent Client Hints), 'ua' (the UA string) or 'runtime'. */
    source: 'ua-ch' | 'ua' | 'runtime';
  };
  webgpu: WebGpuCaps;
  /** `navigator.ml`, and the contexts `createContext({ accelerated: true })` and
   * `createContext({ accelerated: false })` give. */
  webnn: { present: boolean; contexts: { accelerated: ContextProbe; cpu: ContextProbe } };
  wasm: {
    simd: boolean;
    relaxedSimd: boolean;
    threads: {
      available: boolean;
      sharedArrayBuffer: boolean;
      crossOriginIsolated: boolean;
      sharedMemory: boolean;
      reason?: string;
    };
    memory64: boolean;
  };
  hardwareConcurrency: number | null;
  deviceMemory: number | null;
  storage: { available: true; usage: number; quota: number; persisted: boolean } | Unavailable;
}

/** Probes the platform; never throws (a failed probe is reported with its reason). */
export function detect(opts?: DetectOptions): Promise<Capabilities>;

export type Task = 'text-embedding' | 'image-embedding' | 'speech-recognition';

export interface Recommendation {
  backend: 'wasm' | 'webgpu' | 'webnn';
  /** For wasm: the build, 'simd128+relaxed' or 'simd128'. */
  variant: string;
  /** One line per backend considered. */
  reasons: string[];
}

/** The backend to run `task` on here, and why. Call `init()` first. */
export function recommend(task: Task, opts?: { inputTokens?: number; batch?: number }): Promise<Recommendation>;
