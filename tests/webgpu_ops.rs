//! What only the WebGPU backend has, beyond the op references every backend runs
//! (tests/ops_reference.rs): weights and tables over the binding limit split across
//! bindings, stored weights (f16, int8, int4) read as stored, forced variants the device lacks, and the plan cache behind the contract.
//! Natively it runs on Vulkan (lavapipe on CI); compiled to wasm, in headless Chromium
//! (SwiftShader) and Firefox (wgpu over lavapipe) through the browser's WebGPU.
//! Tolerances: f32 kernels within atol 1e-4 + rtol 1e-4 of the CPU backend; matmuls with
//! f16-stored weights within 2e-2 (11 significant bits).

use ipfs_accelerate::backend::cpu::CpuBackend;
use ipfs_accelerate::backend::webgpu::{variants, GpuOptions, WebGpuBackend};
use ipfs_accelerate::backend::Backend;
use ipfs_accelerate::tensor::Tensor;
use std::sync::Arc;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

async fn backend(variant: Option<&str>) -> WebGpuBackend {
    let opts = GpuOptions { variant: variant.map(String::from), ..Default::default() };
    WebGpuBackend::new(opts).await.expect("a WebGPU adapter (natively lavapipe: mesa-vulkan-drivers)")
}

/// The tolerance against the CPU backend (see the top): f16-stored weights round to 11
/// significant bits.
fn tolerance(f16_weights: bool) -> f64 {
    if f16_weights {
        2e-2
    } else {
        1e-4
    }
}

/// Whether `got` is within `tol` absolute plus `tol` relative of `want`.
fn within(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol + tol * want.abs()
}

