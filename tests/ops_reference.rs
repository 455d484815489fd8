//! Every op against the numpy float64 reference (tests/fixtures/ops, from gen_ops.py next
//! to it), on every backend this place has (tests/common/backends.rs): each CPU kernel
//! path, and each WebGPU variant the device grants. The same file runs natively, in Node
//! (CPU only) and in headless Chromium and Firefox. Tolerance: the fixture's per-case
//! atol/rtol, at least 1e-4 on WebGPU (f32 sums in another order) and 2e-2 for matmuls
//! reading f16-stored weights (11 significant bits).

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

/// One test per op: every fixture case of the op on every place (common/backends.rs).
macro_rules! op_tests {
    ($($name:ident),* $(,)?) => {$(
        on_every_backend! {
            $name(place) { common::check_op(place, stringify!($name)).await }
        }
    )*};
}

op_tests!(
    matmul,
    add,
    sub,
    mul,
    div,
    gelu,
    gelu_tanh,
    relu,
    silu,
    tanh,
    softmax,
    layer_norm,
    gather,
    reshape,
    transpose,
    permute,
    slice,
    concat,
    mean,
    sum,
    conv1d,
    conv2d,
    conv_transpose2d,
    attention,
    attention_at,
    argmax,
    write_at,
);

on_every_backend! {
    // Matmuls whose right operand is a 2-D constant take the pre-packed weight path (on
    // WebGPU, the uploaded, perhaps f16, weight); run those fixture cases that way too,
    // twice, so the second run reads the cached packing.
    matmul_with_constant_weights(place) {
        let mut n = 0;
        for _ in 0..2 {
            n += common::check_cases(place, "matmul", |c| c.inputs[1].shape.len() == 2, &[1]).await?;
        }
        match n >= 10 {
            true => Ok(n),
            false => Err(format!("only {n} cases")),
        }
    }
}

on_every_backend! {
    // Weights in a stored form (f16, int8 per channel and in groups of 32, int4 in blocks of
    // 32) as the right operand of x · Wᵀ, read as `[out, in]` rows, on odd shapes, against
    // a float64 product with the dequantized weight. Against int4 the CPU quantizes x to
    // int8 in blocks, which adds at most Σ_t |w_t| × max|x| / 254, against int8 to int16
    // per row (Σ_t |w_t| × max|x| / 65534); otherwise x stays f32 (WebGPU widens every
    // form; its f16 variant stores it as f16: its slack). Gathering
    // rows of the same stored table gives exactly the widened rows.
    stored_weight_products(place) {
        use ipfs_accelerate::graph::GraphBuilder;
        use ipfs_accelerate::tensor::{quant, DType, Tensor};
        use std::sync::Arc;
        let mut n = 0;
        for (rows, k, cols) in [(1, 32, 1), (3, 64, 5), (33, 96, 7), (2, 384, 17), (5, 1536, 3)] {
            let x: Vec<f32> = (0..rows * k).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
            let w: Vec<f32> = (0..cols * k).map(|i| ((i * 53 % 29) as f32 - 14.0) / 9.0).collect();
            let wt = Tensor::from_f32(vec![cols, k], w).map_err(|e| e.to_string())?;
            for dtype in [DType::F16, DType::Q8 { group: k }, DType::Q8 { group: 32 }, DType::Q4 { block: 32 }] {
                let stored = wt.to_dtype(dtype).map_err(|e| e.to_string())?;
                let wd = quant::widen(stored.stored_bytes().unwrap_or_default(), cols * k, k, dtype);
                let mut g = GraphBuilder::new();
                let xi = g.input("x", &[rows, k], DType::F32);
                let c = g.constant(stored);
                let y = g.matmul_t(xi, c, false, true).map_err(|e| e.to_string())?;
                let graph = Arc::new(g.build(&[y]).map_err(|e| e.to_string())?);
                let input = [Tensor::from_f32(vec![rows, k], x.clone()).map_err(|e| e.to_string())?];
                let out = place.backend.run(&graph, &input).await.map_err(|e| format!("{dtype}: {e}"))?;
                let got = out[0].to_f32_vec();
                for r in 0..rows {
                    let amax = x[r * k..(r + 1) * k].iter().fold(0f64, |m, v| m.max(v.abs() as f64));
                    for j in 0..cols {
                        let wr = &wd[j * k..(j + 1) * k];
                        let want: f64 = (0..k).map(|t| x[r * k + t] as f64 * wr[t] as f64).sum();
                        // The CPU quantizes activations: to int8 against int4 weights (half a
                        // step, amax/254, per element), to int16 against int8 (amax/65534).
                        let steps = match dtype {
                            DType::Q4 { .. } if !place.is_gpu() => 254.0,
                            DType::Q8 { .. } if !place.is_gpu() => 65534.0,
                            _ => f64::INFINITY,
                        };
                        let bound = wr.iter().map(|v| v.abs() as f64).sum::<f64>() * amax / steps;
                        let tol = bound + (1e-4 + place.slack(true)) * (1.0 + want.abs());
                        let e = (got[r * cols + j] as f64 - want).abs();
                        if e > tol {
                            return Err(format!("{dtype} {rows}x{k}x{cols} [{r},{j}]: {} vs {want} (tolerance {tol})", got[r * cols + j]));
                        }
                    }
                }
                n += 1;

                // The same table gathered by row (a quantized embedding): exactly its
                // widened rows.
                let mut g = GraphBuilder::new();
                let ids = g.input("ids", &[3], DType::I32);
                let c = g.constant(wt.to_dtype(dtype).map_err(|e| e.to_string())?);
                let y = g.gather(c, ids).map_err(|e| e.to_string())?;
                let graph = Arc::new(g.build(&[y]).map_err(|e| e.to_string())?);
                let picks = [cols as i32 - 1, 0, (cols / 2) as i32];
                let input = [Tensor::from_i32(vec![3], picks.to_vec()).map_err(|e| e.to_string())?];
                let got = place.backend.run(&graph, &input).await.map_err(|e| format!("{dtype} gather: {e}"))?[0].to_f32_vec();
                let want: Vec<f32> = picks.iter().flat_map(|&r| wd[r as usize * k..(r as usize + 1) * k].to_vec()).collect();
                if got != want {
                    return Err(format!("{dtype}: gathered rows differ from the widened table's"));
                }
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Every op in the fixture has a test above, so a new fixture op cannot go unchecked.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn every_fixture_op_is_tested() {
    let tested = [
        "matmul",
        "add",
        "sub",
        "mul",
        "div",
        "gelu",
        "gelu_tanh",
        "relu",
        "silu",
        "tanh",
        "softmax",
        "layer_norm",
        "gather",
        "reshape",
        "transpose",
        "permute",
        "slice",
        "concat",
        "mean",
        "sum",
        "conv1d",
        "conv2d",
        "conv_transpose2d",
        "attention",
        "attention_at",
        "argmax",
        "write_at",
    ];
    for c in common::fixture().cases {
        assert!(tested.contains(&c.op.as_str()), "fixture op {} has no test", c.op);
    }
}

/// The relaxed suites (IPFS_ACCELERATE_RELAXED_SIMD=1 at build time, see build.rs) really
/// run the relaxed-simd GEMM, and the plain suites the simd128 one.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test]
fn the_build_runs_the_gemm_it_was_built_for() {
    let relaxed = option_env!("IPFS_ACCELERATE_RELAXED_SIMD") == Some("1");
    let want = if relaxed { "simd128+relaxed" } else { "simd128" };
    assert_eq!(ipfs_accelerate::web::cpu_path(), want);
}
