//! Attention lowering: one online-softmax dispatch, with an optional key mask and
//! run-time query offset, its kernel specialised to the head size; a few query rows (a
//! decoder step) split over the keys.

use super::super::compiler::{linear, Compiler, Val, DUMMY};
use super::super::params::AttentionParams;
use super::super::plan::{Check, Lowering};
use crate::backend::cpu::GEMV_ROWS;
use crate::error::{Error, Result};

pub(super) fn attention(
    c: &mut Compiler,
    at: &Lowering,
    checks: &mut Vec<Check>,
    causal: &bool,
    scale: &f32,
    offset: &bool,
) -> Result<Val> {
    let node = at.node;
    let dims = node.shape.dims().to_vec();
    let numel = node.shape.numel();
    let q = at.arg(c, 0, false)?;
    let k = at.arg(c, 1, false)?;
    let v = at.arg(c, 2, false)?;
    let floats = node.inputs.len() - *offset as usize;
    let mask = if floats == 4 { Some(at.arg(c, 3, false)?) } else { None };
    let first = if *offset {
        checks.extend(at.check(node.inputs[floats], "attention", "offset", 0, i32::MAX as i64));
        Some(at.arg(c, floats, false)?)
    } else {
        None
    };
    let (b, h, sq, d) = (q.dims[0], q.dims[1], q.dims[2], q.dims[3]);
    let (sk, dv) = (k.dims[2], v.dims[3]);
    if dv > 128 {
        return Err(Error::GpuError(format!("attention with head size {dv} (at most 128 on webgpu)")));
    }
    let p = AttentionParams {
        bh: (b * h) as u32,
        heads: h as u32,
        sq: sq as u32,
        sk: sk as u32,
        d: d as u32,
        dv: dv as u32,
        causal: *causal as u32,
        has_mask: mask.is_some() as u32,
        scale: *scale,
        has_offset: first.is_some() as u32,
    };
    let out = c.alloc(numel)?;
    let mbuf = mask.map_or(DUMMY, |m| m.buf);
    let obuf = first.map_or(DUMMY, |f| f.buf);
    let bufs = vec![q.buf, k.buf, v.buf, mbuf, out, obuf];
    if sq <= GEMV_ROWS {
        // A workgroup per query row: heads × rows invocations alone would idle a GPU.
        c.push("attention_keys.wgsl", "main", p, bufs, linear(b * h * sq, 1));
    } else if d % 4 == 0 && dv % 4 == 0 && d <= 64 && dv <= 64 {
        // The head sizes fix the pipeline's loop counts (override constants), so its
        // query and output rows stay in registers.
        let wg = c.wg("attention.wgsl");
        let own = vec![("QD4".into(), (d / 4) as f64), ("VD4".into(), (dv / 4) as f64)];
        c.push_specialised("attention.wgsl", "main", p, bufs, linear(b * h * sq, wg), own);
    } else {
        let wg = c.wg("attention_rows.wgsl");
        c.push("attention_rows.wgsl", "main", p, bufs, linear(b * h * sq, wg));
    }
    Ok(Val { buf: out, dims })
}
