//! The CPU backend: interprets a graph node by node with SIMD kernels, recycling the
//! buffers of values that nothing reads again.

mod argmax;
mod attention;
mod broadcast;
mod concat;
mod conv;
mod elementwise;
mod gather;
pub mod gemm;
mod matmul;
mod norm;
pub mod parallel;
mod plan;
mod pool;
mod q8gemm;
mod qgemm;
mod reduce;
pub mod simd;
mod softmax;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod split_tests;
mod workspace;
mod write_at;

pub use matmul::GEMV_ROWS;
/// Fallible allocation, for host buffers made outside the kernels (a JS tensor's copy).
#[cfg(target_arch = "wasm32")]
pub(crate) use pool::zeroed;
pub use simd::Path;

use crate::error::{Error, Result};
use crate::graph::{Epilogue, Graph, Node, Op, UnaryOp};
use crate::runtime::Lru;
use crate::tensor::{DType, Tensor};
use plan::{CpuPlan, Schedule};
use std::sync::{Arc, Mutex};
use workspace::Workspace;

pub struct CpuBackend {
    path: Path,
    ws: Mutex<Workspace>,
    plans: Mutex<Lru<u64, Arc<CpuPlan>>>,
    stats: Mutex<crate::backend::RunStats>,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    /// A backend on the fastest path this build has.
    pub fn new() -> Self {
        Self::with_path(Path::best())
    }

    /// A backend forced onto one kernel path (tests run every available path).
    pub fn with_path(path: Path) -> Self {
        CpuBackend {
            path,
            ws: Mutex::new(Workspace::default()),
            plans: Mutex::new(Lru::new(plan::PLAN_LIMIT, u64::MAX)),
            stats: Mutex::default(),
        }
    }

    pub fn path(&self) -> Path {
        self.path
    }

    /// Runs `graph` on `inputs` (one per input node, in declaration order) and returns
    /// the graph's outputs.
    pub fn run(&self, graph: &Graph, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        self.execute(graph, &Schedule::of(graph), inputs.to_vec())
    }

    /// Runs `graph` on `sched`, owning the inputs: a cache written in place (`WriteAt`)
    /// must be held by nothing else.
    fn execute(&self, graph: &Graph, sched: &Schedule, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let last = &sched.last;
        graph.check_inputs(&inputs)?;
        let mut ws = self.ws.lock().unwrap_or_else(|p| p.into_inner());
        let ws = &mut *ws;
        let mut values: Vec<Option<Tensor>> = vec![None; graph.nodes.len()];
        let mut next_input = inputs.into_iter();
        for (i, node) in graph.nodes.iter().enumerate() {
            if sched.absorbed[i] {
                // Its fused matmul already put the value where this node's goes.
                continue;
            }
            let value = match &node.op {
                // Checked against its declaration by `check_inputs` above.
                Op::Input { .. } => next_input.next().unwrap_or_else(|| Tensor::zeros(vec![0])),
                Op::Constant(t) => t.clone(),
                Op::WriteAt { axis } => {
                    // The base is taken, not shared, when nothing reads it later: the write
                    // then lands in its buffer.
                    let b = node.inputs[0].index();
                    let base = if last[b] == i { values[b].take() } else { values[b].clone() };
                    let arg = |k: usize| values[node.inputs[k].index()].as_ref();
                    match (base, arg(1), arg(2)) {
                        (Some(base), Some(update), Some(offset)) => write_at::write_at(base, update, offset, *axis)?,
                        _ => return Err(Error::InvalidGraph(format!("node {i} reads a value already released"))),
                    }
                }
                _ => {
                    let args: Vec<&Tensor> = node
                        .inputs
                        .iter()
                        .map(|id| values[id.index()].as_ref())
                        .collect::<Option<_>>()
                        .ok_or_else(|| Error::InvalidGraph(format!("node {i} reads a value already released")))?;
                    let const_b = matches!(node.op, Op::MatMul { .. })
                        && matches!(graph.node(node.inputs[1]).op, Op::Constant(_));
                    self.eval(node, &args, const_b, ws)?
                }
            };
            match sched.fused.get(&i) {
                Some(e) => values[e.end] = Some(self.epilogue(graph, e, value)?),
                None => values[i] = Some(value),
            }
            for id in &node.inputs {
                if last[id.index()] == i {
                    if let Some(buf) = values[id.index()].take().and_then(Tensor::into_f32_buffer) {
                        ws.pool.put(buf);
                    }
                }
            }
        }
        graph
            .outputs
            .iter()
            .map(|id| {
                values[id.index()].clone().ok_or_else(|| Error::InvalidGraph("an output was never computed".into()))
            })
            .collect()
    }

