// Types for ipfs-accelerate/react.
import type {
  Capabilities,
  DetectOptions,
  ImageEmbedOptions,
  ImageEmbedderOptions,
  ImageInput,
  IpfsAccelerateError,
  LoadProgress,
  SaliencyMap,
  SpeechRecognizerOptions,
  AudioInput,
  TranscribeOptions,
  Transcript,
  TextEmbedderOptions,
} from './index.js';

export function useCapabilities(opts?: DetectOptions): Capabilities | null;

export interface UseTextEmbedder {
  embed(texts: string[]): Promise<Float32Array[]>;
  status: 'idle' | 'loading' | 'ready' | 'error';
  progress: LoadProgress | null;
  error: IpfsAccelerateError | null;
  backend: string | null;
  backendReasons: string[] | null;
  loadedFrom: 'cache' | 'network' | null;
}

export function useTextEmbedder(url: string | null, opts?: TextEmbedderOptions): UseTextEmbedder;

export interface UseImageEmbedder {
  embed(images: ImageInput[], opts?: ImageEmbedOptions): Promise<Float32Array[]>;
  saliency(image: ImageInput, opts?: { signal?: AbortSignal }): Promise<SaliencyMap>;
  status: 'idle' | 'loading' | 'ready' | 'error';
  progress: LoadProgress | null;
  error: IpfsAccelerateError | null;
  backend: string | null;
  backendReasons: string[] | null;
  loadedFrom: 'cache' | 'network' | null;
}

export function useImageEmbedder(url: string | null, opts?: ImageEmbedderOptions): UseImageEmbedder;

export interface UseSpeechRecognizer {
  transcribe(audio: AudioInput, opts?: TranscribeOptions): Promise<Transcript>;
  status: 'idle' | 'loading' | 'ready' | 'error';
  progress: LoadProgress | null;
  error: IpfsAccelerateError | null;
  backend: string | null;
  backendReasons: string[] | null;
  loadedFrom: 'cache' | 'network' | null;
}

export function useSpeechRecognizer(url: string | null, opts?: SpeechRecognizerOptions): UseSpeechRecognizer;

export function modelStats(): { loads: number; disposed: number; live: number };
