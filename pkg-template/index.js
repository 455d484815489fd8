// The package entry: the SDK over the single-thread wasm builds (simd128 and relaxed), on
// pages and in workers alike. Threads live in the SDK's worker (threads.js).
// Errors thrown here and by the wasm module are `Error`s with a stable `code`.
import * as glue from './wasm/ipfs_accelerate.js';
import { makeSdk } from './sdk.js';

const sdk = makeSdk(glue, {
  // Static `new URL(literal, import.meta.url)` forms, which Vite and webpack 5 follow to
  // emit the wasm files as assets with no plugin.
  wasmUrl: (build) =>
    build === 'relaxed'
      ? new URL('./wasm/ipfs_accelerate_relaxed_bg.wasm', import.meta.url)
      : new URL('./wasm/ipfs_accelerate_bg.wasm', import.meta.url),
});

export const {
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
  memoryBytes,
  version,
  cpuPath,
} = sdk;
export { chooseBuild } from './sdk.js';
export { detect } from './detect.js';
