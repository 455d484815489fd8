// The package entry: loads the wasm module once and exposes the SDK's JS surface.
// Errors thrown here and by the wasm module are `Error`s with a stable `code`.
import wasmInit, { Tensor, TextEmbedder, RawOps, version, cpuPath } from './wasm/ipfs_accelerate.js';

let ready = null;

/**
 * Loads and instantiates the wasm module; later calls return the same promise.
 * `moduleOrPath` (optional) is a URL, Response, BufferSource or WebAssembly.Module;
 * by default the .wasm file next to this package is fetched.
 */
export function init(moduleOrPath) {
  if (!ready) {
    const arg = moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath };
    ready = wasmInit(arg).then(
      () => undefined,
      (e) => {
        ready = null; // a failed load may be retried
        throw codeError('init_failed', `init: the wasm module could not be loaded: ${e?.message ?? e}`);
      },
    );
  }
  return ready;
}

function codeError(code, message) {
  const e = new Error(message);
  e.name = 'IpfsAccelerateError';
  e.code = code;
  return e;
}

function tensor(op, name, t) {
  if (!(t instanceof Tensor)) {
    throw codeError('invalid_argument', `${op}: ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  }
  return t;
}

// Optional and array arguments are passed to wasm by value, which would invalidate the
// caller's object; a clone shares the storage and costs nothing.
const optClone = (op, name, t) => (t == null ? undefined : tensor(op, name, t).clone());

const unary = (op, raw) => (x) => raw(tensor(op, 'x', x));
const binary = (op, raw) => (a, b) => raw(tensor(op, 'a', a), tensor(op, 'b', b));

export const ops = Object.freeze({
  matmul: (a, b, opts) => RawOps.matmul(tensor('matmul', 'a', a), tensor('matmul', 'b', b), opts),
  add: binary('add', RawOps.add),
  sub: binary('sub', RawOps.sub),
  mul: binary('mul', RawOps.mul),
  div: binary('div', RawOps.div),
  gelu: unary('gelu', RawOps.gelu),
  geluTanh: unary('geluTanh', RawOps.geluTanh),
  relu: unary('relu', RawOps.relu),
  silu: unary('silu', RawOps.silu),
  tanh: unary('tanh', RawOps.tanh),
  softmax: (x, mask) => RawOps.softmax(tensor('softmax', 'x', x), optClone('softmax', 'mask', mask)),
  layerNorm: (x, gamma, beta, eps) =>
    RawOps.layerNorm(tensor('layerNorm', 'x', x), tensor('layerNorm', 'gamma', gamma), tensor('layerNorm', 'beta', beta), eps),
  gather: (table, ids) => RawOps.gather(tensor('gather', 'table', table), tensor('gather', 'ids', ids)),
  reshape: (x, dims) => RawOps.reshape(tensor('reshape', 'x', x), dims),
  transpose: unary('transpose', RawOps.transpose),
  permute: (x, perm) => RawOps.permute(tensor('permute', 'x', x), perm),
  slice: (x, axis, start, end) => RawOps.slice(tensor('slice', 'x', x), axis, start, end),
  concat: (xs, axis) => {
    if (!Array.isArray(xs)) throw codeError('invalid_argument', 'concat: xs must be an array of Tensors');
    return RawOps.concat(xs.map((t, i) => optClone('concat', `xs[${i}]`, t)), axis);
  },
  mean: (x, axes, keepDims) => RawOps.mean(tensor('mean', 'x', x), axes, keepDims),
  sum: (x, axes, keepDims) => RawOps.sum(tensor('sum', 'x', x), axes, keepDims),
  conv1d: (x, w, bias, opts) =>
    RawOps.conv1d(tensor('conv1d', 'x', x), tensor('conv1d', 'w', w), optClone('conv1d', 'bias', bias), opts),
  conv2d: (x, w, bias, opts) =>
    RawOps.conv2d(tensor('conv2d', 'x', x), tensor('conv2d', 'w', w), optClone('conv2d', 'bias', bias), opts),
  attention: (q, k, v, opts = {}) =>
    RawOps.attention(
      tensor('attention', 'q', q),
      tensor('attention', 'k', k),
      tensor('attention', 'v', v),
      optClone('attention', 'keyMask', opts?.keyMask),
      opts,
    ),
});

export { Tensor, TextEmbedder, version, cpuPath };
