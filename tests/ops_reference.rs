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
