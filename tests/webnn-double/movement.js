// WebNN TEST DOUBLE, part 3 of 3: the operators that move, select, convert or convolve
// data (reshape, transpose, slice, concat, gather, expand, argMax, argMin, cast, clamp,
// conv2d, quantizeLinear, dequantizeLinear), as the spec defines them (SPEC-NOTES.md, with its
// two spec-text bugs worked around: transpose permutes the shape, and clamp's missing
// bounds do not clamp). Never shipped.

import { OPS, ARRAYS, FLOATS, INTS, ANY, typeError, count, strides, num, checkType, broadcastTo, indexer, fill, alloc, castNumber } from './ops.js';

const validDim = (d) => Number.isInteger(d) && d > 0 && d <= 2 ** 31 - 1;

/** Copies `x` to a value of `shape` whose element at flat index i is x's at `from(i)`. */
function gather1(x, dataType, shape, from) {
  const v = alloc(dataType, shape);
  for (let i = 0; i < v.data.length; i++) v.data[i] = x.data[from(i)];
  return v;
}

OPS.reshape = {
  out([x], { newShape }) {
    if (!newShape.every(validDim)) throw typeError(`reshape: [${newShape}] has an invalid dimension`);
    if (count(newShape) !== count(x.shape)) throw typeError(`reshape: [${x.shape}] cannot become [${newShape}]`);
    return { dataType: x.dataType, shape: [...newShape] };
  },
  run([x], _, out) {
    return { dataType: out.dataType, shape: out.shape, data: x.data.slice() };
  },
};

OPS.transpose = {
  out([x], { permutation } = {}) {
    const r = x.shape.length;
    const perm = permutation ?? x.shape.map((_, i) => r - 1 - i);
    if (perm.length !== r || new Set(perm).size !== r || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= r)) {
      throw typeError(`transpose: [${perm}] is not a permutation of rank ${r}`);
    }
    return { dataType: x.dataType, shape: perm.map((p) => x.shape[p]) };
  },
  run([x], { permutation }, out) {
    const r = x.shape.length;
    const perm = permutation ?? x.shape.map((_, i) => r - 1 - i);
    const xs = strides(x.shape);
    // Output element by element, the input index carried along like an odometer.
    const step = perm.map((p) => xs[p]);
    const idx = new Array(r).fill(0);
    const v = alloc(out.dataType, out.shape);
    let at = 0;
    for (let i = 0; i < v.data.length; i++) {
      v.data[i] = x.data[at];
      for (let d = r - 1; d >= 0; d--) {
        at += step[d];
        if (++idx[d] < out.shape[d]) break;
        at -= step[d] * out.shape[d];
        idx[d] = 0;
      }
    }
    return v;
  },
};

OPS.slice = {
  out([x], { starts, sizes, strides: st }) {
    const r = x.shape.length;
    const steps = st ?? new Array(r).fill(1);
    if (starts.length !== r || sizes.length !== r || steps.length !== r) throw typeError(`slice: starts, sizes and strides must each have ${r} entries`);
    x.shape.forEach((d, i) => {
      if (sizes[i] === 0) throw typeError(`slice: size ${i} is 0`);
      if (steps[i] < 1) throw typeError(`slice: stride ${i} is ${steps[i]}`);
      if (starts[i] > d || starts[i] + sizes[i] > d) throw typeError(`slice: [${starts[i]}, +${sizes[i]}) outside dimension ${i} of size ${d}`);
    });
    return { dataType: x.dataType, shape: sizes.map((s, i) => Math.ceil(s / steps[i])) };
  },
  run([x], { starts, strides: st }, out) {
    const steps = st ?? new Array(x.shape.length).fill(1);
    const xs = strides(x.shape);
    const os = strides(out.shape);
    return gather1(x, out.dataType, out.shape, (i) => {
      let at = 0;
      for (let d = 0; d < out.shape.length; d++) at += (starts[d] + (Math.floor(i / os[d]) % out.shape[d]) * steps[d]) * xs[d];
      return at;
    });
  },
};

