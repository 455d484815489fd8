//! The kernels that split over threads (GEMM by rows, GEMV and few-row stored products by
//! columns, stored products by row blocks, attention by heads): split, each gives the
//! bits it gives on one thread, and matches a float64 product.

use super::attention::{attention, AttnDims};
use super::gemm::{gemm, GemmScratch, MatRef};
use super::{matmul, parallel, qgemm, Path};
use crate::tensor::{quant, DType};

fn data(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 37 + seed * 11) % 23) as f32 / 7.0 - 1.5).collect()
}

/// Runs `f` split over three threads and on one, checks the bits agree, returns the output.
fn both(f: impl Fn() -> Vec<f32>) -> Vec<f32> {
    parallel::start_native(3);
    parallel::split_everything();
    let split = f();
    let one = parallel::serially(&f);
    assert_eq!(split.len(), one.len());
    for (i, (x, y)) in split.iter().zip(&one).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "element {i}: split {x} vs one thread {y}");
    }
    split
}

fn close(got: &[f32], want: &[f64], tol: f64, what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((*g as f64 - w).abs() <= tol * (1.0 + w.abs()), "{what} [{i}]: {g} vs {w}");
    }
}

/// a (m×k) · bᵀ (b: n×k) in float64.
fn reference(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0f64; m * n];
    for r in 0..m {
        for j in 0..n {
            out[r * n + j] = (0..k).map(|t| a[r * k + t] as f64 * b[j * k + t] as f64).sum();
        }
    }
    out
}

#[test]
fn split_products_match_one_thread_and_float64() {
    for path in Path::available() {
        for (m, n, k) in [(1, 70, 33), (3, 200, 64), (9, 17, 40), (37, 130, 96), (70, 9, 260)] {
            let (a, b) = (data(m * k, 1), data(n * k, 2));
            let want = reference(&a, &b, m, n, k);
            let got = both(|| {
                let mut c = vec![0.0; m * n];
                let bm = MatRef { data: &b, off: 0, rs: 1, cs: k };
                gemm(
                    path,
                    [m, n, k],
                    MatRef { data: &a, off: 0, rs: k, cs: 1 },
                    bm,
                    &mut c,
                    &mut GemmScratch::default(),
                );
                c
            });
            close(&got, &want, 1e-4, &format!("gemm {path:?} {m}x{n}x{k}"));
            let got = both(|| {
                let mut c = vec![0.0; m * n];
                matmul::gemv_t(path, &a, &b, k, &mut c);
                c
            });
            close(&got, &want, 1e-4, &format!("gemv_t {path:?} {m}x{n}x{k}"));
            if k % 32 == 0 {
                let q = DType::Q8 { group: 32 };
                let bytes = quant::quantize(&b, k, q).unwrap();
                let wide = quant::widen(&bytes, n * k, k, q);
                let got = both(|| {
                    let mut c = vec![0.0; m * n];
                    qgemm::matmul_stored(path, &a, k, &bytes, q, &mut c, &mut qgemm::QScratch::default());
                    c
                });
                // int16 activations: each output within Σ|w| × max|a| / 65534 (half a
                // step of the row's scale per element) of the f32 product.
                let want = reference(&a, &wide, m, n, k);
                for r in 0..m {
                    let amax = a[r * k..(r + 1) * k].iter().fold(0f64, |x, v| x.max(v.abs() as f64));
                    for j in 0..n {
                        let bound =
                            wide[j * k..(j + 1) * k].iter().map(|v| v.abs() as f64).sum::<f64>() * amax / 65534.0;
                        let (g, w) = (got[r * n + j] as f64, want[r * n + j]);
                        assert!(
                            (g - w).abs() <= bound + 1e-4 * (1.0 + w.abs()),
                            "q8 {path:?} {m}x{n}x{k} [{r},{j}]: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn split_attention_matches_one_thread_and_float64() {
    for path in Path::available() {
        for (b, h, sq, sk, d) in [(1, 3, 2, 5, 8), (2, 3, 13, 13, 16)] {
            let dims = AttnDims { b, h, sq, sk, d, dv: d };
            let (q, k, v) = (data(b * h * sq * d, 3), data(b * h * sk * d, 4), data(b * h * sk * d, 5));
            let got = both(|| {
                let mut out = vec![0.0; b * h * sq * d];
                attention(path, &q, &k, &v, None, None, 0.25, &dims, &mut out, &mut GemmScratch::default()).unwrap();
                out
            });
            for bh in 0..b * h {
                for i in 0..sq {
                    let qi = &q[(bh * sq + i) * d..][..d];
                    let s: Vec<f64> = (0..sk)
                        .map(|j| 0.25 * (0..d).map(|t| qi[t] as f64 * k[(bh * sk + j) * d + t] as f64).sum::<f64>())
                        .collect();
                    let mx = s.iter().cloned().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = s.iter().map(|x| (x - mx).exp()).collect();
                    let z: f64 = e.iter().sum();
                    let want: Vec<f64> =
                        (0..d).map(|t| (0..sk).map(|j| e[j] / z * v[(bh * sk + j) * d + t] as f64).sum()).collect();
                    close(
                        &got[(bh * sq + i) * d..][..d],
                        &want,
                        1e-4,
                        &format!("attention {path:?} head {bh} row {i}"),
                    );
                }
            }
        }
    }
}
