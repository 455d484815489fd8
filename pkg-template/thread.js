// A helper worker of the threaded build: instantiates the module the SDK's worker sends
// over that worker's shared memory, says so, then serves split CPU kernels for ever.
import initThreaded, { threadHelper } from './wasm-threads/ipfs_accelerate.js';

self.onmessage = async ({ data: { module, memory } }) => {
  try {
    await initThreaded({ module_or_path: module, memory });
  } catch (e) {
    self.postMessage({ ok: false, error: String(e?.message ?? e) });
    return;
  }
  self.postMessage({ ok: true });
  threadHelper();
};
