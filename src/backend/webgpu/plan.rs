//! Graph compilation: every node becomes zero or more kernel dispatches with their
//! buffers and parameters fixed, so a run is one compute pass, one submission and one
//! readback. Reshapes alias their input; a matmul followed by a bias add and an
//! activation becomes one fused dispatch; buffers are reused once no later dispatch
//! reads them.

use super::kernels::{Knobs, Pipelines};
use super::pool::BufferPool;
use super::variants::{self, Variant};
use super::weights::Weights;
use crate::error::{Error, Result};
use crate::graph::{BinaryOp, Graph, Node, Op, ReduceOp, UnaryOp};
use crate::tensor::{DType, Shape, Tensor};
use std::collections::HashMap;
use std::sync::Arc;

/// One dispatch, ready to encode.
pub struct Step {
    pub pipeline: Arc<wgpu::ComputePipeline>,
    pub bind_group: wgpu::BindGroup,
    pub groups: (u32, u32, u32),
    pub kernel: &'static str,
}

/// A compiled graph.
pub struct Plan {
    /// Held so that the graph's address, the plan cache's key, is not reused meanwhile.
    pub _graph: Arc<Graph>,
    pub steps: Vec<Step>,
    /// Buffers the run writes inputs into, in declaration order.
    pub inputs: Vec<wgpu::Buffer>,
    /// For each gather whose ids are a graph input: (input index, table rows), checked on
    /// the host before upload, since a kernel cannot fail.
    pub id_checks: Vec<(usize, usize)>,
    /// Output buffers with their dims and dtype.
    pub outputs: Vec<(wgpu::Buffer, Vec<usize>, DType)>,
    /// Every pool buffer the plan holds, returned to the pool when it is dropped.
    pub held: Vec<wgpu::Buffer>,
}

/// A value on the device: its buffer (an index into the compiler's list) and shape.
#[derive(Clone)]
struct Val {
    buf: usize,
    dims: Vec<usize>,
}

/// A dispatch before its bind group exists.
struct Pending {
    file: &'static str,
    /// B's elements are f16 (the f16 matmul variant).
    f16: bool,
    entry: &'static str,
    knobs: Knobs,
    params: Vec<u32>,
    /// Buffers for bindings 1, 2, …; `None` skips a binding the entry point does not use.
    bufs: Vec<Option<usize>>,
    /// A byte range (binding number, offset, size) bound instead of a whole buffer.
    range: Option<(u32, u64, u64)>,
    groups: (u32, u32, u32),
}

/// The 4-byte buffer bound where a kernel declares an optional input (bias, mask) that
/// this dispatch does not have; the compiler allocates it first.
const DUMMY: usize = 0;

struct Compiler<'a> {
    device: &'a wgpu::Device,
    limits: &'a wgpu::Limits,
    pool: &'a mut BufferPool,
    weights: &'a mut Weights,
    variant: &'a Variant,
    bufs: Vec<wgpu::Buffer>,
    /// Which buffers came from the pool (the rest are shared weights).
    pooled: Vec<bool>,
    /// Live values per buffer; at 0 the buffer goes back to the free list.
    live: Vec<usize>,
    free: Vec<usize>,
    pending: Vec<Pending>,
}

/// Row-major strides of `dims`.
fn contiguous(dims: &[usize]) -> Vec<usize> {
    Shape::new(dims).contiguous_strides()
}

/// `dims` padded on the left with 1s to `rank`, and strides with 0 where a dim broadcasts.
fn broadcast_strides(dims: &[usize], out: &[usize]) -> Vec<u32> {
    let pad = out.len() - dims.len();
    let own = contiguous(dims);
    (0..out.len()).map(|i| if i < pad || dims[i - pad] == 1 { 0 } else { own[i - pad] as u32 }).collect()
}

fn padded(v: &[u32], n: usize) -> Vec<u32> {
    let mut v = v.to_vec();
    v.resize(n, 0);
    v
}

fn u32s(v: &[usize]) -> Vec<u32> {
    v.iter().map(|&x| x as u32).collect()
}