OPS.concat = {
  out(inputs, { axis }) {
    if (inputs.length < 1 || inputs.length > 8192) throw typeError(`concat: ${inputs.length} inputs`);
    const [first] = inputs;
    if (!Number.isInteger(axis) || axis < 0 || axis >= first.shape.length) throw typeError(`concat: axis ${axis} outside rank ${first.shape.length}`);
    for (const x of inputs) {
      if (x.dataType !== first.dataType || x.shape.length !== first.shape.length || x.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        throw typeError(`concat: [${x.shape}] ${x.dataType} does not match [${first.shape}] ${first.dataType} off axis ${axis}`);
      }
    }
    const shape = [...first.shape];
    shape[axis] = inputs.reduce((s, x) => s + x.shape[axis], 0);
    if (!validDim(shape[axis])) throw typeError(`concat: axis size ${shape[axis]}`);
    return { dataType: first.dataType, shape };
  },
  run(inputs, { axis }, out) {
    const v = alloc(out.dataType, out.shape);
    const outer = count(out.shape.slice(0, axis));
    const inner = count(out.shape.slice(axis + 1));
    let offset = 0;
    for (const x of inputs) {
      const rows = x.shape[axis] * inner;
      for (let o = 0; o < outer; o++) v.data.set(x.data.subarray(o * rows, (o + 1) * rows), o * out.shape[axis] * inner + offset);
      offset += rows;
    }
    return v;
  },
};

OPS.gather = {
  out([x, indices], { axis = 0 } = {}) {
    checkType('gather', 'indices', indices, ['int32', 'uint32', 'int64']);
    if (x.shape.length < 1 || !Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) throw typeError(`gather: axis ${axis} outside rank ${x.shape.length}`);
    return { dataType: x.dataType, shape: [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)] };
  },
  run([x, indices], { axis = 0 }, out) {
    const n = x.shape[axis];
    const inner = count(x.shape.slice(axis + 1));
    const k = indices.data.length;
    const v = alloc(out.dataType, out.shape);
    for (let o = 0; o < count(x.shape.slice(0, axis)); o++) {
      for (let j = 0; j < k; j++) {
        // Out-of-range indices cannot be checked at build time; implementations clamp.
        let at = num(indices.data[j]);
        at = Math.min(Math.max(at < 0 ? at + n : at, 0), n - 1);
        v.data.set(x.data.subarray((o * n + at) * inner, (o * n + at + 1) * inner), (o * k + j) * inner);
      }
    }
    return v;
  },
};

OPS.expand = {
  out([x], { newShape }) {
    if (!newShape.every(validDim)) throw typeError(`expand: [${newShape}] has an invalid dimension`);
    return { dataType: x.dataType, shape: [...broadcastTo('expand', x.shape, newShape)] };
  },
  run([x], _, out) {
    return gather1(x, out.dataType, out.shape, indexer(x.shape, out.shape));
  },
};

// argMax / argMin(input, axis, { keepDimensions = false, outputDataType = 'int32' }): the
// index of the first largest (smallest) element along `axis`.
for (const [name, better] of [['argMax', (a, b) => a > b], ['argMin', (a, b) => a < b]]) {
  OPS[name] = {
    out([x], { axis, keepDimensions = false, outputDataType = 'int32' }) {
      if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) throw typeError(`${name}: axis ${axis} outside rank ${x.shape.length}`);
      if (!['int32', 'int64'].includes(outputDataType)) throw typeError(`${name}: outputDataType ${outputDataType}`);
      const shape = keepDimensions ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
      return { dataType: outputDataType, shape };
    },
    run([x], { axis }, out) {
      const n = x.shape[axis];
      const inner = count(x.shape.slice(axis + 1));
      return fill(out.dataType, out.shape, (i) => {
        const [o, r] = [Math.floor(i / inner), i % inner];
        let best = 0;
        for (let j = 1; j < n; j++) if (better(num(x.data[(o * n + j) * inner + r]), num(x.data[(o * n + best) * inner + r]))) best = j;
        return best;
      });
    },
  };
}

OPS.cast = {
  out([x], { dataType }) {
    if (!ARRAYS[dataType]) throw typeError(`cast: dataType ${dataType}`);
    return { dataType, shape: x.shape };
  },
  run([x], { dataType }, out) {
    const fromFloat = FLOATS.includes(x.dataType);
    return fill(out.dataType, out.shape, (i) => {
      const value = num(x.data[i]);
      return fromFloat && INTS.includes(dataType) ? Math.trunc(value) : value;
    });
  },
};

OPS.clamp = {
  out([x], { minValue, maxValue } = {}) {
    checkType('clamp', 'input', x, ANY);
    if (minValue !== undefined && maxValue !== undefined && num(minValue) > num(maxValue)) throw typeError(`clamp: minValue ${minValue} > maxValue ${maxValue}`);
    return { dataType: x.dataType, shape: x.shape };
  },
  run([x], { minValue, maxValue }, out) {
    const lo = minValue === undefined ? -Infinity : num(castNumber(minValue, x.dataType));
    const hi = maxValue === undefined ? Infinity : num(castNumber(maxValue, x.dataType));
    return fill(out.dataType, out.shape, (i) => Math.min(Math.max(num(x.data[i]), lo), hi));
  },
};

