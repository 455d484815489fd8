//! Property tests over shapes: matmul (with weights in every stored form, split over
//! threads or not), softmax and layer_norm on random shapes and values against naive
//! float64 loops written here, independent of the kernels.
#![cfg(not(target_arch = "wasm32"))]

use ipfs_accelerate::backend::cpu::CpuBackend;
use ipfs_accelerate::graph::GraphBuilder;
use ipfs_accelerate::tensor::{DType, Tensor};
use proptest::prelude::*;

fn values(n: usize, seed: u64, span: f32) -> Vec<f32> {
    // A small LCG keeps value generation cheap; proptest varies the seed and shapes.
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * span
        })
        .collect()
}

fn close(got: &[f32], want: &[f64], atol: f64, rtol: f64) -> Result<(), String> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if ((*g as f64) - w).abs() > atol + rtol * w.abs() {
            return Err(format!("element {i}: got {g}, want {w}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Tolerance: atol 1e-4, rtol 1e-4 (f32 accumulation over K < 300).
    #[test]
    fn matmul_matches_naive(batch in 1usize..3, m in 1usize..40, k in 1usize..300, n in 1usize..40,
                            ta: bool, tb: bool, seed: u64) {
        let a = values(batch * m * k, seed, 1.0);
        let b = values(batch * k * n, seed ^ 0x55, 1.0);
        let adims = if ta { vec![batch, k, m] } else { vec![batch, m, k] };
        let bdims = if tb { vec![batch, n, k] } else { vec![batch, k, n] };
        let mut g = GraphBuilder::new();
        let (x, y) = (g.input("a", &adims, DType::F32), g.input("b", &bdims, DType::F32));
        let o = g.matmul_t(x, y, ta, tb).unwrap();
        let graph = g.build(&[o]).unwrap();
        let out = CpuBackend::new().run(&graph, &[
            Tensor::from_f32(adims.clone(), a.clone()).unwrap(),
            Tensor::from_f32(bdims.clone(), b.clone()).unwrap(),
        ]).unwrap();
        prop_assert_eq!(out[0].dims(), &[batch, m, n]);
        let at = |bi: usize, i: usize, kk: usize| if ta { a[(bi * k + kk) * m + i] } else { a[(bi * m + i) * k + kk] } as f64;
        let bt = |bi: usize, kk: usize, j: usize| if tb { b[(bi * n + j) * k + kk] } else { b[(bi * k + kk) * n + j] } as f64;
        let mut want = vec![0f64; batch * m * n];
        for bi in 0..batch { for i in 0..m { for j in 0..n {
            want[(bi * m + i) * n + j] = (0..k).map(|kk| at(bi, i, kk) * bt(bi, kk, j)).sum();
        }}}
        close(&out[0].to_f32_vec(), &want, 1e-4, 1e-4).map_err(TestCaseError::fail)?;
    }

    /// x · Wᵀ against a constant weight in every form the CPU holds (f32: packed GEMM, or
    /// GEMV for up to 4 rows; f16; int8 in groups of 32 and per channel; int4 in blocks of
    /// 32), on one thread and split over three, against a float64 product with the
    /// weight as stored (widened). Tolerance: atol 1e-4, rtol 1e-4, plus what quantizing x
    /// may add: half a step per element, Σ|w| × max|x| / 65534 against int8 (int16 x),
    /// / 254 against int4 (int8 x). The split gives the one-thread bits.
    #[test]
    fn weight_products_match_naive_split_or_not(m in 1usize..40, kb in 1usize..12, n in 1usize..40,
                                                 form in 0usize..5, seed: u64) {
        use ipfs_accelerate::backend::cpu::parallel;
        use ipfs_accelerate::tensor::quant;
        let k = kb * 32 + if form == 0 || form == 1 || form == 3 { seed as usize % 7 } else { 0 };
        let dtype = [DType::F32, DType::F16, DType::Q8 { group: 32 }, DType::Q8 { group: k }, DType::Q4 { block: 32 }][form];
        let x = values(m * k, seed, 1.0);
        let w = values(n * k, seed ^ 0x77, 1.0);
        let wt = Tensor::from_f32(vec![n, k], w.clone()).unwrap();
        let (c, wd) = match dtype {
            DType::F32 => (wt, w.clone()),
            d => {
                let c = wt.to_dtype(d).unwrap();
                let wd = quant::widen(c.stored_bytes().unwrap(), n * k, k, d);
                (c, wd)
            }
        };
        let mut g = GraphBuilder::new();
        let xi = g.input("x", &[m, k], DType::F32);
        let ci = g.constant(c);
        let o = g.matmul_t(xi, ci, false, true).unwrap();
        let graph = g.build(&[o]).unwrap();
        let input = [Tensor::from_f32(vec![m, k], x.clone()).unwrap()];
        parallel::start_native(3);
        parallel::split_everything();
        let split = CpuBackend::new().run(&graph, &input).unwrap()[0].to_f32_vec();
        let one = parallel::serially(|| CpuBackend::new().run(&graph, &input).unwrap()[0].to_f32_vec());
        prop_assert!(split.iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits()), "split and one-thread results differ");
        let steps = match dtype { DType::Q8 { .. } => 65534.0, DType::Q4 { .. } => 254.0, _ => f64::INFINITY };
        for r in 0..m {
            let xr = &x[r * k..(r + 1) * k];
            let amax = xr.iter().fold(0f64, |a, v| a.max(v.abs() as f64));
            for j in 0..n {
                let wr = &wd[j * k..(j + 1) * k];
                let want: f64 = xr.iter().zip(wr).map(|(a, b)| *a as f64 * *b as f64).sum();
                let bound = wr.iter().map(|v| v.abs() as f64).sum::<f64>() * amax / steps;
                let got = split[r * n + j] as f64;
                prop_assert!((got - want).abs() <= bound + 1e-4 + 1e-4 * want.abs(),
                    "{dtype} {m}x{k}x{n} [{r},{j}]: {got} vs {want} (bound {bound})");
            }
        }
    }

    /// Tolerance: atol 1e-6, rtol 1e-4; every row sums to 1.
    #[test]
    fn softmax_matches_naive(rows in 1usize..6, n in 1usize..130, span in 0.1f32..40.0, seed: u64) {
        let x = values(rows * n, seed, span);
        let mut g = GraphBuilder::new();
        let i = g.input("x", &[rows, n], DType::F32);
        let o = g.softmax(i, None).unwrap();
        let out = CpuBackend::new().run(&g.build(&[o]).unwrap(), &[Tensor::from_f32(vec![rows, n], x.clone()).unwrap()]).unwrap();
        let got = out[0].to_f32_vec();
        let mut want = Vec::new();
        for r in x.chunks(n) {
            let m = r.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
            let e: Vec<f64> = r.iter().map(|&v| (v as f64 - m).exp()).collect();
            let s: f64 = e.iter().sum();
            want.extend(e.iter().map(|v| v / s));
        }
        close(&got, &want, 1e-6, 1e-4).map_err(TestCaseError::fail)?;
        for r in got.chunks(n) {
            prop_assert!((r.iter().map(|&v| v as f64).sum::<f64>() - 1.0).abs() < 1e-5);
        }
    }

    /// Tolerance: atol 1e-4, rtol 1e-4.
    #[test]
    fn layer_norm_matches_naive(rows in 1usize..6, n in 2usize..400, offset in -50f32..50.0, seed: u64) {
        let x: Vec<f32> = values(rows * n, seed, 3.0).into_iter().map(|v| v + offset).collect();
        let gamma = values(n, seed ^ 1, 1.0);
        let beta = values(n, seed ^ 2, 1.0);
        let eps = 1e-5f32;
        let mut g = GraphBuilder::new();
        let i = g.input("x", &[rows, n], DType::F32);
        let gm = g.input("g", &[n], DType::F32);
        let bt = g.input("b", &[n], DType::F32);
        let o = g.layer_norm(i, gm, bt, eps).unwrap();
        let out = CpuBackend::new().run(&g.build(&[o]).unwrap(), &[
            Tensor::from_f32(vec![rows, n], x.clone()).unwrap(),
            Tensor::from_f32(vec![n], gamma.clone()).unwrap(),
            Tensor::from_f32(vec![n], beta.clone()).unwrap(),
        ]).unwrap();
        let mut want = Vec::new();
        for r in x.chunks(n) {
            let mu = r.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let var = r.iter().map(|&v| (v as f64 - mu).powi(2)).sum::<f64>() / n as f64;
            let inv = 1.0 / (var + eps as f64).sqrt();
            want.extend(r.iter().enumerate().map(|(j, &v)| (v as f64 - mu) * inv * gamma[j] as f64 + beta[j] as f64));
        }
        close(&out[0].to_f32_vec(), &want, 1e-4, 1e-4).map_err(TestCaseError::fail)?;
    }

    /// Shape inference never panics, and accepts exactly the shapes whose inner dims agree.
    #[test]
    fn matmul_shape_inference_is_total(a in proptest::collection::vec(0usize..5, 0..5),
                                       b in proptest::collection::vec(0usize..5, 0..5)) {
        let mut g = GraphBuilder::new();
        let (x, y) = (g.input("a", &a, DType::F32), g.input("b", &b, DType::F32));
        let r = g.matmul(x, y);
        if a.len() >= 2 && b.len() >= 2 && a[a.len() - 1] != b[b.len() - 2] {
            let e = r.unwrap_err();
            prop_assert_eq!(e.code(), "shape_mismatch");
            let (msg, sa, sb) = (e.to_string(), format!("{:?}", a), format!("{:?}", b));
            prop_assert!(msg.contains(&sa) && msg.contains(&sb), "{}", msg);
        }
    }
}
