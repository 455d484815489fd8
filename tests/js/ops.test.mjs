// The JS surface of the built package (pkg/), in Node: results, errors with codes, and
// that the module keeps working after every error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { init, Tensor, ops, cpuPath, version, chooseBuild } from '../../pkg/index.js';

await init(await readFile(new URL('../../pkg/wasm/ipfs_accelerate_bg.wasm', import.meta.url)));

const t = (data, dims) => new Tensor(new Float32Array(data), dims);
const close = (got, want, tol = 1e-5) =>
  assert.ok(got.length === want.length && got.every((g, i) => g === want[i] || Math.abs(g - want[i]) <= tol), `${[...got]} != ${want}`);

test('the Node build runs the simd128 kernels', () => {
  assert.equal(cpuPath(), 'simd128');
  assert.match(version(), /^\d+\.\d+\.\d+/);
});

test('the loader picks a wasm build by what the engine validates', () => {
  // Node 20's V8 ships relaxed SIMD behind a flag, so it validates only simd128.
  assert.equal(chooseBuild(), 'simd128');
  assert.equal(chooseBuild('relaxed'), 'relaxed');
  assert.throws(() => chooseBuild('avx512'), (e) => e.code === 'invalid_argument' && e.message.includes('avx512'));
});

test('matmul computes a product by hand', () => {
  const c = ops.matmul(t([1, 2, 3, 4, 5, 6], [2, 3]), t([1, 0, 0, 1, 1, 1], [3, 2]));
  assert.deepEqual([...c.dims], [2, 2]);
  close(c.toFloat32Array(), [4, 5, 10, 11]);
  const ct = ops.matmul(t([1, 2, 3, 4, 5, 6], [2, 3]), t([1, 0, 1, 0, 1, 1], [2, 3]), { transposeB: true });
  close(ct.toFloat32Array(), [4, 5, 10, 11]);
});

