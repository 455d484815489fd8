// TextEmbedder through the built package in Node, against a real HTTP server started
// here: loading with progress, and every bad input giving a coded Error after which the
// next call works. Model variants (truncated, corrupted, unknown type) are made in a
// temporary directory from the real files in models/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, symlink, mkdir, rm, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, TextEmbedder, WeightStore } from '../../pkg/index.js';
import { rejectsWith } from './coded.mjs';
import { startServer } from '../../scripts/serve.mjs';

const MODEL = resolve(fileURLToPath(new URL('../../models/all-MiniLM-L6-v2', import.meta.url)));
const FIXTURE = JSON.parse(await readFile(new URL('../fixtures/minilm/embeddings.json', import.meta.url), 'utf8'));
const SMALL = ['config.json', 'tokenizer.json', 'sentence_bert_config.json', 'modules.json', '1_Pooling'];

let server, base, dir;

async function variant(name, weights, config) {
  const d = join(dir, name);
  await mkdir(d);
  for (const f of SMALL) await symlink(join(MODEL, f), join(d, f));
  if (config) {
    await rm(join(d, 'config.json'));
    await writeFile(join(d, 'config.json'), config);
  }
  if (weights) await writeFile(join(d, 'model.safetensors'), weights);
  else await symlink(join(MODEL, 'model.safetensors'), join(d, 'model.safetensors'));
}

before(async () => {
  await init(await readFile(new URL('../../pkg/wasm/ipfs_accelerate_bg.wasm', import.meta.url)));
  dir = await mkdtemp(join(tmpdir(), 'ipfs-accelerate-models-'));
  const real = await readFile(join(MODEL, 'model.safetensors'));
  await variant('good');
  await variant('truncated', real.subarray(0, real.length >> 1));
  // Same-length edit of the header: one tensor's shape no longer matches its bytes.
  const headerLen = Number(real.readBigUInt64LE(0));
  const header = real.subarray(8, 8 + headerLen).toString('utf8');
  const bad = header.replace('"embeddings.LayerNorm.bias":{"dtype":"F32","shape":[384]', '"embeddings.LayerNorm.bias":{"dtype":"F32","shape":[385]');
  assert.notEqual(bad, header, 'the header edit applies');
  await variant('corrupted', Buffer.concat([real.subarray(0, 8), Buffer.from(bad), real.subarray(8 + headerLen)]));
  const cfg = JSON.parse(await readFile(join(MODEL, 'config.json'), 'utf8'));
  await variant('gpt2', null, JSON.stringify({ ...cfg, model_type: 'gpt2' }));
  // A hub-layout tree (`{owner}/{name}/resolve/{revision}/`) over the good copy, at two
  // revisions, as the Hugging Face hub serves files.
  for (const rev of ['main', 'v1.0']) {
    await mkdir(join(dir, 'hub/sentence-transformers/all-MiniLM-L6-v2/resolve'), { recursive: true });
    await symlink(join(dir, 'good'), join(dir, 'hub/sentence-transformers/all-MiniLM-L6-v2/resolve', rev));
  }
  ({ server, url: base } = await startServer({ mounts: [['/', dir]] }));
});

