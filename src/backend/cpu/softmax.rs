//! Row-wise softmax, shared by the softmax op and attention.

use super::simd::{self, Path};

/// Softmax of each `n`-long row of `x`, in place. A row that is entirely -inf (every
/// position masked) becomes zeros rather than NaN.
pub fn softmax_rows(path: Path, x: &mut [f32], n: usize) {
    if n == 0 {
        return;
    }
    for row in x.chunks_exact_mut(n) {
        let m = simd::max(path, row);
        if m == f32::NEG_INFINITY {
            row.fill(0.0);
            continue;
        }
        let s = simd::exp_sub_sum(path, row, m);
        simd::scale(row, 1.0 / s);
    }
}
