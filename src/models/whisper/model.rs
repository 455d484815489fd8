//! Whisper's encoder and decoder as graphs, built from `config.json` through a
//! `WeightScope` over Hugging Face tensor names, so every size loads unchanged.
//!
//! - The encode graph: a 30 s log-mel window in, each decoder layer's cross-attention keys
//!   and values out (`[1, heads, 1500, head size]`), computed once per window and kept on
//!   the device for every decoding step of that window.
//! - The decode graph for `n` tokens at a run-time position: token ids, their positions,
//!   the self-attention caches (fixed capacity, written in place at the position) and the
//!   cross keys and values in; logits and the updated caches out. The first call of a
//!   window runs the prompt (n = its length), every later one a single token.
//! - The token embedding is one constant, gathered from and (transposed) the output
//!   projection: the tied weight is held once.

use super::config::WhisperConfig;
use crate::error::Result;
use crate::graph::{ConvParams, Graph, GraphBuilder, NodeId};
use crate::models::scope::{Conv, LayerNorm, Linear, WeightScope};
use crate::tensor::{DType, Tensor};

const EPS: f32 = 1e-5;

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
}

impl Attention {
    /// Whisper's projections: the key has no bias.
    fn new(s: &WeightScope, d: usize) -> Result<Self> {
        Ok(Attention {
            q: s.pp("q_proj").linear(d, d, true)?,
            k: s.pp("k_proj").linear(d, d, false)?,
            v: s.pp("v_proj").sensitive().linear(d, d, true)?,
            out: s.pp("out_proj").sensitive().linear(d, d, true)?,
        })
    }
}

