//! Broadcast index maps: where each element of a broadcast result reads its operand.

use super::pool::with_room;
use crate::error::Result;

/// For each row-major index of `out` (right-aligned against `src`, numpy-style), the
/// offset of the `src` element it reads, in units of `inner` elements.
pub fn broadcast_offsets(out: &[usize], src: &[usize], inner: usize) -> Result<Vec<usize>> {
    let pad = out.len() - src.len();
    let mut strides = vec![0usize; out.len()];
    let mut acc = inner;
    for d in (0..src.len()).rev() {
        if src[d] != 1 {
            strides[pad + d] = acc;
        }
        acc *= src[d];
    }
    let n: usize = out.iter().product();
    let mut offs = with_room(n, "a broadcast index")?;
    let mut idx = vec![0usize; out.len()];
    let mut off = 0usize;
    for _ in 0..n {
        offs.push(off);
        for d in (0..out.len()).rev() {
            idx[d] += 1;
            off += strides[d];
            if idx[d] < out[d] {
                break;
            }
            off -= strides[d] * out[d];
            idx[d] = 0;
        }
    }
    Ok(offs)
}
