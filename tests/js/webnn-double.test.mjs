// The WebNN TEST DOUBLE (tests/webnn-double/) against the spec it is written from
// (tests/webnn-double/SPEC-NOTES.md): its errors (TypeError or InvalidStateError, at the
// step the spec says), the lifetime rules, and its arithmetic against values worked out
// here by hand or by plain loops (float32 results within 1e-6). The SDK's WebNN backend is
// tested against this double, so the double is tested first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installWebnnDouble } from '../webnn-double/index.js';
import { erf } from '../webnn-double/ops.js';

const g = { navigator: {} };
const double = installWebnnDouble(g);
const f32 = (shape) => ({ dataType: 'float32', shape });

/** Builds `make(builder)`'s outputs, runs them on `inputs` ({ name: [shape, values] }) and
 * reads every output back as a plain array. */
async function run(make, inputs = {}) {
  const ctx = await g.navigator.ml.createContext();
  const b = new g.MLGraphBuilder(ctx);
  const outs = make(b);
  const graph = await b.build(outs);
  const ins = {};
  for (const [name, [shape, values, dataType = 'float32']] of Object.entries(inputs)) {
    ins[name] = await ctx.createTensor({ dataType, shape, writable: true });
    ctx.writeTensor(ins[name], new (dataType === 'int32' ? Int32Array : Float32Array)(values));
  }
  const tensors = {};
  for (const [name, o] of Object.entries(outs)) tensors[name] = await ctx.createTensor({ dataType: o.dataType, shape: o.shape, readable: true });
  ctx.dispatch(graph, ins, tensors);
  const got = {};
  for (const [name, t] of Object.entries(tensors)) {
    const Kind = { float32: Float32Array, uint8: Uint8Array, int32: Int32Array }[t.dataType];
    got[name] = { shape: [...t.shape], data: Array.from(new Kind(await ctx.readTensor(t))) };
  }
  return got;
}

const close = (got, want, tol = 1e-6) => {
  assert.equal(got.length, want.length);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= tol * Math.max(1, Math.abs(want[i])), `[${i}] ${v} vs ${want[i]}`));
};

test('erf matches tabulated values', () => {
  for (const [x, want] of [[0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3.5, 0.9999992569016276], [-1.5, -0.9661051464753108]]) {
    assert.ok(Math.abs(erf(x) - want) < 1e-14, `erf(${x}) = ${erf(x)}`);
  }
});

test('matmul broadcasts batches; gemm transposes and adds c', async () => {
  const a = [1, 2, 3, 4, 5, 6]; // [1, 2, 3]
  const bv = [1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 2, 2]; // [2, 3, 2]
  const r = await run((b) => ({ m: b.matmul(b.input('a', f32([1, 2, 3])), b.input('b', f32([2, 3, 2]))) }), { a: [[1, 2, 3], a], b: [[2, 3, 2], bv] });
  assert.deepEqual(r.m.shape, [2, 2, 2]);
  // Plain loops: out[p][i][j] = sum_q a[i][q] * b[p][q][j].
  const want = [];
  for (let p = 0; p < 2; p++) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) want.push([0, 1, 2].reduce((s, q) => s + a[i * 3 + q] * bv[p * 6 + q * 2 + j], 0));
  close(r.m.data, want);
  const r2 = await run((b) => ({ y: b.gemm(b.input('a', f32([3, 2])), b.input('b', f32([2, 3])), { c: b.constant(f32([2]), new Float32Array([1, 2])), aTranspose: true, bTranspose: true, alpha: 2 }) }), {
    a: [[3, 2], [1, 4, 2, 5, 3, 6]],
    b: [[2, 3], [1, 0, 1, 0, 1, 1]],
  });
  // a' = [[1,2,3],[4,5,6]], b' = [[1,0],[0,1],[1,1]]: a'b' = [[4,5],[10,11]]; times 2, plus c per row.
  close(r2.y.data, [9, 12, 21, 24]);
});

test('gemm: c that does not broadcast to [M, N] is a TypeError', async () => {
  const ctx = await g.navigator.ml.createContext();
  const b = new g.MLGraphBuilder(ctx);
  assert.throws(() => b.gemm(b.input('a', f32([2, 3])), b.input('b', f32([3, 2])), { c: b.constant(f32([3]), new Float32Array(3)) }), TypeError);
  const y = b.gemm(b.input('x', f32([2, 3])), b.constant(f32([2, 3]), new Float32Array([1, 0, 1, 0, 1, 1])), { bTranspose: true, c: b.constant(f32([2]), new Float32Array([10, 20])), alpha: 2, beta: 0.5 });
  assert.deepEqual([...y.shape], [2, 2]);
});

