//! The stored weight forms' bytes: quantizing f32 rows to int8 or int4 with their scales,
//! and widening any stored form back to f32. Layouts are described on `DType`.

use super::DType;
use crate::error::{Error, Result};
use half::f16;

/// Checks that `dtype`'s groups fit rows of `k` elements: a group divides the row, so none
/// crosses into the next; an int4 block is even, so a byte never holds two blocks.
pub fn check_grouping(dtype: DType, k: usize) -> Result<()> {
    let bad = match dtype {
        DType::Q8 { group } => group == 0 || k % group != 0,
        DType::Q4 { block } => block == 0 || block % 2 != 0 || k % block != 0,
        _ => false,
    };
    if bad {
        return Err(Error::InvalidArgument {
            op: "quantize",
            reason: format!("{dtype} does not divide rows of {k} elements"),
        });
    }
    Ok(())
}

/// The bytes of `x` (rows of `k`) quantized to `dtype` (`Q8` or `Q4`).
pub fn quantize(x: &[f32], k: usize, dtype: DType) -> Result<Vec<u8>> {
    check_grouping(dtype, k)?;
    let mut out = Vec::with_capacity(dtype.bytes(x.len()));
    for row in x.chunks_exact(k.max(1)) {
        quantize_row(row, dtype, &mut out)?;
    }
    Ok(out)
}

/// One row's values, then its scales, appended to `out`.
fn quantize_row(x: &[f32], dtype: DType, out: &mut Vec<u8>) -> Result<()> {
    match dtype {
        DType::Q8 { group } => {
            let mut scales = Vec::with_capacity(x.len() / group);
            for g in x.chunks_exact(group) {
                let amax = g.iter().fold(0f32, |m, v| m.max(v.abs()));
                let scale = amax / 127.0;
                let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
                out.extend(g.iter().map(|v| (v * inv).round().clamp(-127.0, 127.0) as i8 as u8));
                scales.push(scale);
            }
            out.extend(scales.iter().flat_map(|s| s.to_le_bytes()));
        }
        DType::Q4 { block } => {
            let mut scales = Vec::with_capacity(x.len() / block);
            for b in x.chunks_exact(block) {
                // The value of largest magnitude maps to −8 exactly (as ggml's Q4_0 does),
                // which uses all sixteen levels; the scale is rounded to f16 first, so the
                // values are quantized against the scale that will be read back.
                let top = b.iter().fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
                let scale = f16::from_f32(top / -8.0);
                let s = scale.to_f32();
                let inv = if s != 0.0 { 1.0 / s } else { 0.0 };
                let q = |v: f32| ((v * inv).round().clamp(-8.0, 7.0) as i32 + 8) as u8;
                out.extend(b.chunks_exact(2).map(|p| q(p[0]) | (q(p[1]) << 4)));
                scales.push(scale);
            }
            out.extend(scales.iter().flat_map(|s| s.to_le_bytes()));
        }
        other => return Err(Error::InvalidArgument { op: "quantize", reason: format!("cannot quantize to {other}") }),
    }
    Ok(())
}

/// `numel` elements of `dtype` in `bytes` (rows of `k`), widened to f32.
pub fn widen(bytes: &[u8], numel: usize, k: usize, dtype: DType) -> Vec<f32> {
    let mut out = vec![0.0; numel];
    if !matches!(dtype, DType::Q8 { .. } | DType::Q4 { .. }) {
        widen_into(bytes, dtype, &mut out);
        return out;
    }
    let row = dtype.bytes(k);
    for (r, o) in out.chunks_exact_mut(k.max(1)).enumerate() {
        widen_into(&bytes[r * row..(r + 1) * row], dtype, o);
    }
    out
}

