//! A tensor's content address: the sha-256 of its dtype, dims and values, as a session
//! shares weights by. It can be fed piece by piece, so a tensor streaming in from a weights
//! file is known by content before any storage is made for it.

use crate::tensor::{DType, Tensor};
use sha2::{Digest as _, Sha256};

/// A content address.
pub type Digest = [u8; 32];

/// A tensor's digest, fed its values' little-endian bytes in order.
pub struct TensorDigest(Sha256);

impl TensorDigest {
    /// The digest of a tensor of `dtype` and `dims`, before its values.
    pub fn new(dtype: DType, dims: &[usize]) -> Self {
        let mut h = Sha256::new();
        h.update(dtype.name());
        for d in dims {
            h.update((*d as u64).to_le_bytes());
        }
        h.update(dtype.to_string());
        TensorDigest(h)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Digest {
        self.0.finalize().into()
    }
}

/// The digest of a tensor held in memory.
pub fn digest(t: &Tensor) -> Digest {
    let mut h = TensorDigest::new(t.dtype(), t.dims());
    match t.dtype() {
        DType::F32 => match t.as_f32_slice() {
            Some(v) => h.update(bytemuck::cast_slice::<f32, u8>(v)),
            None => h.update(bytemuck::cast_slice::<f32, u8>(&t.to_f32_vec())),
        },
        DType::I32 => h.update(bytemuck::cast_slice::<i32, u8>(&t.to_i32_vec("digest").unwrap_or_default())),
        // Stored forms by their bytes, scales included.
        _ => h.update(t.stored_bytes().unwrap_or_default()),
    }
    h.finish()
}
