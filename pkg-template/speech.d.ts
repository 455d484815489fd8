// Types of the speech family (SpeechRecognizer), re-exported by index.d.ts.
import type { GpuInfo, LoadControl, LoadProgress, Session, WeightDtype, WeightStore } from './index.js';

/** Options of `SpeechRecognizer.load`: a load's, and `dtype`. */
export interface SpeechRecognizerOptions extends LoadControl {
  /** 'wasm' runs the WASM SIMD CPU backend, 'webgpu' the WebGPU backend; 'auto' (the
   * default) asks `recommend('speech-recognition')`. */
  backend?: 'auto' | 'wasm' | 'webgpu' | 'webnn';
  /** The form the linear layers' weights and the token table are held in (see
   * TextEmbedderOptions.dtype). */
  dtype?: WeightDtype | { default: WeightDtype; keep?: string[] };
  shaderVariant?: 'tiled' | 'subgroup' | 'f16';
  onProgress?: (p: LoadProgress) => void;
  cache?: boolean;
  store?: WeightStore | string;
  /** Run the model in the SDK's Web Worker: encoded audio is decoded on the page, and
   * `onSegment` / `onToken` are relayed from the worker as they fire. */
  worker?: boolean;
  session?: Session;
}

/** Samples with their rate: `data` one Float32Array (mono) or one per channel (averaged). */
export interface RawAudio {
  data: Float32Array | Float32Array[];
  sampleRate: number;
}

/** Anything `SpeechRecognizer.transcribe` reads: a Float32Array of 16 kHz mono samples,
 * samples with their rate, an AudioBuffer, or an encoded file (wav, mp3, ogg, webm, flac:
 * what the browser's decodeAudioData reads) as a Blob, File or ArrayBuffer. Other rates
 * are resampled to 16 kHz with a windowed-sinc filter. */
export type AudioInput = Float32Array | RawAudio | AudioBuffer | Blob | ArrayBuffer | ArrayBufferView;

/** A stretch of speech: seconds from the start of the audio, its text, and its token ids
 * (timestamp tokens included). */
export interface TranscriptSegment {
  start: number;
  end: number;
  text: string;
  tokens: number[];
}

export interface Transcript {
  text: string;
  segments: TranscriptSegment[];
  /** The language code: the one passed, the one detected (multilingual checkpoints), or 'en'. */
  language: string;
}

export interface TranscribeOptions {
  /** Segments with start and end times (default true); false: one segment per 30 s window. */
  timestamps?: boolean;
  /** A language code such as 'en' or 'de'; multilingual checkpoints detect it when absent.
   * English-only checkpoints (`.en`) take 'en' only. */
  language?: string;
  /** 'transcribe' (default) or, on multilingual checkpoints, 'translate' (into English). */
  task?: 'transcribe' | 'translate';
  /** Called as each segment is final, in order. */
  onSegment?: (segment: TranscriptSegment) => void;
  /** Called for each decoded token (timestamps have empty text). */
  onToken?: (token: { id: number; text: string }) => void;
  /** Ends the call with code 'aborted'. */
  signal?: AbortSignal;
}

/** Whisper speech recognition from a Hugging Face checkpoint's files at a base URL:
 * `config.json`, `model.safetensors`, `tokenizer.json`, and `generation_config.json` and
 * `preprocessor_config.json` where present. Any size (tiny to large), `.en` or
 * multilingual. Greedy decoding with openai/whisper's rules; audio of any length in 30 s
 * windows with memory that does not grow with it. */
export class SpeechRecognizer {
  private constructor();
  static load(baseUrl: string, opts?: SpeechRecognizerOptions): Promise<SpeechRecognizer>;
  /** Bad audio (empty, NaN or infinite samples, a bad sample rate, an undecodable file)
   * is code 'invalid_audio'. */
  transcribe(audio: AudioInput, opts?: TranscribeOptions): Promise<Transcript>;
  readonly backend: string;
  backendReasons: string[];
  readonly loadedFrom: 'cache' | 'network';
  readonly gpuInfo: GpuInfo | null;
  readonly isMultilingual: boolean;
  /** The form the linear layers' weights and the token table are held in. */
  readonly dtype: WeightDtype;
  /** Bytes of wasm memory the weights hold: the f32 file as read; for another dtype its
   * quantized tensors and copies of the rest (the f32 file is freed after the load). */
  readonly weightBytes: number;
  /** Weights in the files that the model does not use. */
  readonly unusedWeights: string[];
  loseDeviceForTesting(): void;
  setGpuProfiling(on: boolean): boolean;
  dispose(): void;
  free(): void;
  /** With `worker: true`: ends the worker as a crash would. For tests. */
  killWorkerForTesting?(): void;
}
