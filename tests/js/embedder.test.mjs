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
