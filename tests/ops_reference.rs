//! Every op against the numpy float64 reference (tests/fixtures/ops), on every CPU kernel
//! path. The same file runs natively, in Node and in headless Chromium and Firefox.

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

macro_rules! op_tests {
    ($($name:ident),* $(,)?) => {$(
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
        fn $name() {
            common::check_op(stringify!($name));
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
    attention,
    attention_at,
    argmax,
    write_at,
);

/// Matmuls whose right operand is a 2-D constant take the pre-packed weight path; run
/// those fixture cases that way too, twice, so the second run reads the cached packing.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn matmul_with_constant_weights() {
    for _ in 0..2 {
        let n = common::check_cases("matmul", |c| c.inputs[1].shape.len() == 2, &[1]);
        assert!(n >= 5, "{n} cases");
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