struct EncoderLayer {
    norm1: LayerNorm,
    attn: Attention,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

struct DecoderLayer {
    norm1: LayerNorm,
    attn: Attention,
    norm_cross: LayerNorm,
    cross: Attention,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

pub struct WhisperModel {
    pub config: WhisperConfig,
    conv1: Conv,
    conv2: Conv,
    enc_positions: Tensor,
    encoder: Vec<EncoderLayer>,
    enc_norm: LayerNorm,
    tokens: Tensor,
    dec_positions: Tensor,
    decoder: Vec<DecoderLayer>,
    dec_norm: LayerNorm,
    /// Weights in the file the model does not use.
    pub unused: Vec<String>,
}

/// `[1, n, d]` to `[1, heads, n, d / heads]`.
fn heads(g: &mut GraphBuilder, x: NodeId, n: usize, h: usize, d: usize) -> Result<NodeId> {
    let x = g.reshape(x, &[1, n, h, d / h])?;
    g.permute(x, &[0, 2, 1, 3])
}

/// `[1, heads, n, d / heads]` back to `[1, n, d]`.
fn merge(g: &mut GraphBuilder, x: NodeId, n: usize, d: usize) -> Result<NodeId> {
    let x = g.permute(x, &[0, 2, 1, 3])?;
    g.reshape(x, &[1, n, d])
}

impl WhisperModel {
    /// The model over `weights`, its linear layers and token table in the form `dtype`
    /// gives them.
    pub fn new(config: WhisperConfig, root: WeightScope) -> Result<Self> {
        // Checkpoints saved from WhisperModel have no "model." prefix.
        let s = if root.contains("model.encoder.conv1.weight") { root.pp("model") } else { root.clone() };
        let c = &config;
        let d = c.d_model;
        let enc = s.pp("encoder");
        let conv = |name: &str, input: usize, stride: usize| {
            enc.pp(name).conv1d(input, d, 3, ConvParams::uniform(1, stride, 1, 1, 1), true)
        };
        let encoder = (0..c.encoder_layers)
            .map(|l| {
                let s = enc.pp(format!("layers.{l}"));
                Ok(EncoderLayer {
                    norm1: s.pp("self_attn_layer_norm").layer_norm(d, EPS)?,
                    attn: Attention::new(&s.pp("self_attn"), d)?,
                    norm2: s.pp("final_layer_norm").layer_norm(d, EPS)?,
                    fc1: s.pp("fc1").sensitive().linear(d, c.encoder_ffn, true)?,
                    fc2: s.pp("fc2").sensitive().linear(c.encoder_ffn, d, true)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let dec = s.pp("decoder");
        let decoder = (0..c.decoder_layers)
            .map(|l| {
                let s = dec.pp(format!("layers.{l}"));
                Ok(DecoderLayer {
                    norm1: s.pp("self_attn_layer_norm").layer_norm(d, EPS)?,
                    attn: Attention::new(&s.pp("self_attn"), d)?,
                    norm_cross: s.pp("encoder_attn_layer_norm").layer_norm(d, EPS)?,
                    cross: Attention::new(&s.pp("encoder_attn"), d)?,
                    norm2: s.pp("final_layer_norm").layer_norm(d, EPS)?,
                    fc1: s.pp("fc1").sensitive().linear(d, c.decoder_ffn, true)?,
                    fc2: s.pp("fc2").sensitive().linear(c.decoder_ffn, d, true)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let model = WhisperModel {
            conv1: conv("conv1", c.n_mels, 1)?,
            conv2: conv("conv2", d, 2)?,
            enc_positions: enc.get("embed_positions.weight", &[c.max_source_positions, d])?,
            encoder,
            enc_norm: enc.pp("layer_norm").layer_norm(d, EPS)?,
            tokens: dec.embedding("embed_tokens.weight", Some(c.vocab_size), d)?,
            dec_positions: dec.get("embed_positions.weight", &[c.max_target_positions, d])?,
            decoder,
            dec_norm: dec.pp("layer_norm").layer_norm(d, EPS)?,
            unused: vec![],
            config,
        };
        // A separate output projection is the tied embedding again when present.
        let unused = root.unused(&["proj_out.", "model.proj_out."]);
        Ok(WhisperModel { unused, ..model })
    }

    /// The self-attention cache dims of one layer: `[1, heads, capacity, head size]`.
    pub fn cache_dims(&self) -> Vec<usize> {
        let c = &self.config;
        vec![1, c.decoder_heads, c.max_target_positions, c.d_model / c.decoder_heads]
    }

    fn act(&self, g: &mut GraphBuilder, x: NodeId) -> Result<NodeId> {
        g.unary(self.config.activation.op(), x)
    }

    /// Mel `[1, n_mels, 3000]` in; each decoder layer's cross keys and values out.
    pub fn encode_graph(&self) -> Result<Graph> {
        let c = &self.config;
        let (d, frames) = (c.d_model, c.max_source_positions);
        let (h, dh) = (c.encoder_heads, d / c.encoder_heads);
        let mut g = GraphBuilder::new();
        let mel = g.input("mel", &[1, c.n_mels, 2 * frames], DType::F32);
        let x = self.conv1.forward(&mut g, mel)?;
        let x = self.act(&mut g, x)?;
        let x = self.conv2.forward(&mut g, x)?;
        let x = self.act(&mut g, x)?;
        let x = g.permute(x, &[0, 2, 1])?;
        let pos = g.constant(self.enc_positions.clone());
        let mut x = g.add(x, pos)?;
        let scale = 1.0 / (dh as f32).sqrt();
        for l in &self.encoder {
            let a = l.norm1.forward(&mut g, x)?;
            let q = l.attn.q.forward(&mut g, a)?;
            let k = l.attn.k.forward(&mut g, a)?;
            let v = l.attn.v.forward(&mut g, a)?;
            let (q, k, v) =
                (heads(&mut g, q, frames, h, d)?, heads(&mut g, k, frames, h, d)?, heads(&mut g, v, frames, h, d)?);
            let o = g.attention(q, k, v, None, false, scale)?;
            let o = merge(&mut g, o, frames, d)?;
            let o = l.attn.out.forward(&mut g, o)?;
            x = g.add(x, o)?;
            let m = l.norm2.forward(&mut g, x)?;
            let m = l.fc1.forward(&mut g, m)?;
            let m = self.act(&mut g, m)?;
            let m = l.fc2.forward(&mut g, m)?;
            x = g.add(x, m)?;
        }
        let xa = self.enc_norm.forward(&mut g, x)?;
        let hd = c.decoder_heads;
        let mut outs = vec![];
        for l in &self.decoder {
            let k = l.cross.k.forward(&mut g, xa)?;
            let v = l.cross.v.forward(&mut g, xa)?;
            outs.push(heads(&mut g, k, frames, hd, d)?);
            outs.push(heads(&mut g, v, frames, hd, d)?);
        }
        g.build(&outs)
    }

    /// The decode graph for `n` tokens. Inputs: token ids (i32 `[1, n]`), their positions
    /// (i32 `[1, n]`), the first position (i32 `[1]`), then per layer the self-attention
    /// key and value caches, then per layer the cross keys and values. Outputs: the logits
    /// `[1, n, vocab]`, then the caches with the `n` positions written.
    pub fn decode_graph(&self, n: usize) -> Result<Graph> {
        let c = &self.config;
        let (d, h) = (c.d_model, c.decoder_heads);
        let dh = d / h;
        let cross_dims = [1, h, c.max_source_positions, dh];
        let mut g = GraphBuilder::new();
        let ids = g.input("tokens", &[1, n], DType::I32);
        let positions = g.input("positions", &[1, n], DType::I32);
        let offset = g.input("offset", &[1], DType::I32);
        let caches: Vec<(NodeId, NodeId)> = (0..c.decoder_layers)
            .map(|l| {
                let k = g.state(&format!("self_k{l}"), &self.cache_dims(), DType::F32);
                let v = g.state(&format!("self_v{l}"), &self.cache_dims(), DType::F32);
                (k, v)
            })
            .collect();
        let cross: Vec<(NodeId, NodeId)> = (0..c.decoder_layers)
            .map(|l| {
                let k = g.state(&format!("cross_k{l}"), &cross_dims, DType::F32);
                let v = g.state(&format!("cross_v{l}"), &cross_dims, DType::F32);
                (k, v)
            })
            .collect();
        let table = g.constant(self.tokens.clone());
        let pos_table = g.constant(self.dec_positions.clone());
        let e = g.gather(table, ids)?;
        let p = g.gather(pos_table, positions)?;
        let mut x = g.add(e, p)?;
        let scale = 1.0 / (dh as f32).sqrt();
        let mut outs = vec![];
        for ((l, &(kc, vc)), &(ck, cv)) in self.decoder.iter().zip(&caches).zip(&cross) {
            let a = l.norm1.forward(&mut g, x)?;
            let q = l.attn.q.forward(&mut g, a)?;
            let k = l.attn.k.forward(&mut g, a)?;
            let v = l.attn.v.forward(&mut g, a)?;
            let (q, k, v) = (heads(&mut g, q, n, h, d)?, heads(&mut g, k, n, h, d)?, heads(&mut g, v, n, h, d)?);
            let kc = g.write_at(kc, k, offset, 2)?;
            let vc = g.write_at(vc, v, offset, 2)?;
            outs.extend([kc, vc]);
            let o = g.attention_at(q, kc, vc, offset, scale)?;
            let o = merge(&mut g, o, n, d)?;
            let o = l.attn.out.forward(&mut g, o)?;
            x = g.add(x, o)?;
            let a = l.norm_cross.forward(&mut g, x)?;
            let q = l.cross.q.forward(&mut g, a)?;
            let q = heads(&mut g, q, n, h, d)?;
            let o = g.attention(q, ck, cv, None, false, scale)?;
            let o = merge(&mut g, o, n, d)?;
            let o = l.cross.out.forward(&mut g, o)?;
            x = g.add(x, o)?;
            let m = l.norm2.forward(&mut g, x)?;
            let m = l.fc1.forward(&mut g, m)?;
            let m = self.act(&mut g, m)?;
            let m = l.fc2.forward(&mut g, m)?;
            x = g.add(x, m)?;
        }
        let x = self.dec_norm.forward(&mut g, x)?;
        let logits = g.matmul_t(x, table, false, true)?;
        let mut all = vec![logits];
        all.extend(outs);
        g.build(&all)
    }
}
