// transformers.js as every benchmark page loads it: from ./baseline/node_modules (installed
// by scripts/setup-baseline.sh), its onnxruntime-web WASM files served locally, models from
// ../../models/, one thread — nothing comes from a CDN or the hub.

/** The library, set up; `cache` turns on its Cache API model cache (the harness's cache
 * phase measures it), off otherwise so every page load reads the served files. */
export async function loadTjs({ cache = false, threads = 1 } = {}) {
  const lib = await import('./baseline/node_modules/@huggingface/transformers/dist/transformers.js');
  const { env } = lib;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useBrowserCache = cache;
  // A path, not a URL: transformers.js only looks for local files at non-URL paths.
  env.localModelPath = new URL('../../models/', import.meta.url).pathname;
  env.backends.onnx.wasm.wasmPaths = new URL('./baseline/node_modules/onnxruntime-web/dist/', import.meta.url).href;
  // onnxruntime-web's own worker threads (on a cross-origin isolated page).
  env.backends.onnx.wasm.numThreads = threads;
  return lib;
}

/** Sequential long-form transcription with transformers.js's own seek loop, as ours and
 * openai's decode. Its pipeline cannot do that on its own: without `chunk_length_s` it cuts
 * the audio at 30 s, and its feature extractor caps the frames at `nb_max_frames` (3000)
 * even when given `max_length`, so `generate`'s seek loop never sees a second window. The
 * chunked pipeline decodes overlapping windows merged by a different algorithm. So this
 * lifts the cap for one call, hands the whole clip's features to
 * `generate({ return_timestamps })` and decodes the ids. Returns the text. */
export async function transcribeLong(asr, audio) {
  const fe = asr.processor.feature_extractor;
  const cap = fe.config.nb_max_frames;
  let input_features;
  try {
    fe.config.nb_max_frames = Math.max(cap, Math.ceil(audio.length / fe.config.hop_length));
    ({ input_features } = await fe(audio, { max_length: Math.max(audio.length, fe.config.n_samples) }));
  } finally {
    fe.config.nb_max_frames = cap;
  }
  const ids = await asr.model.generate({ inputs: input_features, return_timestamps: true });
  const text = asr.tokenizer.decode(ids[0].tolist().map(Number), { skip_special_tokens: true });
  return text.replace(/<\|[^|]*\|>/g, '').replace(/\s+/g, ' ').trim();
}
