// detect() and recommend() through the built package in Node: the report's shape, probes
// that hang or throw (stubbed navigator APIs) reported with reasons within the time
// bound, and recommend's choice and its bad inputs.
import { test, after } from 'node:test';
import { readFile } from 'node:fs/promises';
import assert from 'node:assert/strict';
import { init, detect, recommend } from '../../pkg/index.js';

const hadNavigator = 'navigator' in globalThis;
const savedNavigator = globalThis.navigator;
after(() => {
  if (hadNavigator) Object.defineProperty(globalThis, 'navigator', { value: savedNavigator, configurable: true });
  else delete globalThis.navigator;
});

test('in Node: no WebGPU, no WebNN, SIMD without relaxed SIMD; recommend picks simd128 wasm', async () => {
  await init(await readFile(new URL('../../pkg/wasm/ipfs_accelerate_bg.wasm', import.meta.url)));
  const caps = await detect({ fresh: true });
  assert.equal(caps.webgpu.available, false);
  assert.match(caps.webgpu.reason, /navigator\.gpu is absent/);
  assert.equal(caps.webnn.present, false);
  assert.equal(caps.wasm.simd, true);
  assert.equal(caps.wasm.relaxedSimd, false, 'Node 20 has no relaxed SIMD without a flag');
  const rec = await recommend('text-embedding', { inputTokens: 158, batch: 8 });
  assert.deepEqual([rec.backend, rec.variant], ['wasm', 'simd128']);
  assert.equal(rec.reasons.length, 3);
  assert.match(rec.reasons[2], /8 input\(s\) of 158 tokens/);
});

test('a probe that hangs or throws is reported unavailable with its reason, within the bound', async () => {
  Object.defineProperty(globalThis, 'navigator', {
    configurable: true,
    value: {
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0',
      gpu: { requestAdapter: () => new Promise(() => {}) },
      ml: {
        createContext: ({ deviceType }) =>
          deviceType === 'cpu' ? Promise.reject(new Error('WebNN is not supported on this platform')) : new Promise(() => {}),
      },
      storage: { estimate: () => { throw new Error('blocked'); } },
      hardwareConcurrency: 2,
    },
  });
  const t0 = Date.now();
  const caps = await detect({ fresh: true, timeoutMs: 150 });
  assert.ok(Date.now() - t0 < 2000, 'bounded');
  assert.deepEqual(caps.browser, { engine: 'gecko', name: 'Firefox', version: '153.0', source: 'ua' });
  assert.equal(caps.webgpu.available, false);
  assert.match(caps.webgpu.reason, /requestAdapter did not answer within 150 ms/);
  assert.equal(caps.webnn.present, true);
  assert.match(caps.webnn.contexts.cpu.reason, /failed: WebNN is not supported on this platform/);
  assert.match(caps.webnn.contexts.accelerated.reason, /did not answer within 150 ms/);
  assert.equal(caps.storage.available, false);
  assert.match(caps.storage.reason, /estimate failed: blocked/);
  assert.equal(caps.hardwareConcurrency, 2);
  const rec = await recommend('text-embedding');
  assert.match(rec.reasons[0], /^webgpu: unavailable: navigator\.gpu\.requestAdapter did not answer/);
  assert.match(rec.reasons[1], /^webnn: navigator\.ml is present but no context can be created/);
  await detect({ fresh: true });
});

test('an accelerated WebNN context (the WebNN TEST DOUBLE) is detected and recommended', async () => {
  const { installWebnnDouble } = await import('../webnn-double/index.js');
  const n = { userAgent: 'Mozilla/5.0 Chrome/156.0.0.0 Safari/537.36', hardwareConcurrency: 2 };
  Object.defineProperty(globalThis, 'navigator', { configurable: true, value: n });
  const control = installWebnnDouble(globalThis);
  const caps = await detect({ fresh: true });
  assert.deepEqual(caps.webnn, {
    present: true,
    contexts: { accelerated: { available: true, accelerated: true }, cpu: { available: true, accelerated: false } },
  });
  assert.equal(control.counts.contexts, 2, 'one probe each');
  const rec = await recommend('image-embedding');
  assert.deepEqual([rec.backend, rec.variant], ['webnn', 'accelerated']);
  assert.match(rec.reasons[1], /^webnn: chosen: the browser gives an accelerated context/);
  control.reject = 'NotSupportedError';
  const refused = await detect({ fresh: true });
  assert.match(refused.webnn.contexts.accelerated.reason, /createContext rejected \(NotSupportedError\)/);
  assert.equal((await recommend('image-embedding')).backend, 'wasm');
  await detect({ fresh: true });
});

test('navigator getters that throw are reported with their reason, and auto falls back to wasm', async () => {
  const thrower = (name) => ({
    get() {
      throw new Error(`${name} blocked`);
    },
  });
  const n = { userAgent: 'Mozilla/5.0 Chrome/156.0.0.0 Safari/537.36', hardwareConcurrency: 2 };
  for (const name of ['gpu', 'ml', 'storage']) Object.defineProperty(n, name, thrower(name));
  Object.defineProperty(globalThis, 'navigator', { configurable: true, value: n });
  const caps = await detect({ fresh: true, timeoutMs: 150 });
  assert.equal(caps.webgpu.available, false);
  assert.equal(caps.webgpu.reason, 'reading navigator.gpu threw: gpu blocked');
  assert.equal(caps.webnn.present, false);
  assert.match(caps.webnn.contexts.cpu.reason, /reading navigator\.ml threw: ml blocked/);
  assert.match(caps.storage.reason, /reading navigator\.storage threw/);
  const rec = await recommend('text-embedding');
  assert.equal(rec.backend, 'wasm');
  assert.match(rec.reasons[0], /^webgpu: unavailable: reading navigator\.gpu threw/);
  await detect({ fresh: true });
});

test('bad recommend inputs are coded errors', async () => {
  const bad = async (p, code, part) =>
    assert.rejects(p, (e) => {
      assert.equal(e.code, code, e.message);
      assert.ok(e.message.includes(part), e.message);
      return true;
    });
  await bad(recommend('image-generation'), 'invalid_argument', "task 'image-generation'");
  await bad(recommend(42), 'invalid_argument', 'task must be a string');
  await bad(recommend('text-embedding', { batch: 0 }), 'invalid_argument', 'batch must be at least 1');
  await bad(recommend('text-embedding', { inputTokens: 1.5 }), 'invalid_argument', 'inputTokens');
  await bad(recommend('text-embedding', 'big'), 'invalid_argument', 'options must be an object');
  assert.equal((await recommend('text-embedding')).backend, 'wasm');
});
