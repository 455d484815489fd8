// Loads and embeds under the caller's control, through the built package in Node against
// a real HTTP server that a test can make lie or stall: a Content-Length no wasm32 buffer
// can hold, a body that stops arriving (the stall timeout), an AbortSignal for load and
// embed, a long embed that lets timers run between batches, and freed objects. After each
// failure the next load and embed work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { init, Session, TextEmbedder, Tensor, ops } from '../../pkg/index.js';
import { rejectsWith } from './coded.mjs';
import { startServer, DEFAULT_MOUNTS } from '../../scripts/serve.mjs';

const MODEL_DIR = fileURLToPath(new URL('../../models/all-MiniLM-L6-v2/', import.meta.url));
const FIXTURE = JSON.parse(await readFile(new URL('../fixtures/minilm/embeddings.json', import.meta.url), 'utf8'));

/** How the server answers `model.safetensors` under /lie/: 'huge' (a 3 GiB
 * Content-Length), 'stall' (the first 1 MB, then nothing), else the real file. */
let mode = null;
let stalled = [];
let server, base;

before(async () => {
  await init(await readFile(new URL('../../pkg/wasm/ipfs_accelerate_bg.wasm', import.meta.url)));
  const size = (await stat(`${MODEL_DIR}model.safetensors`)).size;
  const respond = (req, res, path) => {
    // Everything else under /lie/ is the real model, served by the mount below.
    if (path !== '/lie/model.safetensors' || !mode) return false;
    if (mode === 'huge') {
      res.writeHead(200, { 'Content-Length': String(3 * 2 ** 30) });
      res.write(Buffer.alloc(1024));
      stalled.push(res);
      return true;
    }
    // 'stall': part of the body, then silence with the connection held open.
    res.writeHead(200, { 'Content-Length': size });
    const s = createReadStream(`${MODEL_DIR}model.safetensors`, { end: (1 << 20) - 1 });
    s.on('data', (c) => res.write(c));
    stalled.push(res);
    return true;
  };
  const mounts = [['/lie/', MODEL_DIR.slice(0, -1)], ...DEFAULT_MOUNTS];
  ({ server, url: base } = await startServer({ mounts, hooks: { respond } }));
});

after(() => {
  for (const r of stalled) r.destroy();
  server?.closeAllConnections();
  server?.close();
});

const good = () => `${base}models/all-MiniLM-L6-v2/`;
const lying = () => `${base}lie/`;

/** The module still works: a reference embedding within 1e-4 of the float64 fixture, and an op. */
async function stillWorks() {
  const e = await TextEmbedder.load(good());
  const [v] = await e.embed([FIXTURE.cases[0].text]);
  const want = FIXTURE.cases[0].embedding;
  assert.ok(Math.max(...want.map((w, i) => Math.abs(w - v[i]))) <= 1e-4, 'the reference embedding');
  e.free();
  const s = ops.add(new Tensor(new Float32Array([1, 2]), [2]), new Tensor(new Float32Array([3, 4]), [2]));
  assert.deepEqual(Array.from(s.toFloat32Array()), [4, 6]);
}

test('a Content-Length over what wasm32 can hold is out_of_memory at once, not a trap', async () => {
  mode = 'huge';
  await rejectsWith(TextEmbedder.load(lying()), 'out_of_memory', 'model.safetensors', '3221225472 bytes');
  mode = null;
  await stillWorks();
});

test('a body that stops arriving fails after stallTimeoutMs with fetch_failed', async () => {
  mode = 'stall';
  await rejectsWith(
    TextEmbedder.load(lying(), { stallTimeoutMs: 300 }),
    'fetch_failed',
    'model.safetensors',
    'no bytes arrived for 300 ms',
  );
  await rejectsWith(TextEmbedder.load(good(), { stallTimeoutMs: -1 }), 'invalid_argument', 'stallTimeoutMs');
  mode = null;
  await stillWorks();
});

