//! Scaled dot-product attention, head by head: scores by GEMM, masks, softmax, GEMM.

use super::gemm::{gemm, GemmScratch, MatRef};
use super::pool::zeroed;
use super::simd::Path;
use super::softmax::softmax_rows;
use crate::error::Result;

/// Sizes of one attention call: q `[b, h, sq, d]`, k `[b, h, sk, d]`, v `[b, h, sk, dv]`.
pub struct AttnDims {
    pub b: usize,
    pub h: usize,
    pub sq: usize,
    pub sk: usize,
    pub d: usize,
    pub dv: usize,
}

/// out `[b, h, sq, dv]`. `key_mask` (`[b, sk]`, 0 = ignore) and causal masking remove
/// keys; `causal` is the first query's position, query `i` seeing keys up to `first + i`.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    path: Path,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    key_mask: Option<&[f32]>,
    causal: Option<isize>,
    scale: f32,
    a: &AttnDims,
    out: &mut [f32],
    s: &mut GemmScratch,
) -> Result<()> {
    let mut scores = zeroed(a.sq * a.sk, "attention scores")?;
    for bi in 0..a.b {
        for hi in 0..a.h {
            let bh = bi * a.h + hi;
            let qm = MatRef { data: q, off: bh * a.sq * a.d, rs: a.d, cs: 1 };
            // k read transposed: element (dd, j) of kᵀ is k[j, dd].
            let km = MatRef { data: k, off: bh * a.sk * a.d, rs: 1, cs: a.d };
            gemm(path, [a.sq, a.sk, a.d], qm, km, &mut scores, s);
            for (i, row) in scores.chunks_exact_mut(a.sk).enumerate() {
                for (j, sv) in row.iter_mut().enumerate() {
                    let late = causal.is_some_and(|first| j as isize > first + i as isize);
                    let masked = late || key_mask.is_some_and(|m| m[bi * a.sk + j] == 0.0);
                    *sv = if masked { f32::NEG_INFINITY } else { *sv * scale };
                }
            }
            softmax_rows(path, &mut scores, a.sk);
            let pm = MatRef { data: &scores, off: 0, rs: a.sk, cs: 1 };
            let vm = MatRef { data: v, off: bh * a.sk * a.dv, rs: a.dv, cs: 1 };
            gemm(path, [a.sq, a.dv, a.sk], pm, vm, &mut out[bh * a.sq * a.dv..][..a.sq * a.dv], s);
        }
    }
    Ok(())
}