/// Workgroups for `n` items at `wg` per group, on a 2-D grid when one axis is not enough.
fn linear(n: usize, wg: usize) -> (u32, u32, u32) {
    let total = n.div_ceil(wg).max(1);
    let x = total.min(65535);
    (x as u32, total.div_ceil(x) as u32, 1)
}

fn act_code(op: UnaryOp) -> u32 {
    match op {
        UnaryOp::Gelu => 1,
        UnaryOp::GeluTanh => 2,
        UnaryOp::Relu => 3,
        UnaryOp::Silu => 4,
        UnaryOp::Tanh => 5,
    }
}

/// Matmuls whose only reader is a bias add (a constant of the last dim's length), and
/// perhaps then an activation: matmul node → (bias node, activation, the node whose value
/// the fused dispatch produces).
fn fusions(g: &Graph, readers: &[usize]) -> HashMap<usize, (usize, u32, usize)> {
    let mut consumer = vec![None; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        for id in &n.inputs {
            consumer[id.index()] = Some(i);
        }
    }
    let mut out = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if !matches!(n.op, Op::MatMul { .. }) || readers[i] != 1 || g.outputs.iter().any(|o| o.index() == i) {
            continue;
        }
        let Some(a) = consumer[i] else { continue };
        let add = &g.nodes[a];
        if !matches!(add.op, Op::Binary(BinaryOp::Add)) || add.inputs[0] == add.inputs[1] {
            continue;
        }
        let other = if add.inputs[0].index() == i { add.inputs[1] } else { add.inputs[0] };
        let bias = g.node(other);
        let n_cols = n.shape.last();
        if !matches!(bias.op, Op::Constant(_)) || bias.shape.numel() != n_cols || bias.shape.last() != n_cols {
            continue;
        }
        if add.shape.dims() != n.shape.dims() {
            continue;
        }
        let mut end = (other.index(), 0, a);
        if readers[a] == 1 && !g.outputs.iter().any(|o| o.index() == a) {
            if let Some(u) = consumer[a] {
                if let Op::Unary(op) = g.nodes[u].op {
                    end = (other.index(), act_code(op), u);
                }
            }
        }
        out.insert(i, end);
    }
    out
}

