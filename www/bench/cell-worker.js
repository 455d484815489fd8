// `harness bench --threads N` (N > 1) for ours: the model runs here, in a module worker on
// the threaded build (pkg/threads.js) with N threads, as `init(undefined, { threads })`
// runs models in the SDK's worker, but with a session whose output cache is off (a load
// into the SDK's worker cannot be given a session). cell.js times each call from the page.
import { sdk } from '../../pkg/threads.js';

let model = null;

const ops = {
  async load({ url, backend, dtype, threads, speech, image }) {
    await sdk.init(undefined, { threads });
    const Model = speech ? sdk.SpeechRecognizer : image ? sdk.ImageEmbedder : sdk.TextEmbedder;
    const t0 = performance.now();
    model = await Model.load(url, { backend, dtype, store: 'harness', session: sdk.Session.create({ budget: 0 }) });
    return {
      library: `ipfs-accelerate ${sdk.version()} (${sdk.cpuPath()}, ${sdk.cpuThreads()} threads) ${model.dtype}`,
      loadMs: performance.now() - t0,
      loadedFrom: model.loadedFrom,
    };
  },
  embed: ({ inputs }) => model.embed(inputs).then(() => null),
  async transcribe({ audio }) {
    const t = performance.now();
    let first = null;
    await model.transcribe(audio, { onSegment: () => (first ??= performance.now() - t) });
    return first;
  },
  countTokens: ({ text }) => model.tokenCount(text),
  memoryBytes: () => sdk.memoryBytes(),
};

self.onmessage = async ({ data: { id, op, ...args } }) => {
  try {
    self.postMessage({ id, ok: true, value: await ops[op](args) });
  } catch (e) {
    self.postMessage({ id, ok: false, error: `${e.code ? `${e.code}: ` : ''}${e.message}` });
  }
};
