//! Products against int8 weights (`Q8 { group }`, rows `[n, k]` read in place: a row's
//! values, then its groups' f32 scales) with the activations quantized to int16 per row.
//!
//! int16, not int8, activations: MiniLM's layer-norm outputs have channels a hundred times
//! the rest, and int8 activations cost its embeddings their 0.999 cosine to the reference
//! (0.998 even with a scale per group of 32), while int16 leaves them at the weights' own
//! error. The products run on `i32x4.dot_i16x8_s` (eight multiply-adds per instruction,
//! the weights sign-extended as they load), summed exactly in i32 over a group, then
//! scaled by the group's weight scale in f32: two rows of A against four weight rows at a
//! time, the four rows' group sums gathered into one vector so that one multiply applies
//! their four scales.

use super::simd::Path;

/// Scratch kept between calls: the quantized activations and a weight block's scales.
#[derive(Default)]
pub struct Q8Scratch {
    aq: Vec<i16>,
    ascale: Vec<f32>,
    /// For the four weight rows in hand, group by group: their four scales.
    scales: Vec<f32>,
}

/// Weight rows handled together.
const NR: usize = 4;

/// `a`'s rows quantized to int16: `x ≈ q × scale`, scale = max|x| / 32767 per row.
fn quantize_rows(a: &[f32], k: usize, s: &mut Q8Scratch) {
    s.aq.clear();
    s.ascale.clear();
    for row in a.chunks_exact(k) {
        let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = amax / 32767.0;
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        s.aq.extend(row.iter().map(|v| (v * inv).round() as i16));
        s.ascale.push(scale);
    }
}

/// Element (r, j) of a (`rows × k`) · Wᵀ for the weight rows `js` of `w` (int8 in groups
/// of `group`, dividing `k` and a multiple of 8), written at `out[r * rs + (j - js.start)
/// * cs]`.
#[allow(clippy::too_many_arguments)]
pub fn product(
    path: Path,
    a: &[f32],
    k: usize,
    w: &[u8],
    group: usize,
    js: std::ops::Range<usize>,
    (rs, cs): (usize, usize),
    out: &mut [f32],
    s: &mut Q8Scratch,
) {
    let rows = a.len() / k.max(1);
    if rows == 0 || k == 0 {
        return;
    }
    let groups = k / group;
    let row_bytes = k + groups * 4;
    quantize_rows(a, k, s);
    let weight = |j: usize| &w[j * row_bytes..(j + 1) * row_bytes];
    let mut j0 = js.start;
    while j0 < js.end {
        let nr = NR.min(js.end - j0);
        // The block's scales, interleaved by group; a missing fourth row reads row j0's
        // and its results are dropped.
        s.scales.clear();
        for g in 0..groups {
            for jj in 0..NR {
                let wr = weight(if jj < nr { j0 + jj } else { j0 });
                let b = &wr[k + g * 4..k + g * 4 + 4];
                s.scales.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
        }
        let wrows: [&[u8]; NR] = std::array::from_fn(|jj| &weight(if jj < nr { j0 + jj } else { j0 })[..k]);
        let mut r = 0;
        while r < rows {
            let mr = 2.min(rows - r);
            let arows: [&[i16]; 2] = std::array::from_fn(|i| &s.aq[(r + i.min(mr - 1)) * k..][..k]);
            let sums = block(path, arows, wrows, group, &s.scales);
            for (i, row) in sums.iter().enumerate().take(mr) {
                for (jj, v) in row.iter().enumerate().take(nr) {
                    out[(r + i) * rs + (j0 + jj - js.start) * cs] = v * s.ascale[r + i];
                }
            }
            r += mr;
        }
        j0 += nr;
    }
}

/// Σ_g scale[g][j] × Σ_{t in g} a[i][t] × w[j][t], for two activation rows and four
/// weight rows.
#[inline]
fn block(path: Path, a: [&[i16]; 2], w: [&[u8]; NR], group: usize, scales: &[f32]) -> [[f32; NR]; 2] {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if path == Path::Simd128 && group % 8 == 0 {
        return block_simd128(a, w, group, scales);
    }
    let _ = path;
    let mut out = [[0f32; NR]; 2];
    for (g, sc) in scales.chunks_exact(NR).enumerate() {
        let span = g * group..(g + 1) * group;
        for (i, ar) in a.iter().enumerate() {
            for (jj, wr) in w.iter().enumerate() {
                let dot: i32 =
                    ar[span.clone()].iter().zip(&wr[span.clone()]).map(|(&x, &y)| x as i32 * y as i8 as i32).sum();
                out[i][jj] += dot as f32 * sc[jj];
            }
        }
    }
    out
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn block_simd128(a: [&[i16]; 2], w: [&[u8]; NR], group: usize, scales: &[f32]) -> [[f32; NR]; 2] {
    use core::arch::wasm32::*;
    let k = a[0].len();
    assert!(a[1].len() == k && w.iter().all(|r| r.len() == k) && scales.len() == k / group * NR);
    /// Lane j of the result: the sum of the four lanes of `x[j]`.
    #[inline(always)]
    fn sum4(x: [v128; 4]) -> v128 {
        let ab = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(x[0], x[1]), i32x4_shuffle::<2, 6, 3, 7>(x[0], x[1]));
        let cd = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(x[2], x[3]), i32x4_shuffle::<2, 6, 3, 7>(x[2], x[3]));
        i32x4_add(i32x4_shuffle::<0, 1, 4, 5>(ab, cd), i32x4_shuffle::<2, 3, 6, 7>(ab, cd))
    }
    let z = i32x4_splat(0);
    let mut f = [f32x4_splat(0.0); 2];
    for g in 0..k / group {
        let mut acc = [[z; NR]; 2];
        for t in (g * group..(g + 1) * group).step_by(8) {
            // SAFETY: t + 8 ≤ k for every row (asserted lengths; group divides k and is a
            // multiple of 8); the loads take unaligned addresses.
            unsafe {
                let wv: [v128; NR] = std::array::from_fn(|j| i16x8_load_extend_i8x8(w[j].as_ptr().add(t) as *const i8));
                for (i, ai) in acc.iter_mut().enumerate() {
                    let av = v128_load(a[i].as_ptr().add(t) as *const v128);
                    for (j, x) in ai.iter_mut().enumerate() {
                        *x = i32x4_add(*x, i32x4_dot_i16x8(av, wv[j]));
                    }
                }
            }
        }
        // SAFETY: four scales per group (asserted length).
        let sv = unsafe { v128_load(scales.as_ptr().add(g * NR) as *const v128) };
        for (fi, ai) in f.iter_mut().zip(acc) {
            *fi = f32x4_add(*fi, f32x4_mul(f32x4_convert_i32x4(sum4(ai)), sv));
        }
    }
    let lanes = |v: v128| {
        [f32x4_extract_lane::<0>(v), f32x4_extract_lane::<1>(v), f32x4_extract_lane::<2>(v), f32x4_extract_lane::<3>(v)]
    };
    [lanes(f[0]), lanes(f[1])]
}
