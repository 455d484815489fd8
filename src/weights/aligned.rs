//! A byte buffer backed by f32 storage, so that f32 tensors inside a downloaded or read
//! file can be used in place (4-byte aligned) instead of copied.

use std::sync::Arc;

#[derive(Default)]
pub struct AlignedBuf {
    words: Vec<f32>,
    len: usize,
}

impl AlignedBuf {
    pub fn with_capacity(bytes: usize) -> Self {
        AlignedBuf { words: Vec::with_capacity(bytes.div_ceil(4)), len: 0 }
    }

    /// Appends bytes, growing the storage (geometrically) as needed.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let dst = self.grow(bytes.len());
        dst.copy_from_slice(bytes);
    }

    /// Makes room for `n` more bytes and returns them, for a reader to fill in place.
    pub fn grow(&mut self, n: usize) -> &mut [u8] {
        let end = self.len + n;
        let need = end.div_ceil(4);
        if need > self.words.len() {
            let cap = self.words.capacity();
            if need > cap {
                self.words.reserve(need.max(cap * 2) - self.words.len());
            }
            self.words.resize(need, 0.0);
        }
        let start = self.len;
        self.len = end;
        &mut bytemuck::cast_slice_mut::<f32, u8>(&mut self.words)[start..end]
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

impl From<&[u8]> for AlignedBuf {
    fn from(bytes: &[u8]) -> Self {
        let mut b = AlignedBuf::with_capacity(bytes.len());
        b.extend_from_slice(bytes);
        b
    }
}
