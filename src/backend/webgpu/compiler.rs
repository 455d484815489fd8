//! The compiler's state while a graph is lowered: its buffers (pooled, shared weights,
//! pinned inputs), their live counts and free list, and the dispatches pushed so far;
//! with the small helpers every lowering uses.

use super::kernels::Knobs;
use super::params::{fixed, CopyParams, Params};
use super::pool::BufferPool;
use super::variants::{self, Variant};
use super::weights::Weights;
use crate::error::{Error, Result};
use crate::graph::UnaryOp;
use crate::tensor::{Shape, Tensor};

/// A value on the device: its buffer (an index into the compiler's list) and shape.
#[derive(Clone)]
pub(super) struct Val {
    pub buf: usize,
    pub dims: Vec<usize>,
}

/// A dispatch before its bind group exists.
pub(super) struct Pending {
    pub file: &'static str,
    /// B's elements are f16 (the f16 matmul variant).
    pub f16: bool,
    pub entry: &'static str,
    pub knobs: Knobs,
    pub params: Vec<u32>,
    /// Buffers for bindings 1, 2, …; `None` skips a binding the entry point does not use.
    pub bufs: Vec<Option<usize>>,
    /// A byte range (binding number, offset, size) bound instead of a whole buffer.
    pub range: Option<(u32, u64, u64)>,
    pub groups: (u32, u32, u32),
}

/// The 4-byte buffer bound where a kernel declares an optional input (bias, mask) that
/// this dispatch does not have; the compiler allocates it first.
pub(super) const DUMMY: usize = 0;

pub(super) struct Compiler<'a> {
    pub device: &'a wgpu::Device,
    pub limits: &'a wgpu::Limits,
    pub pool: &'a mut BufferPool,
    pub weights: &'a mut Weights,
    pub variant: &'a Variant,
    pub bufs: Vec<wgpu::Buffer>,
    /// Which buffers came from the pool (the rest are shared weights).
    pub pooled: Vec<bool>,
    /// Input buffers, never reused for another value: a run may bind a device value there.
    pub pinned: Vec<bool>,
    /// Buffers a `WriteAt` writes into in place.
    pub written: Vec<bool>,
    /// Live values per buffer; at 0 the buffer goes back to the free list.
    pub live: Vec<usize>,
    pub free: Vec<usize>,
    pub pending: Vec<Pending>,
}

/// Row-major strides of `dims`.
pub(super) fn contiguous(dims: &[usize]) -> Vec<usize> {
    Shape::new(dims).contiguous_strides()
}

/// The strides of `dims` read as the `out` shape it broadcasts to (padded on the left to
/// its rank), with 0 where a dim broadcasts.
pub(super) fn broadcast_strides(dims: &[usize], out: &[usize]) -> Vec<usize> {
    let pad = out.len() - dims.len();
    let own = contiguous(dims);
    (0..out.len()).map(|i| if i < pad || dims[i - pad] == 1 { 0 } else { own[i - pad] }).collect()
}

/// Workgroups for `n` items at `wg` per group, on a 2-D grid when one axis is not enough.
pub(super) fn linear(n: usize, wg: usize) -> (u32, u32, u32) {
    let total = n.div_ceil(wg).max(1);
    let x = total.min(65535);
    (x as u32, total.div_ceil(x) as u32, 1)
}

pub(super) fn act_code(op: UnaryOp) -> u32 {
    match op {
        UnaryOp::Gelu => 1,
        UnaryOp::GeluTanh => 2,
        UnaryOp::Relu => 3,
        UnaryOp::Silu => 4,
        UnaryOp::Tanh => 5,
    }
}

