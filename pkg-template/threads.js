// The SDK over the threaded wasm build (shared memory, atomics; relaxed SIMD), for the
// SDK's worker only: its kernels block while helpers work, which a page's main thread may
// not do. Its helper workers (thread.js) share this module's memory.
import * as glue from './wasm-threads/ipfs_accelerate.js';
import { makeSdk } from './sdk.js';

/** Starts `count` helper workers and waits until they serve the CPU backend; a helper
 * that fails to start leaves the others working (`cpuThreads()` counts those that did). */
async function startHelpers(count, exports) {
  const module = await compiled;
  const started = [];
  for (let i = 0; i < count; i++) {
    const w = new Worker(new URL('./thread.js', import.meta.url), { type: 'module', name: `ipfs-accelerate helper ${i + 1}` });
    started.push(
      new Promise((resolve) => {
        w.onmessage = ({ data }) => resolve(data?.ok === true);
        w.onerror = (ev) => {
          ev.preventDefault?.();
          resolve(false);
        };
      }),
    );
    w.postMessage({ module, memory: exports.memory });
  }
  const ok = (await Promise.all(started)).filter(Boolean).length;
  // A helper says it is ready just before it enters the Rust loop that counts it.
  const until = Date.now() + 10000;
  while (glue.cpuThreads() < ok + 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
}

// Compiled here, not by the glue, so that the helpers can be sent the same module.
let compiled = null;

export const sdk = makeSdk(glue, {
  wasmUrl: () => {
    compiled = fetch(new URL('./wasm-threads/ipfs_accelerate_bg.wasm', import.meta.url))
      .then((r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status} for the threaded build`);
        return r.arrayBuffer();
      })
      .then((b) => WebAssembly.compile(b));
    return compiled;
  },
  startHelpers,
});