test('an AbortSignal ends a stalled load with aborted; an aborted signal stops it before it starts', async () => {
  mode = 'stall';
  const c = new AbortController();
  const p = TextEmbedder.load(lying(), { signal: c.signal, stallTimeoutMs: 0 });
  setTimeout(() => c.abort(new Error('the user left')), 200);
  await rejectsWith(p, 'aborted', 'TextEmbedder.load', 'the user left');
  await rejectsWith(TextEmbedder.load(good(), { signal: AbortSignal.abort() }), 'aborted');
  await rejectsWith(TextEmbedder.load(good(), { signal: 'stop' }), 'invalid_argument', 'signal');
  mode = null;
  await stillWorks();
});

test('embed yields to the event loop between batches, and its signal stops it between them', async () => {
  const e = await TextEmbedder.load(good());
  const texts = Array.from({ length: 24 }, (_, i) => `text number ${i} of a long call`);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const p = e.embed(texts);
  let settled = false;
  p.then(() => (settled = true));
  await Promise.resolve();
  assert.equal(settled, false, 'the promise is not settled when embed returns');
  const out = await p;
  clearInterval(timer);
  assert.equal(out.length, 24);
  // Three batches of 8: the timer ran in the two gaps at least.
  assert.ok(ticks >= 2, `timer ticks during the call: ${ticks}`);
  const c = new AbortController();
  const q = e.embed(texts, { signal: c.signal });
  c.abort();
  await rejectsWith(q, 'aborted', 'embed');
  await rejectsWith(e.embed(texts, { signal: AbortSignal.abort() }), 'aborted');
  await rejectsWith(e.embed(texts, { signal: 1 }), 'invalid_argument', 'signal');
  assert.equal((await e.embed(['after the abort'])).length, 1);
  e.free();
  await stillWorks();
});

test('a freed TextEmbedder is disposed wherever it is used, and a second free() does nothing', async () => {
  const e = await TextEmbedder.load(good());
  e.free();
  assert.throws(() => e.embed(['x']), (err) => err.code === 'disposed' && /TextEmbedder\.embed/.test(err.message));
  assert.throws(() => e.dims, (err) => err.code === 'disposed');
  e.free();
  await stillWorks();
});

test('load options are checked once: an unknown option or a wrong type is invalid_argument naming it', async () => {
  await rejectsWith(TextEmbedder.load(good(), { bakend: 'wasm' }), 'invalid_argument', "unknown option 'bakend'", 'backend');
  await rejectsWith(TextEmbedder.load(good(), { normalize: 'yes' }), 'invalid_argument', 'option normalize', 'boolean');
  await rejectsWith(TextEmbedder.load(good(), { stallTimeoutMs: 'soon' }), 'invalid_argument', 'option stallTimeoutMs');
  await rejectsWith(TextEmbedder.load(good(), { onProgress: 5 }), 'invalid_argument', 'onProgress');
  await rejectsWith(TextEmbedder.load(good(), { pooling: 'max' }), 'invalid_argument', 'max');
  await rejectsWith(TextEmbedder.load(good(), 'wasm'), 'invalid_argument', 'options must be an object');
  await rejectsWith(TextEmbedder.load(good(), { worker: 'yes' }), 'invalid_argument', 'option worker', 'boolean');
  await rejectsWith(
    TextEmbedder.load(good(), { worker: true, session: Session.create() }),
    'invalid_argument',
    'option session',
    'worker: true',
  );
  await rejectsWith(TextEmbedder.load(good(), { session: {} }), 'invalid_argument', 'option session');
  await rejectsWith(async () => Session.create({ budjet: 1 }), 'invalid_argument', "unknown option 'budjet'");
  await rejectsWith(async () => Session.create({ budget: -1 }), 'invalid_argument', 'budget');
  // worker: false is the page, as without the option.
  const e = await TextEmbedder.load(good(), { worker: false, cache: false });
  assert.equal(e.dims, 384);
  e.free();
  await stillWorks();
});
