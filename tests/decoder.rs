//! The toy decoder (tests/fixtures/decoder, from gen_decoder.py) decodes 32 greedy steps
//! with its KV cache on the device, on every backend this place has: natively, and in
//! Chromium and Firefox, the CPU and WebGPU backends through the one contract. Its tokens
//! equal numpy's; the step graph is compiled once; each step reads back only its 4-byte
//! token (the next step takes the token and the caches as device values). Tolerance:
//! tokens exact; step 0's logits within 1e-3 + 1e-3 relative (5e-2 where WebGPU stores
//! weights as f16).

#[macro_use]
mod common;

use common::decoder::{fixture, Toy};
use ipfs_accelerate::backend::{Backend, Value};
use ipfs_accelerate::tensor::Tensor;
use std::sync::Arc;

/// `n` zeroed caches on `b`'s device.
async fn uploads(b: &dyn Backend, zeros: &Tensor, n: usize) -> Vec<Value> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(b.upload(zeros).await.unwrap());
    }
    v
}

/// Decodes on `b`; returns the steps checked.
async fn decode(b: &dyn Backend, tol: f64) -> usize {
    let fx = fixture();
    let toy = Toy::new(&fx);
    let graph = Arc::new(toy.step_graph());
    b.compile(&graph).await.unwrap();
    let zeros = Tensor::zeros(toy.cache_dims());
    let mut caches: Vec<Value> = uploads(b, &zeros, 2 * toy.cfg.layers).await;
    let mut token = Value::Host(Tensor::from_i32(vec![1, 1], vec![fx.start]).unwrap());
    let keep = vec![true; 2 + caches.len()];
    let start = b.run_stats();
    let mut tokens = vec![];
    let mut kept = None;
    for step in 0..fx.tokens.len() {
        let position = Value::Host(Tensor::from_i32(vec![1], vec![step as i32]).unwrap());
        let mut inputs = vec![token, position];
        // At step 3 the caller keeps a handle on the first cache: the run must leave
        // that value as it was and write into a copy.
        if step == 3 {
            kept = Some(caches[0].clone());
        }
        inputs.append(&mut caches);
        let mut outs = b.run_values(&graph, inputs, &keep).await.unwrap();
        let (next, logits) = (outs.remove(0), outs.remove(0));
        caches = outs;
        assert!(matches!(next, Value::Device(_)), "the token stays on the device");
        let before = b.run_stats().read_bytes;
        let got = b.read(&next).await.unwrap().to_i32_vec("token").unwrap()[0];
        assert_eq!(b.run_stats().read_bytes - before, 4, "step {step} reads back its token only");
        tokens.push(got);
        if step == 0 {
            let l = b.read(&logits).await.unwrap().to_f32_vec();
            for (i, (g, w)) in l.iter().zip(&fx.logits0).enumerate() {
                assert!((*g as f64 - w).abs() <= tol + tol * w.abs(), "{} logit {i}: {g} vs {w}", b.kind());
            }
        }
        token = next;
    }
    let stats = b.run_stats();
    assert_eq!(tokens, fx.tokens, "{} tokens", b.kind());
    assert_eq!(stats.compiles - start.compiles, 0, "{}: the step plan was compiled once, ahead", b.kind());
    assert_eq!(stats.runs - start.runs, fx.tokens.len() as u64);
    let logits_bytes = 4 * fx.logits0.len() as u64;
    assert_eq!(stats.read_bytes - start.read_bytes, 4 * tokens.len() as u64 + logits_bytes);
    // The kept handle still holds step 3's input: nothing at position 3 yet.
    let kept = b.read(&kept.unwrap()).await.unwrap().to_f32_vec();
    let cap = toy.cfg.capacity;
    let dh = toy.cfg.d_model / toy.cfg.heads;
    assert!(kept[3 * dh..4 * dh].iter().all(|&x| x == 0.0), "a kept cache value was written under its holder");
    assert!(kept[2 * dh..3 * dh].iter().any(|&x| x != 0.0), "position 2 was written before the copy");
    let now = b.read(&caches[0]).await.unwrap().to_f32_vec();
    assert!(now[3 * dh..4 * dh].iter().any(|&x| x != 0.0) && now.len() == cap * dh * toy.cfg.heads);
    tokens.len()
}

/// A position past the cache's capacity, or a negative one, is `invalid_argument` naming
/// the op, on every backend (checked on the host before anything runs); the next step
/// with a good position works.
async fn bad_positions(b: &dyn Backend) {
    let fx = fixture();
    let toy = Toy::new(&fx);
    let graph = Arc::new(toy.step_graph());
    let zeros = Tensor::zeros(toy.cache_dims());
    let caches = uploads(b, &zeros, 2 * toy.cfg.layers).await;
    let inputs = |pos: i32| {
        let mut v = vec![
            Value::Host(Tensor::from_i32(vec![1, 1], vec![fx.start]).unwrap()),
            Value::Host(Tensor::from_i32(vec![1], vec![pos]).unwrap()),
        ];
        v.extend(caches.iter().cloned());
        v
    };
    for pos in [toy.cfg.capacity as i32, -1] {
        let e = b.run_values(&graph, inputs(pos), &[]).await.unwrap_err();
        assert_eq!(e.code(), "invalid_argument", "{}: position {pos}: {e}", b.kind());
        assert!(e.to_string().contains(&pos.to_string()), "{e}");
    }
    let out = b.run_values(&graph, inputs(0), &[]).await.unwrap();
    let token = b.read(&out[0]).await.unwrap().to_i32_vec("token").unwrap();
    assert_eq!(token, vec![fx.tokens[0]]);
}

on_every_backend! {
    the_toy_decoder_decodes_with_its_cache_on_the_device(place) {
        let tol = if place.f16_weights { 5e-2 } else { 1e-3 };
        let steps = decode(place.backend.as_ref(), tol).await;
        bad_positions(place.backend.as_ref()).await;
        Ok(steps)
    }
}
