//! Matmul lowering: constant weights split into column blocks that fit one binding,
//! uploaded transposed or as f16 as the variant asks, with a fused bias and activation.

use super::super::compiler::act_code;
use super::super::compiler::{contiguous, linear, Compiler, Pending, Val, DUMMY};
use super::super::params::{fixed, GemvParams, MatmulParams, Params};
use super::super::plan::Lowering;
use super::super::variants;
use super::Fusions;
use crate::error::{Error, Result};
use crate::graph::Op;

/// The kernel a product runs on, with its knobs: whether constant weights are stored
/// as f16, and whether a workgroup covers one output row (the subgroup form, which splits
/// K across it) rather than a tile.
struct MatmulKernel {
    file: &'static str,
    f16: bool,
    knobs: std::collections::BTreeMap<String, f64>,
    per_row: bool,
}

/// The one place a matmul's kernel is chosen: a match on (the variant's kernel, whether
/// it stores weights as f16, whether B is a constant).
fn select(v: &variants::Variant, const_b: bool) -> Result<MatmulKernel> {
    let form = &v.form;
    let of = |file, f16, knobs: &std::collections::BTreeMap<String, f64>, per_row| MatmulKernel {
        file,
        f16,
        knobs: knobs.clone(),
        per_row,
    };
    Ok(match (form.kernel.as_str(), form.f16_weights(), const_b) {
        // Only constants are stored as f16: a computed B runs the tiled f32 form.
        (_, true, false) => of("matmul.wgsl", false, &variants::select("*", &[], Some("tiled"))?.form.knobs, false),
        ("matmul_subgroup.wgsl", f16, _) => of("matmul_subgroup.wgsl", f16, &form.knobs, true),
        (_, f16, _) => of("matmul.wgsl", f16, &form.knobs, false),
    })
}

/// Rows of A at most for which a product with a constant `[N, K]` weight read transposed
/// (a Linear) runs as a GEMV over the weight as stored (`gemv.wgsl`), as a decoder's
/// steps do: no transposed copy is uploaded, so a weight also used as a gather table (a
/// tied embedding) is held once. The CPU backend's threshold, for the same reason.
const GEMV_ROWS: usize = crate::backend::cpu::GEMV_ROWS;

pub(super) fn matmul(
    c: &mut Compiler,
    at: &Lowering,
    fused: &Fusions,
    transpose_a: &bool,
    transpose_b: &bool,
) -> Result<Val> {
    let (g, node) = (at.g, at.node);
    let dims = node.shape.dims().to_vec();
    let numel = node.shape.numel();
    let const_b = matches!(g.node(node.inputs[1]).op, Op::Constant(_));
    if let Op::Constant(w) = &g.node(node.inputs[1]).op {
        if *transpose_b && !*transpose_a && w.dtype().is_stored() {
            if let Some(v) = super::stored::matmul(c, at, fused, w)? {
                return Ok(v);
            }
        }
        let rows = numel / dims[dims.len() - 1].max(1);
        if *transpose_b && !*transpose_a && w.dims().len() == 2 && rows <= GEMV_ROWS {
            return gemv(c, at, fused, w, rows);
        }
    }
    let kernel = select(c.variant, const_b)?;
    let use_f16 = kernel.f16;
    let a = at.arg(c, 0, false)?;
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
        _ => (vec![(0, n, at.arg(c, 1, use_f16)?)], transpose_b),
    };
    let (bias, act) = epilogue(c, at, fused)?;
    let batch = &dims[..r - 2];
    if batch.len() > 4 {
        return Err(Error::GpuError(format!("matmul with {} batch dims (at most 4 on webgpu)", batch.len())));
    }
    let bstrides = |od: &[usize], mat: usize| -> [u32; 4] {
        let own = &od[..od.len() - 2];
        let pad = batch.len() - own.len();
        let st = contiguous(own);
        let v: Vec<usize> =
            (0..batch.len()).map(|d| if d < pad || own[d - pad] == 1 { 0 } else { st[d - pad] * mat }).collect();
        fixed(&v)
    };
    let out = c.alloc(numel)?;
    let nb: usize = batch.iter().product::<usize>().max(1);
    let file = kernel.file;
    let knob = |name: &str| kernel.knobs.get(name).copied().unwrap_or(8.0) as usize;
    for (first, width, b) in parts {
        let p = MatmulParams {
            m: m as u32,
            n: width as u32,
            k: k as u32,
            transpose_a: *transpose_a as u32,
            transpose_b: *transpose_b as u32,
            act,
            has_bias: bias.is_some() as u32,
            rank: batch.len() as u32,
            batch: fixed(batch),
            a_batch: bstrides(&a.dims, m * k),
            b_batch: bstrides(&b.dims, k * width),
            row_len: n as u32,
            first: first as u32,
        };
        let groups = if kernel.per_row {
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
            knobs: kernel.knobs.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            params: p.words(),
            bufs: vec![Some(a.buf), Some(b.buf), Some(bias.unwrap_or(DUMMY)), Some(out)],
            groups,
            range: None,
        });
    }
    Ok(Val { buf: out, dims })
}

