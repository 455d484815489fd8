//! Shapes past a device's limits on one invocation or one grid axis: attention over
//! long sequences, and a convolution wider than 65535 workgroups. Part of webgpu_ops.rs's
//! binary (its helpers through `super`).

use super::*;

/// Attention over long sequences (a 448-pixel ViT input has 1025 tokens, Whisper's
/// encoder 1500) agrees with the CPU backend: llvmpipe (lavapipe, and Firefox's WebGPU
/// here) stops a shader invocation after 65535 loop iterations, which the kernel's
/// per-key loops once passed at about 500 keys of 64 dims.
async fn long_attention() {
    use ipfs_accelerate::graph::GraphBuilder;
    use ipfs_accelerate::tensor::DType;
    let gpu = backend(None).await;
    let cpu = CpuBackend::new();
    let (heads, t, d) = (2, 1500, 64);
    let data = noise(heads * t * d, 12345);
    let mut g = GraphBuilder::new();
    let q = g.input("q", &[1, heads, t, d], DType::F32);
    let a = g.attention(q, q, q, None, false, 0.125).unwrap();
    let graph = Arc::new(g.build(&[a]).unwrap());
    let input = [Tensor::from_f32(vec![1, heads, t, d], data).unwrap()];
    let want = Backend::run(&cpu, &graph, &input).await.unwrap()[0].to_f32_vec();
    let got = gpu.run(&graph, &input).await.unwrap()[0].to_f32_vec();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(within(*g as f64, *w as f64, tolerance(false)), "element {i}: {g} vs {w}");
    }

    // A decoder step's shapes, which take the split-over-keys kernel (attention_keys.wgsl):
    // one query row over the encoder's 1500 keys with a key mask, and three rows at a
    // run-time offset into a 448-row cache, causally.
    let (heads, d) = (6, 64);
    let mut g = GraphBuilder::new();
    let q1 = g.input("q1", &[1, heads, 1, d], DType::F32);
    let k1 = g.input("k1", &[1, heads, t, d], DType::F32);
    let mask = g.input("mask", &[1, t], DType::F32);
    let cross = g.attention(q1, k1, k1, Some(mask), false, 0.125).unwrap();
    let q3 = g.input("q3", &[1, heads, 3, d], DType::F32);
    let cache = g.input("cache", &[1, heads, 448, d], DType::F32);
    let at = g.input("offset", &[1], DType::I32);
    let step = g.attention_at(q3, cache, cache, at, 0.125).unwrap();
    let graph = Arc::new(g.build(&[cross, step]).unwrap());
    let keep: Vec<f32> = (0..t).map(|j| if j % 7 == 3 || j > 1400 { 0.0 } else { 1.0 }).collect();
    let input = [
        Tensor::from_f32(vec![1, heads, 1, d], noise(heads * d, 7)).unwrap(),
        Tensor::from_f32(vec![1, heads, t, d], noise(heads * t * d, 8)).unwrap(),
        Tensor::from_f32(vec![1, t], keep).unwrap(),
        Tensor::from_f32(vec![1, heads, 3, d], noise(heads * 3 * d, 9)).unwrap(),
        Tensor::from_f32(vec![1, heads, 448, d], noise(heads * 448 * d, 10)).unwrap(),
        Tensor::from_i32(vec![1], vec![100]).unwrap(),
    ];
    let want = Backend::run(&cpu, &graph, &input).await.unwrap();
    let got = gpu.run(&graph, &input).await.unwrap();
    for (o, (g, w)) in got.iter().zip(&want).enumerate() {
        for (i, (g, w)) in g.to_f32_vec().iter().zip(w.to_f32_vec()).enumerate() {
            assert!(within(*g as f64, w as f64, tolerance(false)), "output {o} element {i}: {g} vs {w}");
        }
    }
}

/// `n` values in [-1, 1) from an xorshift seeded with `seed`.
fn noise(n: usize, seed: u32) -> Vec<f32> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn attention_over_long_sequences_agrees_with_the_cpu() {
    pollster::block_on(long_attention());
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test]
async fn attention_over_long_sequences_agrees_with_the_cpu() {
    long_attention().await;
}

/// A convolution with more output positions than 65535 workgroups across cover (2.2M
/// positions, 8 blocks of 4 to a workgroup) folds each batch item's columns into slices
/// on the grid's z; it agrees with the CPU backend. Natively only: the browsers compile
/// the same kernel for the other convolutions, and a 35 MB readback would cost them time.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_convolution_wider_than_one_grid_axis_folds() {
    use ipfs_accelerate::graph::{ConvParams, GraphBuilder};
    use ipfs_accelerate::tensor::DType;
    pollster::block_on(async {
        let gpu = backend(None).await;
        let cpu = CpuBackend::new();
        let (batch, len) = (2, 2_200_000);
        let mut g = GraphBuilder::new();
        let x = g.input("x", &[batch, 1, len], DType::F32);
        let w = g.constant(Tensor::from_f32(vec![2, 1, 3], vec![0.5, -1.0, 0.25, 1.5, 0.125, -0.75]).unwrap());
        let y = g.conv1d(x, w, None, ConvParams::uniform(1, 1, 1, 1, 1)).unwrap();
        let graph = Arc::new(g.build(&[y]).unwrap());
        let input = [Tensor::from_f32(vec![batch, 1, len], noise(batch * len, 99)).unwrap()];
        let want = Backend::run(&cpu, &graph, &input).await.unwrap()[0].to_f32_vec();
        let got = gpu.run(&graph, &input).await.unwrap()[0].to_f32_vec();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(within(*g as f64, *w as f64, tolerance(false)), "element {i}: {g} vs {w}");
        }
    });
}