impl Compiler<'_> {
    fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        let max = self.limits.max_storage_buffer_binding_size;
        if bytes > max {
            return Err(Error::GpuError(format!(
                "{what} needs {bytes} bytes, more than this device's maxStorageBufferBindingSize of {max} \
                 (only matmul weights and gather tables are split across bindings)"
            )));
        }
        Ok(())
    }

    fn alloc(&mut self, numel: usize) -> Result<usize> {
        let bytes = (numel.max(1) * 4) as u64;
        self.check_size("a value", bytes)?;
        let want = bytes.max(256).next_power_of_two();
        if let Some(pos) = self.free.iter().position(|&b| self.bufs[b].size() == want) {
            let b = self.free.swap_remove(pos);
            self.live[b] = 1;
            return Ok(b);
        }
        self.bufs.push(self.pool.take(self.device, bytes));
        self.pooled.push(true);
        self.live.push(1);
        Ok(self.bufs.len() - 1)
    }

    fn shared(&mut self, b: wgpu::Buffer) -> usize {
        self.bufs.push(b);
        self.pooled.push(false);
        self.live.push(1);
        self.bufs.len() - 1
    }

    fn release(&mut self, buf: usize) {
        self.live[buf] = self.live[buf].saturating_sub(1);
        if self.live[buf] == 0 && self.pooled[buf] {
            self.free.push(buf);
        }
    }

    fn push(
        &mut self,
        file: &'static str,
        entry: &'static str,
        params: Vec<u32>,
        bufs: Vec<usize>,
        groups: (u32, u32, u32),
    ) {
        let bufs = bufs.into_iter().map(Some).collect();
        let knobs = variants::knobs(file);
        self.pending.push(Pending { file, f16: false, entry, knobs, params, bufs, groups, range: None });
    }

    fn wg(&self, file: &str) -> usize {
        variants::knobs(file).iter().find(|(n, _)| n == "WG").map_or(64, |(_, v)| *v as usize)
    }

    fn constant(&mut self, t: &Tensor, f16: bool, transpose: bool) -> Result<usize> {
        self.check_size("a weight", (t.numel() * if f16 { 2 } else { 4 }) as u64)?;
        let b = self.weights.get(self.device, t, f16, transpose);
        Ok(self.shared(b))
    }

    /// How many columns of a `k × n` constant weight (of `elem`-byte elements) one binding
    /// holds: all `n` when it fits, else as many as fit, in multiples of 4 (the kernels'
    /// column groups).
    fn block_columns(&self, k: usize, n: usize, elem: usize) -> Result<usize> {
        let limit = self.limits.max_storage_buffer_binding_size;
        let column = (k.max(1) * elem) as u64;
        if column * n as u64 <= limit {
            return Ok(n.max(1));
        }
        match (limit / column) as usize / 4 * 4 {
            0 => Err(Error::GpuError(format!(
                "matmul: four columns of a weight with {k} rows need {} bytes, more than this device's \
                 maxStorageBufferBindingSize of {limit}",
                4 * column
            ))),
            w => Ok(w),
        }
    }

    fn copy(&mut self, src: usize, src_off: usize, dims: &[usize], src_strides: &[usize], dst: usize, dst_off: usize) {
        let n: usize = dims.iter().product();
        if n == 0 {
            return;
        }
        let dst_strides = contiguous(dims);
        let mut p = vec![n as u32, dims.len() as u32, src_off as u32, dst_off as u32];
        p.extend(padded(&u32s(dims), 6));
        p.extend(padded(&u32s(src_strides), 6));
        p.extend(padded(&u32s(&dst_strides), 6));
        let wg = self.wg("copy.wgsl");
        self.push("copy.wgsl", "main", p, vec![src, dst], linear(n, wg));
    }
}

