//! Vector primitives with a portable path and a wasm `simd128` path. Kernels call these
//! with a `Path`, so one build can run, and test, both.
//!
//! The transcendental functions use the same polynomial in both paths, so the paths agree
//! to rounding; the polynomials are accurate to a few ulp against float64 references.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use core::arch::wasm32::*;

/// Which implementation a kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Portable,
    Simd128,
}

impl Path {
    /// The fastest path this build supports.
    pub fn best() -> Path {
        if SIMD128 {
            Path::Simd128
        } else {
            Path::Portable
        }
    }

    /// Every path this build supports (tests run them all).
    pub fn available() -> Vec<Path> {
        if SIMD128 {
            vec![Path::Portable, Path::Simd128]
        } else {
            vec![Path::Portable]
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Path::Portable => "portable",
            Path::Simd128 => "simd128",
        }
    }
}

/// Whether this build was compiled with wasm simd128.
pub const SIMD128: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// e^x, Cephes-style: range reduction by ln 2 and a degree-5 polynomial (~2 ulp).
#[inline]
pub fn exp_scalar(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.7);
    let fx = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - fx * 0.693_359_4 + fx * 2.121_944_4e-4;
    let p = poly_exp(r);
    p * f32::from_bits((((fx as i32) + 127) as u32) << 23)
}

#[inline]
fn poly_exp(r: f32) -> f32 {
    let mut y = 1.987_569_1e-4_f32;
    y = y * r + 1.398_199_9e-3;
    y = y * r + 8.333_452e-3;
    y = y * r + 4.166_579_6e-2;
    y = y * r + 1.666_666_5e-1;
    y = y * r + 0.5;
    y * r * r + r + 1.0
}

/// erf(x) by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
#[inline]
pub fn erf_scalar(x: f32) -> f32 {
    let s = x.signum();
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let y = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_74) * t + 0.254_829_6) * t;
    s * (1.0 - y * exp_scalar(-a * a))
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod v {
    use super::*;

    #[inline]
    pub fn exp(x: v128) -> v128 {
        let x = f32x4_pmin(f32x4_pmax(x, f32x4_splat(-87.3)), f32x4_splat(88.7));
        let fx = f32x4_floor(f32x4_add(f32x4_mul(x, f32x4_splat(std::f32::consts::LOG2_E)), f32x4_splat(0.5)));
        let r = f32x4_add(
            f32x4_sub(x, f32x4_mul(fx, f32x4_splat(0.693_359_4))),
            f32x4_mul(fx, f32x4_splat(2.121_944_4e-4)),
        );
        let mut y = f32x4_splat(1.987_569_1e-4);
        for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5] {
            y = f32x4_add(f32x4_mul(y, r), f32x4_splat(c));
        }
        let p = f32x4_add(f32x4_add(f32x4_mul(f32x4_mul(y, r), r), r), f32x4_splat(1.0));
        let pow2 = i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(fx), i32x4_splat(127)), 23);
        f32x4_mul(p, pow2)
    }

    #[inline]
    pub fn erf(x: v128) -> v128 {
        let sign = v128_and(x, f32x4_splat(-0.0));
        let a = f32x4_abs(x);
        let t = f32x4_div(f32x4_splat(1.0), f32x4_add(f32x4_splat(1.0), f32x4_mul(f32x4_splat(0.327_591_1), a)));
        let mut y = f32x4_splat(1.061_405_4);
        for c in [-1.453_152_1, 1.421_413_8, -0.284_496_74, 0.254_829_6] {
            y = f32x4_add(f32x4_mul(y, t), f32x4_splat(c));
        }
        y = f32x4_mul(y, t);
        let e = exp(f32x4_neg(f32x4_mul(a, a)));
        v128_or(f32x4_sub(f32x4_splat(1.0), f32x4_mul(y, e)), sign)
    }
}

/// Applies `scalar` to each element, or `vector` four lanes at a time on the simd path.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn map_simd(x: &mut [f32], scalar: impl Fn(f32) -> f32, vector: impl Fn(v128) -> v128) {
    let mut chunks = x.chunks_exact_mut(4);
    for c in &mut chunks {
        // SAFETY: `c` has exactly four f32 = 16 bytes; v128 loads need no alignment.
        unsafe {
            let r = vector(v128_load(c.as_ptr() as *const v128));
            v128_store(c.as_mut_ptr() as *mut v128, r);
        }
    }
    for e in chunks.into_remainder() {
        *e = scalar(*e);
    }
}

