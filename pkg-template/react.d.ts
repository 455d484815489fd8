// Types for ipfs-accelerate/react.
import type { Capabilities, DetectOptions, IpfsAccelerateError, LoadProgress, TextEmbedderOptions } from './index.js';

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

export function modelStats(): { loads: number; disposed: number; live: number };