/// The GEMV arm: `rows` rows of A against the constant W (`[n, k]`) as stored, bound in
/// row ranges that fit one binding (sharing one upload).
fn gemv(c: &mut Compiler, at: &Lowering, fused: &Fusions, w: &crate::tensor::Tensor, rows: usize) -> Result<Val> {
    let node = at.node;
    let dims = node.shape.dims().to_vec();
    let (n, k) = (w.dims()[0], w.dims()[1]);
    let a = at.arg(c, 0, false)?;
    let (bias, act) = epilogue(c, at, fused)?;
    let row_bytes = (k * 4) as u64;
    let whole = n as u64 * row_bytes;
    if whole > c.limits.max_buffer_size {
        return Err(Error::GpuError(format!(
            "matmul: a weight of {whole} bytes exceeds this device's maxBufferSize of {}",
            c.limits.max_buffer_size
        )));
    }
    // The weight as a gather table would upload it: f32, not transposed, one buffer.
    let upload = c.weights.get(c.device, w, false, false);
    let wb = c.shared(upload);
    let limit = c.limits.max_storage_buffer_binding_size;
    let align = c.limits.min_storage_buffer_offset_alignment as u64;
    let step = (limit / row_bytes).max(1).min(n as u64);
    let step = (1..=step).rev().find(|r| (r * row_bytes) % align == 0 || *r == n as u64).ok_or_else(|| {
        Error::GpuError(format!("matmul: rows of {row_bytes} bytes cannot be split at {align}-byte offsets"))
    })?;
    let out = c.alloc(node.shape.numel())?;
    let wg = c.wg("gemv.wgsl");
    let mut lo = 0u64;
    while lo < n as u64 {
        let hi = (lo + step).min(n as u64);
        let p = GemvParams {
            m: rows as u32,
            n: (hi - lo) as u32,
            k: k as u32,
            act,
            has_bias: bias.is_some() as u32,
            row_len: n as u32,
            first: lo as u32,
        };
        let (x, y, _) = linear((hi - lo) as usize, wg);
        c.pending.push(Pending {
            file: "gemv.wgsl",
            f16: false,
            entry: "main",
            knobs: variants::knobs("gemv.wgsl"),
            params: p.words(),
            bufs: vec![Some(a.buf), Some(wb), Some(bias.unwrap_or(DUMMY)), Some(out)],
            groups: (x, y, rows as u32),
            range: (hi - lo < n as u64).then_some((2, lo * row_bytes, (hi - lo) * row_bytes)),
        });
        lo = hi;
    }
    Ok(Val { buf: out, dims })
}

/// The fused bias (uploaded) and activation code of the product at `at`, if any.
pub(super) fn epilogue(c: &mut Compiler, at: &Lowering, fused: &Fusions) -> Result<(Option<usize>, u32)> {
    Ok(match fused.get(&at.i) {
        Some(e) => match &at.g.nodes[e.bias].op {
            Op::Constant(t) => (Some(c.constant(t, false, false)?), e.activation.map_or(0, act_code)),
            _ => (None, 0),
        },
        None => (None, 0),
    })
}