/// One row of `out.len()` elements of `dtype` (all of a tensor, for the forms without
/// scales), widened into `out`: no allocation, for kernels that widen a row at a time.
pub fn widen_into(bytes: &[u8], dtype: DType, out: &mut [f32]) {
    let numel = out.len();
    match dtype {
        DType::F16 => {
            for (x, b) in out.iter_mut().zip(bytes[..numel * 2].chunks_exact(2)) {
                *x = half_to_f32(u16::from_le_bytes([b[0], b[1]]));
            }
        }
        DType::Q8 { group } => {
            let (q, scales) = bytes.split_at(numel);
            for ((o, v), s) in out.chunks_mut(group.max(1)).zip(q.chunks(group.max(1))).zip(scales.chunks_exact(4)) {
                let s = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                for (x, q) in o.iter_mut().zip(v) {
                    *x = *q as i8 as f32 * s;
                }
            }
        }
        DType::Q4 { block } => {
            let (q, scales) = bytes.split_at(numel / 2);
            let block = block.max(2);
            for ((o, v), s) in out.chunks_mut(block).zip(q.chunks(block / 2)).zip(scales.chunks_exact(2)) {
                let s = half_to_f32(u16::from_le_bytes([s[0], s[1]]));
                for (pair, b) in o.chunks_exact_mut(2).zip(v) {
                    pair[0] = ((b & 15) as i32 - 8) as f32 * s;
                    pair[1] = ((b >> 4) as i32 - 8) as f32 * s;
                }
            }
        }
        DType::F32 => {
            for (x, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        DType::I32 => {
            for (x, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *x = i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32;
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod round_trip {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Each value comes back within half a step of its group's scale (int8: a step is
        /// amax/127), or for int4 within a step (amax/8, plus the f16 rounding of the
        /// scale, ≤ amax × 7/8 × 2⁻¹¹: the far end clamps at 7 when the extreme is −8); the sizes
        /// are `bytes()`.
        #[test]
        fn round_trips_within_half_a_step(
            rows in 1usize..4,
            groups in 1usize..4,
            x in proptest::collection::vec(-3.0f32..3.0, 3 * 3 * 64),
        ) {
            let k = groups * 32;
            let x = &x[..rows * k];
            for dtype in [DType::Q8 { group: 32 }, DType::Q8 { group: k }, DType::Q4 { block: 32 }] {
                let bytes = quantize(x, k, dtype).unwrap();
                prop_assert_eq!(bytes.len(), dtype.bytes(x.len()));
                let back = widen(&bytes, x.len(), k, dtype);
                let group = match dtype { DType::Q8 { group } => group, _ => 32 };
                for (g, (a, b)) in x.chunks(group).zip(back.chunks(group)).enumerate() {
                    let amax = a.iter().fold(0f32, |m, v| m.max(v.abs()));
                    let tol = match dtype { DType::Q8 { .. } => amax / 127.0 / 2.0, _ => amax / 8.0 + amax * 1e-3 };
                    for (u, v) in a.iter().zip(b) {
                        prop_assert!((u - v).abs() <= tol + 1e-6, "{} group {}: {} came back as {}", dtype, g, u, v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_and_bad_groupings() {
        let z = vec![0.0; 64];
        assert_eq!(widen(&quantize(&z, 64, DType::Q8 { group: 64 }).unwrap(), 64, 64, DType::Q8 { group: 64 }), z);
        assert_eq!(widen(&quantize(&z, 64, DType::Q4 { block: 32 }).unwrap(), 64, 64, DType::Q4 { block: 32 }), z);
        for (dtype, k) in [(DType::Q8 { group: 0 }, 64), (DType::Q8 { group: 48 }, 64), (DType::Q4 { block: 31 }, 62)] {
            assert_eq!(quantize(&z[..k], k, dtype).unwrap_err().code(), "invalid_argument");
        }
        // The largest magnitude of an int4 block lands on −8 exactly.
        let mut b = vec![0.5f32; 32];
        b[3] = -4.0;
        let back = widen(&quantize(&b, 32, DType::Q4 { block: 32 }).unwrap(), 32, 32, DType::Q4 { block: 32 });
        assert_eq!(back[3], -4.0);
    }
}

/// An IEEE half as f32, without branches, so that a loop of them vectorises (the `half`
/// crate converts one at a time in software on wasm): the magnitude's bits moved into
/// f32's places and scaled by 2^112 rebias normals and subnormals alike; infinities and
/// NaNs take f32's all-ones exponent.
#[inline]
pub fn half_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let mag = u32::from(h & 0x7fff) << 13;
    let scaled = (f32::from_bits(mag) * f32::from_bits(0x7780_0000)).to_bits();
    let bits = if mag >= 0x0f80_0000 { mag | 0x7f80_0000 } else { scaled };
    f32::from_bits(bits | sign)
}

#[cfg(test)]
mod half_tests {
    #[test]
    fn every_half_widens_as_the_half_crate_does() {
        for h in 0..=u16::MAX {
            let want = half::f16::from_bits(h).to_f32();
            let got = super::half_to_f32(h);
            assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{h:#06x}: {got} vs {want}");
        }
    }
}
