//! The IR lowered to `MLGraphBuilder` calls, node by node. Ops WebNN has are one call
//! (a 1-D convolution as a 2-D one of height 1); the fused ones it lacks (attention, the
//! cache's `WriteAt`) are spelled out in `decompose.rs`. Only the nodes the outputs reach
//! are lowered, so the graph's inputs are exactly the ones a dispatch must bind.

use super::bindings::{descriptor, dict, message, numbers, MlGraphBuilder, MlOperand, MlTensor};
use super::decompose;
use crate::error::{Error, Result};
use crate::graph::{epilogues, BinaryOp, ConvParams, Graph, Node, NodeId, Op, ReduceOp, UnaryOp};
use crate::tensor::DType;
use std::collections::HashMap;
use wasm_bindgen::JsValue;

/// WebNN's name for a dtype as it travels: stored weights arrive widened to float32.
pub fn data_type(dtype: DType) -> &'static str {
    match dtype {
        DType::I32 => "int32",
        _ => "float32",
    }
}

/// The name a graph input or output goes by in `dispatch`.
pub fn input_name(k: usize) -> String {
    format!("in{k}")
}

pub fn output_name(k: usize) -> String {
    format!("out{k}")
}

/// Which nodes the outputs reach.
pub fn reached(graph: &Graph) -> Vec<bool> {
    let mut seen = vec![false; graph.nodes.len()];
    for o in &graph.outputs {
        seen[o.index()] = true;
    }
    for i in (0..graph.nodes.len()).rev() {
        if seen[i] {
            for x in &graph.nodes[i].inputs {
                seen[x.index()] = true;
            }
        }
    }
    seen
}

/// Whether `node` is a product with a weight (x · W or x · Wᵀ, W a rank-2 constant): one
/// `gemm` over the rows of x, not a `matmul`.
pub fn weight_product(graph: &Graph, node: &Node) -> bool {
    let b = node.inputs.get(1).map(|b| graph.node(*b));
    matches!(node.op, Op::MatMul { transpose_a: false, .. })
        && b.is_some_and(|b| b.shape.rank() == 2 && matches!(b.op, Op::Constant(_)))
}

/// Builder calls, each a JS call that may throw: the error names the IR op it served.
pub struct Lowering<'a> {
    pub b: &'a MlGraphBuilder,
    pub op: &'static str,
}

impl Lowering<'_> {
    // One copy, not one per call site: the lowering makes a hundred of these calls.
    #[inline(never)]
    pub fn js(&self, r: std::result::Result<MlOperand, JsValue>) -> Result<MlOperand> {
        r.map_err(|e| Error::WebNn { op: self.op.into(), reason: message(&e) })
    }

    pub fn scalar(&self, data_type: &str, v: f64) -> Result<MlOperand> {
        self.js(self.b.scalar(data_type, v))
    }

    /// An int32 constant `[n]` (or the given shape) holding 0..n.
    pub fn iota(&self, dims: &[usize]) -> Result<MlOperand> {
        let n: usize = dims.iter().product();
        let v: Vec<i32> = (0..n as i32).collect();
        self.js(self.b.constant_bytes(&descriptor("int32", dims, false, false), bytemuck::cast_slice(&v)))
    }

    pub fn reshape(&self, x: &MlOperand, dims: &[usize]) -> Result<MlOperand> {
        self.js(self.b.reshape(x, &numbers(dims.iter().copied())))
    }

    pub fn transpose(&self, x: &MlOperand, perm: &[usize]) -> Result<MlOperand> {
        self.js(self.b.transpose(x, &dict(&[("permutation", numbers(perm.iter().copied()).into())])))
    }

    /// The last two axes swapped.
    pub fn swap_last(&self, x: &MlOperand, rank: usize) -> Result<MlOperand> {
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(rank - 2, rank - 1);
        self.transpose(x, &perm)
    }

    /// Softmax over the last axis. With `masked` (a mask may remove a whole row), rows
    /// that are entirely -inf give zeros, the IR's rule, where WebNN's softmax would give
    /// NaN; unmasked scores are finite, and skip the three ops that check.
    pub fn softmax(&self, x: &MlOperand, rank: usize, masked: bool) -> Result<MlOperand> {
        let last = rank - 1;
        let p = self.js(self.b.softmax(x, last as u32))?;
        if !masked {
            return Ok(p);
        }
        let keep = dict(&[("axes", numbers([last]).into()), ("keepDimensions", JsValue::TRUE)]);
        let top = self.js(self.b.reduce_max(x, &keep))?;
        let live = self.js(self.b.greater(&top, &self.scalar("float32", f64::NEG_INFINITY)?))?;
        self.js(self.b.where_(&live, &p, &self.scalar("float32", 0.0)?))
    }
}

