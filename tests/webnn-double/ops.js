// WebNN TEST DOUBLE, part 2 of 3: every operator the double offers, as the spec
// (tests/webnn-double/SPEC-NOTES.md, from the editor's draft) defines it: the output
// descriptor with the validation that throws TypeError, and the computation, in float32
// storage with float64 accumulation. Never shipped; installed by tests only (index.js).
//
// A value is { dataType, shape, data } with `data` a typed array of the dataType's kind.
// An op is { out(inputs, params) -> descriptor (throws TypeError), run(values, params) ->
// value }.

export const ARRAYS = {
  float32: Float32Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  int8: Int8Array,
  uint8: Uint8Array,
};
const FLOATS = ['float32'];
const INTS = ['int32', 'uint32', 'int64', 'uint64', 'int8', 'uint8'];
const ANY = [...FLOATS, ...INTS];

export function typeError(msg) {
  return new TypeError(`WebNN test double: ${msg}`);
}

export const count = (shape) => shape.reduce((a, b) => a * b, 1);
const strides = (shape) => {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
};
const num = (x) => (typeof x === 'bigint' ? Number(x) : x);

/** A zeroed value of `dataType` and `shape`. */
export function alloc(dataType, shape) {
  return { dataType, shape, data: new ARRAYS[dataType](count(shape)) };
}

/** Stores the numbers `f(i)` (float64) into a new value, with the spec's cast. */
function fill(dataType, shape, f) {
  const v = alloc(dataType, shape);
  const n = v.data.length;
  for (let i = 0; i < n; i++) v.data[i] = castNumber(f(i), dataType);
  return v;
}

/** The spec's cast of a number to `dataType`: floats round to nearest; integers
 * truncate toward zero and wrap (NaN becomes 0). */
export function castNumber(x, dataType) {
  if (dataType === 'float32') return x;
  if (dataType === 'int64' || dataType === 'uint64') {
    const t = typeof x === 'bigint' ? x : BigInt(Number.isFinite(x) ? Math.trunc(x) : 0);
    return dataType === 'int64' ? BigInt.asIntN(64, t) : BigInt.asUintN(64, t);
  }
  return Number.isFinite(num(x)) ? Math.trunc(num(x)) : 0; // the typed array wraps
}

function checkType(op, name, operand, allowed) {
  if (!allowed.includes(operand.dataType)) throw typeError(`${op}: ${name} has dataType ${operand.dataType}, not one of ${allowed.join(', ')}`);
}

/** Bidirectional broadcasting of two shapes, or a TypeError naming `op`. */
export function broadcast(op, a, b) {
  const r = Math.max(a.length, b.length);
  const pa = [...new Array(r - a.length).fill(1), ...a];
  const pb = [...new Array(r - b.length).fill(1), ...b];
  return pa.map((x, i) => {
    if (x !== pb[i] && x !== 1 && pb[i] !== 1) throw typeError(`${op}: shapes [${a}] and [${b}] do not broadcast`);
    return Math.max(x, pb[i]);
  });
}

/** Unidirectional broadcasting of `from` to `to`, or a TypeError naming `op`. */
function broadcastTo(op, from, to) {
  if (from.length > to.length) throw typeError(`${op}: [${from}] has a higher rank than [${to}]`);
  const p = [...new Array(to.length - from.length).fill(1), ...from];
  p.forEach((x, i) => {
    if (x !== to[i] && x !== 1) throw typeError(`${op}: [${from}] does not broadcast to [${to}]`);
  });
  return to;
}

/** For each flat index of `out`, the flat index into a value of `shape` broadcast to it. */
function indexer(shape, out) {
  const pad = [...new Array(out.length - shape.length).fill(1), ...shape];
  // Fast paths (the same indices): the whole shape, a single element, or leading 1s
  // before the output's own trailing dimensions (a bias row).
  const n = count(pad);
  if (n === 1) return () => 0;
  const lead = pad.findIndex((d) => d !== 1);
  if (pad.slice(lead).every((d, i) => d === out[lead + i])) return lead === 0 ? (flat) => flat : (flat) => flat % n;
  const s = strides(pad).map((st, i) => (pad[i] === 1 ? 0 : st));
  const os = strides(out);
  return (flat) => {
    let at = 0;
    for (let d = 0; d < out.length; d++) {
      const q = Math.floor(flat / os[d]) % out[d];
      at += q * s[d];
    }
    return at;
  };
}

function axesOf(op, axes, rank) {
  if (new Set(axes).size !== axes.length) throw typeError(`${op}: axes [${axes}] repeat`);
  for (const a of axes) if (!Number.isInteger(a) || a < 0 || a >= rank) throw typeError(`${op}: axis ${a} outside rank ${rank}`);
  return axes;
}

