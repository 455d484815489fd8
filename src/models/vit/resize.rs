//! Image resizing exactly as Pillow's `Image.resize` does it for 8-bit images (its
//! `Resample.c`): a separable convolution whose filter widens with the downscale factor
//! (antialiasing), coefficients in 22-bit fixed point, and rounding to u8 after each pass.
//! Hugging Face's image processors resize through Pillow, so matching it to the bit is
//! what keeps our preprocessed input equal to the reference's.

/// Pillow's resampling filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `Image.BILINEAR` (2): the triangle filter, support 1.
    Bilinear,
    /// `Image.BICUBIC` (3): Keys' cubic with a = -0.5, support 2.
    Bicubic,
}

impl Filter {
    /// From a `preprocessor_config.json` `resample` value (PIL's enum); others are unsupported.
    pub fn from_pil(n: u64) -> Option<Self> {
        match n {
            2 => Some(Filter::Bilinear),
            3 => Some(Filter::Bicubic),
            _ => None,
        }
    }

    fn support(self) -> f64 {
        match self {
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Bilinear => (1.0 - x).max(0.0),
            Filter::Bicubic => {
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// One output position's taps: the first input index and the fixed-point weights.
struct Taps {
    start: usize,
    weights: Vec<i32>,
}

/// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`, for resizing `input`
/// samples to `output` over the whole axis.
fn taps(input: usize, output: usize, filter: Filter) -> Vec<Taps> {
    let scale = input as f64 / output as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    (0..output)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C's (int) cast truncates toward zero; both bounds are then clamped.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(input as i64).max(xmin as i64) as usize;
            let mut k: Vec<f64> = (xmin..xmax).map(|x| filter.weight((x as f64 - center + 0.5) * ss)).collect();
            let ww: f64 = k.iter().sum();
            if ww != 0.0 {
                k.iter_mut().for_each(|w| *w /= ww);
            }
            let one = (1u32 << PRECISION_BITS) as f64;
            let weights =
                k.iter().map(|&w| if w < 0.0 { (-0.5 + w * one) as i32 } else { (0.5 + w * one) as i32 }).collect();
            Taps { start: xmin, weights }
        })
        .collect()
}

fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes an interleaved 8-bit image (`channels` per pixel, row-major) from `w × h` to
/// `ow × oh`: horizontally first, then vertically, each pass skipped when its size is
/// unchanged, as Pillow does.
pub fn resize_u8(
    src: &[u8],
    (w, h): (usize, usize),
    channels: usize,
    (ow, oh): (usize, usize),
    filter: Filter,
) -> Vec<u8> {
    let mut cur = src.to_vec();
    let mut cw = w;
    if ow != w {
        let t = taps(w, ow, filter);
        let mut out = vec![0u8; ow * h * channels];
        for y in 0..h {
            let row = &cur[y * w * channels..(y + 1) * w * channels];
            for (x, tap) in t.iter().enumerate() {
                for c in 0..channels {
                    let mut acc: i32 = 1 << (PRECISION_BITS - 1);
                    for (i, &k) in tap.weights.iter().enumerate() {
                        acc = acc.wrapping_add(row[(tap.start + i) * channels + c] as i32 * k);
                    }
                    out[(y * ow + x) * channels + c] = clip8(acc);
                }
            }
        }
        cur = out;
        cw = ow;
    }
    if oh != h {
        let t = taps(h, oh, filter);
        let stride = cw * channels;
        let mut out = vec![0u8; oh * stride];
        for (y, tap) in t.iter().enumerate() {
            for i in 0..stride {
                let mut acc: i32 = 1 << (PRECISION_BITS - 1);
                for (j, &k) in tap.weights.iter().enumerate() {
                    acc = acc.wrapping_add(cur[(tap.start + j) * stride + i] as i32 * k);
                }
                out[y * stride + i] = clip8(acc);
            }
        }
        cur = out;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_a_copy_and_a_constant_image_stays_constant() {
        let src: Vec<u8> = (0..5 * 3 * 3).map(|i| (i * 7 % 256) as u8).collect();
        assert_eq!(resize_u8(&src, (5, 3), 3, (5, 3), Filter::Bicubic), src);
        let flat = vec![200u8; 40 * 30];
        for size in [(7, 5), (80, 61), (40, 1)] {
            let out = resize_u8(&flat, (40, 30), 1, size, Filter::Bicubic);
            assert!(out.iter().all(|&v| v == 200), "{size:?}");
        }
    }

    #[test]
    fn taps_sum_to_one_in_fixed_point() {
        for (i, o) in [(100, 37), (37, 100), (256, 256), (3, 1)] {
            for t in taps(i, o, Filter::Bicubic) {
                let s: i32 = t.weights.iter().sum();
                assert!((s - (1 << PRECISION_BITS)).abs() <= t.weights.len() as i32, "{i}->{o}: {s}");
            }
        }
    }
}
