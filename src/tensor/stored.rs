//! Tensors holding weights in a stored form (f16, int8, int4): bytes at an offset of a
//! shared, 4-byte-aligned buffer (often the weight file's own), made, quantized and read.

use super::host::{Storage, Tensor};
use super::{quant, DType, Shape};
use crate::error::{Error, Result};
use std::sync::Arc;

impl Tensor {
    /// A weight in a stored form (`dtype` is F16, Q8 or Q4): `dtype.bytes(numel)` bytes at
    /// byte `offset` of `buf` (no copy). Quantized rows are the last axis, which the
    /// dtype's groups must divide.
    pub fn view_stored(dtype: DType, buf: Arc<Vec<f32>>, offset: usize, shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        shape.check("tensor")?;
        if !dtype.is_stored() {
            return Err(Error::DTypeMismatch {
                op: "view_stored",
                expected: "f16, q8 or q4".into(),
                found: dtype.name().into(),
            });
        }
        quant::check_grouping(dtype, shape.dims().last().copied().unwrap_or(1))?;
        let len = dtype.bytes(shape.numel());
        if offset.checked_add(len).is_none_or(|end| end > buf.len() * 4) {
            return Err(Error::shapes(
                "tensor",
                &[shape.dims()],
                format!("{len} bytes of {dtype} at byte {offset} run past a buffer of {} bytes", buf.len() * 4),
            ));
        }
        Ok(Tensor { strides: shape.contiguous_strides(), shape, storage: Storage::Bytes(buf), dtype, offset })
    }

    /// A weight in a stored form from its bytes (copied into an aligned buffer).
    pub fn from_stored(dtype: DType, shape: impl Into<Shape>, bytes: &[u8]) -> Result<Self> {
        let shape = shape.into();
        if bytes.len() != dtype.bytes(shape.numel()) {
            return Err(Error::shapes(
                "tensor",
                &[shape.dims()],
                format!("{} bytes given for {} of {dtype}", bytes.len(), dtype.bytes(shape.numel())),
            ));
        }
        let mut words = vec![0f32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<f32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Self::view_stored(dtype, Arc::new(words), 0, shape)
    }

    /// This f32 (or f16) weight quantized to `dtype` (Q8 or Q4) along its last axis, or
    /// widened back when `dtype` is F32; a copy.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype {
            return Ok(self.clone());
        }
        let x = self.to_f32_vec();
        match dtype {
            DType::F32 => Tensor::from_f32(self.shape.clone(), x),
            DType::F16 => {
                let h: Vec<u8> = x.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect();
                Tensor::from_stored(dtype, self.shape.clone(), &h)
            }
            DType::I32 => {
                Err(Error::DTypeMismatch { op: "to_dtype", expected: "a float dtype".into(), found: "i32".into() })
            }
            _ => {
                let k = self.dims().last().copied().unwrap_or(1);
                Tensor::from_stored(dtype, self.shape.clone(), &quant::quantize(&x, k, dtype)?)
            }
        }
    }

    /// The bytes of a weight in a stored form.
    pub fn stored_bytes(&self) -> Option<&[u8]> {
        match &self.storage {
            Storage::Bytes(v) => {
                Some(&bytemuck::cast_slice::<f32, u8>(v)[self.offset..self.offset + self.dtype.bytes(self.numel())])
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_forms_are_whole_rows_of_bytes() {
        let t = Tensor::from_f32(vec![2, 64], (0..128).map(|x| x as f32 / 64.0 - 1.0).collect()).unwrap();
        let q = t.to_dtype(DType::Q8 { group: 32 }).unwrap();
        assert_eq!(q.byte_len(), 128 + 4 * 4);
        assert_eq!(q.stored_bytes().map(<[u8]>::len), Some(144));
        let back = q.to_dtype(DType::F32).unwrap().to_f32_vec();
        assert!(back.iter().zip(t.to_f32_vec()).all(|(a, b)| (a - b).abs() <= 1.0 / 127.0 / 2.0 + 1e-6));
        // Views that stride over elements are refused; a reshape that keeps rows is not.
        assert_eq!(q.permute(&[1, 0]).unwrap_err().code(), "dtype_mismatch");
        assert_eq!(q.slice(1, 0, 32).unwrap_err().code(), "dtype_mismatch");
        // Whole rows are a view of the same bytes.
        let second = q.slice(0, 1, 2).unwrap();
        assert_eq!(second.to_f32_vec(), back[64..]);
        assert_eq!(second.storage_id().0, q.storage_id().0);
        assert!(q.reshape(&[128]).is_err());
        assert_eq!(q.reshape(&[1, 2, 64]).unwrap().to_f32_vec(), back);
        // A view past its buffer, or groups that do not divide the rows, are refused.
        let buf = Arc::new(vec![0f32; 8]);
        assert!(Tensor::view_stored(DType::F16, buf.clone(), 4, vec![14]).is_ok());
        assert!(Tensor::view_stored(DType::F16, buf.clone(), 8, vec![14]).is_err());
        assert!(Tensor::view_stored(DType::Q8 { group: 3 }, buf.clone(), 0, vec![2, 4]).is_err());
        assert!(Tensor::view_stored(DType::F32, buf, 0, vec![2]).is_err());
        // A clone is the same storage; a second quantization is another.
        assert_eq!(q.clone().storage_id(), q.storage_id());
        assert_ne!(t.to_dtype(DType::Q8 { group: 32 }).unwrap().storage_id(), q.storage_id());
    }
}
