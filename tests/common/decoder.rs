//! The toy decoder of tests/fixtures/decoder (gen_decoder.py): its weights from the same
//! integer hash, and its step as one graph over a fixed-capacity KV cache, so every
//! greedy step runs the same compiled plan.

use ipfs_accelerate::graph::{Graph, GraphBuilder, NodeId};
use ipfs_accelerate::tensor::{DType, Tensor};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Fixture {
    pub config: Config,
    pub seed: u64,
    pub start: i32,
    pub tokens: Vec<i32>,
    pub logits0: Vec<f64>,
}

#[derive(Deserialize, Clone, Copy)]
pub struct Config {
    pub vocab: usize,
    pub d_model: usize,
    pub heads: usize,
    pub ffn: usize,
    pub layers: usize,
    pub capacity: usize,
    pub eps: f32,
}

pub fn fixture() -> Fixture {
    serde_json::from_str(include_str!("../fixtures/decoder/decoder.json")).expect("decoder.json parses")
}

/// `n` values in [-scale, scale): gen_decoder.py's `hashed`, bit for bit.
pub fn hashed(seed: u64, n: usize, scale: f64) -> Vec<f32> {
    let m = 0xFFFF_FFFFu64;
    (0..n as u64)
        .map(|i| {
            let mut u = (i * 2654435761 + seed * 40503 + 12345) & m;
            u ^= u >> 15;
            u = (u * 2246822519) & m;
            u ^= u >> 13;
            u = (u * 3266489917) & m;
            u ^= u >> 16;
            ((u as f64 / 4294967296.0 - 0.5) * (2.0 * scale)) as f32
        })
        .collect()
}

/// Tensor specs in gen_decoder.py's order: (shape, scale, shift).
fn specs(c: &Config) -> Vec<(Vec<usize>, f64, f32)> {
    let (v, d, f) = (c.vocab, c.d_model, c.ffn);
    let w = |rows: usize| (3.0 / rows as f64).sqrt();
    let mut s = vec![(vec![v, d], 1.0, 0.0), (vec![c.capacity, d], 1.0, 0.0)];
    for _ in 0..c.layers {
        s.extend([(vec![d], 0.1, 1.0), (vec![d], 0.1, 0.0)]);
        for _ in 0..4 {
            s.extend([(vec![d, d], w(d), 0.0), (vec![d], 0.1, 0.0)]);
        }
        s.extend([(vec![d], 0.1, 1.0), (vec![d], 0.1, 0.0)]);
        s.extend([(vec![d, f], w(d), 0.0), (vec![f], 0.1, 0.0)]);
        s.extend([(vec![f, d], w(f), 0.0), (vec![d], 0.1, 0.0)]);
    }
    s.extend([(vec![d], 0.1, 1.0), (vec![d], 0.1, 0.0), (vec![d, v], 2.0 * w(d), 0.0)]);
    s
}

pub struct Toy {
    pub cfg: Config,
    weights: Vec<Tensor>,
}

impl Toy {
    pub fn new(fx: &Fixture) -> Toy {
        let weights = specs(&fx.config)
            .into_iter()
            .enumerate()
            .map(|(i, (shape, scale, shift))| {
                let n = shape.iter().product();
                let v = hashed(fx.seed + i as u64, n, scale).into_iter().map(|x| x + shift).collect();
                Tensor::from_f32(shape, v).unwrap()
            })
            .collect();
        Toy { cfg: fx.config, weights }
    }

    /// One cache tensor's dims: `[1, heads, capacity, head size]`.
    pub fn cache_dims(&self) -> Vec<usize> {
        let c = &self.cfg;
        vec![1, c.heads, c.capacity, c.d_model / c.heads]
    }

    /// The step graph. Inputs: the token (i32 `[1, 1]`), its position (i32 `[1]`), then
    /// each layer's key and value cache. Outputs: the next token (i32 `[1, 1]`), the
    /// logits `[1, 1, vocab]`, then the caches with this position written.
    pub fn step_graph(&self) -> Graph {
        let c = self.cfg;
        let (d, h) = (c.d_model, c.heads);
        let dh = d / h;
        let mut g = GraphBuilder::new();
        let mut w = self.weights.iter();
        let token = g.input("token", &[1, 1], DType::I32);
        let pos = g.input("position", &[1], DType::I32);
        let caches: Vec<(NodeId, NodeId)> = (0..c.layers)
            .map(|l| {
                let k = g.state(&format!("k{l}"), &self.cache_dims(), DType::F32);
                let v = g.state(&format!("v{l}"), &self.cache_dims(), DType::F32);
                (k, v)
            })
            .collect();
        let tok_emb = weight(&mut g, &mut w);
        let pos_emb = weight(&mut g, &mut w);
        let e = g.gather(tok_emb, token).unwrap();
        let p = g.gather(pos_emb, pos).unwrap();
        let mut x = g.add(e, p).unwrap();
        let mut outs = vec![];
        let heads = |g: &mut GraphBuilder, y: NodeId| {
            let y = g.reshape(y, &[1, 1, h, dh]).unwrap();
            g.permute(y, &[0, 2, 1, 3]).unwrap()
        };
        for &(kc, vc) in &caches {
            let a = norm(&mut g, &mut w, x, c.eps);
            let q = linear(&mut g, &mut w, a);
            let q = heads(&mut g, q);
            let k = linear(&mut g, &mut w, a);
            let k = heads(&mut g, k);
            let v = linear(&mut g, &mut w, a);
            let v = heads(&mut g, v);
            let kc = g.write_at(kc, k, pos, 2).unwrap();
            let vc = g.write_at(vc, v, pos, 2).unwrap();
            outs.extend([kc, vc]);
            let o = g.attention_at(q, kc, vc, pos, 1.0 / (dh as f32).sqrt()).unwrap();
            let o = g.permute(o, &[0, 2, 1, 3]).unwrap();
            let o = g.reshape(o, &[1, 1, d]).unwrap();
            let o = linear(&mut g, &mut w, o);
            x = g.add(x, o).unwrap();
            let m = norm(&mut g, &mut w, x, c.eps);
            let m = linear(&mut g, &mut w, m);
            let m = g.gelu(m).unwrap();
            let m = linear(&mut g, &mut w, m);
            x = g.add(x, m).unwrap();
        }
        let x = norm(&mut g, &mut w, x, c.eps);
        let head = weight(&mut g, &mut w);
        let logits = g.matmul(x, head).unwrap();
        let token = g.argmax(logits).unwrap();
        let mut all = vec![token, logits];
        all.extend(outs);
        g.build(&all).unwrap()
    }
}

type Weights<'a> = std::slice::Iter<'a, Tensor>;

fn weight(g: &mut GraphBuilder, w: &mut Weights) -> NodeId {
    g.constant(w.next().expect("a weight per spec").clone())
}

fn linear(g: &mut GraphBuilder, w: &mut Weights, x: NodeId) -> NodeId {
    let (m, b) = (weight(g, w), weight(g, w));
    let y = g.matmul(x, m).unwrap();
    g.add(y, b).unwrap()
}

fn norm(g: &mut GraphBuilder, w: &mut Weights, x: NodeId, eps: f32) -> NodeId {
    let (gamma, beta) = (weight(g, w), weight(g, w));
    g.layer_norm(x, gamma, beta, eps).unwrap()
}
