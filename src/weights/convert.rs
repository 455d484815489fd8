//! Widening half-precision weights to f32.

use crate::error::{Error, Result};
use safetensors::Dtype;

/// The little-endian values of `bytes` as f32, for the float dtypes safetensors stores.
pub fn widen_to_f32(name: &str, dtype: Dtype, bytes: &[u8]) -> Result<Vec<f32>> {
    let out = match dtype {
        Dtype::F32 => bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::BF16 => bytes.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        other => return Err(Error::weights(name, format!("dtype {other:?} is not a float type this SDK reads"))),
    };
    Ok(out)
}