// conv2d: the filter in any of the four layouts is read through `fAt(o, c, h, w)`.
const FILTER = {
  oihw: (s) => [s[0], s[1], s[2], s[3], (o, c, h, w) => ((o * s[1] + c) * s[2] + h) * s[3] + w],
  hwio: (s) => [s[3], s[2], s[0], s[1], (o, c, h, w) => ((h * s[1] + w) * s[2] + c) * s[3] + o],
  ohwi: (s) => [s[0], s[3], s[1], s[2], (o, c, h, w) => ((o * s[1] + h) * s[2] + w) * s[3] + c],
  ihwo: (s) => [s[3], s[0], s[1], s[2], (o, c, h, w) => ((c * s[1] + h) * s[2] + w) * s[3] + o],
};

function convGeometry(x, f, opts) {
  const { padding = [0, 0, 0, 0], strides: st = [1, 1], dilations = [1, 1], groups = 1, inputLayout = 'nchw', filterLayout = 'oihw' } = opts;
  if (padding.length !== 4 || st.length !== 2 || dilations.length !== 2) throw typeError('conv2d: padding needs 4 entries, strides and dilations 2');
  if (st.includes(0) || dilations.includes(0) || groups === 0) throw typeError('conv2d: a zero stride, dilation or group count');
  if (!FILTER[filterLayout] || !['nchw', 'nhwc'].includes(inputLayout)) throw typeError(`conv2d: layouts ${inputLayout}/${filterLayout}`);
  const [n, c, h, w] = inputLayout === 'nchw' ? x.shape : [x.shape[0], x.shape[3], x.shape[1], x.shape[2]];
  const [oc, ic, kh, kw, fAt] = FILTER[filterLayout](f.shape);
  if (c % groups !== 0 || c / groups !== ic || oc % groups !== 0) throw typeError(`conv2d: ${c} input and ${oc} output channels do not fit ${groups} groups of ${ic}`);
  const size = (len, k, i) => Math.floor((len - ((k - 1) * dilations[i] + 1) + padding[2 * i] + padding[2 * i + 1]) / st[i]) + 1;
  const [oh, ow] = [size(h, kh, 0), size(w, kw, 1)];
  if (!validDim(oh) || !validDim(ow)) throw typeError(`conv2d: output ${oh}x${ow}`);
  return { n, c, h, w, oc, ic, kh, kw, fAt, oh, ow, padding, st, dilations, groups, inputLayout };
}

OPS.conv2d = {
  out([x, f, bias], opts = {}) {
    checkType('conv2d', 'input', x, FLOATS);
    if (f.dataType !== x.dataType) throw typeError(`conv2d: filter is ${f.dataType}`);
    if (x.shape.length !== 4 || f.shape.length !== 4) throw typeError('conv2d: input and filter must have rank 4');
    const g = convGeometry(x, f, opts);
    if (bias && (bias.dataType !== x.dataType || bias.shape.length !== 1 || bias.shape[0] !== g.oc)) throw typeError(`conv2d: bias [${bias.shape}]`);
    return { dataType: x.dataType, shape: g.inputLayout === 'nchw' ? [g.n, g.oc, g.oh, g.ow] : [g.n, g.oh, g.ow, g.oc] };
  },
  run([x, f, bias], opts, out) {
    const g = convGeometry(x, f, opts);
    const nchw = g.inputLayout === 'nchw';
    // Input row (b, channel, y) starts at rowAt(...); along it, z steps by zs.
    const rowAt = nchw ? (b, c, y) => ((b * g.c + c) * g.h + y) * g.w : (b, c, y) => ((b * g.h + y) * g.w) * g.c + c;
    const zs = nchw ? 1 : g.c;
    const oAt = nchw ? (b, o, i, j) => ((b * g.oc + o) * g.oh + i) * g.ow + j : (b, o, i, j) => ((b * g.oh + i) * g.ow + j) * g.oc + o;
    const v = alloc(out.dataType, out.shape);
    const perGroup = g.oc / g.groups;
    const acc = new Float64Array(g.oh * g.ow);
    const [xd, oh, ow, h, w, sy, sx, dy, dx, py, px] = [x.data, g.oh, g.ow, g.h, g.w, g.st[0], g.st[1], g.dilations[0], g.dilations[1], g.padding[0], g.padding[2]];
    for (let b = 0; b < g.n; b++) {
      for (let o = 0; o < g.oc; o++) {
        const c0 = Math.floor(o / perGroup) * g.ic;
        // Tap by tap over every output position: each output's float64 sum takes its
        // terms in the order (c, p, q), after the bias.
        acc.fill(bias ? bias.data[o] : 0);
        for (let c = 0; c < g.ic; c++) {
          for (let p = 0; p < g.kh; p++) {
            for (let q = 0; q < g.kw; q++) {
              const k = f.data[g.fAt(o, c, p, q)];
              // The output columns whose input column z = j·sx + q·dx - px lies inside.
              const z0 = q * dx - px;
              const j0 = Math.max(0, Math.ceil(-z0 / sx));
              const j1 = Math.min(ow, Math.floor((w - 1 - z0) / sx) + 1);
              for (let i = 0; i < oh; i++) {
                const y = i * sy + p * dy - py;
                if (y < 0 || y >= h) continue;
                const row = rowAt(b, c0 + c, y);
                const at = i * ow;
                for (let j = j0; j < j1; j++) acc[at + j] += xd[row + (j * sx + z0) * zs] * k;
              }
            }
          }
        }
        for (let i = 0; i < g.oh; i++) for (let j = 0; j < g.ow; j++) v.data[oAt(b, o, i, j)] = acc[i * g.ow + j];
      }
    }
    return v;
  },
};

