//! The IR's fused ops that WebNN lacks, spelled out in ops it has: attention as two
//! matmuls around a masked softmax, and the cache's `WriteAt` as a gather and a select,
//! with the positions as int32 constants (0..n) compared against the run's offset.

use super::bindings::{dict, MlOperand};
use super::lower::Lowering;
use crate::error::Result;
use wasm_bindgen::JsValue;

/// q `[B, H, Sq, D]`, k `[B, H, Sk, D]`, v `[B, H, Sk, Dv]`, then an optional key mask
/// `[B, Sk]` (1 keep, 0 ignore) and, with `offset`, the first query's position (i32
/// `[1]`). Masked keys score -inf; a row with none left gives zeros, as on the CPU.
pub fn attention(
    l: &Lowering<'_>,
    x: &[&MlOperand],
    dims: &[&[usize]; 2],
    causal: bool,
    scale: f32,
    offset: bool,
) -> Result<MlOperand> {
    let b = l.b;
    let [q, k] = *dims;
    let (batch, sq, sk) = (q[0], q[2], k[2]);
    let floats = x.len() - offset as usize;
    let kt = l.swap_last(x[1], 4)?;
    // The scale on q (Sq x D values) rather than on the scores (Sq x Sk).
    let q = l.js(b.mul(x[0], &l.scalar("float32", scale as f64)?))?;
    let mut s = l.js(b.matmul(&q, &kt))?;
    let minus_inf = l.scalar("float32", f64::NEG_INFINITY)?;
    if floats == 4 {
        let keep = l.reshape(x[3], &[batch, 1, 1, sk])?;
        let dropped = l.js(b.equal(&keep, &l.scalar("float32", 0.0)?))?;
        s = l.js(b.where_(&dropped, &minus_inf, &s))?;
    }
    if causal {
        // Query i sits at first + i and sees keys up to there; first is the given offset,
        // or (without one) the queries end on the last key.
        let first = match offset {
            true => l.reshape(x[floats], &[1, 1])?,
            false => l.scalar("int32", sk as f64 - sq as f64)?,
        };
        let at = l.js(b.add(&l.iota(&[sq, 1])?, &first))?;
        let late = l.js(b.greater(&l.iota(&[1, sk])?, &at))?;
        s = l.js(b.where_(&late, &minus_inf, &s))?;
    }
    // Causal masking leaves a query the keys up to its own position, none when there are
    // more queries than keys and no offset; a key mask may remove them all.
    let empty_rows = floats == 4 || (causal && !offset && sq > sk);
    let p = l.softmax(&s, 4, empty_rows)?;
    l.js(b.matmul(&p, x[2]))
}

/// `base` with `update` written from `offset` along `axis`: position j of the base takes
/// the update's row j - offset where that row exists. Rows past the base's end are not
/// written (the GPU's rule; the CPU reports them).
pub fn write_at(
    l: &Lowering<'_>,
    x: &[&MlOperand],
    base: &[usize],
    update: &[usize],
    axis: usize,
) -> Result<MlOperand> {
    let b = l.b;
    let (len, rows) = (base[axis], update[axis]);
    let rel = l.js(b.sub(&l.iota(&[len])?, x[2]))?;
    let limits = dict(&[("minValue", JsValue::from_f64(0.0)), ("maxValue", JsValue::from_f64(rows as f64 - 1.0))]);
    let row = l.js(b.clamp(&rel, &limits))?;
    let inside = l.js(b.equal(&rel, &row))?;
    let gathered = l.js(b.gather(x[1], &row, &dict(&[("axis", JsValue::from_f64(axis as f64))])))?;
    let mut shape = vec![1; base.len()];
    shape[axis] = len;
    let inside = l.reshape(&inside, &shape)?;
    l.js(b.where_(&inside, &gathered, x[0]))
}
