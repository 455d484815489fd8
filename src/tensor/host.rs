//! The host `Tensor`: a shape and strides over a reference-counted buffer, so that
//! permute, slice and reshape of a contiguous tensor are views, not copies. Weights in a
//! stored form (f16, int8, int4) are bytes at an offset of a shared buffer (stored.rs).

use super::{quant, DType, Shape};
use crate::error::{Error, Result};
use std::sync::Arc;

/// The shared buffer behind one or more tensors. `Bytes` holds stored forms; its words
/// are f32 only so that the buffer is 4-byte aligned (a weight file read whole).
#[derive(Debug, Clone)]
pub enum Storage {
    F32(Arc<Vec<f32>>),
    I32(Arc<Vec<i32>>),
    Bytes(Arc<Vec<f32>>),
}

/// A tensor's storage identity: the buffer's address and the tensor's offset into it. Two
/// tensors with one identity (and dtype and dims) hold the same values, so plan keys,
/// session sharing and the backends' weight caches go by it rather than by hashing data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StorageId(pub usize, pub usize);

#[derive(Debug, Clone)]
pub struct Tensor {
    pub(super) storage: Storage,
    pub(super) dtype: DType,
    pub(super) shape: Shape,
    pub(super) strides: Vec<usize>,
    /// Elements into the buffer; bytes for a stored form.
    pub(super) offset: usize,
}

impl Tensor {
    pub fn from_f32(shape: impl Into<Shape>, data: Vec<f32>) -> Result<Self> {
        Self::from_storage(shape.into(), Storage::F32(Arc::new(data)))
    }

    pub fn from_i32(shape: impl Into<Shape>, data: Vec<i32>) -> Result<Self> {
        Self::from_storage(shape.into(), Storage::I32(Arc::new(data)))
    }

    /// A contiguous f32 view of `shape` at element `offset` of a shared buffer (no copy).
    pub fn view_f32(buf: Arc<Vec<f32>>, offset: usize, shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        shape.check("tensor")?;
        if offset.checked_add(shape.numel()).is_none_or(|end| end > buf.len()) {
            return Err(Error::shapes(
                "tensor",
                &[shape.dims()],
                format!("a view at {offset} runs past a buffer of {} elements", buf.len()),
            ));
        }
        Ok(Tensor { strides: shape.contiguous_strides(), shape, storage: Storage::F32(buf), dtype: DType::F32, offset })
    }

    pub fn zeros(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let n = shape.numel();
        Self::contiguous_over(shape, Storage::F32(Arc::new(vec![0.0; n])))
    }

    fn from_storage(shape: Shape, storage: Storage) -> Result<Self> {
        shape.check("tensor")?;
        let len = match &storage {
            Storage::F32(v) | Storage::Bytes(v) => v.len(),
            Storage::I32(v) => v.len(),
        };
        if len != shape.numel() {
            return Err(Error::shapes(
                "tensor",
                &[shape.dims()],
                format!("{len} values given for {} elements", shape.numel()),
            ));
        }
        Ok(Self::contiguous_over(shape, storage))
    }

