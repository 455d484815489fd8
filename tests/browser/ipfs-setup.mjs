// Shared by the IPFS browser tests: the model files the gateway imports under every
// profile (and the bad-input and other-model directories), and the in-page probes.
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODELS, MODEL } from './store-setup.mjs';

export const DIR = `${MODELS}/${MODEL}`;
// The files MiniLM's loader asks for (bert.rs FILES) that the model has.
export const FILES = ['config.json', 'tokenizer.json', 'model.safetensors', '1_Pooling/config.json', 'sentence_bert_config.json', 'modules.json'];
export const WEIGHTS_SIZE = statSync(`${DIR}/model.safetensors`).size;
export const PROFILES = {
  'unixfs-v1-2025': { profile: 'unixfs-v1-2025' },
  'unixfs-v0-2015': { profile: 'unixfs-v0-2015' },
  default: {},
  trickle: { layout: 'trickle' },
  hamt: { shardSplitThresholdBytes: 1 },
};
// The bad-input directories: MiniLM without its config.json. And the other model classes.
export const EXTRA = {
  noconfig: { profile: 'unixfs-v1-2025', only: FILES.filter((f) => f !== 'config.json') },
  dinov2: {
    profile: 'unixfs-v1-2025',
    dir: `${MODELS}/dinov2-small`,
    files: ['config.json', 'model.safetensors', 'preprocessor_config.json', 'saliency_head_config.json', 'saliency_head.safetensors'],
  },
  whisper: {
    profile: 'unixfs-v1-2025',
    dir: `${MODELS}/whisper-tiny.en`,
    files: ['config.json', 'model.safetensors', 'tokenizer.json', 'generation_config.json', 'preprocessor_config.json'],
  },
};
export const HELLO = readFileSync(new URL('../fixtures/whisper/audio/hello.wav', import.meta.url)).toString('base64');
export const TEXTS = ['models by content', 'a second, longer sentence to embed through the gateway'];

/** In the page: loads `source` with `opts` (plus gateways) and embeds TEXTS; errors come
 * back as data, with what onProgress said of failing gateways. */
export function embedInPage({ source, opts, texts }) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    const failures = [];
    let read = 0;
    const onProgress = (p) => {
      if (p.gateway) failures.push({ gateway: p.gateway, error: p.error, reason: p.reason });
      else if (p.file === 'model.safetensors') read = Math.max(read, p.loaded);
    };
    try {
      const e = await m.TextEmbedder.load(source, { ...opts, onProgress });
      const out = await e.embed(texts);
      const r = { from: e.loadedFrom, vectors: out.map((v) => Array.from(v)), failures, read };
      e.dispose();
      return r;
    } catch (err) {
      return { code: err.code, message: err.message, failures, read };
    }
  })();
}

/** A copy of the safetensors file `bytes` with one more f32 tensor `name` of `shape` at the
 * end of its data (the header rewritten, every other tensor's bytes unchanged). */
export function withExtraTensor(bytes, name, shape) {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const data = bytes.subarray(8 + n);
  const extraBytes = shape.reduce((a, b) => a * b, 4);
  header[name] = { dtype: 'F32', shape, data_offsets: [data.length, data.length + extraBytes] };
  let json = Buffer.from(JSON.stringify(header));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, ' ')]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const extra = Buffer.alloc(extraBytes);
  for (let i = 0; i < extraBytes / 4; i++) extra.writeFloatLE(((i % 13) - 6) / 7, i * 4);
  return { bytes: Buffer.concat([len, json, data, extra]), extraBytes };
}

/** In the page: loads each of `sources` ([name, source]) in turn into one session with `opts`,
 * recording how much wasm memory each load added and the session's stats after it; then
 * embeds a text with every model. */
export function loadsInPage({ sources, opts }) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    const session = m.Session.create({ budget: 0 });
    const steps = [];
    const models = [];
    for (const [name, source] of sources) {
      const before = m.memoryBytes();
      const e = await m.TextEmbedder.load(source, { ...opts, session, backend: 'wasm' });
      steps.push({ name, grew: m.memoryBytes() - before, stats: session.stats(), from: e.loadedFrom });
      models.push(e);
    }
    const vectors = [];
    for (const e of models) vectors.push(Array.from((await e.embed(['one copy of each weight']))[0]));
    models.forEach((e) => e.dispose());
    return { steps, vectors };
  })();
}

/** Serves, under `/headed/` of the suite's model server (and again under `/headed/again/`,
 * a second source of the same bytes), MiniLM with one extra tensor `head.weight [2, 384]`
 * in its weights file (`withExtraTensor`); until `s.models.answer` is reset. */
export function serveHeaded(s) {
  const headed = withExtraTensor(readFileSync(`${DIR}/model.safetensors`), 'head.weight', [2, 384]);
  s.models.answer = (req, res, path) => {
    if (!path.startsWith('/headed/')) return false;
    const name = path.slice('/headed/'.length).replace(/^again\//, '');
    const body = name === 'model.safetensors' ? headed.bytes : readFileSync(join(DIR, name));
    res.writeHead(200, { 'Content-Length': String(body.length) });
    res.end(body);
    return true;
  };
  return headed;
}