test('element-wise ops, comparisons and where follow the spec', async () => {
  const r = await run(
    (b) => {
      const x = b.input('x', f32([2, 2]));
      const y = b.input('y', f32([2]));
      return { sum: b.add(x, y), less: b.lesser(x, y), pick: b.where(b.greater(x, y), x, y), gelu: b.gelu(x), mean: b.reduceMean(x, { axes: [1], keepDimensions: true }), same: b.reduceSum(x, { axes: [] }) };
    },
    { x: [[2, 2], [1, -2, 3, 0.5]], y: [[2], [2, 0]] },
  );
  close(r.sum.data, [3, -2, 5, 0.5]);
  assert.deepEqual(r.less, { shape: [2, 2], data: [1, 1, 0, 0] }); // uint8
  close(r.pick.data, [2, 0, 3, 0.5]);
  close(r.gelu.data, [1, -2, 3, 0.5].map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))));
  assert.deepEqual(r.mean.shape, [2, 1]);
  close(r.mean.data, [-0.5, 1.75]);
  close(r.same.data, [1, -2, 3, 0.5]); // axes: [] reduces nothing
});

test('layerNormalization defaults to axes [1..rank); softmax needs its axis', async () => {
  const x = [1, 2, 3, 4, 5, 6, 7, 9];
  const r = await run((b) => ({ all: b.layerNormalization(b.input('x', f32([2, 2, 2]))), last: b.layerNormalization(b.input('y', f32([2, 2, 2])), { axes: [2], epsilon: 0 }) }), { x: [[2, 2, 2], x], y: [[2, 2, 2], x] });
  const norm = (v, eps) => {
    const m = v.reduce((s, a) => s + a, 0) / v.length;
    const va = v.reduce((s, a) => s + (a - m) ** 2, 0) / v.length;
    return v.map((a) => (a - m) / Math.sqrt(va + eps));
  };
  close(r.all.data, [...norm(x.slice(0, 4), 1e-5), ...norm(x.slice(4), 1e-5)], 1e-5);
  close(r.last.data, [0, 1, 2, 3].flatMap((i) => norm(x.slice(2 * i, 2 * i + 2), 0)), 1e-5);
  const ctx = await g.navigator.ml.createContext();
  const b = new g.MLGraphBuilder(ctx);
  assert.throws(() => b.softmax(b.input('x', f32([2, 3]))), TypeError);
  assert.throws(() => b.softmax(b.input('y', f32([2, 3])), 2), TypeError);
});