/// Forcing a variant the device lacks is a clear error, not a fallback.
async fn missing_variants() {
    let granted = backend(None).await.granted();
    for v in
        ["tiled", "subgroup", "f16"].into_iter().filter(|v| !variants::available(&granted).contains(&v.to_string()))
    {
        let err = WebGpuBackend::new(GpuOptions { variant: Some(v.into()), ..Default::default() }).await.err();
        assert_eq!(err.map(|e| e.code()), Some("backend_unavailable"), "forcing {v}");
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn forcing_a_missing_variant_is_an_error() {
    pollster::block_on(missing_variants());
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test]
async fn forcing_a_missing_variant_is_an_error() {
    missing_variants().await;
}

/// A table over the binding limit (here lowered to 4 KiB) is bound in row ranges, one
/// dispatch each; the result is the CPU backend's, to the bit.
async fn split_gather() {
    use ipfs_accelerate::graph::GraphBuilder;
    use ipfs_accelerate::tensor::DType;
    let (v, d) = (1000, 24);
    let mut g = GraphBuilder::new();
    let table: Vec<f32> = (0..v * d).map(|i| (i as f32 * 0.37).sin()).collect();
    let t = g.constant(Tensor::from_f32(vec![v, d], table).unwrap());
    let ids = g.input("ids", &[2, 5], DType::I32);
    let out = g.gather(t, ids).unwrap();
    let graph = Arc::new(g.build(&[out]).unwrap());
    let input = [Tensor::from_i32(vec![2, 5], vec![0, 999, 39, 40, 41, 500, 7, 960, 959, 123]).unwrap()];
    let want = CpuBackend::new().run(&graph, &input).unwrap().remove(0).to_f32_vec();
    let opts = GpuOptions { max_binding_bytes: Some(4096), ..Default::default() };
    let gpu = WebGpuBackend::new(opts).await.unwrap();
    let kernels = gpu.dispatches(&graph).unwrap();
    // 96 KB in ranges of at most 42 rows of 96 bytes (fewer where the device's offset
    // alignment needs it): at least 24 dispatches, all gathers.
    assert!(kernels.len() >= 24 && kernels.iter().all(|k| *k == "gather.wgsl"), "{kernels:?}");
    let got = gpu.run(&graph, &input).await.unwrap().remove(0).to_f32_vec();
    assert_eq!(got, want);
}

/// A constant weight over the binding limit (lowered to 4 KiB) is bound in column blocks,
/// one matmul dispatch each, with the bias and activation still fused, on every variant;
/// the result is the CPU backend's within the variant's tolerance (see the top).
async fn split_matmul() -> Vec<String> {
    use ipfs_accelerate::graph::GraphBuilder;
    use ipfs_accelerate::tensor::DType;
    // More rows than the GEMV arm takes (gemv_reads_the_weight_in_place covers that).
    let (m, k, n) = (6, 24, 100);
    let granted = backend(None).await.granted();
    let mut lines = vec![];
    for v in variants::available(&granted) {
        for transpose_b in [true, false] {
            let mut g = GraphBuilder::new();
            let dims = if transpose_b { vec![n, k] } else { vec![k, n] };
            let w: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let w = g.constant(Tensor::from_f32(dims, w).unwrap());
            let bias = g.constant(Tensor::from_f32(vec![n], (0..n).map(|i| i as f32 * 0.01).collect()).unwrap());
            let x = g.input("x", &[m, k], DType::F32);
            let y = g.matmul_t(x, w, false, transpose_b).unwrap();
            let y = g.add(y, bias).unwrap();
            let y = g.gelu(y).unwrap();
            let graph = Arc::new(g.build(&[y]).unwrap());
            let input = [Tensor::from_f32(vec![m, k], (0..m * k).map(|i| (i as f32 * 0.11).cos()).collect()).unwrap()];
            let want = CpuBackend::new().run(&graph, &input).unwrap().remove(0).to_f32_vec();
            let opts = GpuOptions { variant: Some(v.clone()), max_binding_bytes: Some(4096), ..Default::default() };
            let gpu = WebGpuBackend::new(opts).await.unwrap();
            let kernels = gpu.dispatches(&graph).unwrap();
            // 24 rows of 4 bytes (2 as f16) per column: blocks of 40 (84) columns.
            let blocks = kernels.iter().filter(|k| k.starts_with("matmul")).count();
            assert_eq!((blocks, kernels.len()), (if v == "f16" { 2 } else { 3 }, blocks), "{v}: {kernels:?}");
            let got = gpu.run(&graph, &input).await.unwrap().remove(0).to_f32_vec();
            let tol = tolerance(v == "f16");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(within(*g as f64, *w as f64, tol), "{v}, transpose_b {transpose_b}, element {i}: {g} vs {w}");
            }
        }
        lines.push(format!("webgpu-count: split matmul weights on {v} variant: 2 cases checked, 0 failed"));
    }
    lines
}

/// A tied weight `w` (`[n, k]`) gathered by `m` ids from the input, then multiplied by
/// as a Linear with a bias and GELU, as a decoder's token table is.
fn tied_product(w: &Tensor, m: usize) -> Arc<ipfs_accelerate::graph::Graph> {
    use ipfs_accelerate::graph::GraphBuilder;
    use ipfs_accelerate::tensor::DType;
    let (n, k) = (w.dims()[0], w.dims()[1]);
    let mut g = GraphBuilder::new();
    let w = g.constant(w.clone());
    let bias = g.constant(Tensor::from_f32(vec![n], (0..n).map(|i| i as f32 * 0.01).collect()).unwrap());
    let ids = g.input("ids", &[1, m], DType::I32);
    let x = g.gather(w, ids).unwrap();
    let x = g.slice(x, -1, 0, k).unwrap();
    let y = g.matmul_t(x, w, false, true).unwrap();
    let y = g.add(y, bias).unwrap();
    let y = g.gelu(y).unwrap();
    Arc::new(g.build(&[y]).unwrap())
}

/// A decoder step's products (1 to 4 rows against a constant `[n, k]` weight read
/// transposed) run as GEMVs over the weight as stored, bound in row ranges when it is over
/// the binding limit (lowered to 16 KiB), bias and activation fused, on every variant; the
/// result is the CPU backend's within 1e-4. A weight that is also a gather table (a tied
/// embedding) is uploaded once.
async fn gemv_in_place() -> Vec<String> {
    // Rows of 148 bytes (k not a multiple of 4, for the kernel's tail): 64 of them fill a
    // range aligned to Chromium's 256-byte offsets within the 16 KiB limit.
    let (k, n) = (37, 300);
    let granted = backend(None).await.granted();
    let mut lines = vec![];
    for v in variants::available(&granted) {
        for m in 1..=4 {
            let w: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let graph = tied_product(&Tensor::from_f32(vec![n, k], w).unwrap(), m);
            let input = [Tensor::from_i32(vec![1, m], (0..m as i32).map(|i| i * 31 % 100).collect()).unwrap()];
            let want = CpuBackend::new().run(&graph, &input).unwrap().remove(0).to_f32_vec();
            let opts = GpuOptions { variant: Some(v.clone()), max_binding_bytes: Some(16384), ..Default::default() };
            let gpu = WebGpuBackend::new(opts).await.unwrap();
            let kernels = gpu.dispatches(&graph).unwrap();
            // 300 rows of 148 bytes: ranges of at most 110 rows (64 where offsets must be
            // 256-byte aligned), so 3 or more GEMV dispatches and no matmul.
            let gemvs = kernels.iter().filter(|k| **k == "gemv.wgsl").count();
            assert!(gemvs >= 3 && !kernels.iter().any(|k| k.starts_with("matmul")), "{v}: {kernels:?}");
            let got = gpu.run(&graph, &input).await.unwrap().remove(0).to_f32_vec();
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(within(*g as f64, *w as f64, 1e-4), "{v}, {m} rows, element {i}: {g} vs {w}");
            }
            let held = gpu.stats().weight_bytes;
            assert!(held < 2 * (n * k * 4) as u64, "{v}: {held} bytes of weights: the tied weight was uploaded twice");
        }
        lines.push(format!("webgpu-count: gemv in place on {v} variant: 4 cases checked, 0 failed"));
    }
    lines
}

