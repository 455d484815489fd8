//! Argmax over the last axis: a greedy decoder's token, so only 4 bytes leave the device.

use crate::error::Result;
use crate::tensor::Tensor;

/// The index of the largest element of each last-axis row (the first of equals; NaN is
/// never chosen over a number), as an i32 tensor without that axis.
pub fn argmax(x: &Tensor) -> Result<Tensor> {
    let dims = x.dims();
    let n = dims.last().copied().unwrap_or(1).max(1);
    let data = x.as_f32_slice().unwrap_or(&[]);
    let ids = data
        .chunks_exact(n)
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] || row[best].is_nan() && !v.is_nan() {
                    best = j;
                }
            }
            best as i32
        })
        .collect();
    Tensor::from_i32(dims[..dims.len().saturating_sub(1)].to_vec(), ids)
}
