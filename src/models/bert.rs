//! BERT-family encoders: the config, the layers fetched through a `WeightScope` (each
//! weight named once, shape-checked at load), and the forward pass as a graph.

use super::common::{divisible, Activation, Config};
use super::files::{FileSpec, CONFIG, WEIGHTS};
use super::scope::{LayerNorm, Linear, WeightScope};
use crate::error::{Error, Result};
use crate::graph::{Graph, GraphBuilder, NodeId};
use crate::tensor::{DType, Tensor};
use serde_json::Value;

/// sentence-transformers' files beside the Hugging Face ones.
pub use super::files::TOKENIZER;
pub const POOLING: &str = "1_Pooling/config.json";
pub const SENTENCE_BERT: &str = "sentence_bert_config.json";
pub const MODULES: &str = "modules.json";

/// The files of a BERT text embedder.
pub const FILES: &[FileSpec] = &[
    FileSpec::required(CONFIG),
    FileSpec::required(TOKENIZER),
    FileSpec::required(WEIGHTS),
    FileSpec::optional(POOLING),
    FileSpec::optional(SENTENCE_BERT),
    FileSpec::optional(MODULES),
];

/// Weights an encoder does not run: the pooler head (sentence embedders pool
/// themselves) and the position-id buffer some exports keep.
const IGNORED: &[&str] = &["pooler.", "bert.pooler.", "embeddings.position_ids", "bert.embeddings.position_ids"];

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
        let c = Config::new(CONFIG, v);
        c.model_type(&["bert"], "text embedders")?;
        let pos_type = c.str_or("position_embedding_type", "absolute")?;
        if pos_type != "absolute" {
            return Err(Error::UnsupportedModel(format!("position_embedding_type '{pos_type}'")));
        }
        let cfg = BertConfig {
            hidden_size: c.dim("hidden_size")?,
            num_attention_heads: c.dim("num_attention_heads")?,
            num_hidden_layers: c.dim("num_hidden_layers")?,
            intermediate_size: c.dim("intermediate_size")?,
            hidden_act: c.activation("hidden_act", "gelu")?,
            layer_norm_eps: c.eps("layer_norm_eps", 1e-12)?,
            max_position_embeddings: c.dim("max_position_embeddings")?,
            type_vocab_size: c.dim_or("type_vocab_size", 2)?,
        };
        divisible(CONFIG, ("hidden_size", cfg.hidden_size), ("num_attention_heads", cfg.num_attention_heads))?;
        Ok(cfg)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    out_norm: LayerNorm,
}

/// A BERT encoder whose weights have all been found and shape-checked.
pub struct Bert {
    pub config: BertConfig,
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    /// Weights in the file that the encoder does not use.
    pub unused: Vec<String>,
}

impl Bert {
    /// The encoder over `weights`, its linear layers in the form `dtype` gives them.
    pub fn new(config: BertConfig, root: WeightScope) -> Result<Self> {
        let s = if root.contains("bert.embeddings.word_embeddings.weight") { root.pp("bert") } else { root.clone() };
        let c = &config;
        let (h, i, eps) = (c.hidden_size, c.intermediate_size, c.layer_norm_eps);
        let e = s.pp("embeddings");
        let word = e.embedding("word_embeddings.weight", None, h)?;
        let position = e.get("position_embeddings.weight", &[c.max_position_embeddings, h])?;
        let token_type = e.get("token_type_embeddings.weight", &[c.type_vocab_size, h])?;
        let emb_norm = e.pp("LayerNorm").layer_norm(h, eps)?;
        let layers = (0..c.num_hidden_layers)
            .map(|l| {
                let s = s.pp(format!("encoder.layer.{l}"));
                let (a, o) = (s.pp("attention"), s.pp("output"));
                Ok(Layer {
                    query: a.pp("self.query").linear(h, h, true)?,
                    key: a.pp("self.key").linear(h, h, true)?,
                    value: a.pp("self.value").sensitive().linear(h, h, true)?,
                    attn_out: a.pp("output.dense").sensitive().linear(h, h, true)?,
                    attn_norm: a.pp("output.LayerNorm").layer_norm(h, eps)?,
                    intermediate: s.pp("intermediate.dense").sensitive().linear(h, i, true)?,
                    output: o.pp("dense").sensitive().linear(i, h, true)?,
                    out_norm: o.pp("LayerNorm").layer_norm(h, eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let unused = root.unused(IGNORED);
        Ok(Bert { config, word, position, token_type, emb_norm, layers, unused })
    }

    pub fn vocab_size(&self) -> usize {
        self.word.dims()[0]
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
        let word = g.constant(self.word.clone());
        let pos_table = g.constant(self.position.clone());
        let type_table = g.constant(self.token_type.clone());
        let x = g.gather(word, ids)?;
        let t = g.gather(type_table, types)?;
        let pos = g.slice(pos_table, 0, 0, seq)?;
        let x = g.add(x, t)?;
        let x = g.add(x, pos)?;
        let x = self.emb_norm.forward(&mut g, x)?;
        let mut x = g.reshape(x, &[batch * seq, h])?;
        for l in &self.layers {
            let split = |g: &mut GraphBuilder, t: NodeId| -> Result<NodeId> {
                let t = g.reshape(t, &[batch, seq, heads, d])?;
                g.permute(t, &[0, 2, 1, 3])
            };
            let q = l.query.forward(&mut g, x)?;
            let kk = l.key.forward(&mut g, x)?;
            let v = l.value.forward(&mut g, x)?;
            let (q, kk, v) = (split(&mut g, q)?, split(&mut g, kk)?, split(&mut g, v)?);
            let ctx = g.attention(q, kk, v, Some(mask), false, 1.0 / (d as f32).sqrt())?;
            let ctx = g.permute(ctx, &[0, 2, 1, 3])?;
            let ctx = g.reshape(ctx, &[batch * seq, h])?;
            let a = l.attn_out.forward(&mut g, ctx)?;
            let a = g.add(x, a)?;
            let x1 = l.attn_norm.forward(&mut g, a)?;
            let i = l.intermediate.forward(&mut g, x1)?;
            let i = g.unary(c.hidden_act.op(), i)?;
            let o = l.output.forward(&mut g, i)?;
            let o = g.add(x1, o)?;
            x = l.out_norm.forward(&mut g, o)?;
        }
        let out = g.reshape(x, &[batch, seq, h])?;
        g.build(&[out])
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
