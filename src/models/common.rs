//! What every model family shares: activations, and reading a `config.json` with each
//! bad field reported by name at load rather than failing at the first run.

use crate::error::{Error, Result};
use crate::graph::UnaryOp;
use crate::tensor::MAX_ELEMENTS;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Gelu,
    GeluTanh,
    Relu,
    Silu,
}

impl Activation {
    /// Hugging Face's `hidden_act` names.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "gelu" => Ok(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            "silu" | "swish" => Ok(Activation::Silu),
            other => Err(Error::UnsupportedModel(format!("hidden_act '{other}'"))),
        }
    }

    pub fn op(self) -> UnaryOp {
        match self {
            Activation::Gelu => UnaryOp::Gelu,
            Activation::GeluTanh => UnaryOp::GeluTanh,
            Activation::Relu => UnaryOp::Relu,
            Activation::Silu => UnaryOp::Silu,
        }
    }
}

/// A count from a config file as a usize, if it is in 1..=MAX_ELEMENTS: `as usize` would
/// truncate 2^32 + 1 to 1 on wasm32.
pub fn dimension(n: u64) -> Option<usize> {
    usize::try_from(n).ok().filter(|&n| (1..=MAX_ELEMENTS).contains(&n))
}

/// One JSON config file, read field by field; every error names the file and the field.
pub struct Config<'a> {
    pub file: &'a str,
    pub v: &'a Value,
}

impl<'a> Config<'a> {
    pub fn new(file: &'a str, v: &'a Value) -> Self {
        Config { file, v }
    }

    fn bad(&self, key: &str, what: &str) -> Error {
        Error::config(self.file, format!("{key} {what}"))
    }

    /// `model_type`, which must be one of `accepted`; `unsupported_model` otherwise.
    pub fn model_type(&self, accepted: &[&str], family: &str) -> Result<&'a str> {
        let t = self.v.get("model_type").and_then(Value::as_str).unwrap_or("(none)");
        if !accepted.contains(&t) {
            return Err(Error::UnsupportedModel(format!(
                "{} has model_type '{t}'; {family} support {}",
                self.file,
                accepted.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(t)
    }

    /// A required count in 1..=MAX_ELEMENTS.
    pub fn dim(&self, key: &str) -> Result<usize> {
        self.v
            .get(key)
            .and_then(Value::as_u64)
            .and_then(dimension)
            .ok_or_else(|| self.bad(key, &format!("is missing or not an integer in 1..={MAX_ELEMENTS}")))
    }

    /// A count, `default` when absent; present but not a count is an error.
    pub fn dim_or(&self, key: &str, default: usize) -> Result<usize> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(_) => self.dim(key),
        }
    }

    /// A positive finite epsilon that stays positive in f32; `default` when absent. A
    /// zero or negative one would divide by zero at the first run.
    pub fn eps(&self, key: &str, default: f32) -> Result<f32> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(e) => e
                .as_f64()
                .map(|e| e as f32)
                .filter(|e| e.is_finite() && *e > 0.0)
                .ok_or_else(|| self.bad(key, &format!("{e} is not a positive finite number"))),
        }
    }

    /// A finite number, `default` when absent.
    pub fn num_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(e) => e.as_f64().filter(|e| e.is_finite()).ok_or_else(|| self.bad(key, "is not a finite number")),
        }
    }

    /// A string, `default` when absent.
    pub fn str_or(&self, key: &str, default: &'a str) -> Result<&'a str> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(s) => s.as_str().ok_or_else(|| self.bad(key, "is not a string")),
        }
    }

    /// A boolean, `default` when absent.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(b) => b.as_bool().ok_or_else(|| self.bad(key, "is not true or false")),
        }
    }

    /// A list of `n` finite numbers, `default` when absent.
    pub fn floats_or(&self, key: &str, n: usize, default: &[f64]) -> Result<Vec<f64>> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(default.to_vec()),
            Some(Value::Array(a)) if a.len() == n => a
                .iter()
                .map(|x| x.as_f64().filter(|x| x.is_finite()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.bad(key, "has an entry that is not a finite number")),
            Some(_) => Err(self.bad(key, &format!("is not a list of {n} numbers"))),
        }
    }

    /// A list of token ids below `vocab`, `default` when absent.
    pub fn ids_or(&self, key: &str, vocab: usize, default: &[u32]) -> Result<Vec<u32>> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(default.to_vec()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_u64().filter(|&x| x < vocab as u64).map(|x| x as u32))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.bad(key, &format!("has an entry that is not a token id below {vocab}"))),
            Some(_) => Err(self.bad(key, "is not a list of token ids")),
        }
    }

    /// A token id below `vocab`, `default` when absent.
    pub fn id_or(&self, key: &str, vocab: usize, default: Option<u32>) -> Result<u32> {
        match (self.v.get(key), default) {
            (None | Some(Value::Null), Some(d)) => Ok(d),
            (v, _) => v
                .and_then(Value::as_u64)
                .filter(|&x| x < vocab as u64)
                .map(|x| x as u32)
                .ok_or_else(|| self.bad(key, &format!("is missing or not a token id below {vocab}"))),
        }
    }

    /// A map of names to token ids below `vocab` (`lang_to_id`), empty when absent.
    pub fn id_map(&self, key: &str, vocab: usize) -> Result<Vec<(String, u32)>> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, x)| x.as_u64().filter(|&x| x < vocab as u64).map(|x| (k.clone(), x as u32)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.bad(key, &format!("has an entry that is not a token id below {vocab}"))),
            Some(_) => Err(self.bad(key, "is not a map of names to token ids")),
        }
    }

    /// `hidden_act` (or another activation field), `default` when absent.
    pub fn activation(&self, key: &str, default: &str) -> Result<Activation> {
        Activation::parse(self.str_or(key, default)?)
    }
}

/// `a` must divide evenly by `b` (hidden size by heads, image size by patch size).
pub fn divisible(file: &str, a: (&str, usize), b: (&str, usize)) -> Result<()> {
    if a.1 % b.1 != 0 {
        return Err(Error::config(file, format!("{} {} is not a multiple of {} {}", a.0, a.1, b.0, b.1)));
    }
    Ok(())
}