impl Compiler<'_> {
    pub(super) fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        let max = self.limits.max_storage_buffer_binding_size;
        if bytes > max {
            return Err(Error::GpuError(format!(
                "{what} needs {bytes} bytes, more than this device's maxStorageBufferBindingSize of {max} \
                 (only matmul weights and gather tables are split across bindings)"
            )));
        }
        Ok(())
    }

    pub(super) fn alloc(&mut self, numel: usize) -> Result<usize> {
        let bytes = (numel.max(1) * 4) as u64;
        self.check_size("a value", bytes)?;
        let want = bytes.max(256).next_power_of_two();
        if let Some(pos) = self.free.iter().position(|&b| self.bufs[b].size() == want) {
            let b = self.free.swap_remove(pos);
            self.live[b] = 1;
            return Ok(b);
        }
        let b = self.pool.take(self.device, bytes);
        Ok(self.add(b, true))
    }

    pub(super) fn add(&mut self, b: wgpu::Buffer, pooled: bool) -> usize {
        self.bufs.push(b);
        self.pooled.push(pooled);
        self.pinned.push(false);
        self.written.push(false);
        self.live.push(1);
        self.bufs.len() - 1
    }

    /// A minimal buffer standing for a resident input in the plan's bind groups; every
    /// run binds the input's value in its place.
    pub(super) fn placeholder(&mut self) -> usize {
        let b = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("resident input"),
            size: 256,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.add(b, false)
    }

    pub(super) fn shared(&mut self, b: wgpu::Buffer) -> usize {
        self.add(b, false)
    }

    pub(super) fn release(&mut self, buf: usize) {
        self.live[buf] = self.live[buf].saturating_sub(1);
        if self.live[buf] == 0 && self.pooled[buf] && !self.pinned[buf] {
            self.free.push(buf);
        }
    }

    pub(super) fn push<P: Params>(
        &mut self,
        file: &'static str,
        entry: &'static str,
        params: P,
        bufs: Vec<usize>,
        groups: (u32, u32, u32),
    ) {
        self.push_specialised(file, entry, params, bufs, groups, vec![]);
    }

    /// `push` with override constants of this dispatch's own beside the table's knobs
    /// (a kernel specialised to a shape, such as attention's head size).
    pub(super) fn push_specialised<P: Params>(
        &mut self,
        file: &'static str,
        entry: &'static str,
        params: P,
        bufs: Vec<usize>,
        groups: (u32, u32, u32),
        own: Knobs,
    ) {
        debug_assert!(P::FILES.contains(&file), "{file} does not read {}", std::any::type_name::<P>());
        let bufs = bufs.into_iter().map(Some).collect();
        let mut knobs = variants::knobs(file);
        knobs.extend(own);
        let params = params.words();
        self.pending.push(Pending { file, f16: false, entry, knobs, params, bufs, groups, range: None });
    }

    /// The table's knob `name` of kernel `file`, or `default`.
    pub(super) fn knob(&self, file: &str, name: &str, default: usize) -> usize {
        variants::knobs(file).iter().find(|(n, _)| n == name).map_or(default, |(_, v)| *v as usize)
    }

    pub(super) fn wg(&self, file: &str) -> usize {
        self.knob(file, "WG", 64)
    }

    pub(super) fn constant(&mut self, t: &Tensor, f16: bool, transpose: bool) -> Result<usize> {
        self.check_size("a weight", (t.numel() * if f16 { 2 } else { 4 }) as u64)?;
        let b = self.weights.get(self.device, t, f16, transpose);
        Ok(self.shared(b))
    }

    /// A weight in its stored form, as stored (`lower/stored.rs` reads it).
    pub(super) fn stored_constant(&mut self, t: &Tensor) -> Result<usize> {
        self.check_size("a weight", t.byte_len())?;
        let b = self.weights.get_stored(self.device, t);
        Ok(self.shared(b))
    }

    /// How many columns of a `k × n` constant weight (of `elem`-byte elements) one binding
    /// holds: all `n` when it fits, else as many as fit, in multiples of 4 (the kernels'
    /// column groups).
    pub(super) fn block_columns(&self, k: usize, n: usize, elem: usize) -> Result<usize> {
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

    pub(super) fn copy(
        &mut self,
        src: usize,
        src_off: usize,
        dims: &[usize],
        src_strides: &[usize],
        dst: usize,
        dst_off: usize,
    ) {
        let n: usize = dims.iter().product();
        if n == 0 {
            return;
        }
        let p = CopyParams {
            n: n as u32,
            rank: dims.len() as u32,
            src_offset: src_off as u32,
            dst_offset: dst_off as u32,
            dims: fixed(dims),
            src_strides: fixed(src_strides),
            dst_strides: fixed(&contiguous(dims)),
        };
        let wg = self.wg("copy.wgsl");
        self.push("copy.wgsl", "main", p, vec![src, dst], linear(n, wg));
    }
}