/// Lowers the reached nodes of `graph`. `constant(i)` is the constant tensor made for
/// node `i`. Returns the operand of each output; inputs are named by declaration order.
pub fn lower(
    b: &MlGraphBuilder,
    graph: &Graph,
    constant: &dyn Fn(usize) -> Option<MlTensor>,
) -> Result<Vec<MlOperand>> {
    let reach = reached(graph);
    let fused = epilogues(graph);
    // Bias adds folded into a gemm: add node → the matmul that computed it.
    let mut folded: HashMap<usize, usize> = HashMap::new();
    let mut ops: Vec<Option<MlOperand>> = vec![None; graph.nodes.len()];
    let mut declared = 0;
    for (i, node) in graph.nodes.iter().enumerate() {
        let is_input = matches!(node.op, Op::Input { .. });
        if !reach[i] {
            declared += is_input as usize;
            continue;
        }
        if let Some(m) = folded.get(&i) {
            ops[i] = ops[*m].clone();
            continue;
        }
        let l = Lowering { b, op: node.op.name() };
        // A bias constant comes after its product in a model's graph: the gemm that takes
        // it has it made first.
        if let Some(e) = fused.get(&i).filter(|_| weight_product(graph, node)) {
            if ops[e.bias].is_none() {
                let t = constant(e.bias).ok_or_else(|| Error::InvalidGraph("a bias was not made".into()))?;
                ops[e.bias] = Some(l.js(b.constant_tensor(&t))?);
            }
        }
        let x: Vec<&MlOperand> = node
            .inputs
            .iter()
            .map(|id| {
                ops[id.index()].as_ref().ok_or_else(|| Error::InvalidGraph(format!("node {i} reads an unlowered node")))
            })
            .collect::<Result<_>>()?;
        let dims = |k: usize| graph.node(node.inputs[k]).shape.dims();
        let out = match &node.op {
            Op::Input { dtype, .. } => {
                declared += 1;
                let desc = descriptor(data_type(*dtype), node.shape.dims(), false, false);
                l.js(b.input(&input_name(declared - 1), &desc))?
            }
            Op::Constant(_) if ops[i].is_some() => continue, // a bias a gemm took first
            Op::Constant(_) => {
                let t = constant(i).ok_or_else(|| Error::InvalidGraph(format!("constant {i} was not made")))?;
                l.js(b.constant_tensor(&t))?
            }
            Op::MatMul { transpose_b, .. } if weight_product(graph, node) => {
                // x · W (or Wᵀ) with a weight: one gemm over the rows of x, taking the
                // bias add that follows, if any.
                let (d, k, n) = (dims(0), dims(0)[dims(0).len() - 1], node.shape.last());
                let rows = d.iter().product::<usize>() / k.max(1);
                let a = l.reshape(x[0], &[rows, k])?;
                let mut opts = vec![("bTranspose", JsValue::from_bool(*transpose_b))];
                let bias = fused.get(&i).and_then(|e| ops[e.bias].clone().map(|c| (e, c)));
                if let Some((e, c)) = &bias {
                    opts.push(("c", l.reshape(c, &[n])?.into()));
                    let add = if e.activation.is_some() { graph.node(NodeId(e.end)).inputs[0].index() } else { e.end };
                    folded.insert(add, i);
                }
                let y = l.js(b.gemm(&a, x[1], &dict(&opts)))?;
                l.reshape(&y, node.shape.dims())?
            }
            Op::MatMul { transpose_a, transpose_b } => {
                let a = if *transpose_a { l.swap_last(x[0], dims(0).len())? } else { x[0].clone() };
                let bb = if *transpose_b { l.swap_last(x[1], dims(1).len())? } else { x[1].clone() };
                l.js(b.matmul(&a, &bb))?
            }
            Op::Binary(op) => l.js(match op {
                BinaryOp::Add => b.add(x[0], x[1]),
                BinaryOp::Sub => b.sub(x[0], x[1]),
                BinaryOp::Mul => b.mul(x[0], x[1]),
                BinaryOp::Div => b.div(x[0], x[1]),
            })?,
            Op::Unary(op) => unary(&l, *op, x[0])?,
            Op::Softmax => {
                let s = match x.get(1) {
                    Some(mask) => l.js(b.add(x[0], mask))?,
                    None => x[0].clone(),
                };
                l.softmax(&s, node.shape.rank(), x.len() == 2)?
            }
            Op::LayerNorm { eps } => {
                let last = node.shape.rank() - 1;
                let opts = dict(&[
                    ("scale", x[1].into()),
                    ("bias", x[2].into()),
                    ("axes", numbers([last]).into()),
                    ("epsilon", JsValue::from_f64(*eps as f64)),
                ]);
                l.js(b.layer_normalization(x[0], &opts))?
            }
            Op::Gather => l.js(b.gather(x[0], x[1], &dict(&[("axis", JsValue::from_f64(0.0))])))?,
            Op::Reshape(to) => l.reshape(x[0], to)?,
            Op::Permute(perm) => l.transpose(x[0], perm)?,
            Op::Slice { axis, start, end } => {
                let d = dims(0);
                let starts = numbers((0..d.len()).map(|k| if k == *axis { *start } else { 0 }));
                let sizes = numbers((0..d.len()).map(|k| if k == *axis { end - start } else { d[k] }));
                l.js(b.slice(x[0], &starts, &sizes))?
            }
            Op::Concat { axis } => {
                let all: js_sys::Array = x.iter().map(|o| JsValue::from(*o)).collect();
                l.js(b.concat(&all, *axis as u32))?
            }
            Op::Reduce { op, axes, keep_dims } => {
                let opts =
                    dict(&[("axes", numbers(axes.iter().copied()).into()), ("keepDimensions", (*keep_dims).into())]);
                l.js(match op {
                    ReduceOp::Sum => b.reduce_sum(x[0], &opts),
                    ReduceOp::Mean => b.reduce_mean(x[0], &opts),
                })?
            }
            Op::Conv1d(p) => {
                // [N, C, L] as [N, C, 1, L], the filter [O, C/g, K] as [O, C/g, 1, K].
                let (d, f) = (dims(0), dims(1));
                let x2 = l.reshape(x[0], &[d[0], d[1], 1, d[2]])?;
                let f2 = l.reshape(x[1], &[f[0], f[1], 1, f[2]])?;
                let p2 = ConvParams {
                    stride: vec![1, p.stride[0]],
                    padding: vec![0, p.padding[0]],
                    dilation: vec![1, p.dilation[0]],
                    groups: p.groups,
                };
                let y = l.js(b.conv2d(&x2, &f2, &conv_options(&p2, x.get(2).copied())))?;
                l.reshape(&y, node.shape.dims())?
            }
            Op::Conv2d(p) => l.js(b.conv2d(x[0], x[1], &conv_options(p, x.get(2).copied())))?,
            Op::ConvTranspose2d(p) => {
                let opts = conv_options(p, x.get(2).copied());
                let _ = js_sys::Reflect::set(&opts, &"filterLayout".into(), &"iohw".into());
                l.js(b.conv_transpose2d(x[0], x[1], &opts))?
            }
            Op::Attention { causal, scale, offset } => {
                decompose::attention(&l, &x, &[dims(0), dims(1)], *causal, *scale, *offset)?
            }
            Op::Argmax => {
                let opts = dict(&[("keepDimensions", JsValue::FALSE), ("outputDataType", JsValue::from_str("int32"))]);
                l.js(b.arg_max(x[0], (dims(0).len() - 1) as u32, &opts))?
            }
            Op::WriteAt { axis } => decompose::write_at(&l, &x, dims(0), dims(1), *axis)?,
        };
        ops[i] = Some(out);
    }
    // An output that is an input or a constant goes through identity: WebNN builds
    // only op results.
    graph
        .outputs
        .iter()
        .map(|o| {
            let node = graph.node(*o);
            let operand =
                ops[o.index()].clone().ok_or_else(|| Error::InvalidGraph("an output was not lowered".into()))?;
            match node.op {
                Op::Input { .. } | Op::Constant(_) => Lowering { b, op: "identity" }.js(b.identity(&operand)),
                _ => Ok(operand),
            }
        })
        .collect()
}