after(async () => {
  server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('loads with byte progress and embeds like the float64 reference', async () => {
  const seen = [];
  const e = await TextEmbedder.load(`${base}good/`, { onProgress: (p) => seen.push(p) });
  assert.equal(e.dims, 384);
  assert.equal(e.backend, 'wasm');
  assert.equal(e.maxTokens, 256);
  assert.equal(e.pooling, 'mean');
  const last = seen.filter((p) => p.file === 'model.safetensors').at(-1);
  assert.ok(last.total > 90e6 && last.loaded === last.total, JSON.stringify(last));
  const [v] = await e.embed([FIXTURE.cases[0].text]);
  const want = FIXTURE.cases[0].embedding;
  const maxAbs = Math.max(...want.map((w, i) => Math.abs(w - v[i])));
  assert.ok(maxAbs <= 1e-4, `max |diff| ${maxAbs}`);
  e.dispose();
  await rejectsWith(e.embed(['x']), 'disposed', 'TextEmbedder');
});

// The dtype option through the package: what ran (`dtype`), the bytes the weights hold
// (the f32 file freed after a quantized load: q8 at most 30 MB, q4 20 MB, as issue 27
// asks), q8 within cosine 0.999 of the float64 reference (q4's accuracy is the
// wasm-bindgen suite's), and a dtype that is not one a coded error.
test('dtype: q8 and q4 loads hold their quantized bytes, q8 embeds like the reference', async () => {
  const cosine = (a, b) => {
    let d = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) [d, na, nb] = [d + a[i] * b[i], na + a[i] * a[i], nb + b[i] * b[i]];
    return d / Math.sqrt(na * nb);
  };
  const f32 = await TextEmbedder.load(`${base}good/`);
  assert.equal(f32.dtype, 'f32');
  assert.ok(f32.weightBytes > 90e6, `f32 weights hold ${f32.weightBytes} bytes`);
  f32.dispose();
  for (const [dtype, most] of [['q8', 30e6], ['q4', 20e6]]) {
    const e = await TextEmbedder.load(`${base}good/`, { dtype });
    assert.equal(e.dtype, dtype);
    assert.ok(e.weightBytes <= most, `${dtype} weights hold ${e.weightBytes} bytes`);
    if (dtype === 'q8') {
      const [v] = await e.embed([FIXTURE.cases[0].text]);
      const c = cosine(v, FIXTURE.cases[0].embedding);
      assert.ok(c >= 0.999, `q8 cosine ${c}`);
    }
    console.log(`dtype: ${dtype} weights hold ${e.weightBytes} bytes`);
    e.dispose();
  }
  await rejectsWith(TextEmbedder.load(`${base}good/`, { dtype: 'q5' }), 'invalid_argument', 'q5');
});

test('bad model sources fail with coded errors, and the next load works', async () => {
  await rejectsWith(TextEmbedder.load(`${base}nope/`), 'fetch_failed', `${base}nope/config.json`, '404');
  await rejectsWith(TextEmbedder.load('http://127.0.0.1:9/x/'), 'fetch_failed', 'http://127.0.0.1:9/x/config.json');
  await rejectsWith(TextEmbedder.load(`${base}truncated/`), 'invalid_weights');
  await rejectsWith(TextEmbedder.load(`${base}corrupted/`), 'invalid_weights', 'embeddings.LayerNorm.bias');
  await rejectsWith(TextEmbedder.load(`${base}gpt2/`), 'unsupported_model', 'gpt2');
  await rejectsWith(TextEmbedder.load(42), 'invalid_argument', 'baseUrl');
  await rejectsWith(TextEmbedder.load(`${base}good/`, { backend: 'tpu' }), 'invalid_argument', 'tpu');
  await rejectsWith(TextEmbedder.load(`${base}good/`, { backend: 'webgpu' }), 'backend_unavailable', 'webgpu');
  const e = await TextEmbedder.load(`${base}good/`);
  assert.equal((await e.embed(['still works'])).length, 1);
  e.free();
});

test('hf: sources load from the hub layout at a revision; bad ones are coded errors', async () => {
  const hubUrl = `${base}hub`;
  const byUrl = await TextEmbedder.load(`${base}good/`);
  const [want] = await byUrl.embed([FIXTURE.cases[1].text]);
  byUrl.dispose();
  for (const source of ['hf:sentence-transformers/all-MiniLM-L6-v2', 'hf:sentence-transformers/all-MiniLM-L6-v2@v1.0']) {
    const seen = [];
    const e = await TextEmbedder.load(source, { hubUrl, onProgress: (p) => seen.push(p.file) });
    const [v] = await e.embed([FIXTURE.cases[1].text]);
    assert.deepEqual(Array.from(v), Array.from(want), `${source} embeds as the same model by URL`);
    assert.ok(seen.includes('model.safetensors'));
    e.dispose();
  }
  await rejectsWith(
    TextEmbedder.load('hf:sentence-transformers/all-MiniLM-L6-v2@nope', { hubUrl }),
    'fetch_failed',
    `${hubUrl}/sentence-transformers/all-MiniLM-L6-v2/resolve/nope/config.json`,
    '404',
  );
  await rejectsWith(TextEmbedder.load('hf:all-MiniLM-L6-v2', { hubUrl }), 'invalid_argument', "'hf:all-MiniLM-L6-v2'");
  await rejectsWith(TextEmbedder.load('hf:a/b@../c', { hubUrl }), 'invalid_argument', 'revision');
  await rejectsWith(TextEmbedder.load('hf:a/b', { hubUrl: 'hub.example' }), 'invalid_argument', 'hubUrl');
  const e = await TextEmbedder.load('hf:sentence-transformers/all-MiniLM-L6-v2', { hubUrl });
  assert.equal(e.dims, 384, 'the next load works');
  e.dispose();
});

test('bad texts fail with coded errors, and the next embed works', async () => {
  const e = await TextEmbedder.load(`${base}good/`, { truncation: 'error' });
  await rejectsWith(e.embed(['fine', 42]), 'invalid_argument', 'texts[1]', 'number');
  await rejectsWith(e.embed(['fine', null]), 'invalid_argument', 'texts[1]', 'null');
  await rejectsWith(e.embed('not an array'), 'invalid_argument', 'array');
  const long = FIXTURE.cases.find((c) => c.ids.length === 256).text;
  await rejectsWith(e.embed([long]), 'input_too_long', 'text 0', '256');
  const out = await e.embed(['fine', '']);
  assert.equal(out.length, 2);
  assert.ok(out.every((v) => v instanceof Float32Array && v.length === 384));
  e.free();
});

test('without IndexedDB (Node) loads go uncached, and store misuse is a coded error', async () => {
  const e = await TextEmbedder.load(`${base}good/`);
  assert.equal(e.loadedFrom, 'network');
  e.free();
  await rejectsWith(WeightStore.open(), 'store_failed', 'IndexedDB is not available');
  await rejectsWith(WeightStore.open({ budget: -1 }), 'invalid_argument', 'budget');
  await rejectsWith(WeightStore.open('big'), 'invalid_argument', 'options must be an object');
  await rejectsWith(TextEmbedder.load(`${base}good/`, { cache: 'yes' }), 'invalid_argument', 'cache');
  await rejectsWith(TextEmbedder.load(`${base}good/`, { store: 42 }), 'invalid_argument', 'store');
  // A store named explicitly must exist: no silent fallback to the network.
  await rejectsWith(TextEmbedder.load(`${base}good/`, { store: 'mine' }), 'store_failed', 'IndexedDB');
  const again = await TextEmbedder.load(`${base}good/`, { cache: false });
  assert.equal(again.loadedFrom, 'network');
  again.free();
});
