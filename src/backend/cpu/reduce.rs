//! Sum and mean over a set of axes.

use super::broadcast::broadcast_offsets;
use crate::error::Result;
use crate::graph::ReduceOp;

/// Reduces `x` (dims `xd`) over `axes` into `out`, which has `xd` with those axes removed.
pub fn reduce(op: ReduceOp, x: &[f32], xd: &[usize], axes: &[usize], out: &mut [f32]) -> Result<()> {
    let kept: Vec<usize> = xd.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect();
    // Every input element maps onto the output cell it folds into.
    let target = broadcast_offsets(xd, &kept, 1)?;
    out.fill(0.0);
    for (v, t) in x.iter().zip(target) {
        out[t] += v;
    }
    if op == ReduceOp::Mean {
        let count: usize = axes.iter().map(|&a| xd[a]).product();
        let inv = 1.0 / count.max(1) as f32;
        out.iter_mut().for_each(|o| *o *= inv);
    }
    Ok(())
}
