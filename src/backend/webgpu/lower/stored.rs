//! Weights in a stored form (f16, int8, int4) read as they are: a Linear's product
//! (`matmul_stored.wgsl`, every number of rows) and a token table's gather
//! (`gather_stored.wgsl`) dequantize in the shader, so the device holds a weight at its
//! stored size, and a tied token embedding (gathered and multiplied by) once. Where a
//! weight's rows are not whole words, or it is over one binding, the caller widens it to
//! f32 at upload instead (`Weights::get`).

use super::super::compiler::{linear, Compiler, Val, DUMMY};
use super::super::params::{StoredGatherParams, StoredMatmulParams};
use super::super::plan::Lowering;
use super::Fusions;
use crate::error::Result;
use crate::tensor::{DType, Tensor};

/// How the kernels read rows of a stored weight (see stored_weights.wgsl).
#[derive(Clone, Copy)]
struct Layout {
    form: u32,
    group: u32,
    row_words: u32,
    scales_at: u32,
}

/// The layout of `t`'s rows, where the stored kernels can read them: rows and their
/// values whole words, groups whole quads, and the weight within one binding.
fn layout(c: &Compiler, t: &Tensor) -> Option<Layout> {
    let &[_, k] = t.dims() else { return None };
    let (form, group, value_bytes) = match t.dtype() {
        DType::F16 => (0, k, 2 * k),
        DType::Q8 { group } => (1, group, k),
        DType::Q4 { block } => (2, block, k / 2),
        _ => return None,
    };
    let row = t.dtype().bytes(k);
    let fits = t.byte_len() <= c.limits.max_storage_buffer_binding_size;
    (k % 4 == 0 && group % 4 == 0 && value_bytes % 4 == 0 && row % 4 == 0 && fits).then_some(Layout {
        form,
        group: group as u32,
        row_words: (row / 4) as u32,
        scales_at: (value_bytes / 4) as u32,
    })
}

/// C = act(A·Wᵀ + bias) on the stored weight W (`[n, k]`), if it can be read as stored.
pub(super) fn matmul(c: &mut Compiler, at: &Lowering, fused: &Fusions, w: &Tensor) -> Result<Option<Val>> {
    let Some(l) = layout(c, w) else { return Ok(None) };
    let node = at.node;
    let dims = node.shape.dims().to_vec();
    let (n, k) = (w.dims()[0], w.dims()[1]);
    let m = node.shape.numel() / n.max(1);
    let a = at.arg(c, 0, false)?;
    let (bias, act) = super::matmul::epilogue(c, at, fused)?;
    let wb = c.stored_constant(w)?;
    let out = c.alloc(node.shape.numel())?;
    let p = StoredMatmulParams {
        m: m as u32,
        n: n as u32,
        k: k as u32,
        act,
        has_bias: bias.is_some() as u32,
        form: l.form,
        group: l.group,
        row_words: l.row_words,
        scales_at: l.scales_at,
    };
    let wg = c.wg("matmul_stored.wgsl");
    let blocks = m.div_ceil(4) * n.div_ceil(4);
    c.push("matmul_stored.wgsl", "main", p, vec![a.buf, wb, bias.unwrap_or(DUMMY), out], linear(blocks, wg));
    Ok(Some(Val { buf: out, dims }))
}

/// Rows of the stored table T (`[v, d]`) picked by `ids`, if it can be read as stored.
pub(super) fn gather(c: &mut Compiler, at: &Lowering, t: &Tensor, ids: &Val) -> Result<Option<Val>> {
    let Some(l) = layout(c, t) else { return Ok(None) };
    let dims = at.node.shape.dims().to_vec();
    let numel = at.node.shape.numel();
    let tb = c.stored_constant(t)?;
    let out = c.alloc(numel)?;
    let p = StoredGatherParams {
        n: numel as u32,
        d: t.dims()[1] as u32,
        v: t.dims()[0] as u32,
        form: l.form,
        group: l.group,
        row_words: l.row_words,
        scales_at: l.scales_at,
    };
    let wg = c.wg("gather_stored.wgsl");
    c.push("gather_stored.wgsl", "main", p, vec![tb, ids.buf, out], linear(numel, wg));
    Ok(Some(Val { buf: out, dims }))
}
