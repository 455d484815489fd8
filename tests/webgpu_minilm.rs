//! all-MiniLM-L6-v2 on the WebGPU backend natively (lavapipe on CI), beyond the float64
//! reference every backend runs (tests/minilm_reference.rs): one submission and one
//! readback per forward pass, fused matmul + bias + activation, recovery from a destroyed
//! device, and weights split across bindings. Tolerances: fused matmuls within 1e-5 of
//! the CPU backend (2e-2 with f16 weights); split bindings within cosine 0.99999 of it.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use ipfs_accelerate::backend::cpu::CpuBackend;
use ipfs_accelerate::backend::webgpu::{variants, GpuOptions, WebGpuBackend};
use ipfs_accelerate::backend::Backend;
use ipfs_accelerate::graph::GraphBuilder;
use ipfs_accelerate::models::{EmbedderOptions, TextEmbedder};
use ipfs_accelerate::tensor::{DType, Tensor};
use std::sync::Arc;

fn gpu(variant: Option<&str>) -> WebGpuBackend {
    let opts = GpuOptions { variant: variant.map(String::from), ..Default::default() };
    pollster::block_on(WebGpuBackend::new(opts)).expect("a WebGPU adapter (lavapipe: mesa-vulkan-drivers)")
}

fn embedder(variant: Option<&str>) -> TextEmbedder {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
    let mut e = TextEmbedder::from_dir(dir, &EmbedderOptions::default()).expect("model (run `npm run setup`)");
    e.set_webgpu(gpu(variant));
    e
}

#[test]
fn a_forward_pass_is_one_submission_and_one_readback() {
    let e = embedder(None);
    let texts = ["a short sentence", "another one, a little longer than the first"];
    pollster::block_on(e.embed_async(&texts)).unwrap();
    let before = e.webgpu().unwrap().stats();
    // Two texts make one batch, so one forward pass.
    pollster::block_on(e.embed_async(&texts)).unwrap();
    let after = e.webgpu().unwrap().stats();
    assert_eq!(after.submissions - before.submissions, 1, "{before:?} → {after:?}");
    assert_eq!(after.readbacks - before.readbacks, 1, "{before:?} → {after:?}");
    assert_eq!(after.pipelines, before.pipelines, "the second pass compiles nothing");
    assert_eq!(after.buffers_created, before.buffers_created, "and allocates no buffer");
}

#[test]
fn matmul_bias_and_activation_fuse_into_one_dispatch() {
    let mut g = GraphBuilder::new();
    let x = g.input("x", &[2, 5, 12], DType::F32);
    let w: Vec<f32> = (0..12 * 7).map(|i| ((i * 37 % 23) as f32 - 11.0) / 13.0).collect();
    let b: Vec<f32> = (0..7).map(|i| i as f32 / 5.0 - 0.6).collect();
    let w = g.constant(Tensor::from_f32(vec![12, 7], w).unwrap());
    let b = g.constant(Tensor::from_f32(vec![7], b).unwrap());
    let mm = g.matmul(x, w).unwrap();
    let add = g.add(mm, b).unwrap();
    let out = g.gelu(add).unwrap();
    let graph = Arc::new(g.build(&[out]).unwrap());
    let xs: Vec<f32> = (0..2 * 5 * 12).map(|i| ((i * 29 % 31) as f32 - 15.0) / 9.0).collect();
    let input = [Tensor::from_f32(vec![2, 5, 12], xs).unwrap()];
    let cpu = CpuBackend::new().run(&graph, &input).unwrap().remove(0).to_f32_vec();
    for v in variants::available(&gpu(None).granted()) {
        let be = gpu(Some(&v));
        let kernels = be.dispatches(&graph).unwrap();
        assert_eq!(kernels.len(), 1, "variant {v}: {kernels:?}");
        assert!(kernels[0].starts_with("matmul"), "{kernels:?}");
        let got = pollster::block_on(be.run(&graph, &input)).unwrap().remove(0).to_f32_vec();
        let tol = if v == "f16" { 2e-2 } else { 1e-5 };
        for (g, c) in got.iter().zip(&cpu) {
            assert!((g - c).abs() <= tol * (1.0 + c.abs()), "variant {v}: {g} vs {c}");
        }
    }
}

#[test]
fn a_destroyed_device_is_replaced_on_the_next_embed() {
    let e = embedder(None);
    let want = pollster::block_on(e.embed_async(&["the device goes away"])).unwrap();
    e.webgpu().unwrap().destroy_device();
    let got = pollster::block_on(e.embed_async(&["the device goes away"])).expect("the next embed works");
    assert_eq!(e.webgpu().unwrap().stats().devices, 2);
    let diff = got[0].iter().zip(&want[0]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(diff <= 1e-6, "same result on the new device: {diff}");
}

#[test]
fn bad_ids_and_shapes_are_errors_not_panics() {
    let mut g = GraphBuilder::new();
    let table = g.constant(Tensor::from_f32(vec![4, 3], (0..12).map(|i| i as f32).collect()).unwrap());
    let ids = g.input("ids", &[2], DType::I32);
    let out = g.gather(table, ids).unwrap();
    let graph = Arc::new(g.build(&[out]).unwrap());
    let be = gpu(None);
    let err = pollster::block_on(be.run(&graph, &[Tensor::from_i32(vec![2], vec![1, 9]).unwrap()])).unwrap_err();
    assert_eq!(err.code(), "invalid_argument", "{err}");
    assert!(err.to_string().contains("index 9"), "{err}");
    let err = pollster::block_on(be.run(&graph, &[Tensor::from_i32(vec![3], vec![1, 2, 3]).unwrap()])).unwrap_err();
    assert_eq!(err.code(), "shape_mismatch", "{err}");
    let ok = pollster::block_on(be.run(&graph, &[Tensor::from_i32(vec![2], vec![3, 0]).unwrap()])).unwrap();
    assert_eq!(ok[0].to_f32_vec(), vec![9.0, 10.0, 11.0, 0.0, 1.0, 2.0], "the next run works");
}

#[test]
fn minilm_with_its_large_weights_split_across_bindings() {
    // At a 1 MiB binding limit the 30522 × 384 word embeddings (46.9 MB) are bound in 45
    // row ranges, and each feed-forward weight (1536 × 384, 2.4 MB) in three column blocks.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
    let mut e = TextEmbedder::from_dir(dir, &EmbedderOptions::default()).unwrap();
    let opts = GpuOptions { max_binding_bytes: Some(1 << 20), ..Default::default() };
    e.set_webgpu(pollster::block_on(WebGpuBackend::new(opts)).unwrap());
    let texts = ["split tables give the same vectors", "zebra quokka"];
    let got = pollster::block_on(e.embed_async(&texts)).unwrap();
    let want = e.embed(&texts).unwrap();
    for (g, w) in got.iter().zip(&want) {
        let cos: f32 = g.iter().zip(w).map(|(a, b)| a * b).sum();
        assert!(cos > 0.99999, "cosine to the CPU backend {cos}");
    }
}