    fn contiguous_over(shape: Shape, storage: Storage) -> Self {
        let strides = shape.contiguous_strides();
        let dtype = match storage {
            Storage::I32(_) => DType::I32,
            _ => DType::F32,
        };
        Tensor { storage, dtype, shape, strides, offset: 0 }
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// Bytes of the elements (a view's, not its whole storage's), with their scales.
    pub fn byte_len(&self) -> u64 {
        self.dtype.bytes(self.numel()) as u64
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The storage identity (see `StorageId`).
    pub fn storage_id(&self) -> StorageId {
        let ptr = match &self.storage {
            Storage::F32(v) | Storage::Bytes(v) => Arc::as_ptr(v) as usize,
            Storage::I32(v) => Arc::as_ptr(v) as usize,
        };
        StorageId(ptr, self.offset)
    }

    /// The shared buffer, for a cache keyed by `storage_id` to hold so that the address
    /// cannot be reused while the key lives.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn is_contiguous(&self) -> bool {
        self.strides == self.shape.contiguous_strides()
    }

    /// The elements in row-major order, as a slice when the tensor is a contiguous f32 view.
    pub fn as_f32_slice(&self) -> Option<&[f32]> {
        match &self.storage {
            Storage::F32(v) if self.is_contiguous() => Some(&v[self.offset..self.offset + self.numel()]),
            _ => None,
        }
    }

    /// The elements in row-major order, as a slice when the tensor is a contiguous i32 view.
    pub fn as_i32_slice(&self) -> Option<&[i32]> {
        match &self.storage {
            Storage::I32(v) if self.is_contiguous() => Some(&v[self.offset..self.offset + self.numel()]),
            _ => None,
        }
    }

    /// Row-major f32 copy of the elements (i32 tensors are converted, stored forms widened).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        if let Some(s) = self.as_f32_slice() {
            return s.to_vec();
        }
        if let Some(b) = self.stored_bytes() {
            return quant::widen(b, self.numel(), self.dims().last().copied().unwrap_or(1), self.dtype);
        }
        let idx = self.element_offsets();
        match &self.storage {
            Storage::F32(v) | Storage::Bytes(v) => idx.iter().map(|&i| v[i]).collect(),
            Storage::I32(v) => idx.iter().map(|&i| v[i] as f32).collect(),
        }
    }

    /// Row-major i32 copy of the elements, or a dtype error for other tensors.
    pub fn to_i32_vec(&self, op: &'static str) -> Result<Vec<i32>> {
        match &self.storage {
            Storage::I32(v) => Ok(self.element_offsets().iter().map(|&i| v[i]).collect()),
            _ => Err(Error::DTypeMismatch { op, expected: "i32".into(), found: self.dtype.name().into() }),
        }
    }

    /// Buffer offsets of every element, in row-major order of the view.
    fn element_offsets(&self) -> Vec<usize> {
        let dims = self.dims();
        let n = self.numel();
        let mut out = Vec::with_capacity(n);
        if n == 0 {
            return out;
        }
        let mut index = vec![0usize; dims.len()];
        let mut off = self.offset;
        for _ in 0..n {
            out.push(off);
            for d in (0..dims.len()).rev() {
                index[d] += 1;
                off += self.strides[d];
                if index[d] < dims[d] {
                    break;
                }
                off -= self.strides[d] * dims[d];
                index[d] = 0;
            }
        }
        out
    }

    /// A contiguous tensor with the same elements; shares the buffer when already contiguous.
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        let storage = match &self.storage {
            Storage::F32(_) | Storage::Bytes(_) => Storage::F32(Arc::new(self.to_f32_vec())),
            Storage::I32(_) => Storage::I32(Arc::new(self.to_i32_vec("contiguous").unwrap_or_default())),
        };
        Self::contiguous_over(self.shape.clone(), storage)
    }

    /// Reorders the axes; a view, no copy.
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        self.elementwise_view("permute")?;
        let rank = self.shape.rank();
        let mut seen = vec![false; rank];
        if perm.len() != rank || perm.iter().any(|&p| p >= rank || std::mem::replace(&mut seen[p], true)) {
            return Err(Error::shapes(
                "permute",
                &[self.dims(), perm],
                "the permutation must list each axis exactly once",
            ));
        }
        Ok(Tensor {
            storage: self.storage.clone(),
            dtype: self.dtype,
            shape: Shape::new(perm.iter().map(|&p| self.dims()[p]).collect::<Vec<_>>()),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        })
    }

    /// Elements `start..end` along `axis`; a view, no copy.
    pub fn slice(&self, axis: usize, start: usize, end: usize) -> Result<Tensor> {
        let dims = self.dims();
        if self.dtype.is_stored() && axis == 0 && !dims.is_empty() && start <= end && end <= dims[0] {
            // Whole rows of a stored form are one range of its bytes (scales included).
            let row = self.dtype.bytes(self.numel() / dims[0].max(1));
            let mut shape = dims.to_vec();
            shape[0] = end - start;
            let buf = match &self.storage {
                Storage::Bytes(b) => b.clone(),
                _ => return Err(Error::InvalidGraph("a stored form without bytes".into())),
            };
            return Tensor::view_stored(self.dtype, buf, self.offset + start * row, shape);
        }
        self.elementwise_view("slice")?;
        if axis >= dims.len() || start > end || end > dims[axis] {
            return Err(Error::shapes(
                "slice",
                &[dims],
                format!("range {start}..{end} on axis {axis} is out of bounds"),
            ));
        }
        let mut shape = dims.to_vec();
        shape[axis] = end - start;
        Ok(Tensor {
            storage: self.storage.clone(),
            dtype: self.dtype,
            shape: Shape::new(shape),
            strides: self.strides.clone(),
            offset: self.offset + start * self.strides[axis],
        })
    }

    /// The same elements under a new shape; a view when contiguous, a copy otherwise.
    pub fn reshape(&self, dims: &[usize]) -> Result<Tensor> {
        let new = Shape::new(dims.to_vec());
        if new.numel() != self.numel() {
            return Err(Error::shapes(
                "reshape",
                &[self.dims(), dims],
                format!("{} elements cannot take {} places", self.numel(), new.numel()),
            ));
        }
        if self.dtype.is_stored() && dims.last() != self.dims().last() {
            // Int8 and int4 groups run along the last axis: it must stay the same.
            self.elementwise_view("reshape")?;
        }
        let base = self.contiguous();
        Ok(Tensor { strides: new.contiguous_strides(), shape: new, ..base })
    }

    /// Views other than a reshape keeping rows stride over elements, which a stored form's
    /// bytes do not have: widen it first (`to_dtype(DType::F32)`).
    fn elementwise_view(&self, op: &'static str) -> Result<()> {
        if self.dtype.is_stored() {
            return Err(Error::DTypeMismatch { op, expected: "f32 or i32".into(), found: self.dtype.to_string() });
        }
        Ok(())
    }

    /// The shared f32 buffer and this view's offset into it: an identity for caches of
    /// data derived from constant tensors (packed weights).
    pub fn f32_storage(&self) -> Option<(&Arc<Vec<f32>>, usize)> {
        match &self.storage {
            Storage::F32(v) => Some((v, self.offset)),
            _ => None,
        }
    }

    /// The values as an owned vector: the buffer itself when this tensor is its only
    /// owner and covers all of it (no copy), else a copy.
    pub fn into_f32_vec(self) -> Vec<f32> {
        let whole = self.offset == 0 && self.is_contiguous();
        match self.storage {
            Storage::F32(arc) if whole && arc.len() == self.shape.numel() => {
                Arc::try_unwrap(arc).unwrap_or_else(|shared| shared.as_ref().clone())
            }
            _ => self.to_f32_vec(),
        }
    }

    /// The tensor in a buffer of its own: a view into a larger buffer (a weight file's)
    /// is copied out, so that buffer can be freed while this tensor lives; a tensor that
    /// already covers its whole buffer shares it, as a clone does.
    pub fn detached(&self) -> Result<Tensor> {
        if self.offset == 0 && self.is_contiguous() && self.buffer_bytes() == self.byte_len().next_multiple_of(4) {
            return Ok(self.clone());
        }
        match &self.storage {
            Storage::F32(_) => Tensor::from_f32(self.shape.clone(), self.to_f32_vec()),
            Storage::I32(_) => Tensor::from_i32(self.shape.clone(), self.to_i32_vec("detached")?),
            Storage::Bytes(_) => {
                let bytes = self.stored_bytes().unwrap_or_default().to_vec();
                Tensor::from_stored(self.dtype, self.shape.clone(), &bytes)
            }
        }
    }

    /// Bytes of the whole buffer this tensor is a view of.
    pub fn buffer_bytes(&self) -> u64 {
        let words = match &self.storage {
            Storage::F32(v) | Storage::Bytes(v) => v.len(),
            Storage::I32(v) => v.len(),
        };
        4 * words as u64
    }

    /// Takes back the buffer when this tensor is its only owner and covers all of it.
    pub fn into_f32_buffer(self) -> Option<Vec<f32>> {
        let whole = self.offset == 0 && self.is_contiguous();
        match self.storage {
            Storage::F32(arc) if whole && arc.len() == self.shape.numel() => Arc::try_unwrap(arc).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_share_and_copy_correctly() {
        let t = Tensor::from_f32(vec![2, 3], (0..6).map(|x| x as f32).collect()).unwrap();
        let p = t.permute(&[1, 0]).unwrap();
        assert!(!p.is_contiguous());
        assert_eq!(p.to_f32_vec(), vec![0., 3., 1., 4., 2., 5.]);
        let s = t.slice(1, 1, 3).unwrap();
        assert_eq!(s.to_f32_vec(), vec![1., 2., 4., 5.]);
        assert_eq!(p.reshape(&[6]).unwrap().to_f32_vec(), vec![0., 3., 1., 4., 2., 5.]);
        assert!(t.reshape(&[4]).is_err());
        assert!(t.permute(&[0, 0]).is_err());
    }
}
