//! Gather lowering: ids from the host checked there, a table over the binding limit
//! bound in row ranges.

use super::super::compiler::{linear, Compiler, Pending, Val};
use super::super::params::{GatherParams, Params};
use super::super::plan::{Check, Lowering};
use super::super::variants;
use crate::error::{Error, Result};
use crate::graph::Op;

pub(super) fn gather(c: &mut Compiler, at: &Lowering, checks: &mut Vec<Check>) -> Result<Val> {
    let (g, node) = (at.g, at.node);
    let dims = node.shape.dims().to_vec();
    let numel = node.shape.numel();
    let ids = at.arg(c, 1, false)?;
    let tid = node.inputs[0];
    let tdims = g.node(tid).shape.dims().to_vec();
    let (v, d) = (tdims[0], tdims[1]);
    match &g.node(node.inputs[1]).op {
        Op::Input { .. } => checks.extend(at.check(node.inputs[1], "gather", "index", 0, v as i64 - 1)),
        Op::Constant(t) => {
            if let Some(bad) = t.to_i32_vec("gather")?.into_iter().find(|&x| x < 0 || x as usize >= v) {
                return Err(Error::arg("gather", format!("index {bad} is outside the table's {v} rows")));
            }
        }
        // Ids computed on the device are clamped by the kernel.
        _ => {}
    }
    if let Op::Constant(t) = &g.node(tid).op {
        if t.dtype().is_stored() {
            if let Some(v) = super::stored::gather(c, at, t, &ids)? {
                return Ok(v);
            }
        }
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
                Error::GpuError(format!("gather: rows of {row_bytes} bytes cannot be split at {align}-byte offsets"))
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
                let p = GatherParams { n: numel as u32, d: d as u32, v: v as u32, lo: lo as u32, hi: hi as u32 };
                c.pending.push(Pending {
                    file: "gather.wgsl",
                    f16: false,
                    entry: "part",
                    knobs: variants::knobs("gather.wgsl"),
                    params: p.words(),
                    bufs: vec![Some(tb), Some(ids.buf), Some(out)],
                    groups: linear(numel, wg),
                    range: Some((1, lo * row_bytes, (hi - lo) * row_bytes)),
                });
                lo = hi;
            }
            return Ok(Val { buf: out, dims });
        }
        _ => at.arg(c, 0, false)?,
    };
    c.push(
        "gather.wgsl",
        "main",
        GatherParams { n: numel as u32, d: d as u32, v: v as u32, ..Default::default() },
        vec![table.buf, ids.buf, out],
        linear(numel, wg),
    );
    Ok(Val { buf: out, dims })
}