// Element-wise binary ops and comparisons.
const BINARY = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b, t) => (FLOATS.includes(t) ? a / b : b === 0 ? 0 : Math.trunc(a / b)),
  max: (a, b) => Math.max(a, b),
  min: (a, b) => Math.min(a, b),
  pow: (a, b) => Math.pow(a, b),
};
const COMPARE = {
  equal: (a, b) => a === b,
  notEqual: (a, b) => a !== b,
  greater: (a, b) => a > b,
  greaterOrEqual: (a, b) => a >= b,
  lesser: (a, b) => a < b,
  lesserOrEqual: (a, b) => a <= b,
};

/** erf in float64 (Math has none): its Taylor series near 0, a continued fraction of
 * erfc beyond; both to about 1e-15. */
export function erf(x) {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const UNARY = {
  erf: [FLOATS, erf],
  exp: [FLOATS, Math.exp],
  sqrt: [FLOATS, Math.sqrt],
  reciprocal: [FLOATS, (x) => 1 / x],
  log: [FLOATS, Math.log],
  ceil: [FLOATS, Math.ceil],
  floor: [FLOATS, Math.floor],
  cos: [FLOATS, Math.cos],
  sin: [FLOATS, Math.sin],
  tanh: [FLOATS, Math.tanh],
  sigmoid: [FLOATS, (x) => 1 / (1 + Math.exp(-x))],
  gelu: [FLOATS, (x) => 0.5 * x * (1 + erf(x / Math.SQRT2))],
  relu: [['float32', 'int32', 'int64', 'int8'], (x) => Math.max(0, x)],
  abs: [['float32', 'int32', 'int64', 'int8'], Math.abs],
  neg: [['float32', 'int32', 'int64', 'int8'], (x) => -x],
  identity: [ANY, (x) => x],
};

const REDUCE = {
  reduceSum: [['float32', 'int32', 'uint32', 'int64', 'uint64'], 0, (acc, x) => acc + x, (acc) => acc],
  reduceMean: [FLOATS, 0, (acc, x) => acc + x, (acc, n) => acc / n],
  reduceMax: [ANY, -Infinity, Math.max, (acc) => acc],
  reduceMin: [ANY, Infinity, Math.min, (acc) => acc],
  reduceSumSquare: [['float32', 'int32', 'uint32', 'int64', 'uint64'], 0, (acc, x) => acc + x * x, (acc) => acc],
};

/** Every operator: name -> { out, run }. `ins` are operand descriptors ({dataType, shape}). */
export const OPS = {};

for (const [name, f] of Object.entries(BINARY)) {
  OPS[name] = {
    out([a, b]) {
      if (a.dataType !== b.dataType) throw typeError(`${name}: dataTypes ${a.dataType} and ${b.dataType} differ`);
      return { dataType: a.dataType, shape: broadcast(name, a.shape, b.shape) };
    },
    run([a, b], _, out) {
      const ia = indexer(a.shape, out.shape);
      const ib = indexer(b.shape, out.shape);
      return fill(out.dataType, out.shape, (i) => f(num(a.data[ia(i)]), num(b.data[ib(i)]), a.dataType));
    },
  };
}
for (const [name, f] of Object.entries(COMPARE)) {
  OPS[name] = {
    out([a, b]) {
      if (a.dataType !== b.dataType) throw typeError(`${name}: dataTypes ${a.dataType} and ${b.dataType} differ`);
      return { dataType: 'uint8', shape: broadcast(name, a.shape, b.shape) };
    },
    run([a, b], _, out) {
      const ia = indexer(a.shape, out.shape);
      const ib = indexer(b.shape, out.shape);
      return fill('uint8', out.shape, (i) => (f(num(a.data[ia(i)]), num(b.data[ib(i)])) ? 1 : 0));
    },
  };
}
for (const [name, [types, f]] of Object.entries(UNARY)) {
  OPS[name] = {
    out([x]) {
      checkType(name, 'input', x, types);
      return { dataType: x.dataType, shape: x.shape };
    },
    run([x], _, out) {
      return fill(out.dataType, out.shape, (i) => f(num(x.data[i])));
    },
  };
}
for (const [name, [types, init, step, end]] of Object.entries(REDUCE)) {
  OPS[name] = {
    out([x], { axes, keepDimensions = false } = {}) {
      checkType(name, 'input', x, types);
      const ax = axesOf(name, axes ?? x.shape.map((_, i) => i), x.shape.length);
      const shape = keepDimensions ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.includes(i));
      return { dataType: x.dataType, shape };
    },
    run([x], { axes }, out) {
      const ax = axes ?? x.shape.map((_, i) => i);
      const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
      const acc = new Float64Array(count(kept)).fill(init);
      const n = new Float64Array(acc.length);
      // Each element of x into its reduced slot (the reduced axes have size 1 in `kept`).
      const xs = strides(x.shape);
      const ks = strides(kept);
      for (let i = 0; i < x.data.length; i++) {
        let k = 0;
        for (let d = 0; d < x.shape.length; d++) if (kept[d] !== 1) k += (Math.floor(i / xs[d]) % x.shape[d]) * ks[d];
        acc[k] = step(acc[k], num(x.data[i]));
        n[k] += 1;
      }
      return fill(out.dataType, out.shape, (i) => end(acc[i], n[i]));
    },
  };
}

