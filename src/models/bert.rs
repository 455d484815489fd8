//! BERT-family encoders: the config, the checked weights, and the forward pass as a graph.

use super::files::CONFIG;
use crate::error::{Error, Result};
use crate::graph::{Graph, GraphBuilder, NodeId, UnaryOp};
use crate::tensor::{DType, Tensor, MAX_ELEMENTS};
use crate::weights::Weights;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Gelu,
    GeluTanh,
    Relu,
    Silu,
}

impl Activation {
    fn op(self) -> UnaryOp {
        match self {
            Activation::Gelu => UnaryOp::Gelu,
            Activation::GeluTanh => UnaryOp::GeluTanh,
            Activation::Relu => UnaryOp::Relu,
            Activation::Silu => UnaryOp::Silu,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BertConfig {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f32,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
}

impl BertConfig {
    /// Reads `config.json`; a model type other than BERT is `unsupported_model`.
    pub fn from_json(v: &Value) -> Result<Self> {
        let model_type = v.get("model_type").and_then(Value::as_str).unwrap_or("(none)");
        if model_type != "bert" {
            return Err(Error::UnsupportedModel(format!(
                "config.json has model_type '{model_type}'; text embedders support 'bert'"
            )));
        }
        let num = |k: &str| -> Result<usize> {
            v.get(k)
                .and_then(Value::as_u64)
                .and_then(dimension)
                .ok_or_else(|| Error::config(CONFIG, format!("{k} is missing or not an integer in 1..={MAX_ELEMENTS}")))
        };
        let act = match v.get("hidden_act").and_then(Value::as_str).unwrap_or("gelu") {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            "silu" | "swish" => Activation::Silu,
            other => return Err(Error::UnsupportedModel(format!("hidden_act '{other}'"))),
        };
        let pos_type = v.get("position_embedding_type").and_then(Value::as_str).unwrap_or("absolute");
        if pos_type != "absolute" {
            return Err(Error::UnsupportedModel(format!("position_embedding_type '{pos_type}'")));
        }
        let cfg = BertConfig {
            hidden_size: num("hidden_size")?,
            num_attention_heads: num("num_attention_heads")?,
            num_hidden_layers: num("num_hidden_layers")?,
            intermediate_size: num("intermediate_size")?,
            hidden_act: act,
            layer_norm_eps: match v.get("layer_norm_eps") {
                None => 1e-12,
                // A zero, negative or non-finite epsilon would make every embed fail or
                // divide by zero; one that rounds to 0 in f32 too.
                Some(e) => e.as_f64().map(|e| e as f32).filter(|e| e.is_finite() && *e > 0.0).ok_or_else(|| {
                    Error::config(CONFIG, format!("layer_norm_eps {e} is not a positive finite number"))
                })?,
            },
            max_position_embeddings: num("max_position_embeddings")?,
            type_vocab_size: match v.get("type_vocab_size") {
                None => 2,
                Some(_) => num("type_vocab_size")?,
            },
        };
        if cfg.hidden_size % cfg.num_attention_heads != 0 {
            return Err(Error::config(
                CONFIG,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    cfg.hidden_size, cfg.num_attention_heads
                ),
            ));
        }
        Ok(cfg)
    }
}

/// A count from a config file as a usize, if it is in 1..=MAX_ELEMENTS: `as usize` would
/// truncate 2^32 + 1 to 1 on wasm32.
pub(crate) fn dimension(n: u64) -> Option<usize> {
    usize::try_from(n).ok().filter(|&n| (1..=MAX_ELEMENTS).contains(&n))
}

/// A BERT encoder whose weights have all been found and shape-checked.
pub struct Bert {
    pub config: BertConfig,
    weights: Weights,
    prefix: &'static str,
}

impl Bert {
    pub fn new(config: BertConfig, weights: Weights) -> Result<Self> {
        let prefix = if weights.contains("bert.embeddings.word_embeddings.weight") { "bert." } else { "" };
        let bert = Bert { config, weights, prefix };
        bert.check()?;
        Ok(bert)
    }

    fn w(&self, name: &str) -> Result<&Tensor> {
        let full = format!("{}{name}", self.prefix);
        self.weights.get(&full).ok_or_else(|| Error::weights(full, "missing from model.safetensors"))
    }

    fn expect(&self, name: &str, dims: &[usize]) -> Result<()> {
        let t = self.w(name)?;
        if t.dims() != dims {
            return Err(Error::weights(
                format!("{}{name}", self.prefix),
                format!("shape {:?}, but config.json implies {dims:?}", t.dims()),
            ));
        }
        Ok(())
    }

    pub fn vocab_size(&self) -> usize {
        self.w("embeddings.word_embeddings.weight").map(|t| t.dims()[0]).unwrap_or(0)
    }

    fn check(&self) -> Result<()> {
        let c = &self.config;
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let vocab = self.w("embeddings.word_embeddings.weight")?.dims().first().copied().unwrap_or(0);
        self.expect("embeddings.word_embeddings.weight", &[vocab, h])?;
        self.expect("embeddings.position_embeddings.weight", &[c.max_position_embeddings, h])?;
        self.expect("embeddings.token_type_embeddings.weight", &[c.type_vocab_size, h])?;
        self.expect("embeddings.LayerNorm.weight", &[h])?;
        self.expect("embeddings.LayerNorm.bias", &[h])?;
        for l in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{l}.");
            for (name, dims) in [
                ("attention.self.query.weight", vec![h, h]),
                ("attention.self.key.weight", vec![h, h]),
                ("attention.self.value.weight", vec![h, h]),
                ("attention.output.dense.weight", vec![h, h]),
                ("intermediate.dense.weight", vec![i, h]),
                ("intermediate.dense.bias", vec![i]),
                ("output.dense.weight", vec![h, i]),
            ] {
                self.expect(&format!("{p}{name}"), &dims)?;
            }
            for name in [
                "attention.self.query.bias",
                "attention.self.key.bias",
                "attention.self.value.bias",
                "attention.output.dense.bias",
                "attention.output.LayerNorm.weight",
                "attention.output.LayerNorm.bias",
                "output.dense.bias",
                "output.LayerNorm.weight",
                "output.LayerNorm.bias",
            ] {
                self.expect(&format!("{p}{name}"), &[h])?;
            }
        }
        Ok(())
    }

    /// The encoder for `batch` sequences of `seq` tokens. Inputs: token ids `[B, S]` (i32),
    /// token type ids `[B, S]` (i32), attention mask `[B, S]` (f32, 1 = token, 0 = padding).
    /// Output: the last hidden state `[B, S, H]`.
    pub fn graph(&self, batch: usize, seq: usize) -> Result<Graph> {
        let c = &self.config;
        if seq > c.max_position_embeddings {
            return Err(Error::arg(
                "bert",
                format!("{seq} tokens exceed max_position_embeddings {}", c.max_position_embeddings),
            ));
        }
        let (h, heads) = (c.hidden_size, c.num_attention_heads);
        let d = h / heads;
        let mut g = GraphBuilder::new();
        let ids = g.input("input_ids", &[batch, seq], DType::I32);
        let types = g.input("token_type_ids", &[batch, seq], DType::I32);
        let mask = g.input("attention_mask", &[batch, seq], DType::F32);
        let word = g.constant(self.w("embeddings.word_embeddings.weight")?.clone());
        let pos_table = g.constant(self.w("embeddings.position_embeddings.weight")?.clone());
        let type_table = g.constant(self.w("embeddings.token_type_embeddings.weight")?.clone());
        let x = g.gather(word, ids)?;
        let t = g.gather(type_table, types)?;
        let pos = g.slice(pos_table, 0, 0, seq)?;
        let x = g.add(x, t)?;
        let x = g.add(x, pos)?;
        let x = self.layer_norm(&mut g, x, "embeddings.LayerNorm")?;
        let mut x = g.reshape(x, &[batch * seq, h])?;
        for l in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{l}.");
            let split = |g: &mut GraphBuilder, t: NodeId| -> Result<NodeId> {
                let t = g.reshape(t, &[batch, seq, heads, d])?;
                g.permute(t, &[0, 2, 1, 3])
            };
            let q = self.linear(&mut g, x, &format!("{p}attention.self.query"))?;
            let kk = self.linear(&mut g, x, &format!("{p}attention.self.key"))?;
            let v = self.linear(&mut g, x, &format!("{p}attention.self.value"))?;
            let (q, kk, v) = (split(&mut g, q)?, split(&mut g, kk)?, split(&mut g, v)?);
            let ctx = g.attention(q, kk, v, Some(mask), false, 1.0 / (d as f32).sqrt())?;
            let ctx = g.permute(ctx, &[0, 2, 1, 3])?;
            let ctx = g.reshape(ctx, &[batch * seq, h])?;
            let a = self.linear(&mut g, ctx, &format!("{p}attention.output.dense"))?;
            let a = g.add(x, a)?;
            let x1 = self.layer_norm(&mut g, a, &format!("{p}attention.output.LayerNorm"))?;
            let i = self.linear(&mut g, x1, &format!("{p}intermediate.dense"))?;
            let i = g.unary(c.hidden_act.op(), i)?;
            let o = self.linear(&mut g, i, &format!("{p}output.dense"))?;
            let o = g.add(x1, o)?;
            x = self.layer_norm(&mut g, o, &format!("{p}output.LayerNorm"))?;
        }
        let out = g.reshape(x, &[batch, seq, h])?;
        g.build(&[out])
    }

