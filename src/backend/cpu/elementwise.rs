//! Broadcasting binary arithmetic.

use super::broadcast::broadcast_offsets;
use crate::error::Result;
use crate::graph::BinaryOp;

#[inline]
fn apply(op: BinaryOp) -> fn(f32, f32) -> f32 {
    match op {
        BinaryOp::Add => |x, y| x + y,
        BinaryOp::Sub => |x, y| x - y,
        BinaryOp::Mul => |x, y| x * y,
        BinaryOp::Div => |x, y| x / y,
    }
}

/// out = a ∘ b with numpy broadcasting; `out_dims` is the broadcast shape.
/// `out_of_memory` when the index maps of a general broadcast cannot be allocated.
pub fn binary(
    op: BinaryOp,
    a: &[f32],
    ad: &[usize],
    b: &[f32],
    bd: &[usize],
    out: &mut [f32],
    out_dims: &[usize],
) -> Result<()> {
    let f = apply(op);
    if ad == out_dims && bd == out_dims {
        for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
            *o = f(*x, *y);
        }
    } else if ad == out_dims && out_dims.ends_with(bd) {
        // The common bias/residual case: b repeats along the leading axes.
        for (orow, arow) in out.chunks_mut(b.len().max(1)).zip(a.chunks(b.len().max(1))) {
            for ((o, x), y) in orow.iter_mut().zip(arow).zip(b) {
                *o = f(*x, *y);
            }
        }
    } else {
        let ao = broadcast_offsets(out_dims, ad, 1)?;
        let bo = broadcast_offsets(out_dims, bd, 1)?;
        for ((o, i), j) in out.iter_mut().zip(ao).zip(bo) {
            *o = f(a[i], b[j]);
        }
    }
    Ok(())
}
