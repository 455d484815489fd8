//! A byte buffer backed by f32 storage, so that f32 tensors inside a downloaded or read
//! file can be used in place (4-byte aligned) instead of copied.

use crate::error::{Error, Result};
use std::sync::Arc;

/// The most bytes one buffer can hold: Rust allocations stop at `isize::MAX` bytes, which
/// is 2 GiB on wasm32. A larger file is refused before anything is allocated.
pub const MAX_BUFFER_BYTES: u64 = isize::MAX as u64;

#[derive(Default)]
pub struct AlignedBuf {
    words: Vec<f32>,
    len: usize,
}

/// `out_of_memory` for `bytes` that cannot be held, naming them.
fn too_big(bytes: u64, why: &str) -> Error {
    Error::OutOfMemory(format!("a buffer of {bytes} bytes {why}"))
}

impl AlignedBuf {
    /// An empty buffer with room for `bytes`; `out_of_memory` (nothing allocated) when the
    /// platform cannot hold that many, as for a `Content-Length` over 2 GiB on wasm32.
    pub fn with_capacity(bytes: u64) -> Result<Self> {
        let mut b = AlignedBuf::default();
        b.reserve(bytes)?;
        Ok(b)
    }

    /// Makes sure `more` bytes past the end fit, growing geometrically.
    fn reserve(&mut self, more: u64) -> Result<()> {
        let end = self.len as u64 + more;
        if end > MAX_BUFFER_BYTES {
            return Err(too_big(end, &format!("is over the {MAX_BUFFER_BYTES}-byte limit of one buffer here")));
        }
        // `end` fits in isize, so the word count and the doubling below fit in usize.
        let need = (end as usize).div_ceil(4);
        let cap = self.words.capacity();
        if need > cap {
            let want = need.max((cap * 2).min(MAX_BUFFER_BYTES as usize / 4));
            self.words
                .try_reserve_exact(want - self.words.len())
                .or_else(|_| self.words.try_reserve_exact(need - self.words.len()))
                .map_err(|_| too_big(end, "could not be allocated"))?;
        }
        Ok(())
    }

    /// Appends bytes.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> Result<()> {
        self.grow(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// Makes room for `n` more bytes and returns them, for a reader to fill in place;
    /// `out_of_memory` when they cannot be had.
    pub fn grow(&mut self, n: usize) -> Result<&mut [u8]> {
        self.reserve(n as u64)?;
        let end = self.len + n;
        let need = end.div_ceil(4);
        if need > self.words.len() {
            self.words.resize(need, 0.0);
        }
        let start = self.len;
        self.len = end;
        Ok(&mut bytemuck::cast_slice_mut::<f32, u8>(&mut self.words)[start..end])
    }

    /// Drops bytes past `len` (keeps the storage for reuse).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<f32, u8>(&self.words)[..self.len]
    }

    /// The storage, shared, and the byte length; tensors view into it.
    pub fn into_shared(self) -> (Arc<Vec<f32>>, usize) {
        (Arc::new(self.words), self.len)
    }
}

/// For bytes already in memory (tests, native files), which a buffer can always hold.
impl From<&[u8]> for AlignedBuf {
    fn from(bytes: &[u8]) -> Self {
        let mut words = vec![0f32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<f32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedBuf { words, len: bytes.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_past_the_limit_are_out_of_memory_before_allocating() {
        let e = AlignedBuf::with_capacity(MAX_BUFFER_BYTES + 1).err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.starts_with("out of memory") && m.contains("-byte limit")));
        let mut b = AlignedBuf::from(&[1u8, 2, 3][..]);
        assert_eq!(b.grow(usize::MAX - 8).err().map(|e| e.code()), Some("out_of_memory"));
        // The failed grow left the buffer as it was.
        assert_eq!(b.as_bytes(), &[1, 2, 3]);
        b.extend_from_slice(&[4, 5]).unwrap();
        assert_eq!(b.as_bytes(), &[1, 2, 3, 4, 5]);
    }
}
