// Type-checked against the installed package's .d.ts by `tsc --noEmit` (npm test): the
// calls a consumer makes, with the types they should get, and mis-typed calls that must
// fail (each `@ts-expect-error` makes tsc fail if the line below it type-checks).
import { detect, init, recommend, TextEmbedder, WeightStore } from 'ipfs-accelerate';
import type { Capabilities, IpfsAccelerateError, Recommendation, StoreUsage } from 'ipfs-accelerate';
import { useCapabilities, useTextEmbedder } from 'ipfs-accelerate/react';

export async function consumer(): Promise<number> {
  await init();
  const caps: Capabilities = await detect({ timeoutMs: 1000 });
  if (caps.webgpu.available) {
    const size: number | undefined = caps.webgpu.limits.maxStorageBufferBindingSize;
    const fallback: boolean = caps.webgpu.adapter.isFallbackAdapter;
    void size, fallback;
  } else {
    const why: string = caps.webgpu.reason;
    void why;
  }
  const rec: Recommendation = await recommend('text-embedding', { inputTokens: 12, batch: 1 });
  const backend: 'wasm' | 'webgpu' | 'webnn' = rec.backend;
  const store = await WeightStore.open({ budget: 200_000_000, persist: true });
  const usage: StoreUsage = await store.usage();
  const e = await TextEmbedder.load('/models/all-MiniLM-L6-v2/', {
    backend: 'auto',
    store,
    onProgress: ({ file, loaded, total }) => console.log(file, loaded, total ?? 0),
  });
  const vectors: Float32Array[] = await e.embed(['typed']);
  const from: 'cache' | 'network' = e.loadedFrom;
  void backend, usage, from;
  try {
    await TextEmbedder.load('/nope/');
  } catch (err) {
    const code: IpfsAccelerateError['code'] = (err as IpfsAccelerateError).code;
    void code;
  }
  // @ts-expect-error: texts must be an array of strings
  await e.embed('one string');
  // @ts-expect-error: 'tpu' is not a backend
  await TextEmbedder.load('/m/', { backend: 'tpu' });
  // @ts-expect-error: recommend takes a known task
  await recommend('image-generation');
  // @ts-expect-error: budget is a number of bytes
  await WeightStore.open({ budget: '1GB' });
  return vectors[0].length;
}

export function Component(): string {
  const caps = useCapabilities();
  const { embed, status, progress, error, backend } = useTextEmbedder('/models/all-MiniLM-L6-v2/', { cache: true });
  const s: 'idle' | 'loading' | 'ready' | 'error' = status;
  const loaded: number = progress?.loaded ?? 0;
  void embed(['x']);
  // @ts-expect-error: status is not a number
  const n: number = status;
  void n, s, loaded, error;
  return `${caps?.browser.name ?? ''} ${backend ?? ''}`;
}
