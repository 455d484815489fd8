//! Graph compilation: every node becomes zero or more kernel dispatches with their
//! buffers and parameters fixed, so a run is one compute pass and one submission.
//! Reshapes alias their input; a matmul followed by a bias add and an activation becomes
//! one fused dispatch (graph::passes::fusion); buffers are reused once no later dispatch reads them;
//! input buffers are never reused, so a run may bind a device value in their place.

use super::compiler::{Compiler, Val, DUMMY};
use super::kernels::Pipelines;
use super::lower::node_value;
use super::pool::BufferPool;
use super::variants::Variant;
use super::weights::Weights;
use crate::error::{Error, Result};
use crate::graph::{absorbed, epilogues, readers, Graph, Node, Op};
use crate::tensor::DType;
use std::collections::HashMap;
use std::sync::Arc;

/// One dispatch, ready to encode.
pub struct Step {
    pub pipeline: Arc<wgpu::ComputePipeline>,
    pub bind_group: wgpu::BindGroup,
    pub groups: (u32, u32, u32),
    pub kernel: &'static str,
    /// What the bind group binds: the parameters' word range, then (binding, buffer
    /// index, byte range) per buffer, so a run can bind a device value in place of a
    /// plan buffer.
    params: (u64, u64),
    binds: Vec<Bind>,
}

/// One buffer binding of a step: binding number, buffer index, and the byte range
/// (offset, size) where not the whole buffer.
type Bind = (u32, usize, Option<(u64, u64)>);
pub use crate::backend::checks::Check;

/// A compiled graph.
pub struct Plan {
    /// Held so that the storage addresses in the graph's content key (the plan cache's
    /// key) are not reused meanwhile.
    pub _graph: Arc<Graph>,
    pub steps: Vec<Step>,
    /// Every buffer the plan binds, by index.
    pub bufs: Vec<wgpu::Buffer>,
    params: wgpu::Buffer,
    /// The buffer index of each input, in declaration order; a host input is written
    /// there, a device input bound there instead.
    pub inputs: Vec<usize>,
    /// Per input: whether the plan writes into its buffer (a cache append in place).
    pub written: Vec<bool>,
    /// Per input: whether it is resident (its plan buffer a placeholder that every run
    /// replaces with the value given).
    pub resident: Vec<bool>,
    pub checks: Vec<Check>,
    /// Output buffer indices with their dims and dtype.
    pub outputs: Vec<(usize, Vec<usize>, DType)>,
    /// Every pool buffer the plan holds, returned to the pool when it is dropped.
    pub held: Vec<wgpu::Buffer>,
}

impl Plan {
    /// Step `i`'s bind group over `bufs` (the plan's buffers with device values in place
    /// of some), or `None` when it binds none of `swapped` and its own group serves.
    pub fn rebind(
        &self,
        device: &wgpu::Device,
        i: usize,
        bufs: &[wgpu::Buffer],
        swapped: &[usize],
    ) -> Option<wgpu::BindGroup> {
        let s = &self.steps[i];
        s.binds
            .iter()
            .any(|(_, b, _)| swapped.contains(b))
            .then(|| bind_group(device, s.kernel, &s.pipeline, &self.params, s.params, &s.binds, bufs))
    }
}