/// Compiles `graph` for one device.
pub fn compile(
    device: &wgpu::Device,
    limits: &wgpu::Limits,
    pipelines: &Pipelines,
    pool: &mut BufferPool,
    weights: &mut Weights,
    variant: &Variant,
    graph: &Arc<Graph>,
) -> Result<Plan> {
    let g = graph.as_ref();
    let mut readers = vec![0usize; g.nodes.len()];
    for n in &g.nodes {
        for id in &n.inputs {
            readers[id.index()] += 1;
        }
    }
    let is_output = |i: usize| g.outputs.iter().any(|o| o.index() == i);
    let fused = fusions(g, &readers);
    // Nodes folded into a fused matmul: the bias add, and the activation after it.
    let mut absorbed = vec![false; g.nodes.len()];
    for &(_, act, end) in fused.values() {
        absorbed[end] = true;
        if act != 0 {
            if let Some(add) = g.nodes[end].inputs.first() {
                absorbed[add.index()] = true;
            }
        }
    }
    let mut c = Compiler {
        device,
        limits,
        pool,
        weights,
        variant,
        bufs: vec![],
        pooled: vec![],
        live: vec![],
        free: vec![],
        pending: vec![],
    };
    let dummy = c.alloc(1)?;
    debug_assert_eq!(dummy, DUMMY);
    let mut vals: Vec<Option<Val>> = vec![None; g.nodes.len()];
    let mut left = readers.clone();
    let mut inputs = vec![];
    let mut id_checks = vec![];
    let mut input_index: HashMap<usize, usize> = HashMap::new();
    for (i, node) in g.nodes.iter().enumerate() {
        let dims = node.shape.dims().to_vec();
        let val = match &node.op {
            Op::Input { .. } => {
                let b = c.alloc(node.shape.numel())?;
                input_index.insert(i, inputs.len());
                inputs.push(c.bufs[b].clone());
                Some(Val { buf: b, dims })
            }
            // Uploaded where they are read, in the precision the reader wants.
            Op::Constant(_) => None,
            _ if absorbed[i] => None,
            _ => Some(node_value(&mut c, g, i, node, &vals, &fused, &mut id_checks, &input_index)?),
        };
        if let Some(v) = val {
            vals[i] = Some(v);
        }
        // A fused dispatch's value belongs to its last node.
        if let Some(&(_, _, end)) = fused.get(&i) {
            vals[end] = vals[i].take();
        }
        // Release what this node read for the last time (after its output took a buffer,
        // so a dispatch never reads and writes one buffer).
        for id in &node.inputs {
            let j = id.index();
            left[j] = left[j].saturating_sub(1);
            if left[j] == 0 && !is_output(j) {
                if let Some(v) = vals[j].take() {
                    c.release(v.buf);
                }
            }
        }
        if readers[i] == 0 && !is_output(i) {
            if let Some(v) = vals[i].take() {
                c.release(v.buf);
            }
        }
    }
    let mut outputs = vec![];
    for o in &g.outputs {
        let v = vals[o.index()].clone().ok_or_else(|| Error::InvalidGraph("an output was never computed".into()))?;
        outputs.push((c.bufs[v.buf].clone(), v.dims, g.node(*o).dtype));
    }
    // Parameters: one buffer, each dispatch's slice at the device's offset alignment.
    let align = (limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
    let mut all: Vec<u32> = vec![];
    let mut offsets = vec![];
    for p in &c.pending {
        offsets.push(all.len());
        all.extend(&p.params);
        all.resize(all.len().div_ceil(align) * align, 0);
    }
    all.resize(all.len().max(align), 0);
    // The bind groups keep this buffer alive; the plan needs no handle of its own.
    let params = wgpu::util::DeviceExt::create_buffer_init(
        device,
        &wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: bytemuck::cast_slice(&all),
            usage: wgpu::BufferUsages::STORAGE,
        },
    );
    let mut steps = vec![];
    for (p, off) in c.pending.iter().zip(offsets) {
        let (file, knobs) = (p.file, &p.knobs);
        let pipeline = pipelines.get(device, file, p.f16, p.entry, knobs)?;
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &params,
                offset: (off * 4) as u64,
                size: std::num::NonZeroU64::new((p.params.len().max(1) * 4) as u64),
            }),
        }];
        for (k, b) in p.bufs.iter().enumerate() {
            let binding = k as u32 + 1;
            let Some(b) = b else { continue };
            let resource = match p.range {
                Some((at, offset, size)) if at == binding => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &c.bufs[*b],
                    offset,
                    size: std::num::NonZeroU64::new(size),
                }),
                _ => c.bufs[*b].as_entire_binding(),
            };
            entries.push(wgpu::BindGroupEntry { binding, resource });
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(file),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        steps.push(Step { pipeline, bind_group, groups: p.groups, kernel: file });
    }
    let held = c.bufs.iter().zip(&c.pooled).filter(|(_, &p)| p).map(|(b, _)| b.clone()).collect();
    Ok(Plan { _graph: graph.clone(), steps, inputs, id_checks, outputs, held })
}

