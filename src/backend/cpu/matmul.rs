//! Batched matmul with broadcast batch dimensions and optional transposes, over `gemm`.

use super::broadcast::broadcast_offsets;
use super::gemm::{gemm, gemm_packed, GemmScratch, MatRef, PackedB};
use super::parallel;
use super::simd::Path;
use crate::error::Result;

/// One operand: its contiguous data and dims, and whether its last two axes are swapped.
pub struct Operand<'a> {
    pub data: &'a [f32],
    pub dims: &'a [usize],
    pub transposed: bool,
}

impl<'a> Operand<'a> {
    /// (rows, cols) as used, and the matrix view at batch offset `off`.
    fn mat(&self, off: usize) -> (usize, usize, MatRef<'a>) {
        let r = self.dims.len();
        let (rows, cols) = (self.dims[r - 2], self.dims[r - 1]);
        let m = MatRef { data: self.data, off, rs: cols, cs: 1 };
        if self.transposed {
            (cols, rows, MatRef { rs: 1, cs: cols, ..m })
        } else {
            (rows, cols, m)
        }
    }

    fn batch(&self) -> &[usize] {
        &self.dims[..self.dims.len() - 2]
    }

    fn mat_size(&self) -> usize {
        self.dims[self.dims.len() - 2..].iter().product()
    }
}

/// out (`[batch.., M, N]`, contiguous) = a · b.
pub fn matmul(
    path: Path,
    a: &Operand,
    b: &Operand,
    out: &mut [f32],
    out_dims: &[usize],
    s: &mut GemmScratch,
) -> Result<()> {
    let batch = &out_dims[..out_dims.len() - 2];
    let a_offs = broadcast_offsets(batch, a.batch(), a.mat_size())?;
    let b_offs = broadcast_offsets(batch, b.batch(), b.mat_size())?;
    let (m, k, _) = a.mat(0);
    let (_, n, _) = b.mat(0);
    for (i, (ao, bo)) in a_offs.iter().zip(&b_offs).enumerate() {
        let (_, _, am) = a.mat(*ao);
        let (_, _, bm) = b.mat(*bo);
        gemm(path, [m, n, k], am, bm, &mut out[i * m * n..(i + 1) * m * n], s);
    }
    Ok(())
}

/// out = a · B for a 2-D B packed beforehand (a weight). Without a transpose, a's batch
/// dims fold into the rows of one GEMM.
pub fn matmul_packed(path: Path, a: &Operand, pb: &PackedB, out: &mut [f32], pa: &mut Vec<f32>) {
    let (m, _, _) = a.mat(0);
    let n = pb.n();
    if !a.transposed {
        let rows = a.data.len() / pb.k().max(1);
        let (_, _, am) = a.mat(0);
        return gemm_packed(path, rows, am, pb, out, pa);
    }
    for (i, off) in (0..a.data.len()).step_by(a.mat_size().max(1)).enumerate() {
        let (_, _, am) = a.mat(off);
        gemm_packed(path, m, am, pb, &mut out[i * m * n..(i + 1) * m * n], pa);
    }
}

/// Rows of `a` at most for which `gemv_t` beats packing: a decoder's step (one token, or
/// a prompt of a few), where packing a weight would cost more than the product and keep
/// a second copy of it (the tied token embedding of Whisper: 80 MB).
pub const GEMV_ROWS: usize = 4;

/// out (`rows × n`) = a (`rows × k`, contiguous) · Wᵀ for a row-major `W` (`n × k`): each
/// output a contiguous dot product, W read in place.
/// With helper threads each row's outputs are split between them (the weight, read once
/// per row, is what costs: Whisper's tied embedding is 80 MB).
pub fn gemv_t(path: Path, a: &[f32], w: &[f32], k: usize, out: &mut [f32]) {
    let n = w.len() / k.max(1);
    let chunk = n.div_ceil(parallel::threads_for(w.len())).max(GEMV_MIN_SPLIT);
    for (row, o) in a.chunks_exact(k.max(1)).zip(out.chunks_exact_mut(n.max(1))) {
        parallel::for_each_chunk(o, chunk, |c, part| {
            for (j, x) in part.iter_mut().enumerate() {
                let j = c * chunk + j;
                *x = super::simd::dot(path, row, &w[j * k..(j + 1) * k]);
            }
        });
    }
}

/// Outputs per task at least when a GEMV is split: fewer would cost more to hand out than
/// to compute.
pub const GEMV_MIN_SPLIT: usize = 64;

/// Packs a 2-D weight operand for `matmul_packed`.
pub fn pack_weight(b: &Operand) -> PackedB {
    let (k, n, bm) = b.mat(0);
    PackedB::new(bm, k, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gemv_t against a float64 product, on every path, for lengths around the 8-lane
    /// blocks.
    #[test]
    fn gemv_t_matches_a_float64_product() {
        for path in Path::available() {
            for (rows, k, n) in [(1, 1, 1), (1, 7, 3), (2, 8, 5), (3, 17, 9), (4, 384, 33)] {
                let a: Vec<f32> = (0..rows * k).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
                let w: Vec<f32> = (0..n * k).map(|i| ((i * 53 % 29) as f32 - 14.0) / 9.0).collect();
                let mut out = vec![0.0; rows * n];
                gemv_t(path, &a, &w, k, &mut out);
                for r in 0..rows {
                    for j in 0..n {
                        let want: f64 = (0..k).map(|t| a[r * k + t] as f64 * w[j * k + t] as f64).sum();
                        let got = out[r * n + j] as f64;
                        assert!(
                            (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                            "{path:?} {rows}x{k}x{n}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