/// Weights in a stored form stay in it on the device: a tied table (gathered, then
/// multiplied by as a Linear) in f16, int8 and int4 is uploaded once, at its stored size,
/// and read by the stored kernels for one row and for many; a weight whose rows are not
/// whole words (int4 rows of 32: 18 bytes) is widened at upload instead. Results within
/// 1e-4 of the CPU backend on the widened weight (2e-2 with f16 activations' variant).
async fn stored_in_place() -> Vec<String> {
    use ipfs_accelerate::tensor::DType;
    let granted = backend(None).await.granted();
    let mut lines = vec![];
    for v in variants::available(&granted) {
        let mut cases = 0;
        for (k, dtype, stored) in [
            (64, DType::F16, true),
            (64, DType::Q8 { group: 32 }, true),
            (68, DType::Q8 { group: 68 }, true),
            (64, DType::Q4 { block: 32 }, true),
            (32, DType::Q4 { block: 32 }, false),
        ] {
            let n = 300;
            let w: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let w = Tensor::from_f32(vec![n, k], w).unwrap().to_dtype(dtype).unwrap();
            let wide = w.to_dtype(DType::F32).unwrap();
            for m in [1, 6] {
                let graph = |w: &Tensor| tied_product(w, m);
                let input = [Tensor::from_i32(vec![1, m], (0..m as i32).map(|i| i * 31 % 300).collect()).unwrap()];
                let want = CpuBackend::new().run(&graph(&wide), &input).unwrap().remove(0).to_f32_vec();
                let gpu =
                    WebGpuBackend::new(GpuOptions { variant: Some(v.clone()), ..Default::default() }).await.unwrap();
                let g = graph(&w);
                let kernels = gpu.dispatches(&g).unwrap();
                let reads_stored = kernels.contains(&"matmul_stored.wgsl") && kernels.contains(&"gather_stored.wgsl");
                assert_eq!(reads_stored, stored, "{v} {dtype} k {k}: {kernels:?}");
                let got = gpu.run(&g, &input).await.unwrap().remove(0).to_f32_vec();
                let tol = tolerance(v == "f16");
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(within(*g as f64, *w as f64, tol), "{v} {dtype} k {k}, {m} rows, element {i}: {g} vs {w}");
                }
                let held = gpu.stats().weight_bytes;
                let size = w.byte_len().next_multiple_of(4) + 4 * n as u64; // the table and the bias
                if stored {
                    assert_eq!(held, size, "{v} {dtype}: device weight bytes");
                }
                cases += 1;
            }
        }
        lines.push(format!("webgpu-count: stored weights in place on {v} variant: {cases} cases checked, 0 failed"));
    }
    lines
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn stored_weights_are_read_as_stored() {
    pollster::block_on(stored_in_place());
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test]
async fn stored_weights_are_read_as_stored() {
    for l in stored_in_place().await {
        console_log!("{l}");
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn gemv_reads_the_weight_in_place() {
    pollster::block_on(gemv_in_place());
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test]
async fn gemv_reads_the_weight_in_place() {
    for l in gemv_in_place().await {
        console_log!("{l}");
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_weight_over_the_binding_limit_is_split_into_column_blocks() {
    pollster::block_on(split_matmul());
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test]
async fn a_weight_over_the_binding_limit_is_split_into_column_blocks() {
    for l in split_matmul().await {
        console_log!("{l}");
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_table_over_the_binding_limit_is_split() {
    pollster::block_on(split_gather());
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test]
async fn a_table_over_the_binding_limit_is_split() {
    split_gather().await;
}

/// Through the backend contract: the same graph on every backend this place has, held as
/// `dyn Backend`; compiling ahead makes the plan the run uses (one plan, however many
/// compiles and runs); the results agree (atol 1e-4 + rtol 1e-4, see the top). Then the
/// plan cache evicts the least recently used plan.
async fn through_the_contract() {
    use ipfs_accelerate::backend::{BackendKind, Unavailable};
    use ipfs_accelerate::graph::GraphBuilder;
    use ipfs_accelerate::tensor::DType;
    let mut g = GraphBuilder::new();
    let w = g.constant(Tensor::from_f32(vec![4, 3], (0..12).map(|i| i as f32 * 0.25 - 1.0).collect()).unwrap());
    let x = g.input("x", &[2, 4], DType::F32);
    let y = g.matmul(x, w).unwrap();
    let y = g.relu(y).unwrap();
    let graph = Arc::new(g.build(&[y]).unwrap());
    let input = [Tensor::from_f32(vec![2, 4], vec![1., 2., 3., 4., -1., 0.5, 2., -3.]).unwrap()];
    let backends: Vec<Box<dyn Backend>> = vec![Box::new(CpuBackend::new()), Box::new(backend(None).await)];
    let mut results = vec![];
    for b in &backends {
        b.compile(&graph).await.unwrap();
        b.compile(&graph).await.unwrap();
        results.push(b.run(&graph, &input).await.unwrap().remove(0).to_f32_vec());
        if let Some(gpu) = b.as_any().downcast_ref::<WebGpuBackend>() {
            assert_eq!(b.kind(), BackendKind::WebGpu);
            assert_eq!(gpu.stats().plans, 1, "compiled once, run on that plan");
        }
    }
    for (g, w) in results[1].iter().zip(&results[0]) {
        assert!(within(*g as f64, *w as f64, 1e-4), "{g} vs {w}");
    }
    // The plan cache keeps the 16 most recently used: after 16 more shapes, the first
    // graph (used again before the last) is still there and the second is not.
    let gpu = backend(None).await;
    let shaped = |rows: usize| {
        let mut g = GraphBuilder::new();
        let x = g.input("x", &[rows, 4], DType::F32);
        let y = g.relu(x).unwrap();
        Arc::new(g.build(&[y]).unwrap())
    };
    let graphs: Vec<_> = (1..=17).map(shaped).collect();
    for g in &graphs[..16] {
        gpu.compile(g).await.unwrap();
    }
    gpu.compile(&graphs[0]).await.unwrap();
    gpu.compile(&graphs[16]).await.unwrap();
    let before = gpu.stats();
    assert_eq!(before.plans, 16);
    gpu.compile(&graphs[0]).await.unwrap();
    assert_eq!(gpu.stats().plan_hits, before.plan_hits + 1, "the recently used plan was kept");
    gpu.compile(&graphs[1]).await.unwrap();
    assert_eq!(gpu.stats().plan_misses, before.plan_misses + 1, "the least recently used plan went");
    let missing = Unavailable::new(BackendKind::WebNn, "not built yet");
    let e = missing.run(&graph, &input).await.unwrap_err();
    assert_eq!(e.code(), "backend_unavailable");
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn every_backend_runs_through_the_contract() {
    pollster::block_on(through_the_contract());
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test]
async fn every_backend_runs_through_the_contract() {
    through_the_contract().await;
}

#[path = "webgpu_ops/long_shapes.rs"]
mod long_shapes;
