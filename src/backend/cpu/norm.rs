//! Layer normalisation over the last axis.

use super::simd::{self, Path};

/// Normalises each `gamma.len()`-long row of `x` in place: (x - mean) / sqrt(var + eps) * gamma + beta.
pub fn layer_norm(path: Path, x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = gamma.len();
    if n == 0 {
        return;
    }
    for row in x.chunks_exact_mut(n) {
        let mean = simd::sum(path, row) / n as f32;
        let var = simd::sum_sq_dev(path, row, mean) / n as f32;
        let inv = 1.0 / (var + eps).sqrt();
        simd::normalize_affine(path, row, mean, inv, gamma, beta);
    }
}