OPS.where = {
  out([c, t, f]) {
    checkType('where', 'condition', c, ['uint8']);
    if (t.dataType !== f.dataType) throw typeError(`where: trueValue ${t.dataType} and falseValue ${f.dataType} differ`);
    return { dataType: t.dataType, shape: broadcast('where', broadcast('where', t.shape, f.shape), c.shape) };
  },
  run([c, t, f], _, out) {
    const [ic, it, iff] = [c, t, f].map((v) => indexer(v.shape, out.shape));
    return fill(out.dataType, out.shape, (i) => (c.data[ic(i)] !== 0 ? num(t.data[it(i)]) : num(f.data[iff(i)])));
  },
};

OPS.matmul = {
  out([a, b]) {
    checkType('matmul', 'a', a, FLOATS);
    if (b.dataType !== a.dataType) throw typeError(`matmul: b is ${b.dataType}, a is ${a.dataType}`);
    if (a.shape.length < 2 || b.shape.length < 2) throw typeError('matmul: inputs must have rank >= 2');
    if (a.shape.at(-1) !== b.shape.at(-2)) throw typeError(`matmul: [${a.shape}] x [${b.shape}]: inner sizes differ`);
    const batch = broadcast('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
    return { dataType: a.dataType, shape: [...batch, a.shape.at(-2), b.shape.at(-1)] };
  },
  run([a, b], _, out) {
    const [m, k, n] = [a.shape.at(-2), a.shape.at(-1), b.shape.at(-1)];
    const batch = out.shape.slice(0, -2);
    const ia = indexer(a.shape.slice(0, -2), batch);
    const ib = indexer(b.shape.slice(0, -2), batch);
    const v = alloc(out.dataType, out.shape);
    // b's columns as rows (bt), then 2 x 2 outputs at a time with their float64 sums in
    // locals: each sum runs over q in order, as a dot product per element does.
    const ad = wide(a.data);
    const bt = new Float64Array(k * n);
    for (let p = 0; p < count(batch); p++) {
      const [ao, bo, oo] = [ia(p) * m * k, ib(p) * k * n, p * m * n];
      for (let q = 0; q < k; q++) for (let j = 0; j < n; j++) bt[j * k + q] = b.data[bo + q * n + j];
      products(m, n, k, ad, ao, bt, (i, j, sum) => (v.data[oo + i * n + j] = sum));
    }
    return v;
  },
};

OPS.gemm = {
  out([a, b, c], { aTranspose = false, bTranspose = false } = {}) {
    checkType('gemm', 'a', a, FLOATS);
    if (b.dataType !== a.dataType) throw typeError(`gemm: b is ${b.dataType}, a is ${a.dataType}`);
    if (a.shape.length !== 2 || b.shape.length !== 2) throw typeError('gemm: a and b must have rank 2');
    const [m, ka] = aTranspose ? [a.shape[1], a.shape[0]] : a.shape;
    const [kb, n] = bTranspose ? [b.shape[1], b.shape[0]] : b.shape;
    if (ka !== kb) throw typeError(`gemm: inner sizes ${ka} and ${kb} differ`);
    if (c) {
      if (c.dataType !== a.dataType) throw typeError(`gemm: c is ${c.dataType}`);
      if (c.shape.length > 2) throw typeError('gemm: c has rank > 2');
      broadcastTo('gemm', c.shape, [m, n]);
    }
    return { dataType: a.dataType, shape: [m, n] };
  },
  run([a, b, c], { alpha = 1, beta = 1, aTranspose = false, bTranspose = false }, out) {
    const [m, n] = out.shape;
    const k = aTranspose ? a.shape[0] : a.shape[1];
    // A' as rows of k and B' as columns of k (copies only where the layout is the other
    // one), then 2 x 2 outputs at a time, each output's float64 sum over q in order, as a
    // dot product per element.
    const rows = aTranspose ? transposed(a.data, k, m) : wide(a.data);
    const cols = bTranspose ? wide(b.data) : transposed(b.data, k, n);
    const ic = c && indexer(c.shape, out.shape);
    const v = alloc(out.dataType, out.shape);
    products(m, n, k, rows, 0, cols, (i, j, sum) => (v.data[i * n + j] = alpha * sum + (c ? beta * num(c.data[ic(i * n + j)]) : 0)));
    return v;
  },
};

/** Every product of a row of `rows` (m rows of k from `ro`) with a row of `cols` (n rows
 * of k), 2 x 2 at a time with the float64 sums in locals, each over q in order (as a dot
 * product per element); `put(i, j, sum)` stores one. */
function products(m, n, k, rows, ro, cols, put) {
  for (let i = 0; i < m; i += 2) {
    const r0 = ro + i * k;
    const r1 = i + 1 < m ? r0 + k : r0;
    for (let j = 0; j < n; j += 2) {
      const c0 = j * k;
      const c1 = j + 1 < n ? c0 + k : c0;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
      for (let q = 0; q < k; q++) {
        const x0 = rows[r0 + q];
        const x1 = rows[r1 + q];
        const y0 = cols[c0 + q];
        const y1 = cols[c1 + q];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      put(i, j, s00);
      if (j + 1 < n) put(i, j + 1, s01);
      if (i + 1 < m) {
        put(i + 1, j, s10);
        if (j + 1 < n) put(i + 1, j + 1, s11);
      }
    }
  }
}

// Float64 copies of arrays the products read, kept while the array lives (a constant's
// lives as long as its graph): `products` then always reads Float64Arrays, which keeps
// engines' code for it on one array type.
const WIDE = new WeakMap();
function wide(data) {
  if (data instanceof Float64Array) return data;
  let w = WIDE.get(data);
  if (!w) WIDE.set(data, (w = Float64Array.from(data)));
  return w;
}

/** A row-major [r, c] matrix's transpose, [c, r], in float64. */
function transposed(data, r, c) {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = data[i * c + j];
  return t;
}

OPS.softmax = {
  out([x], { axis }) {
    checkType('softmax', 'input', x, FLOATS);
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) throw typeError(`softmax: axis ${axis} outside rank ${x.shape.length}`);
    return { dataType: x.dataType, shape: x.shape };
  },
  run([x], { axis }, out) {
    const v = alloc(out.dataType, out.shape);
    const len = x.shape[axis];
    const inner = count(x.shape.slice(axis + 1));
    const outer = count(x.shape.slice(0, axis));
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (j) => o * len * inner + j * inner + i;
        let max = -Infinity;
        for (let j = 0; j < len; j++) max = Math.max(max, x.data[at(j)]);
        let sum = 0;
        for (let j = 0; j < len; j++) sum += Math.exp(x.data[at(j)] - max);
        for (let j = 0; j < len; j++) v.data[at(j)] = Math.exp(x.data[at(j)] - max) / sum;
      }
    }
    return v;
  },
};

