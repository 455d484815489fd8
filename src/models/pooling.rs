//! Pooling token states into one vector per text, as sentence-transformers configures it.

use super::bert::{MODULES, POOLING};
use super::files::parse_json;
use crate::error::{Error, Result};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean over the tokens the attention mask keeps.
    Mean,
    /// The first ([CLS]) token's state.
    Cls,
    /// No pooling: every token's state, concatenated.
    None,
}

impl Pooling {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "mean" => Ok(Pooling::Mean),
            "cls" => Ok(Pooling::Cls),
            "none" => Ok(Pooling::None),
            other => Err(Error::arg("pooling", format!("'{other}' is not one of mean, cls, none"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::None => "none",
        }
    }

    /// Pools `tokens` (`[n, h]` row-major, the text's own tokens only) into a vector.
    pub fn apply(self, tokens: &[f32], h: usize, normalize: bool) -> Vec<f32> {
        let n = tokens.len() / h.max(1);
        let mut out = match self {
            Pooling::None => return tokens.to_vec(),
            Pooling::Cls => tokens[..h.min(tokens.len())].to_vec(),
            Pooling::Mean => {
                let mut acc = vec![0f32; h];
                for row in tokens.chunks_exact(h) {
                    acc.iter_mut().zip(row).for_each(|(a, v)| *a += v);
                }
                let inv = 1.0 / n.max(1) as f32;
                acc.iter_mut().for_each(|a| *a *= inv);
                acc
            }
        };
        if normalize {
            let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
            // sentence-transformers' Normalize clamps the norm at 1e-12 likewise.
            let inv = 1.0 / norm.max(1e-12);
            out.iter_mut().for_each(|v| *v *= inv);
        }
        out
    }
}

/// What the model's sentence-transformers files ask for.
#[derive(Debug, Clone, Copy)]
pub struct PoolingConfig {
    pub pooling: Pooling,
    pub normalize: bool,
}

impl PoolingConfig {
    /// From `1_Pooling/config.json` and `modules.json`; mean pooling without
    /// normalisation when the model has neither.
    pub fn from_files(pooling: Option<&[u8]>, modules: Option<&[u8]>) -> Result<Self> {
        let mut mode = Pooling::Mean;
        if let Some(bytes) = pooling {
            let v = parse_json(POOLING, bytes)?;
            let on = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
            mode = if on("pooling_mode_cls_token") {
                Pooling::Cls
            } else if on("pooling_mode_mean_tokens") {
                Pooling::Mean
            } else if on("pooling_mode_max_tokens") || on("pooling_mode_mean_sqrt_len_tokens") {
                return Err(Error::UnsupportedModel(
                    "pooling modes max and mean_sqrt_len are not supported yet".into(),
                ));
            } else {
                return Err(Error::config(POOLING, "no pooling mode is enabled"));
            };
        }
        let normalize = match modules {
            Some(bytes) => parse_json(MODULES, bytes)?.as_array().is_some_and(|m| {
                m.iter()
                    .any(|x| x.get("type").and_then(Value::as_str) == Some("sentence_transformers.models.Normalize"))
            }),
            None => false,
        };
        Ok(PoolingConfig { pooling: mode, normalize })
    }
}