test('a shape mismatch throws a coded Error naming op and shapes, and the next call works', () => {
  const a = t([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = t(new Array(20).fill(1), [4, 5]);
  assert.throws(
    () => ops.matmul(a, b),
    (e) =>
      e instanceof Error &&
      e.code === 'shape_mismatch' &&
      e.message.includes('matmul') &&
      e.message.includes('[2, 3]') &&
      e.message.includes('[4, 5]'),
  );
  const ok = ops.matmul(a, t([1, 1, 1], [3, 1]));
  close(ok.toFloat32Array(), [6, 15]);
});

test('bad arguments are coded errors, never traps', () => {
  const a = t([1, 2, 3, 4], [2, 2]);
  const cases = [
    [() => new Tensor(new Float32Array(3), [2, 2]), 'shape_mismatch'],
    [() => new Tensor(new Float32Array(4), [2, -2]), 'invalid_argument'],
    [() => new Tensor('nope', [1]), 'invalid_argument'],
    // Element counts that wrap wasm32's usize, or pass what one tensor may hold.
    [() => new Tensor(new Float32Array(0), [65536, 65536]), 'invalid_argument'],
    [() => ops.add(new Tensor(new Float32Array(32768), [32768, 1]), new Tensor(new Float32Array(65536), [1, 65536])), 'invalid_argument'],
    [() => ops.reshape(a, [65536, 65536, 0]), 'invalid_argument'],
    [() => ops.reshape(a, [3]), 'shape_mismatch'],
    [() => ops.permute(a, [0, 0]), 'shape_mismatch'],
    [() => ops.slice(a, 0, 1, 5), 'shape_mismatch'],
    [() => ops.gather(a, Tensor.fromInt32([0, 7], [2])), 'invalid_argument'],
    [() => ops.gather(a, a), 'dtype_mismatch'],
    [() => ops.add(a, [1, 2]), 'invalid_argument'],
    [() => ops.concat('x', 0), 'invalid_argument'],
    [() => ops.conv1d(t(new Array(8).fill(1), [1, 2, 4]), t(new Array(6).fill(1), [1, 3, 2])), 'shape_mismatch'],
    [() => ops.attention(a, a, a), 'shape_mismatch'],
    [() => ops.layerNorm(a, t([1, 1, 1], [3]), t([0, 0, 0], [3])), 'shape_mismatch'],
  ];
  for (const [f, code] of cases) {
    assert.throws(f, (e) => e instanceof Error && e.code === code, `expected ${code} from ${f}`);
  }
  close(ops.relu(t([-1, 2], [2])).toFloat32Array(), [0, 2]);
});

test('an op under the element limit whose memory wasm32 cannot hold is out_of_memory, and ops go on', () => {
  // 16384 × 30000 = 491,520,000 elements, under the limit of 536,870,911: the 1.97 GB
  // result may be had, but not it and the two broadcast index maps as well (over 4 GiB).
  const a = new Tensor(new Float32Array(16384), [16384, 1]);
  const b = new Tensor(new Float32Array(30000), [1, 30000]);
  assert.throws(
    () => ops.add(a, b),
    (e) => e.code === 'out_of_memory' && /could not be allocated/.test(e.message),
  );
  close(ops.add(t([1, 2], [2, 1]), t([10, 20], [1, 2])).toFloat32Array(), [11, 21, 12, 22]);
});

test('a Float32Array larger than wasm memory can hold is out_of_memory, not a trap', () => {
  // 4.4 GB that the engine zero-fills lazily, so the test touches almost none of it.
  const huge = new Float32Array(1.1e9);
  assert.throws(
    () => new Tensor(huge, [1.1e9]),
    (e) => e.code === 'out_of_memory' && /Tensor data/.test(e.message),
  );
  assert.throws(
    () => Tensor.fromInt32(new Int32Array(1.1e9), [1.1e9]),
    (e) => e.code === 'out_of_memory',
  );
  close(ops.relu(t([-1, 2], [2])).toFloat32Array(), [0, 2]);
});

test('optional and array tensor arguments stay usable after the call', () => {
  const x = t([1, 2, 3, 4], [2, 2]);
  const mask = t([0, -Infinity], [1, 2]);
  close(ops.softmax(x, mask).toFloat32Array(), [1, 0, 1, 0]);
  close(mask.toFloat32Array(), [0, -Infinity]);
  const c = ops.concat([x, x], 0);
  assert.deepEqual([...c.dims], [4, 2]);
  close(x.toFloat32Array(), [1, 2, 3, 4]);
  const q = t([1, 0, 0, 1], [1, 1, 2, 2]);
  const keyMask = t([1, 0], [1, 2]);
  const att = ops.attention(q, q, t([5, 6, 7, 8], [1, 1, 2, 2]), { keyMask });
  close(att.toFloat32Array(), [5, 6, 5, 6]);
  close(keyMask.toFloat32Array(), [1, 0]);
});

test('the remaining ops agree with hand-computed values', () => {
  const x = t([0, 1, -1, 2], [2, 2]);
  close(ops.gelu(x).toFloat32Array(), [0, 0.8413447, -0.1586553, 1.9544997], 1e-5);
  close(ops.layerNorm(t([1, 3], [1, 2]), t([1, 1], [2]), t([0, 0], [2]), 0).toFloat32Array(), [-1, 1]);
  close(ops.mean(x, [1], false).toFloat32Array(), [0.5, 0.5]);
  close(ops.sum(x, [0], true).toFloat32Array(), [-1, 3]);
  close(ops.transpose(x).toFloat32Array(), [0, -1, 1, 2]);
  const emb = ops.gather(t([1, 2, 3, 4, 5, 6], [3, 2]), Tensor.fromInt32([2, 0], [2]));
  close(emb.toFloat32Array(), [5, 6, 1, 2]);
  const conv = ops.conv1d(t([1, 2, 3, 4], [1, 1, 4]), t([1, 1], [1, 1, 2]), t([10], [1]), { stride: 2 });
  close(conv.toFloat32Array(), [13, 17]);
  const convArr = ops.conv1d(t([1, 2, 3, 4], [1, 1, 4]), t([1, 1], [1, 1, 2]), undefined, { stride: [2] });
  close(convArr.toFloat32Array(), [3, 7]);
  assert.throws(
    () => ops.conv1d(t([1, 2, 3, 4], [1, 1, 4]), t([1, 1], [1, 1, 2]), undefined, { stride: -1 }),
    (e) => e.code === 'invalid_argument' && e.message.includes('stride'),
  );
});

test('a freed Tensor is a disposed error wherever it is used, and the next call works', () => {
  const x = t([1, 2, 3, 4], [2, 2]);
  const alive = t([1, 1], [2]);
  x.free();
  for (const f of [() => x.toFloat32Array(), () => x.dims, () => x.size, () => x.clone(), () => ops.relu(x), () => ops.add(alive, x)]) {
    assert.throws(f, (e) => e instanceof Error && e.code === 'disposed' && /freed/.test(e.message), `disposed from ${f}`);
  }
  x.free(); // freeing twice is harmless
  close(ops.relu(alive).toFloat32Array(), [1, 1]);
});

