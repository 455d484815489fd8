//! Position embeddings for an input whose patch grid differs from the trained one,
//! interpolated as Hugging Face's Dinov2 does (`interpolate(size=(h, w), mode="bicubic",
//! align_corners=False, antialias=False)`): Keys' cubic with a = -0.75, half-pixel
//! centres, edge samples repeated. Computed on the host, once per input size.

/// Per output index, four (input index, weight) taps.
fn taps(input: usize, output: usize) -> Vec<[(usize, f64); 4]> {
    const A: f64 = -0.75;
    let cubic = |t: f64| {
        let t = t.abs();
        if t <= 1.0 {
            ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0
        } else if t < 2.0 {
            ((A * t - 5.0 * A) * t + 8.0 * A) * t - 4.0 * A
        } else {
            0.0
        }
    };
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|o| {
            let x = (o as f64 + 0.5) * scale - 0.5;
            let f = x.floor();
            let t = x - f;
            let at = |k: i64| (f as i64 + k).clamp(0, input as i64 - 1) as usize;
            [(at(-1), cubic(t + 1.0)), (at(0), cubic(t)), (at(1), cubic(1.0 - t)), (at(2), cubic(2.0 - t))]
        })
        .collect()
}

/// `grid` (`[gh, gw, dim]` row-major) resized to `[h, w, dim]`.
pub fn interpolate(grid: &[f32], (gh, gw): (usize, usize), dim: usize, (h, w): (usize, usize)) -> Vec<f32> {
    if (gh, gw) == (h, w) {
        return grid.to_vec();
    }
    let (ty, tx) = (taps(gh, h), taps(gw, w));
    // Along x first, in f64, then along y.
    let mut rows = vec![0f64; gh * w * dim];
    for y in 0..gh {
        for (x, t) in tx.iter().enumerate() {
            let dst = &mut rows[(y * w + x) * dim..][..dim];
            for &(i, k) in t {
                let src = &grid[(y * gw + i) * dim..][..dim];
                dst.iter_mut().zip(src).for_each(|(d, s)| *d += k * *s as f64);
            }
        }
    }
    let mut out = vec![0f32; h * w * dim];
    for (y, t) in ty.iter().enumerate() {
        for x in 0..w {
            let dst = &mut out[(y * w + x) * dim..][..dim];
            for (j, d) in dst.iter_mut().enumerate() {
                *d = t.iter().map(|&(i, k)| k * rows[(i * w + x) * dim + j]).sum::<f64>() as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_identity_and_constants_stay_constant() {
        let g: Vec<f32> = (0..3 * 3 * 2).map(|i| i as f32).collect();
        assert_eq!(interpolate(&g, (3, 3), 2, (3, 3)), g);
        let flat = vec![1.5f32; 37 * 37];
        let out = interpolate(&flat, (37, 37), 1, (16, 24));
        assert!(out.iter().all(|v| (v - 1.5).abs() < 1e-6), "{:?}", &out[..4]);
    }

    /// A linear ramp stays linear away from the edges (cubic convolution reproduces it).
    #[test]
    fn a_ramp_is_resampled_at_half_pixel_centres() {
        let g: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let out = interpolate(&g, (1, 8), 1, (1, 4));
        // Output x maps to input (x + 0.5) * 2 - 0.5.
        assert!((out[1] - 2.5).abs() < 1e-6 && (out[2] - 4.5).abs() < 1e-6, "{out:?}");
    }
}