test('transpose permutes the shape; slice with strides; gather clamps; concat; expand; cast', async () => {
  const x = [0, 1, 2, 3, 4, 5];
  const r = await run(
    (b) => {
      const i = b.input('x', f32([2, 3]));
      const idx = b.constant({ dataType: 'int32', shape: [3] }, new Int32Array([-1, 0, 7]));
      return {
        t: b.transpose(i),
        s: b.slice(i, [0, 0], [2, 3], { strides: [1, 2] }),
        gat: b.gather(i, idx, { axis: 1 }),
        cat: b.concat([i, i], 0),
        ex: b.expand(b.reshape(i, [2, 1, 3]), [2, 2, 3]),
        cast: b.cast(b.mul(i, b.constant('float32', -1.5)), 'int32'),
      };
    },
    { x: [[2, 3], x] },
  );
  assert.deepEqual(r.t, { shape: [3, 2], data: [0, 3, 1, 4, 2, 5] });
  assert.deepEqual(r.s, { shape: [2, 2], data: [0, 2, 3, 5] });
  assert.deepEqual(r.gat, { shape: [2, 3], data: [2, 0, 2, 5, 3, 5] });
  assert.deepEqual(r.cat.shape, [4, 3]);
  assert.deepEqual(r.ex.data, [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
  assert.deepEqual(r.cast.data, [0, -1, -3, -4, -6, -7]); // truncated toward zero
});

test('argMax and argMin give the first extreme index along the axis, as int32', async () => {
  const r = await run((b) => {
    const x = b.input('x', f32([2, 3]));
    return { max: b.argMax(x, 1), min: b.argMin(x, 0, { keepDimensions: true }) };
  }, { x: [[2, 3], [1, 5, 5, -1, 0, -3]] });
  assert.deepEqual(r.max, { shape: [2], data: [1, 1] }); // a tie takes the first
  assert.deepEqual(r.min, { shape: [1, 3], data: [1, 1, 1] });
  const ctx = await g.navigator.ml.createContext();
  const b = new g.MLGraphBuilder(ctx);
  assert.throws(() => b.argMax(b.input('x', f32([2])), 1), TypeError);
  assert.throws(() => b.argMax(b.input('y', f32([2])), 0, { outputDataType: 'float32' }), TypeError);
});

test('conv2d (groups, padding, strides, dilations, layouts) against plain loops', async () => {
  const [n, c, h, w, oc, k] = [1, 4, 5, 6, 2, 3];
  const xv = Array.from({ length: n * c * h * w }, (_, i) => Math.sin(i));
  const fv = Array.from({ length: oc * (c / 2) * k * k }, (_, i) => Math.cos(i));
  const opts = { groups: 2, padding: [1, 0, 2, 1], strides: [2, 1], dilations: [1, 2] };
  const r = await run((b) => ({ y: b.conv2d(b.input('x', f32([n, c, h, w])), b.constant(f32([oc, c / 2, k, k]), new Float32Array(fv)), { ...opts, bias: b.constant(f32([oc]), new Float32Array([0.5, -1])) }) }), { x: [[n, c, h, w], xv] });
  const oh = Math.floor((h - k + 1 + 0) / 2) + 1;
  const ow = Math.floor((w - (2 * (k - 1) + 1) + 3) / 1) + 1;
  assert.deepEqual(r.y.shape, [1, 2, oh, ow]);
  const want = [];
  for (let o = 0; o < oc; o++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let s = [0.5, -1][o];
        for (let ci = 0; ci < c / 2; ci++) {
          for (let p = 0; p < k; p++) {
            for (let q = 0; q < k; q++) {
              const [y, z] = [i * 2 + p - 1, j + q * 2 - 2];
              if (y >= 0 && y < h && z >= 0 && z < w) s += xv[((o * 2 + ci) * h + y) * w + z] * fv[((o * 2 + ci) * k + p) * k + q];
            }
          }
        }
        want.push(s);
      }
    }
  }
  close(r.y.data, want, 1e-5);
});

test('dequantizeLinear is blockwise; quantizeLinear rounds half to even and saturates', async () => {
  const r = await run((b) => {
    const q = b.constant({ dataType: 'int8', shape: [2, 4] }, new Int8Array([1, 2, 3, 4, -1, -2, -3, -4]));
    const s = b.constant(f32([2, 2]), new Float32Array([0.5, 2, 1, 10]));
    const z = b.constant({ dataType: 'int8', shape: [2, 2] }, new Int8Array([1, 0, 0, -4]));
    const x = b.constant(f32([1, 4]), new Float32Array([2.5, 3.5, -700, 0.25]));
    return { d: b.dequantizeLinear(q, s, z), q: b.cast(b.quantizeLinear(x, b.constant(f32([1, 1]), new Float32Array([1])), b.constant({ dataType: 'uint8', shape: [1, 1] }, new Uint8Array([0]))), 'float32') };
  });
  close(r.d.data, [0, 0.5, 6, 8, -1, -2, 10, 0]);
  close(r.q.data, [2, 4, 0, 0]);
});

