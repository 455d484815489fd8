// WebNN TEST DOUBLE, part 1 of 3: `navigator.ml` and its interfaces (MLContext,
// MLTensor, MLGraphBuilder, MLOperand, MLGraph), written from the W3C editor's draft
// (SPEC-NOTES.md: the IDL, the validation order and the error of each step), computing
// for real in float32 with float64 accumulation (ops.js, movement.js). This machine's
// browsers cannot run WebNN, so the SDK's WebNN backend is tested against this double.
// It is installed by tests only (`installWebnnDouble`) and never shipped.
//
// Test controls, on the object `installWebnnDouble` returns:
// - `reject`: a DOMException name `createContext` rejects with (no context);
// - `unsupported`: op names whose limits list no data type (the builder then throws
//   TypeError for them, as for any data type outside an op's limits);
// - `counts`: builds, dispatches, constants, tensors, writes, reads, contexts;
// - `times`: milliseconds spent computing each op, summed over dispatches;
// - `lose(context, message)`: loses a context as the spec's "lose" steps do.

import { OPS, ARRAYS, typeError, count, alloc, castNumber } from './ops.js';
import './movement.js';

const BYTES = { float32: 4, int32: 4, uint32: 4, int64: 8, uint64: 8, int8: 1, uint8: 1 };
const MAX_RANK = 8;
const invalidState = (msg) => new DOMException(`WebNN test double: ${msg}`, 'InvalidStateError');

function checkDescriptor(where, desc) {
  if (!desc || typeof desc !== 'object') throw typeError(`${where}: a descriptor is required`);
  if (!BYTES[desc.dataType]) throw typeError(`${where}: dataType ${desc.dataType} is not supported`);
  const shape = Array.from(desc.shape ?? [], Number);
  if (shape.length > MAX_RANK) throw typeError(`${where}: rank ${shape.length} is over ${MAX_RANK}`);
  if (!shape.every((d) => Number.isInteger(d) && d > 0 && d <= 2 ** 31 - 1)) throw typeError(`${where}: shape [${shape}] has an invalid dimension`);
  if (count(shape) > 2 ** 31 - 1) throw typeError(`${where}: shape [${shape}] has too many elements`);
  return { dataType: desc.dataType, shape };
}

/** A copy of `buffer`'s bytes as `desc`'s typed array, after the spec's "validate buffer
 * with descriptor": exact byte length; an ArrayBuffer, any Uint8Array, or a view of the
 * dataType's own kind. */
function valuesOf(where, desc, buffer) {
  const bytes = count(desc.shape) * BYTES[desc.dataType];
  let view;
  if (buffer instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer)) {
    view = new Uint8Array(buffer);
  } else if (ArrayBuffer.isView(buffer) && (buffer instanceof Uint8Array || buffer instanceof ARRAYS[desc.dataType])) {
    view = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } else {
    throw typeError(`${where}: the buffer is not an ArrayBuffer, a Uint8Array or a ${ARRAYS[desc.dataType].name}`);
  }
  if (view.byteLength !== bytes) throw typeError(`${where}: ${view.byteLength} bytes for a ${desc.dataType} [${desc.shape}] of ${bytes}`);
  const copy = new Uint8Array(view); // the bytes are copied now, as the spec says
  return { ...desc, data: new ARRAYS[desc.dataType](copy.buffer) };
}

const sameDescriptor = (a, b) => a.dataType === b.dataType && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