    /// A fused matmul's bias add and activation, applied to its product in place.
    fn epilogue(&self, graph: &Graph, e: &Epilogue, product: Tensor) -> Result<Tensor> {
        let dims = product.dims().to_vec();
        let Op::Constant(bias) = &graph.nodes[e.bias].op else {
            return Err(Error::InvalidGraph("a fused bias is not a constant".into()));
        };
        let bias = bias.contiguous();
        let bias = bias.as_f32_slice().unwrap_or(&[]);
        let mut buf = product.into_f32_vec();
        parallel::rows(&mut buf, bias.len(), |part| {
            for row in part.chunks_exact_mut(bias.len().max(1)) {
                for (x, b) in row.iter_mut().zip(bias) {
                    *x += *b;
                }
            }
            if let Some(op) = e.activation {
                unary_kernel(op)(self.path, part);
            }
        });
        Tensor::from_f32(dims, buf)
    }

    /// Computes one node. `const_b`: a matmul whose right operand is a graph constant,
    /// whose packing is then cached.
    fn eval(&self, node: &Node, args: &[&Tensor], const_b: bool, ws: &mut Workspace) -> Result<Tensor> {
        let path = self.path;
        let dims = node.shape.dims();
        // Layout ops work for any dtype through views and need no pool buffer.
        match &node.op {
            Op::Reshape(to) => return args[0].reshape(to),
            Op::Permute(perm) => return Ok(args[0].permute(perm)?.contiguous()),
            Op::Slice { axis, start, end } => return Ok(args[0].slice(*axis, *start, *end)?.contiguous()),
            Op::Concat { axis } => {
                let parts: Vec<Tensor> = args.iter().map(|t| t.contiguous()).collect();
                return concat_tensors(&parts, *axis, dims);
            }
            Op::Argmax => return argmax::argmax(&args[0].contiguous()),
            Op::Input { .. } | Op::Constant(_) | Op::WriteAt { .. } => {
                return Err(Error::InvalidGraph(format!("{} is not evaluated node by node", node.op.name())))
            }
            _ => {}
        }
        // f32 operands as contiguous data; views are materialised once here.
        let owned: Vec<Tensor> = args.iter().map(|t| t.contiguous()).collect();
        let f = |i: usize| owned[i].as_f32_slice().unwrap_or(&[]);
        let d = |i: usize| owned[i].dims();
        let mut out = ws.pool.take(node.shape.numel())?;
        let done = match &node.op {
            Op::MatMul { .. } if args[1].dtype().is_stored() => {
                let w = args[1].stored_bytes().unwrap_or_default();
                qgemm::matmul_stored(path, f(0), d(1)[1], w, args[1].dtype(), &mut out, &mut ws.stored);
                Ok(())
            }
            Op::MatMul { transpose_a, transpose_b } => {
                let a = matmul::Operand { data: f(0), dims: d(0), transposed: *transpose_a };
                let b = matmul::Operand { data: f(1), dims: d(1), transposed: *transpose_b };
                let rows = a.data.len() / d(1)[d(1).len() - 1].max(1);
                let gemv = const_b && *transpose_b && !*transpose_a && d(1).len() == 2 && rows <= matmul::GEMV_ROWS;
                let packed = if const_b && d(1).len() == 2 && !gemv { ws.packed.get(args[1], &b) } else { None };
                match packed {
                    _ if gemv => {
                        matmul::gemv_t(path, a.data, b.data, d(1)[1], &mut out);
                        Ok(())
                    }
                    Some(pb) => {
                        matmul::matmul_packed(path, &a, &pb, &mut out, &mut ws.gemm.pa);
                        Ok(())
                    }
                    None => matmul::matmul(path, &a, &b, &mut out, dims, &mut ws.gemm),
                }
            }
            Op::Binary(op) => elementwise::binary(*op, f(0), d(0), f(1), d(1), &mut out, dims),
            Op::Unary(op) => {
                out.copy_from_slice(f(0));
                // Parts of whole vectors, so each element takes the path it takes on one thread.
                parallel::rows(&mut out, 8, |part| unary_kernel(*op)(path, part));
                Ok(())
            }
            Op::Softmax => {
                let masked = match owned.get(1) {
                    Some(mask) => elementwise::binary(
                        crate::graph::BinaryOp::Add,
                        f(0),
                        d(0),
                        mask.as_f32_slice().unwrap_or(&[]),
                        mask.dims(),
                        &mut out,
                        dims,
                    ),
                    None => {
                        out.copy_from_slice(f(0));
                        Ok(())
                    }
                };
                if masked.is_ok() {
                    softmax::softmax_rows(path, &mut out, node.shape.last());
                }
                masked
            }
            Op::LayerNorm { eps } => {
                out.copy_from_slice(f(0));
                parallel::rows(&mut out, d(1).iter().product(), |part| norm::layer_norm(path, part, f(1), f(2), *eps));
                Ok(())
            }
            Op::Gather if args[0].dtype().is_stored() => {
                let (table, dtype, width) = (args[0].stored_bytes().unwrap_or_default(), args[0].dtype(), d(0)[1]);
                owned[1].to_i32_vec("gather").and_then(|ids| gather::gather_stored(table, dtype, width, &ids, &mut out))
            }
            Op::Gather => {
                let width = d(0)[1];
                owned[1].to_i32_vec("gather").and_then(|ids| gather::gather(f(0), width, &ids, &mut out))
            }
            Op::Reduce { op, axes, .. } => reduce::reduce(*op, f(0), d(0), axes, &mut out),
            Op::Conv1d(p) | Op::Conv2d(p) => {
                let (x, w) = (d(0), d(1));
                let two = matches!(node.op, Op::Conv2d(_));
                let sp = |v: &[usize], i: usize| {
                    if two {
                        v[i]
                    } else if i == 0 {
                        1
                    } else {
                        v[i - 1]
                    }
                };
                let pp = |v: &Vec<usize>, dflt: usize| if two { (v[0], v[1]) } else { (dflt, v[0]) };
                let g = conv::ConvGeom {
                    n: x[0],
                    c: x[1],
                    h: sp(&x[2..], 0),
                    w: sp(&x[2..], 1),
                    o: w[0],
                    kh: sp(&w[2..], 0),
                    kw: sp(&w[2..], 1),
                    oh: sp(&dims[2..], 0),
                    ow: sp(&dims[2..], 1),
                    stride: pp(&p.stride, 1),
                    pad: pp(&p.padding, 0),
                    dil: pp(&p.dilation, 1),
                    groups: p.groups,
                };
                let bias = owned.get(2).and_then(|b| b.as_f32_slice());
                conv::conv2d(path, f(0), f(1), bias, &g, &mut out, &mut ws.gemm)
            }
            Op::ConvTranspose2d(p) => {
                let (x, w) = (d(0), d(1));
                let g = conv::ConvGeom {
                    n: x[0],
                    c: x[1],
                    h: x[2],
                    w: x[3],
                    o: w[1],
                    kh: w[2],
                    kw: w[3],
                    oh: dims[2],
                    ow: dims[3],
                    stride: (p.stride[0], p.stride[1]),
                    pad: (p.padding[0], p.padding[1]),
                    dil: (p.dilation[0], p.dilation[1]),
                    groups: 1,
                };
                let bias = owned.get(2).and_then(|b| b.as_f32_slice());
                conv::conv_transpose2d(path, f(0), f(1), bias, &g, &mut out, &mut ws.gemm)
            }
            Op::Attention { causal, scale, offset } => {
                let (q, k, v) = (d(0), d(1), d(2));
                let a = attention::AttnDims { b: q[0], h: q[1], sq: q[2], sk: k[2], d: q[3], dv: v[3] };
                let floats = owned.len() - *offset as usize;
                let mask = if floats == 4 { owned[3].as_f32_slice() } else { None };
                // The first query's position: given, or the queries end on the last key.
                let first = match offset {
                    true => write_at::offset(&owned[floats], "attention", usize::MAX),
                    false => Ok(a.sk as isize - a.sq as isize),
                };
                first.and_then(|first| {
                    let causal = causal.then_some(first);
                    attention::attention(path, f(0), f(1), f(2), mask, causal, *scale, &a, &mut out, &mut ws.gemm)
                })
            }
            // Layout and leaf ops returned above; an error, not a panic, should that change.
            Op::Reshape(_)
            | Op::Permute(_)
            | Op::Slice { .. }
            | Op::Concat { .. }
            | Op::Input { .. }
            | Op::Constant(_)
            | Op::Argmax
            | Op::WriteAt { .. } => Err(Error::InvalidGraph(format!("{} has no compute kernel", node.op.name()))),
        };
        if let Err(e) = done {
            // The buffer goes back to the pool: nothing is held across an error.
            ws.pool.put(out);
            return Err(e);
        }
        Tensor::from_f32(dims.to_vec(), out)
    }
}