/** Blockwise broadcasting of `from` to `to` (same rank, each size a divisor). */
function blockwise(op, from, to) {
  if (from.length !== to.length || from.some((d, i) => to[i] % d !== 0)) throw typeError(`${op}: [${from}] is not blockwise broadcastable to [${to}]`);
  const ts = strides(to);
  const fs = strides(from);
  const block = to.map((d, i) => d / from[i]);
  return (flat) => to.reduce((at, _, d) => at + Math.floor((Math.floor(flat / ts[d]) % to[d]) / block[d]) * fs[d], 0);
}

function quantCheck(op, x, scale, zp) {
  if (scale.shape.length !== x.shape.length || zp.shape.length !== x.shape.length) throw typeError(`${op}: scale and zeroPoint must have the input's rank`);
  if (scale.shape.some((d, i) => d !== zp.shape[i])) throw typeError(`${op}: scale [${scale.shape}] and zeroPoint [${zp.shape}] differ`);
  blockwise(op, scale.shape, x.shape);
}

OPS.dequantizeLinear = {
  out([x, scale, zp]) {
    checkType('dequantizeLinear', 'input', x, ['uint8', 'int8', 'uint32', 'int32']);
    checkType('dequantizeLinear', 'scale', scale, FLOATS);
    if (zp.dataType !== x.dataType) throw typeError(`dequantizeLinear: zeroPoint is ${zp.dataType}, input ${x.dataType}`);
    quantCheck('dequantizeLinear', x, scale, zp);
    return { dataType: scale.dataType, shape: x.shape };
  },
  run([x, scale, zp], _, out) {
    const at = blockwise('dequantizeLinear', scale.shape, x.shape);
    return fill(out.dataType, out.shape, (i) => (num(x.data[i]) - num(zp.data[at(i)])) * scale.data[at(i)]);
  },
};

const RANGE = { uint8: [0, 255], int8: [-128, 127], uint32: [0, 2 ** 32 - 1], int32: [-(2 ** 31), 2 ** 31 - 1] };
const roundEven = (x) => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

OPS.quantizeLinear = {
  out([x, scale, zp]) {
    checkType('quantizeLinear', 'input', x, FLOATS);
    if (scale.dataType !== x.dataType) throw typeError(`quantizeLinear: scale is ${scale.dataType}`);
    checkType('quantizeLinear', 'zeroPoint', zp, ['uint8', 'int8', 'uint32', 'int32']);
    quantCheck('quantizeLinear', x, scale, zp);
    return { dataType: zp.dataType, shape: x.shape };
  },
  run([x, scale, zp], _, out) {
    const at = blockwise('quantizeLinear', scale.shape, x.shape);
    const [lo, hi] = RANGE[out.dataType];
    return fill(out.dataType, out.shape, (i) => Math.min(Math.max(roundEven(x.data[i] / scale.data[at(i)]) + num(zp.data[at(i)]), lo), hi));
  },
};

/** Marks this module loaded (the Rust tests import it by name so that wasm-bindgen copies it
 * beside index.js). */
export const MOVEMENT_OPS = true;