/// Defines an in-place elementwise kernel from a scalar and a four-lane form of the same
/// formula. The vector form is only compiled for simd128 builds.
macro_rules! unary_kernel {
    ($(#[$doc:meta])* $name:ident, |$s:ident| $scalar:expr, |$v:ident| $vector:expr) => {
        $(#[$doc])*
        pub fn $name(path: Path, x: &mut [f32]) {
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            if path == Path::Simd128 {
                return map_simd(x, |$s: f32| $scalar, |$v: v128| $vector);
            }
            let _ = path;
            for e in x.iter_mut() {
                let $s = *e;
                *e = $scalar;
            }
        }
    };
}

const SQRT_1_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
const SQRT_2_PI: f32 = 0.797_884_6;

/// tanh(x) = 1 - 2 / (e^{2x} + 1), saturating cleanly at both ends.
#[inline]
pub fn tanh_scalar(x: f32) -> f32 {
    1.0 - 2.0 / (exp_scalar(2.0 * x) + 1.0)
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn tanh_v(x: v128) -> v128 {
    let e = v::exp(f32x4_mul(f32x4_splat(2.0), x));
    f32x4_sub(f32x4_splat(1.0), f32x4_div(f32x4_splat(2.0), f32x4_add(e, f32x4_splat(1.0))))
}

unary_kernel!(
    /// x·Φ(x) with Φ through erf.
    gelu,
    |x| 0.5 * x * (1.0 + erf_scalar(x * SQRT_1_2)),
    |v| f32x4_mul(
        f32x4_mul(f32x4_splat(0.5), v),
        f32x4_add(f32x4_splat(1.0), v::erf(f32x4_mul(v, f32x4_splat(SQRT_1_2))))
    )
);

unary_kernel!(
    /// The tanh approximation of gelu.
    gelu_tanh,
    |x| 0.5 * x * (1.0 + tanh_scalar(SQRT_2_PI * (x + 0.044_715 * x * x * x))),
    |v| {
        let cube = f32x4_mul(f32x4_mul(v, v), v);
        let inner = f32x4_mul(f32x4_splat(SQRT_2_PI), f32x4_add(v, f32x4_mul(f32x4_splat(0.044_715), cube)));
        f32x4_mul(f32x4_mul(f32x4_splat(0.5), v), f32x4_add(f32x4_splat(1.0), tanh_v(inner)))
    }
);

unary_kernel!(tanh, |x| tanh_scalar(x), |v| tanh_v(v));

unary_kernel!(relu, |x| x.max(0.0), |v| f32x4_pmax(v, f32x4_splat(0.0)));

unary_kernel!(
    /// x·sigmoid(x).
    silu,
    |x| x / (1.0 + exp_scalar(-x)),
    |v| f32x4_div(v, f32x4_add(f32x4_splat(1.0), v::exp(f32x4_neg(v))))
);

/// Largest element (-inf for an empty slice).
pub fn max(path: Path, x: &[f32]) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if path == Path::Simd128 && x.len() >= 4 {
        let mut chunks = x.chunks_exact(4);
        let mut m = f32x4_splat(f32::NEG_INFINITY);
        for c in &mut chunks {
            // SAFETY: four f32 in `c`.
            m = f32x4_pmax(m, unsafe { v128_load(c.as_ptr() as *const v128) });
        }
        let lanes = [
            f32x4_extract_lane::<0>(m),
            f32x4_extract_lane::<1>(m),
            f32x4_extract_lane::<2>(m),
            f32x4_extract_lane::<3>(m),
        ];
        return lanes.into_iter().chain(chunks.remainder().iter().copied()).fold(f32::NEG_INFINITY, f32::max);
    }
    let _ = path;
    x.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// Replaces each element by e^(x - m) and returns their sum.
pub fn exp_sub_sum(path: Path, x: &mut [f32], m: f32) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if path == Path::Simd128 {
        let mv = f32x4_splat(m);
        let mut acc = f32x4_splat(0.0);
        let mut chunks = x.chunks_exact_mut(4);
        for c in &mut chunks {
            // SAFETY: four f32 in `c`.
            unsafe {
                let e = v::exp(f32x4_sub(v128_load(c.as_ptr() as *const v128), mv));
                v128_store(c.as_mut_ptr() as *mut v128, e);
                acc = f32x4_add(acc, e);
            }
        }
        let mut s = f32x4_extract_lane::<0>(acc)
            + f32x4_extract_lane::<1>(acc)
            + f32x4_extract_lane::<2>(acc)
            + f32x4_extract_lane::<3>(acc);
        for e in chunks.into_remainder() {
            *e = exp_scalar(*e - m);
            s += *e;
        }
        return s;
    }
    let _ = path;
    let mut s = 0.0;
    for e in x.iter_mut() {
        *e = exp_scalar(*e - m);
        s += *e;
    }
    s
}

/// Sum and sum of squares of deviations from `mean` (for layer norm's variance).
pub fn sum_sq_dev(path: Path, x: &[f32], mean: f32) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if path == Path::Simd128 {
        let mv = f32x4_splat(mean);
        let mut acc = f32x4_splat(0.0);
        let mut chunks = x.chunks_exact(4);
        for c in &mut chunks {
            // SAFETY: four f32 in `c`.
            let d = f32x4_sub(unsafe { v128_load(c.as_ptr() as *const v128) }, mv);
            acc = f32x4_add(acc, f32x4_mul(d, d));
        }
        let mut s = f32x4_extract_lane::<0>(acc)
            + f32x4_extract_lane::<1>(acc)
            + f32x4_extract_lane::<2>(acc)
            + f32x4_extract_lane::<3>(acc);
        for &e in chunks.remainder() {
            s += (e - mean) * (e - mean);
        }
        return s;
    }
    let _ = path;
    x.iter().map(|&e| (e - mean) * (e - mean)).sum()
}

/// Σ a·b over int8 vectors of one length, in i32 (exact: |a·b| ≤ 127 × 128 per element,
/// so up to 131 072 elements cannot overflow).
#[inline]
pub fn dot_i8(path: Path, a: &[i8], b: &[i8]) -> i32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if path == Path::Simd128 {
        use core::arch::wasm32::*;
        let mut acc = i32x4_splat(0);
        let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
        let tail: i32 = ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| x as i32 * y as i32).sum();
        for (x, y) in ca.zip(cb) {
            // SAFETY: sixteen bytes in each chunk; v128_load takes unaligned addresses.
            let (x, y) = unsafe { (v128_load(x.as_ptr() as *const v128), v128_load(y.as_ptr() as *const v128)) };
            acc = i32x4_add(acc, i32x4_dot_i16x8(i16x8_extend_low_i8x16(x), i16x8_extend_low_i8x16(y)));
            acc = i32x4_add(acc, i32x4_dot_i16x8(i16x8_extend_high_i8x16(x), i16x8_extend_high_i8x16(y)));
        }
        return i32x4_extract_lane::<0>(acc)
            + i32x4_extract_lane::<1>(acc)
            + i32x4_extract_lane::<2>(acc)
            + i32x4_extract_lane::<3>(acc)
            + tail;
    }
    let _ = path;
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