/// The in-place kernel of an activation.
fn unary_kernel(op: UnaryOp) -> fn(Path, &mut [f32]) {
    match op {
        UnaryOp::Gelu => simd::gelu,
        UnaryOp::GeluTanh => simd::gelu_tanh,
        UnaryOp::Relu => simd::relu,
        UnaryOp::Silu => simd::silu,
        UnaryOp::Tanh => simd::tanh,
    }
}

fn concat_tensors(parts: &[Tensor], axis: usize, dims: &[usize]) -> Result<Tensor> {
    if parts.first().map(|t| t.dtype()) == Some(DType::I32) {
        let vals: Vec<Vec<i32>> = parts.iter().map(|t| t.to_i32_vec("concat")).collect::<Result<_>>()?;
        let refs: Vec<(&[i32], &[usize])> = vals.iter().zip(parts).map(|(v, t)| (v.as_slice(), t.dims())).collect();
        let mut out = Vec::new();
        concat::concat(&refs, axis, &mut out);
        return Tensor::from_i32(dims.to_vec(), out);
    }
    let refs: Vec<(&[f32], &[usize])> = parts.iter().map(|t| (t.as_f32_slice().unwrap_or(&[]), t.dims())).collect();
    let mut out = Vec::new();
    concat::concat(&refs, axis, &mut out);
    Tensor::from_f32(dims.to_vec(), out)
}