fn unary(l: &Lowering<'_>, op: UnaryOp, x: &MlOperand) -> Result<MlOperand> {
    let b = l.b;
    match op {
        UnaryOp::Gelu => l.js(b.gelu(x)),
        UnaryOp::Relu => l.js(b.relu(x)),
        UnaryOp::Tanh => l.js(b.tanh(x)),
        UnaryOp::Silu => l.js(b.mul(x, &l.js(b.sigmoid(x))?)),
        UnaryOp::GeluTanh => {
            // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
            let x3 = l.js(b.mul(x, &l.js(b.mul(x, x))?))?;
            let inner = l.js(b.add(x, &l.js(b.mul(&x3, &l.scalar("float32", 0.044715)?))?))?;
            let t = l.js(b.tanh(&l.js(b.mul(&inner, &l.scalar("float32", (2.0 / std::f64::consts::PI).sqrt())?))?))?;
            let one_plus = l.js(b.add(&t, &l.scalar("float32", 1.0)?))?;
            l.js(b.mul(&l.js(b.mul(x, &one_plus))?, &l.scalar("float32", 0.5)?))
        }
    }
}

/// conv2d's options from the IR's: padding as [top, bottom, left, right].
fn conv_options(p: &ConvParams, bias: Option<&MlOperand>) -> js_sys::Object {
    let o = dict(&[
        ("padding", numbers([p.padding[0], p.padding[0], p.padding[1], p.padding[1]]).into()),
        ("strides", numbers(p.stride.iter().copied()).into()),
        ("dilations", numbers(p.dilation.iter().copied()).into()),
        ("groups", JsValue::from_f64(p.groups as f64)),
    ]);
    if let Some(bias) = bias {
        let _ = js_sys::Reflect::set(&o, &"bias".into(), bias);
    }
    o
}