#[allow(clippy::too_many_arguments)]
fn node_value(
    c: &mut Compiler,
    g: &Graph,
    i: usize,
    node: &Node,
    vals: &[Option<Val>],
    fused: &HashMap<usize, (usize, u32, usize)>,
    id_checks: &mut Vec<(usize, usize)>,
    input_index: &HashMap<usize, usize>,
) -> Result<Val> {
    let dims = node.shape.dims().to_vec();
    let numel = node.shape.numel();
    // An operand: a computed value, or a constant uploaded now (f32).
    let arg = |c: &mut Compiler, k: usize, f16: bool| -> Result<Val> {
        let id = node.inputs[k];
        match (&g.node(id).op, &vals[id.index()]) {
            (Op::Constant(t), _) => Ok(Val { buf: c.constant(t, f16, false)?, dims: t.dims().to_vec() }),
            (_, Some(v)) => Ok(v.clone()),
            _ => Err(Error::InvalidGraph(format!("node {i} reads a value already released"))),
        }
    };
    match &node.op {
        Op::Reshape(_) => {
            let v = arg(c, 0, false)?;
            c.live[v.buf] += 1;
            Ok(Val { buf: v.buf, dims })
        }
        Op::Permute(perm) => {
            let x = arg(c, 0, false)?;
            let out = c.alloc(numel)?;
            let s = contiguous(&x.dims);
            let src: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
            c.copy(x.buf, 0, &dims, &src, out, 0);
            Ok(Val { buf: out, dims })
        }
        Op::Slice { axis, start, .. } => {
            let x = arg(c, 0, false)?;
            let out = c.alloc(numel)?;
            let s = contiguous(&x.dims);
            c.copy(x.buf, start * s[*axis], &dims, &s, out, 0);
            Ok(Val { buf: out, dims })
        }
        Op::Concat { axis } => {
            let out = c.alloc(numel)?;
            let os = contiguous(&dims);
            let mut at = 0;
            for k in 0..node.inputs.len() {
                let x = arg(c, k, false)?;
                let s = contiguous(&x.dims);
                // The part lands in the output's strides, not its own.
                let n: usize = x.dims.iter().product();
                if n > 0 {
                    let mut p = vec![n as u32, dims.len() as u32, 0, (at * os[*axis]) as u32];
                    p.extend(padded(&u32s(&x.dims), 6));
                    p.extend(padded(&u32s(&s), 6));
                    p.extend(padded(&u32s(&os), 6));
                    let wg = c.wg("copy.wgsl");
                    c.push("copy.wgsl", "main", p, vec![x.buf, out], linear(n, wg));
                }
                at += x.dims[*axis];
            }
            Ok(Val { buf: out, dims })
        }
        Op::MatMul { transpose_a, transpose_b } => {
            let const_b = matches!(g.node(node.inputs[1]).op, Op::Constant(_));
            let use_f16 = c.variant.form.f16_weights() && const_b;
            let a = arg(c, 0, false)?;
            let r = dims.len();
            let (m, n) = (dims[r - 2], dims[r - 1]);
            let k = if *transpose_a { a.dims[a.dims.len() - 2] } else { a.dims[a.dims.len() - 1] };
            // B in column blocks (first column, width, value): one block unless B is a
            // constant 2-D weight too large for one binding.
            let (parts, transpose_b) = match &g.node(node.inputs[1]).op {
                Op::Constant(t) if t.dims().len() == 2 => {
                    let elem = if use_f16 { 2 } else { 4 };
                    let width = c.block_columns(k, n, elem)?;
                    let mut parts = vec![];
                    for lo in (0..n).step_by(width) {
                        let hi = (lo + width).min(n);
                        // A weight read transposed (Linear's `[out, in]`) is uploaded
                        // transposed once instead, so the kernel reads B along rows; its
                        // block is a range of rows, which shares the host storage.
                        let block = if *transpose_b { t.slice(0, lo, hi)? } else { t.slice(1, lo, hi)? };
                        let buf = c.constant(&block, use_f16, *transpose_b)?;
                        parts.push((lo, hi - lo, Val { buf, dims: vec![k, hi - lo] }));
                    }
                    (parts, &false)
                }
                _ => (vec![(0, n, arg(c, 1, use_f16)?)], transpose_b),
            };
            let (bias, act) = match fused.get(&i) {
                Some(&(bias, act, _)) => match &g.nodes[bias].op {
                    Op::Constant(t) => (Some(c.constant(t, false, false)?), act),
                    _ => (None, 0),
                },
                None => (None, 0),
            };
            let batch = &dims[..r - 2];
            if batch.len() > 4 {
                return Err(Error::GpuError(format!("matmul with {} batch dims (at most 4 on webgpu)", batch.len())));
            }
            let bstrides = |od: &[usize], mat: usize| -> Vec<u32> {
                let own = &od[..od.len() - 2];
                let pad = batch.len() - own.len();
                let st = contiguous(own);
                (0..batch.len())
                    .map(|d| if d < pad || own[d - pad] == 1 { 0 } else { (st[d - pad] * mat) as u32 })
                    .collect()
            };
            let out = c.alloc(numel)?;
            let nb: usize = batch.iter().product::<usize>().max(1);
            let form = if use_f16 || c.variant.name != "f16" {
                c.variant.form.clone()
            } else {
                variants::select("*", &[], Some("tiled"))?.form
            };
            let file: &'static str = match form.kernel.as_str() {
                "matmul_subgroup.wgsl" => "matmul_subgroup.wgsl",
                "matmul_f16.wgsl" => "matmul_f16.wgsl",
                _ => "matmul.wgsl",
            };
            let knob = |name: &str| form.knobs.get(name).copied().unwrap_or(8.0) as usize;
            for (first, width, b) in parts {
                let mut p = [m, width, k, *transpose_a as usize, *transpose_b as usize]
                    .iter()
                    .map(|&x| x as u32)
                    .collect::<Vec<_>>();
                p.extend([act, bias.is_some() as u32, batch.len() as u32]);
                p.extend(padded(&u32s(batch), 4));
                p.extend(padded(&bstrides(&a.dims, m * k), 4));
                p.extend(padded(&bstrides(&b.dims, k * width), 4));
                p.extend([n as u32, first as u32]);
                let groups = if file == "matmul_subgroup.wgsl" {
                    (width.div_ceil(4) as u32, m as u32, nb as u32)
                } else {
                    (
                        (width.div_ceil(4)).div_ceil(knob("WG_X")) as u32,
                        (m.div_ceil(4)).div_ceil(knob("WG_Y")) as u32,
                        nb as u32,
                    )
                };
                c.pending.push(Pending {
                    file,
                    f16: use_f16,
                    entry: "main",
                    knobs: form.knobs.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                    params: p,
                    bufs: vec![Some(a.buf), Some(b.buf), Some(bias.unwrap_or(DUMMY)), Some(out)],
                    groups,
                    range: None,
                });
            }
            Ok(Val { buf: out, dims })
        }
        Op::Binary(op) => {
            let a = arg(c, 0, false)?;
            let b = arg(c, 1, false)?;
            if dims.len() > 6 {
                return Err(Error::GpuError("elementwise ops take at most 6 dims on webgpu".into()));
            }
            let code = match op {
                BinaryOp::Add => 0,
                BinaryOp::Sub => 1,
                BinaryOp::Mul => 2,
                BinaryOp::Div => 3,
            };
            let mut p = vec![numel as u32, code, dims.len() as u32];
            p.extend(padded(&u32s(&dims), 6));
            p.extend(padded(&broadcast_strides(&a.dims, &dims), 6));
            p.extend(padded(&broadcast_strides(&b.dims, &dims), 6));
            let out = c.alloc(numel)?;
            let wg = c.wg("elementwise.wgsl");
            c.push("elementwise.wgsl", "binary", p, vec![a.buf, b.buf, out], linear(numel, wg));
            Ok(Val { buf: out, dims })
        }
        Op::Unary(op) => {
            let x = arg(c, 0, false)?;
            let out = c.alloc(numel)?;
            let wg = c.wg("elementwise.wgsl");
            // `y` (binding 2) is unused by `unary`, so its pipeline's layout has no such binding.
            c.pending.push(Pending {
                file: "elementwise.wgsl",
                f16: false,
                entry: "unary",
                knobs: variants::knobs("elementwise.wgsl"),
                params: vec![numel as u32, act_code(*op)],
                bufs: vec![Some(x.buf), None, Some(out)],
                groups: linear(numel, wg),
                range: None,
            });
            Ok(Val { buf: out, dims })
        }
        Op::Softmax => {
            let x = arg(c, 0, false)?;
            let mask = if node.inputs.len() > 1 { Some(arg(c, 1, false)?) } else { None };
            let n = node.shape.last();
            let rows = numel.checked_div(n).unwrap_or(0);
            let mut p = vec![rows as u32, n as u32, mask.is_some() as u32, dims.len() as u32];
            p.extend(padded(&u32s(&dims), 6));
            p.extend(padded(&mask.as_ref().map_or(vec![], |m| broadcast_strides(&m.dims, &dims)), 6));
            let out = c.alloc(numel)?;
            let mbuf = mask.map_or(DUMMY, |m| m.buf);
            c.push("softmax.wgsl", "main", p, vec![x.buf, mbuf, out], linear(rows, 1));
            Ok(Val { buf: out, dims })
        }
        Op::LayerNorm { eps } => {
            let x = arg(c, 0, false)?;
            let gm = arg(c, 1, false)?;
            let bt = arg(c, 2, false)?;
            let n = node.shape.last();
            let rows = numel.checked_div(n).unwrap_or(0);
            let out = c.alloc(numel)?;
            c.push(
                "layer_norm.wgsl",
                "main",
                vec![rows as u32, n as u32, eps.to_bits()],
                vec![x.buf, gm.buf, bt.buf, out],
                linear(rows, 1),
            );
            Ok(Val { buf: out, dims })
        }
        Op::Gather => {
            let ids = arg(c, 1, false)?;
            let tid = node.inputs[0];
            let tdims = g.node(tid).shape.dims().to_vec();
            let (v, d) = (tdims[0], tdims[1]);
            match &g.node(node.inputs[1]).op {
                Op::Input { .. } => id_checks.push((input_index[&node.inputs[1].index()], v)),
                Op::Constant(t) => {
                    if let Some(bad) = t.to_i32_vec("gather")?.into_iter().find(|&x| x < 0 || x as usize >= v) {
                        return Err(Error::arg("gather", format!("index {bad} is outside the table's {v} rows")));
                    }
                }
                // Ids computed on the device are clamped by the kernel.
                _ => {}
            }
            let out = c.alloc(numel)?;
            let wg = c.wg("gather.wgsl");
            let row_bytes = (d * 4) as u64;
            let limit = c.limits.max_storage_buffer_binding_size;
            let table = match &g.node(tid).op {
                // A constant table over the binding limit is bound in row ranges.
                Op::Constant(t) if v as u64 * row_bytes > limit => {
                    let align = c.limits.min_storage_buffer_offset_alignment as u64;
                    // Rows per range: as many as fit, kept to a multiple of the offset alignment.
                    let step = (limit / row_bytes).max(1);
                    let step = (1..=step).rev().find(|r| (r * row_bytes) % align == 0).ok_or_else(|| {
                        Error::GpuError(format!(
                            "gather: rows of {row_bytes} bytes cannot be split at {align}-byte offsets"
                        ))
                    })?;
                    let whole = (v as u64) * row_bytes;
                    if whole > c.limits.max_buffer_size {
                        return Err(Error::GpuError(format!(
                            "gather: a table of {whole} bytes exceeds this device's maxBufferSize of {}",
                            c.limits.max_buffer_size
                        )));
                    }
                    let b = c.weights.get(c.device, t, false, false);
                    let tb = c.shared(b);
                    let mut lo = 0u64;
                    while lo < v as u64 {
                        let hi = (lo + step).min(v as u64);
                        let p = vec![numel as u32, d as u32, v as u32, lo as u32, hi as u32];
                        c.pending.push(Pending {
                            file: "gather.wgsl",
                            f16: false,
                            entry: "part",
                            knobs: variants::knobs("gather.wgsl"),
                            params: p,
                            bufs: vec![Some(tb), Some(ids.buf), Some(out)],
                            groups: linear(numel, wg),
                            range: Some((1, lo * row_bytes, (hi - lo) * row_bytes)),
                        });
                        lo = hi;
                    }
                    return Ok(Val { buf: out, dims });
                }
                _ => arg(c, 0, false)?,
            };
            c.push(
                "gather.wgsl",
                "main",
                vec![numel as u32, d as u32, v as u32],
                vec![table.buf, ids.buf, out],
                linear(numel, wg),
            );
            Ok(Val { buf: out, dims })
        }
        Op::Reduce { op, axes, .. } => {
            let x = arg(c, 0, false)?;
            let xd = &x.dims;
            if xd.len() > 6 {
                return Err(Error::GpuError("reduce takes at most 6 dims on webgpu".into()));
            }
            let kept: Vec<usize> = xd.iter().enumerate().map(|(k, &d)| if axes.contains(&k) { 1 } else { d }).collect();
            let red: Vec<usize> = xd.iter().enumerate().map(|(k, &d)| if axes.contains(&k) { d } else { 1 }).collect();
            let count: usize = red.iter().product();
            let mut p = vec![numel as u32, xd.len() as u32, count as u32, (*op == ReduceOp::Mean) as u32];
            p.extend(padded(&u32s(&kept), 6));
            p.extend(padded(&u32s(&red), 6));
            p.extend(padded(&u32s(&contiguous(xd)), 6));
            let out = c.alloc(numel)?;
            let wg = c.wg("reduce.wgsl");
            c.push("reduce.wgsl", "main", p, vec![x.buf, out], linear(numel, wg));
            Ok(Val { buf: out, dims })
        }
        Op::Attention { causal, scale } => {
            let q = arg(c, 0, false)?;
            let k = arg(c, 1, false)?;
            let v = arg(c, 2, false)?;
            let mask = if node.inputs.len() > 3 { Some(arg(c, 3, false)?) } else { None };
            let (b, h, sq, d) = (q.dims[0], q.dims[1], q.dims[2], q.dims[3]);
            let (sk, dv) = (k.dims[2], v.dims[3]);
            if dv > 128 {
                return Err(Error::GpuError(format!("attention with head size {dv} (at most 128 on webgpu)")));
            }
            let p = vec![
                (b * h) as u32,
                h as u32,
                sq as u32,
                sk as u32,
                d as u32,
                dv as u32,
                *causal as u32,
                mask.is_some() as u32,
                scale.to_bits(),
            ];
            let out = c.alloc(numel)?;
            let mbuf = mask.map_or(DUMMY, |m| m.buf);
            let wg = c.wg("attention.wgsl");
            c.push("attention.wgsl", "main", p, vec![q.buf, k.buf, v.buf, mbuf, out], linear(b * h * sq, wg));
            Ok(Val { buf: out, dims })
        }
        Op::Conv1d(cp) | Op::Conv2d(cp) => {
            let x = arg(c, 0, false)?;
            let w = arg(c, 1, false)?;
            let bias = if node.inputs.len() > 2 { Some(arg(c, 2, false)?) } else { None };
            let two = matches!(node.op, Op::Conv2d(_));
            // 1-D convolution is 2-D with height 1.
            let sp = |v: &[usize], k: usize| {
                if two {
                    v[k]
                } else if k == 0 {
                    1
                } else {
                    v[k - 1]
                }
            };
            let pp = |v: &[usize], dflt: usize| if two { (v[0], v[1]) } else { (dflt, v[0]) };
            let (xd, wd) = (&x.dims, &w.dims);
            let (sh, sw) = pp(&cp.stride, 1);
            let (ph, pw) = pp(&cp.padding, 0);
            let (dh, dw) = pp(&cp.dilation, 1);
            let p = vec![
                numel,
                xd[0],
                xd[1],
                sp(&xd[2..], 0),
                sp(&xd[2..], 1),
                wd[0],
                sp(&wd[2..], 0),
                sp(&wd[2..], 1),
                sp(&dims[2..], 0),
                sp(&dims[2..], 1),
                sh,
                sw,
                ph,
                pw,
                dh,
                dw,
                cp.groups,
                bias.is_some() as usize,
            ];
            let out = c.alloc(numel)?;
            let bbuf = bias.map_or(DUMMY, |b| b.buf);
            let wg = c.wg("conv.wgsl");
            c.push("conv.wgsl", "main", u32s(&p), vec![x.buf, w.buf, bbuf, out], linear(numel, wg));
            Ok(Val { buf: out, dims })
        }
        Op::Input { .. } | Op::Constant(_) => Err(Error::InvalidGraph("leaf nodes are not compiled".into())),
    }
}