fn bind_group(
    device: &wgpu::Device,
    label: &str,
    pipeline: &wgpu::ComputePipeline,
    params: &wgpu::Buffer,
    (offset, size): (u64, u64),
    binds: &[Bind],
    bufs: &[wgpu::Buffer],
) -> wgpu::BindGroup {
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: params,
            offset,
            size: std::num::NonZeroU64::new(size),
        }),
    }];
    for &(binding, b, range) in binds {
        let resource = match range {
            Some((offset, size)) => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &bufs[b],
                offset,
                size: std::num::NonZeroU64::new(size),
            }),
            None => bufs[b].as_entire_binding(),
        };
        entries.push(wgpu::BindGroupEntry { binding, resource });
    }
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
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
    let readers = readers(g);
    let is_output = |i: usize| g.outputs.iter().any(|o| o.index() == i);
    let fused = epilogues(g);
    // Nodes folded into a fused matmul: the bias add, and the activation after it.
    let absorbed = absorbed(g, &fused);
    let mut c = Compiler {
        device,
        limits,
        pool,
        weights,
        variant,
        bufs: vec![],
        pooled: vec![],
        pinned: vec![],
        written: vec![],
        live: vec![],
        free: vec![],
        pending: vec![],
    };
    let dummy = c.alloc(1)?;
    debug_assert_eq!(dummy, DUMMY);
    let mut vals: Vec<Option<Val>> = vec![None; g.nodes.len()];
    let mut left = readers.clone();
    let mut inputs = vec![];
    let mut resident_inputs = vec![];
    let mut checks = vec![];
    let mut input_index: HashMap<usize, usize> = HashMap::new();
    for (i, node) in g.nodes.iter().enumerate() {
        let dims = node.shape.dims().to_vec();
        let val = match &node.op {
            Op::Input { resident, .. } => {
                // A resident input's placeholder is never written or read: the run binds
                // the value given in its place.
                let b = if *resident { c.placeholder() } else { c.alloc(node.shape.numel())? };
                c.pinned[b] = true;
                input_index.insert(i, inputs.len());
                inputs.push(b);
                resident_inputs.push(*resident);
                Some(Val { buf: b, dims })
            }
            // Uploaded where they are read, in the precision the reader wants.
            Op::Constant(_) => None,
            _ if absorbed[i] => None,
            _ => {
                let at = Lowering { g, i, node, vals: &vals, left: &left, input_index: &input_index };
                Some(node_value(&mut c, &at, &fused, &mut checks)?)
            }
        };
        if let Some(v) = val {
            vals[i] = Some(v);
        }
        // A fused dispatch's value belongs to its last node.
        if let Some(e) = fused.get(&i) {
            vals[e.end] = vals[i].take();
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
        outputs.push((v.buf, v.dims, g.node(*o).dtype));
    }
    let written = inputs.iter().map(|&b| c.written[b]).collect();
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
        let range = ((off * 4) as u64, (p.params.len().max(1) * 4) as u64);
        let binds: Vec<_> = p
            .bufs
            .iter()
            .enumerate()
            .filter_map(|(k, b)| {
                let binding = k as u32 + 1;
                let r = p.range.filter(|(at, ..)| *at == binding).map(|(_, o, n)| (o, n));
                b.map(|b| (binding, b, r))
            })
            .collect();
        let bind_group = bind_group(device, file, &pipeline, &params, range, &binds, &c.bufs);
        steps.push(Step { pipeline, bind_group, groups: p.groups, kernel: file, params: range, binds });
    }
    let held = c.bufs.iter().zip(&c.pooled).filter(|(_, &p)| p).map(|(b, _)| b.clone()).collect();
    Ok(Plan {
        _graph: graph.clone(),
        steps,
        bufs: c.bufs,
        params,
        inputs,
        written,
        resident: resident_inputs,
        checks,
        outputs,
        held,
    })
}

/// Where the lowering of one node stands: the graph, the node, the values computed so
/// far and how many readers each value has left.
pub(super) struct Lowering<'a> {
    pub g: &'a Graph,
    pub i: usize,
    pub node: &'a Node,
    pub vals: &'a [Option<Val>],
    pub left: &'a [usize],
    pub input_index: &'a HashMap<usize, usize>,
}

impl Lowering<'_> {
    /// The input index of node `id` when it is a graph input, for a host-side check.
    pub(super) fn check(
        &self,
        id: crate::graph::NodeId,
        op: &'static str,
        what: &'static str,
        lo: i64,
        hi: i64,
    ) -> Option<Check> {
        self.input_index.get(&id.index()).map(|&input| Check { input, op, what, lo, hi })
    }

    /// Input `k` of the node: a computed value, or a constant uploaded now (f16 where the
    /// reader asks).
    pub(super) fn arg(&self, c: &mut Compiler, k: usize, f16: bool) -> Result<Val> {
        let id = self.node.inputs[k];
        match (&self.g.node(id).op, &self.vals[id.index()]) {
            (Op::Constant(t), _) => Ok(Val { buf: c.constant(t, f16, false)?, dims: t.dims().to_vec() }),
            (_, Some(v)) => Ok(v.clone()),
            _ => Err(Error::InvalidGraph(format!("node {} reads a value already released", self.i))),
        }
    }
}