export function installWebnnDouble(global = globalThis) {
  const control = { reject: null, unsupported: new Set(), times: {}, counts: { contexts: 0, builds: 0, dispatches: 0, constants: 0, tensors: 0, writes: 0, reads: 0 } };

  class MLTensor {
    constructor(context, desc, flags, value) {
      this.context = context;
      this.value = value;
      Object.defineProperties(this, {
        dataType: { value: desc.dataType, enumerable: true },
        shape: { value: Object.freeze([...desc.shape]), enumerable: true },
        readable: { value: !!flags.readable, enumerable: true },
        writable: { value: !!flags.writable, enumerable: true },
        constant: { value: !!flags.constant, enumerable: true },
      });
      this.destroyed = false;
      this.pending = new Set();
    }
    destroy() {
      if (this.destroyed) return;
      this.destroyed = true;
      for (const reject of this.pending) reject(invalidState('the tensor was destroyed'));
      this.pending.clear();
      this.value = null;
    }
  }

  class MLOperand {
    constructor(builder, desc, node) {
      this.builder = builder;
      this.node = node;
      Object.defineProperties(this, {
        dataType: { value: desc.dataType, enumerable: true },
        shape: { value: Object.freeze([...desc.shape]), enumerable: true },
      });
    }
  }

  class MLGraph {
    constructor(context, inputs, outputs, order) {
      Object.assign(this, { context, inputs, outputs, order, destroyed: false });
    }
    destroy() {
      this.destroyed = true;
    }
  }

  class MLContext {
    constructor(options) {
      this.accelerated = options.accelerated !== false;
      this.graphs = new Set();
      this.tensors = new Set();
      this.isLost = false;
      this.lost = new Promise((resolve) => (this.resolveLost = resolve));
      control.counts.contexts += 1;
    }
    #own(where, tensor) {
      if (!(tensor instanceof MLTensor) || tensor.context !== this) throw typeError(`${where}: the tensor is not this context's`);
      if (tensor.destroyed) throw typeError(`${where}: the tensor was destroyed`);
    }
    async createTensor(descriptor) {
      if (this.isLost) throw invalidState('createTensor: the context is lost');
      const desc = checkDescriptor('createTensor', descriptor);
      const t = new MLTensor(this, desc, { readable: descriptor.readable, writable: descriptor.writable }, alloc(desc.dataType, desc.shape));
      this.tensors.add(t);
      control.counts.tensors += 1;
      return t;
    }
    async createConstantTensor(descriptor, data) {
      if (this.isLost) throw invalidState('createConstantTensor: the context is lost');
      const desc = checkDescriptor('createConstantTensor', descriptor);
      const t = new MLTensor(this, desc, { constant: true }, valuesOf('createConstantTensor', desc, data));
      this.tensors.add(t);
      control.counts.tensors += 1;
      return t;
    }
    writeTensor(tensor, data) {
      this.#own('writeTensor', tensor);
      if (!tensor.writable) throw typeError('writeTensor: the tensor is not writable');
      tensor.value = valuesOf('writeTensor', tensor, data);
      control.counts.writes += 1;
    }
    readTensor(tensor, out) {
      try {
        this.#own('readTensor', tensor);
        if (!tensor.readable) throw typeError('readTensor: the tensor is not readable');
        if (out !== undefined) valuesOf('readTensor', tensor, out);
      } catch (e) {
        return Promise.reject(e);
      }
      control.counts.reads += 1;
      // The contents as of now: work dispatched later follows this read on the timeline.
      const value = tensor.value;
      return new Promise((resolve, reject) => {
        tensor.pending.add(reject);
        // Resolved on a later task, as a real context's timeline would.
        setTimeout(() => {
          if (!tensor.pending.delete(reject)) return;
          const bytes = new Uint8Array(value.data.buffer, value.data.byteOffset, value.data.byteLength);
          if (out === undefined) return resolve(bytes.slice().buffer);
          new Uint8Array(out.buffer ?? out, out.byteOffset ?? 0, bytes.byteLength).set(bytes);
          resolve(undefined);
        }, 0);
      });
    }
    dispatch(graph, inputs, outputs) {
      if (!(graph instanceof MLGraph) || graph.context !== this) throw typeError('dispatch: the graph is not this context\'s');
      if (graph.destroyed) throw invalidState('dispatch: the graph was destroyed');
      const all = [...Object.values(inputs), ...Object.values(outputs)];
      if (new Set(all).size !== all.length) throw typeError('dispatch: a tensor appears twice');
      for (const t of all) this.#own('dispatch', t);
      for (const [named, wanted, what] of [[inputs, graph.inputs, 'input'], [outputs, graph.outputs, 'output']]) {
        if (Object.keys(named).length !== wanted.size) throw typeError(`dispatch: ${Object.keys(named).length} ${what}s for a graph of ${wanted.size}`);
        for (const [name, t] of Object.entries(named)) {
          const d = wanted.get(name);
          if (!d) throw typeError(`dispatch: the graph has no ${what} '${name}'`);
          if (t.constant) throw typeError(`dispatch: ${what} '${name}' is a constant tensor`);
          if (!sameDescriptor(t, d.desc ?? d)) throw typeError(`dispatch: ${what} '${name}' is ${t.dataType} [${t.shape}], the graph's ${(d.desc ?? d).dataType} [${(d.desc ?? d).shape}]`);
        }
      }
      control.counts.dispatches += 1;
      const env = new Map();
      for (const node of graph.order) {
        if (node.kind === 'input') env.set(node, inputs[node.name].value);
        else if (node.kind === 'constant') env.set(node, node.tensor ? node.tensor.value : node.value);
        else {
          const t0 = performance.now();
          env.set(node, OPS[node.op].run(node.inputs.map((n) => env.get(n)), node.params, node.desc));
          control.times[node.op] = (control.times[node.op] ?? 0) + performance.now() - t0;
        }
      }
      for (const [name, { node }] of graph.outputs) {
        const v = env.get(node);
        outputs[name].value = { ...v, data: v.data.slice() };
      }
    }
    opSupportLimits() {
      return limits(control.unsupported);
    }
    destroy() {
      if (!this.isLost) lose(this, 'destroyed');
    }
  }

  function lose(context, message) {
    context.isLost = true;
    context.resolveLost({ message });
    for (const g of context.graphs) g.destroy();
    for (const t of context.tensors) t.destroy();
  }

  class MLGraphBuilder {
    #context;
    #built = false;
    #names = new Set();
    constructor(context) {
      if (!(context instanceof MLContext)) throw typeError('MLGraphBuilder: a context is required');
      if (context.isLost) throw invalidState('MLGraphBuilder: the context is lost');
      this.#context = context;
    }
    #canBuild(where) {
      if (this.#built || this.#context.isLost) throw invalidState(`${where}: the builder has built, or its context is lost`);
    }
    #own(where, operand) {
      if (!(operand instanceof MLOperand) || operand.builder !== this) throw typeError(`${where}: an operand of another builder`);
      return operand;
    }
    input(name, descriptor) {
      this.#canBuild('input');
      if (name === '') throw typeError('input: the name is empty');
      if (this.#names.has(name)) throw typeError(`input: '${name}' is already an input`);
      const desc = checkDescriptor('input', descriptor);
      this.#names.add(name);
      return new MLOperand(this, desc, { kind: 'input', name, desc });
    }
    constant(a, b) {
      if (a instanceof MLTensor) {
        if (a.context !== this.#context) throw typeError('constant: the tensor is another context\'s');
        if (a.destroyed) throw typeError('constant: the tensor was destroyed');
        if (!a.constant) throw typeError('constant: the tensor is not a constant tensor');
        this.#canBuild('constant');
        return new MLOperand(this, a, { kind: 'constant', tensor: a, desc: { dataType: a.dataType, shape: [...a.shape] } });
      }
      this.#canBuild('constant');
      control.counts.constants += 1;
      if (typeof a === 'string') {
        const desc = checkDescriptor('constant', { dataType: a, shape: [] });
        const value = alloc(a, []);
        value.data[0] = castNumber(b, a);
        return new MLOperand(this, desc, { kind: 'constant', value, desc });
      }
      const desc = checkDescriptor('constant', a);
      return new MLOperand(this, desc, { kind: 'constant', value: valuesOf('constant', desc, b), desc });
    }
    #op(name, operands, params = {}) {
      this.#canBuild(name);
      const ins = operands.map((o) => this.#own(name, o));
      if (control.unsupported.has(name)) throw typeError(`${name}: not supported by this context (its limits list no data type)`);
      const desc = OPS[name].out(ins, params);
      return new MLOperand(this, desc, { kind: 'op', op: name, inputs: ins.map((o) => o.node), params, desc });
    }
    /** An op method's positional arguments, as (operands, params), then the op. */
    [OP_CALL](name, args) {
      const [operands, params] = ARGS[name] ? ARGS[name](...args) : [[args[0], args[1]], args[2]];
      return this.#op(name, operands.filter((o) => o !== undefined), params ?? {});
    }
    async build(outputs) {
      if (this.#built || this.#context.isLost) throw invalidState('build: the builder has built, or its context is lost');
      this.#built = true;
      const named = Object.entries(outputs ?? {});
      if (named.length === 0) throw typeError('build: no outputs');
      const order = [];
      const seen = new Set();
      const visit = (node) => {
        if (seen.has(node)) return;
        seen.add(node);
        for (const n of node.inputs ?? []) visit(n);
        order.push(node);
      };
      const outs = new Map();
      for (const [name, operand] of named) {
        if (name === '') throw typeError('build: an output name is empty');
        this.#own('build', operand);
        if (operand.node.kind !== 'op') throw typeError(`build: output '${name}' is an input or a constant`);
        visit(operand.node);
        outs.set(name, { node: operand.node, desc: operand.node.desc });
      }
      for (const n of order) if (n.tensor?.destroyed) throw typeError('build: a constant tensor was destroyed');
      // Only the inputs the outputs reach are the graph's.
      const ins = new Map(order.filter((n) => n.kind === 'input').map((n) => [n.name, n.desc]));
      control.counts.builds += 1;
      const g = new MLGraph(this.#context, ins, outs, order);
      this.#context.graphs.add(g);
      return g;
    }
  }
  for (const name of Object.keys(OPS)) {
    MLGraphBuilder.prototype[name] = function (...args) {
      return this[OP_CALL](name, args);
    };
  }

  const ml = {
    async createContext(options = {}) {
      if (control.reject) throw new DOMException(`WebNN test double: createContext rejected (${control.reject})`, control.reject);
      return new MLContext(options);
    },
  };
  Object.defineProperty(global.navigator ?? global, 'ml', { value: ml, configurable: true });
  Object.assign(global, { MLContext, MLTensor, MLGraphBuilder, MLOperand, MLGraph });
  return Object.assign(control, { lose, webnnDouble: true });
}

const OP_CALL = Symbol('op');
const UNARY = ['erf', 'exp', 'sqrt', 'reciprocal', 'log', 'ceil', 'floor', 'cos', 'sin', 'tanh', 'sigmoid', 'gelu', 'relu', 'abs', 'neg', 'identity'];
const REDUCE = ['reduceSum', 'reduceMean', 'reduceMax', 'reduceMin', 'reduceSumSquare'];
const ARGS = {
  ...Object.fromEntries(UNARY.map((n) => [n, (x, o) => [[x], o]])),
  ...Object.fromEntries(REDUCE.map((n) => [n, (x, o) => [[x], o]])),
  where: (c, t, f, o) => [[c, t, f], o],
  gemm: (a, b, o = {}) => [[a, b, o.c], o],
  softmax: (x, axis, o) => [[x], { ...o, axis }],
  layerNormalization: (x, o = {}) => [[x, o.scale, o.bias], o],
  reshape: (x, newShape, o) => [[x], { ...o, newShape: Array.from(newShape) }],
  transpose: (x, o) => [[x], o],
  slice: (x, starts, sizes, o = {}) => [[x], { ...o, starts: Array.from(starts), sizes: Array.from(sizes) }],
  concat: (inputs, axis, o) => [Array.from(inputs), { ...o, axis }],
  gather: (x, indices, o) => [[x, indices], o],
  expand: (x, newShape, o) => [[x], { ...o, newShape: Array.from(newShape) }],
  cast: (x, dataType, o) => [[x], { ...o, dataType }],
  argMax: (x, axis, o) => [[x], { ...o, axis }],
  argMin: (x, axis, o) => [[x], { ...o, axis }],
  clamp: (x, o) => [[x], o],
  conv2d: (x, f, o = {}) => [[x, f, o.bias], o],
  dequantizeLinear: (x, s, z, o) => [[x, s, z], o],
  quantizeLinear: (x, s, z, o) => [[x, s, z], o],
};

/** `opSupportLimits()`: every op the double offers, at the data types it computes and
 * ranks up to 8; none for the ops in `unsupported`. */
function limits(unsupported) {
  const all = Object.keys(BYTES);
  const t = (types) => ({ dataTypes: types, rankRange: { min: 0, max: MAX_RANK } });
  const out = { preferredInputLayout: 'nchw', maxTensorByteLength: 2 ** 31 - 1, input: t(all), constant: t(all), output: t(all) };
  const members = ['input', 'inputs', 'a', 'b', 'c', 'filter', 'bias', 'indices', 'scale', 'zeroPoint', 'condition', 'trueValue', 'falseValue', 'output'];
  for (const name of Object.keys(OPS)) {
    const types = unsupported.has(name) ? [] : all;
    out[name] = Object.fromEntries(members.map((m) => [m, t(types)]));
  }
  return out;
}
