//! Tensor shapes, contiguous strides and numpy-style broadcasting.

use crate::error::{Error, Result};
use std::fmt;

/// The most elements one tensor may hold: its f32 bytes must stay under 2 GiB, the largest
/// allocation wasm32 can make (isize::MAX). Every shape in a tensor or a graph passes
/// [`Shape::check`], so no product of its dimensions can overflow later, on any target.
pub const MAX_ELEMENTS: usize = i32::MAX as usize / 4;

/// Dimensions, outermost first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }

    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Fails with `invalid_argument` naming `op` when the shape holds more than
    /// [`MAX_ELEMENTS`]. Zero dimensions count as one, so that every partial product of
    /// the dimensions (a stride, an outer count) is bounded too, not only the total.
    pub fn check(&self, op: &'static str) -> Result<()> {
        let mut n: usize = 1;
        for &d in &self.0 {
            match n.checked_mul(d.max(1)) {
                Some(m) if m <= MAX_ELEMENTS => n = m,
                _ => {
                    return Err(Error::arg(
                        op,
                        format!("shape {self} has more elements than the {MAX_ELEMENTS} one tensor may hold"),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Row-major strides in elements.
    pub fn contiguous_strides(&self) -> Vec<usize> {
        let mut strides = vec![1; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * self.0[i + 1];
        }
        strides
    }

    /// Last dimension, or 1 for a scalar.
    pub fn last(&self) -> usize {
        self.0.last().copied().unwrap_or(1)
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape(d.to_vec())
    }
}

impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape(d)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// The numpy broadcast of two shapes, or a `shape_mismatch` naming `op`.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for (i, o) in out.iter_mut().enumerate() {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::shapes(
                    op,
                    &[a, b],
                    format!("dimension {i} of the broadcast differs ({da} vs {db})"),
                ))
            }
        };
    }
    Ok(out)
}

/// Resolves a possibly negative axis against `rank`.
pub fn normalize_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(Error::arg(op, format!("axis {axis} is out of range for rank {rank}")));
    }
    Ok(a as usize)
}