/// The dot product of `a` and `b` (equal lengths), in eight lanes of partial sums.
pub fn dot(path: Path, a: &[f32], b: &[f32]) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if path == Path::Simd128 {
        let (mut s0, mut s1) = (f32x4_splat(0.0), f32x4_splat(0.0));
        let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
        let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
        for (x, y) in ca.zip(cb) {
            // SAFETY: eight f32 in each chunk.
            unsafe {
                let (xp, yp) = (x.as_ptr() as *const v128, y.as_ptr() as *const v128);
                s0 = f32x4_add(s0, f32x4_mul(v128_load(xp), v128_load(yp)));
                s1 = f32x4_add(s1, f32x4_mul(v128_load(xp.add(1)), v128_load(yp.add(1))));
            }
        }
        let s = f32x4_add(s0, s1);
        return f32x4_extract_lane::<0>(s)
            + f32x4_extract_lane::<1>(s)
            + f32x4_extract_lane::<2>(s)
            + f32x4_extract_lane::<3>(s)
            + tail;
    }
    let _ = path;
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Sum of the elements.
pub fn sum(path: Path, x: &[f32]) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if path == Path::Simd128 {
        let mut acc = f32x4_splat(0.0);
        let mut chunks = x.chunks_exact(4);
        for c in &mut chunks {
            // SAFETY: four f32 in `c`.
            acc = f32x4_add(acc, unsafe { v128_load(c.as_ptr() as *const v128) });
        }
        let s = f32x4_extract_lane::<0>(acc)
            + f32x4_extract_lane::<1>(acc)
            + f32x4_extract_lane::<2>(acc)
            + f32x4_extract_lane::<3>(acc);
        return s + chunks.remainder().iter().sum::<f32>();
    }
    let _ = path;
    x.iter().sum()
}

/// out[i] = (x[i] - mean) * inv * gamma[i] + beta[i].
pub fn normalize_affine(path: Path, x: &mut [f32], mean: f32, inv: f32, gamma: &[f32], beta: &[f32]) {
    assert!(gamma.len() == x.len() && beta.len() == x.len(), "layer_norm: shapes are checked at build time");
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if path == Path::Simd128 {
        let (mv, iv) = (f32x4_splat(mean), f32x4_splat(inv));
        let n4 = x.len() / 4 * 4;
        for i in (0..n4).step_by(4) {
            // SAFETY: i + 4 <= n4 <= len of x, gamma and beta (equal lengths, checked by the caller).
            unsafe {
                let xv = v128_load(x.as_ptr().add(i) as *const v128);
                let g = v128_load(gamma.as_ptr().add(i) as *const v128);
                let b = v128_load(beta.as_ptr().add(i) as *const v128);
                let r = f32x4_add(f32x4_mul(f32x4_mul(f32x4_sub(xv, mv), iv), g), b);
                v128_store(x.as_mut_ptr().add(i) as *mut v128, r);
            }
        }
        for i in n4..x.len() {
            x[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
        }
        return;
    }
    let _ = path;
    for ((e, g), b) in x.iter_mut().zip(gamma).zip(beta) {
        *e = (*e - mean) * inv * g + b;
    }
}

/// x *= s.
pub fn scale(x: &mut [f32], s: f32) {
    for e in x {
        *e *= s;
    }
}