    /// x · Wᵀ + b, with W stored `[out, in]` as PyTorch's Linear keeps it.
    fn linear(&self, g: &mut GraphBuilder, x: NodeId, name: &str) -> Result<NodeId> {
        let w = g.constant(self.w(&format!("{name}.weight"))?.clone());
        let b = g.constant(self.w(&format!("{name}.bias"))?.clone());
        let y = g.matmul_t(x, w, false, true)?;
        g.add(y, b)
    }

    fn layer_norm(&self, g: &mut GraphBuilder, x: NodeId, name: &str) -> Result<NodeId> {
        let gamma = g.constant(self.w(&format!("{name}.weight"))?.clone());
        let beta = g.constant(self.w(&format!("{name}.bias"))?.clone());
        g.layer_norm(x, gamma, beta, self.config.layer_norm_eps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(patch: &str) -> Result<BertConfig> {
        let mut v: Value = serde_json::from_str(
            r#"{"model_type":"bert","hidden_size":8,"num_attention_heads":2,"num_hidden_layers":1,
                "intermediate_size":16,"max_position_embeddings":32,"layer_norm_eps":1e-12}"#,
        )
        .unwrap();
        let p: Value = serde_json::from_str(patch).unwrap();
        for (k, x) in p.as_object().unwrap() {
            v[k] = x.clone();
        }
        BertConfig::from_json(&v)
    }

    /// Configs that would load and then fail (or silently misread) at the first embed are
    /// `invalid_config` at load, naming the field.
    #[test]
    fn bad_configs_fail_at_load_naming_the_field() {
        assert!(config("{}").is_ok());
        for (patch, field) in [
            (r#"{"layer_norm_eps":-1}"#, "layer_norm_eps"),
            (r#"{"layer_norm_eps":0}"#, "layer_norm_eps"),
            (r#"{"layer_norm_eps":1e-50}"#, "layer_norm_eps"),
            (r#"{"layer_norm_eps":"small"}"#, "layer_norm_eps"),
            // 2^32 + 1, which `as usize` reads as 1 on wasm32.
            (r#"{"max_position_embeddings":4294967297}"#, "max_position_embeddings"),
            (r#"{"hidden_size":0}"#, "hidden_size"),
            (r#"{"type_vocab_size":0}"#, "type_vocab_size"),
            (r#"{"num_hidden_layers":-3}"#, "num_hidden_layers"),
        ] {
            let e = config(patch).unwrap_err();
            assert_eq!(e.code(), "invalid_config", "{patch}: {e}");
            assert!(e.to_string().contains(field), "{patch}: {e}");
        }
    }
}
