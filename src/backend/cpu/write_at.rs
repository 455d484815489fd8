//! Writing an update into a larger tensor at a run-time offset along one axis: the KV
//! cache's append, in place when the base buffer is held by nothing else.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A run-time position from an i32 `[1]` tensor, checked to lie in `0..=max`.
pub fn offset(t: &Tensor, op: &'static str, max: usize) -> Result<isize> {
    let v = t.to_i32_vec(op)?.first().copied().unwrap_or(0);
    if v < 0 || v as usize > max {
        let most = if max == usize::MAX { String::new() } else { format!(" or above {max}") };
        return Err(Error::arg(op, format!("offset {v} is negative{most}")));
    }
    Ok(v as isize)
}

pub fn write_at(base: Tensor, update: &Tensor, at: &Tensor, axis: usize) -> Result<Tensor> {
    let dims = base.dims().to_vec();
    let len = update.dims()[axis];
    let at = offset(at, "write_at", dims[axis] - len)? as usize;
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis + 1..].iter().product();
    // The base's own buffer when this is its only owner, else a copy of it.
    let mut buf = base.into_f32_vec();
    let src = update.contiguous();
    let src = src.as_f32_slice().unwrap_or(&[]);
    let (row, part) = (dims[axis] * inner, len * inner);
    for o in 0..outer {
        buf[o * row + at * inner..][..part].copy_from_slice(&src[o * part..][..part]);
    }
    Tensor::from_f32(dims, buf)
}
