//! Every op on the WebGPU backend natively (Vulkan; lavapipe on CI), on every matmul
//! variant the device grants, against the CPU backend and the numpy float64 fixture.
//! Tolerances: f32 kernels within atol 1e-4 + rtol 1e-4 of the CPU backend and within
//! the fixture's own tolerance of numpy; the f16-weight matmul within 2e-2 (its weights
//! are rounded to f16, 11 significant bits). Per-variant counts go to
//! target/test-logs/webgpu-native.txt for the test summary.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use ipfs_accelerate::backend::cpu::CpuBackend;
use ipfs_accelerate::backend::webgpu::{variants, GpuOptions, WebGpuBackend};
use ipfs_accelerate::tensor::Tensor;
use std::sync::Arc;

fn backend(variant: Option<&str>) -> WebGpuBackend {
    let opts = GpuOptions { variant: variant.map(String::from), ..Default::default() };
    pollster::block_on(WebGpuBackend::new(opts)).expect("a WebGPU adapter (lavapipe: mesa-vulkan-drivers)")
}

/// Runs every fixture case (matmuls also with a constant right operand) on `gpu`;
/// returns the cases checked and the failures.
fn check_all(gpu: &WebGpuBackend, f16_weights: bool) -> (usize, Vec<String>) {
    let fx = common::fixture();
    let cpu = CpuBackend::new();
    let mut checked = 0;
    let mut failures = vec![];
    for c in &fx.cases {
        let mut variants_of_case: Vec<Vec<usize>> = vec![vec![]];
        if c.op == "matmul" && c.inputs[1].shape.len() == 2 {
            variants_of_case.push(vec![1]);
        }
        for constants in variants_of_case {
            let tol = if f16_weights && !constants.is_empty() { 2e-2 } else { 1e-4 };
            let graph = Arc::new(common::build(c, &constants).unwrap());
            let inputs: Vec<Tensor> =
                c.inputs.iter().enumerate().filter(|(i, _)| !constants.contains(i)).map(|(_, t)| t.tensor()).collect();
            let want_cpu = cpu.run(&graph, &inputs).unwrap().remove(0).to_f32_vec();
            let got = match pollster::block_on(gpu.run(&graph, &inputs)) {
                Ok(mut o) => o.remove(0),
                Err(e) => {
                    failures.push(format!("{} (constants {constants:?}): {e}", c.name));
                    continue;
                }
            };
            assert_eq!(got.dims(), c.expected.shape.as_slice(), "{}", c.name);
            let want_np = c.expected.values();
            let mut bad = 0;
            for (i, ((g, w), n)) in got.to_f32_vec().iter().zip(&want_cpu).zip(&want_np).enumerate() {
                let (g, w) = (*g as f64, *w as f64);
                let ok_cpu = (g - w).abs() <= tol + tol * w.abs();
                let ok_np = (g - n).abs() <= c.atol.max(tol) + c.rtol.max(tol) * n.abs();
                if !(ok_cpu && ok_np) && bad < 3 {
                    bad += 1;
                    failures
                        .push(format!("{} (constants {constants:?}) element {i}: gpu {g}, cpu {w}, numpy {n}", c.name));
                }
            }
            checked += 1;
        }
    }
    (checked, failures)
}

#[test]
fn every_op_on_every_variant_matches_the_cpu_backend() {
    let probe = backend(None);
    let granted = probe.granted();
    eprintln!("adapter {}; granted {granted:?}", probe.adapter());
    drop(probe);
    let mut lines = vec![];
    let mut failures = vec![];
    for v in variants::available(&granted) {
        let gpu = backend(Some(&v));
        let (n, f) = check_all(&gpu, v == "f16");
        lines.push(format!("webgpu native ({}) variant {v}: {n} cases checked, {} failed", gpu.adapter(), f.len()));
        failures.extend(f.into_iter().map(|f| format!("[{v}] {f}")));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-logs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("webgpu-native.txt"), lines.join("\n") + "\n").unwrap();
    eprintln!("{}", lines.join("\n"));
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
