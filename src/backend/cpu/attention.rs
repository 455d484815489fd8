//! Scaled dot-product attention, head by head: scores by GEMM, masks, softmax, GEMM. A
//! decoder's step (a few query rows over up to 1500 keys) takes the GEMV arm instead:
//! each score a dot product along a row of K and the output a sum of V's rows, K and V
//! read in place, since packing them for a GEMM would cost more than the product.

use super::gemm::{gemm, GemmScratch, MatRef};
use super::matmul::GEMV_ROWS;
use super::parallel;
use super::pool::zeroed;
use super::simd::{dot, Path};
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
    let heads = a.b * a.h;
    let threads = parallel::threads_for(heads * a.sq * a.sk * (a.d + a.dv));
    if threads == 1 || heads == 1 {
        let mut scores = zeroed(a.sq * a.sk, "attention scores")?;
        for bh in 0..heads {
            let o = &mut out[bh * a.sq * a.dv..][..a.sq * a.dv];
            head(path, [q, k, v], key_mask, causal, scale, a, bh, o, &mut scores, s);
        }
        return Ok(());
    }
    // Heads split between threads, each with its own scores and GEMM scratch.
    let failed = std::sync::atomic::AtomicBool::new(false);
    parallel::for_each_chunk(&mut out[..heads * a.sq * a.dv], a.sq * a.dv, |bh, o| {
        HEAD_SCRATCH.with_borrow_mut(|(scores, s)| {
            if scores.len() < a.sq * a.sk && scores.try_reserve_exact(a.sq * a.sk - scores.len()).is_err() {
                return failed.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            scores.resize(a.sq * a.sk, 0.0);
            head(path, [q, k, v], key_mask, causal, scale, a, bh, o, scores, s);
        })
    });
    if failed.into_inner() {
        return Err(crate::error::Error::OutOfMemory(format!("attention scores: {} elements", a.sq * a.sk)));
    }
    Ok(())
}

thread_local! {
    /// A helper thread's scores and GEMM scratch, for the heads it takes.
    static HEAD_SCRATCH: std::cell::RefCell<(Vec<f32>, GemmScratch)> = std::cell::RefCell::default();
}

/// One head, `bh` (batch × heads + head), into `o` (`[sq, dv]`); `scores` holds `sq × sk`.
#[allow(clippy::too_many_arguments)]
fn head(
    path: Path,
    [q, k, v]: [&[f32]; 3],
    key_mask: Option<&[f32]>,
    causal: Option<isize>,
    scale: f32,
    a: &AttnDims,
    bh: usize,
    o: &mut [f32],
    scores: &mut [f32],
    s: &mut GemmScratch,
) {
    let bi = bh / a.h.max(1);
    // chunks_exact needs nonzero widths: empty heads take the GEMM path, which handles them.
    let thin = a.sq <= GEMV_ROWS && a.d > 0 && a.dv > 0;
    if thin {
        let kh = &k[bh * a.sk * a.d..][..a.sk * a.d];
        for (i, row) in scores.chunks_exact_mut(a.sk).enumerate() {
            let qi = &q[(bh * a.sq + i) * a.d..][..a.d];
            for (sv, kj) in row.iter_mut().zip(kh.chunks_exact(a.d)) {
                *sv = dot(path, qi, kj);
            }
        }
    } else {
        let qm = MatRef { data: q, off: bh * a.sq * a.d, rs: a.d, cs: 1 };
        // k read transposed: element (dd, j) of kᵀ is k[j, dd].
        let km = MatRef { data: k, off: bh * a.sk * a.d, rs: 1, cs: a.d };
        gemm(path, [a.sq, a.sk, a.d], qm, km, scores, s);
    }
    for (i, row) in scores.chunks_exact_mut(a.sk).enumerate() {
        for (j, sv) in row.iter_mut().enumerate() {
            let late = causal.is_some_and(|first| j as isize > first + i as isize);
            let masked = late || key_mask.is_some_and(|m| m[bi * a.sk + j] == 0.0);
            *sv = if masked { f32::NEG_INFINITY } else { *sv * scale };
        }
    }
    softmax_rows(path, scores, a.sk);
    if thin {
        // Each output row is the probability-weighted sum of V's rows.
        let vh = &v[bh * a.sk * a.dv..][..a.sk * a.dv];
        for (orow, prow) in o.chunks_exact_mut(a.dv).zip(scores.chunks_exact(a.sk)) {
            orow.fill(0.0);
            for (&p, vj) in prow.iter().zip(vh.chunks_exact(a.dv)) {
                if p != 0.0 {
                    for (x, y) in orow.iter_mut().zip(vj) {
                        *x += p * y;
                    }
                }
            }
        }
    } else {
        let pm = MatRef { data: scores, off: 0, rs: a.sk, cs: 1 };
        let vm = MatRef { data: v, off: bh * a.sk * a.dv, rs: a.dv, cs: 1 };
        gemm(path, [a.sq, a.dv, a.sk], pm, vm, o, s);
    }
}