test('building: the spec errors at the spec steps', async () => {
  const ctx = await g.navigator.ml.createContext();
  const b = new g.MLGraphBuilder(ctx);
  assert.throws(() => b.input('', f32([1])), TypeError);
  const x = b.input('x', f32([2, 2]));
  b.input('unused', f32([2]));
  assert.throws(() => b.input('x', f32([1])), TypeError, 'a duplicate input name');
  assert.throws(() => b.input('z', f32([0, 2])), TypeError, 'a zero dimension');
  assert.throws(() => b.constant(f32([2]), new Int32Array(2)), TypeError, 'a view of another type');
  assert.throws(() => b.constant(f32([2]), new Float32Array(3)), TypeError, 'a wrong byte length');
  b.constant(f32([2]), new Uint8Array(8)); // any Uint8Array of the right length
  assert.throws(() => b.matmul(b.reshape(x, [4]), x), TypeError, 'matmul of rank 1');
  assert.throws(() => b.add(x, b.constant({ dataType: 'int32', shape: [2] }, new Int32Array(2))), TypeError, 'no type promotion');
  assert.throws(() => b.transpose(x, { permutation: [0, 0] }), TypeError);
  assert.throws(() => b.slice(x, [1, 0], [2, 2]), TypeError);
  assert.throws(() => b.clamp(x, { minValue: 2, maxValue: 1 }), TypeError);
  const other = new g.MLGraphBuilder(ctx);
  assert.throws(() => other.relu(x), TypeError, 'an operand of another builder');
  await assert.rejects(b.build({}), TypeError);
  await assert.rejects(new g.MLGraphBuilder(ctx).build({ x: new g.MLGraphBuilder(ctx).input('x', f32([1])) }), TypeError);
  const b2 = new g.MLGraphBuilder(ctx);
  const i2 = b2.input('i', f32([1]));
  await assert.rejects(b2.build({ i: i2 }), TypeError, 'an output that is an input');
  const b3 = new g.MLGraphBuilder(ctx);
  const y = b3.relu(b3.input('x', f32([2])));
  b3.input('unused', f32([2]));
  const graph = await b3.build({ y });
  await assert.rejects(b3.build({ y }), (e) => e.name === 'InvalidStateError', 'a second build rejects');
  assert.throws(() => b3.relu(y), (e) => e.name === 'InvalidStateError', 'ops after build');
  // Only the inputs the outputs reach belong to the graph.
  const [tx, tu, ty] = await Promise.all([ctx.createTensor(f32([2])), ctx.createTensor(f32([2])), ctx.createTensor(f32([2]))]);
  assert.throws(() => ctx.dispatch(graph, { x: tx, unused: tu }, { y: ty }), TypeError);
  ctx.dispatch(graph, { x: tx }, { y: ty });
  assert.throws(() => ctx.dispatch(graph, { x: tx }, { y: tx }), TypeError, 'a tensor twice');
  const wrong = await ctx.createTensor(f32([3]));
  assert.throws(() => ctx.dispatch(graph, { x: wrong }, { y: ty }), TypeError, 'a wrong shape');
  const constant = await ctx.createConstantTensor(f32([2]), new Float32Array(2));
  assert.throws(() => ctx.dispatch(graph, { x: constant }, { y: ty }), TypeError, 'a constant tensor');
  assert.throws(() => ctx.writeTensor(tx, new Float32Array(2)), TypeError, 'not writable');
  await assert.rejects(ctx.readTensor(ty), TypeError, 'not readable');
});

test('loss: the lost promise, then ISE to create or build, TE to read a destroyed tensor; a pending read rejects ISE', async () => {
  const ctx = await g.navigator.ml.createContext();
  const b = new g.MLGraphBuilder(ctx);
  const y = b.relu(b.input('x', f32([2])));
  const graph = await b.build({ y });
  const t = await ctx.createTensor({ ...f32([2]), readable: true });
  const pending = ctx.readTensor(t);
  double.lose(ctx, 'gone');
  assert.deepEqual(await ctx.lost, { message: 'gone' });
  await assert.rejects(pending, (e) => e.name === 'InvalidStateError');
  await assert.rejects(ctx.createTensor(f32([2])), (e) => e.name === 'InvalidStateError');
  assert.throws(() => new g.MLGraphBuilder(ctx), (e) => e.name === 'InvalidStateError');
  assert.throws(() => ctx.dispatch(graph, {}, {}), (e) => e.name === 'InvalidStateError', 'the graph was destroyed');
  await assert.rejects(ctx.readTensor(t), TypeError);
});

test('test controls: createContext rejects; an unsupported op has no data types and its builder call throws', async () => {
  double.reject = 'NotSupportedError';
  await assert.rejects(g.navigator.ml.createContext(), (e) => e.name === 'NotSupportedError');
  double.reject = null;
  double.unsupported.add('gelu');
  const ctx = await g.navigator.ml.createContext();
  assert.deepEqual(ctx.opSupportLimits().gelu.input.dataTypes, []);
  assert.ok(ctx.opSupportLimits().relu.input.dataTypes.includes('float32'));
  const b = new g.MLGraphBuilder(ctx);
  assert.throws(() => b.gelu(b.input('x', f32([1]))), TypeError);
  double.unsupported.clear();
  assert.equal(ctx.accelerated, true);
});