OPS.layerNormalization = {
  out([x, scale, bias], opts = {}) {
    checkType('layerNormalization', 'input', x, FLOATS);
    const axes = axesOf('layerNormalization', opts.axes ?? x.shape.map((_, i) => i).slice(1), x.shape.length);
    for (const [name, p] of [['scale', scale], ['bias', bias]]) {
      if (!p) continue;
      if (p.dataType !== x.dataType) throw typeError(`layerNormalization: ${name} is ${p.dataType}`);
      if (p.shape.length !== axes.length || axes.some((a, i) => p.shape[i] !== x.shape[a])) {
        throw typeError(`layerNormalization: ${name} [${p.shape}] does not match axes [${axes}] of [${x.shape}]`);
      }
    }
    return { dataType: x.dataType, shape: x.shape };
  },
  run([x, scale, bias], opts, out) {
    const axes = opts.axes ?? x.shape.map((_, i) => i).slice(1);
    const eps = opts.epsilon ?? 1e-5;
    // The elements normalized together: a group per combination of the other axes.
    const xs = strides(x.shape);
    const at = (i, d) => Math.floor(i / xs[d]) % x.shape[d];
    const other = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
    const groups = new Map();
    for (let i = 0; i < x.data.length; i++) {
      const k = other.reduce((acc, d) => acc * x.shape[d] + at(i, d), 0);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(i);
    }
    const pIndex = (i) => axes.reduce((acc, a) => acc * x.shape[a] + at(i, a), 0);
    const v = alloc(out.dataType, out.shape);
    for (const g of groups.values()) {
      let mean = 0;
      for (const i of g) mean += x.data[i];
      mean /= g.length;
      let variance = 0;
      for (const i of g) variance += (x.data[i] - mean) ** 2;
      variance /= g.length;
      const inv = 1 / Math.sqrt(variance + eps);
      for (const i of g) {
        const p = pIndex(i);
        v.data[i] = (x.data[i] - mean) * inv * (scale ? scale.data[p] : 1) + (bias ? bias.data[p] : 0);
      }
    }
    return v;
  },
};

export { strides, num, checkType, axesOf, broadcastTo, indexer, fill, FLOATS, INTS, ANY };
