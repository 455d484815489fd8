//! The files a text model is made of, wherever their bytes came from (disk, network, cache).

use crate::error::{Error, Result};
use crate::weights::AlignedBuf;

/// File names, relative to a model's base directory or URL.
pub const CONFIG: &str = "config.json";
pub const TOKENIZER: &str = "tokenizer.json";
pub const WEIGHTS: &str = "model.safetensors";
pub const POOLING: &str = "1_Pooling/config.json";
pub const SENTENCE_BERT: &str = "sentence_bert_config.json";
pub const MODULES: &str = "modules.json";

pub struct ModelFiles {
    pub config: Vec<u8>,
    pub tokenizer: Vec<u8>,
    pub weights: AlignedBuf,
    /// sentence-transformers' pooling module config, when the model has one.
    pub pooling: Option<Vec<u8>>,
    /// sentence-transformers' `max_seq_length`, when present.
    pub sentence_bert: Option<Vec<u8>>,
    /// sentence-transformers' module list (tells whether embeddings are normalised).
    pub modules: Option<Vec<u8>>,
}

impl ModelFiles {
    /// Reads a model laid out in Hugging Face form under `dir`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        use std::io::Read;
        let dir = dir.as_ref();
        let read = |name: &str| -> Result<Vec<u8>> {
            std::fs::read(dir.join(name))
                .map_err(|e| Error::FetchFailed { url: dir.join(name).display().to_string(), reason: e.to_string() })
        };
        let optional = |name: &str| std::fs::read(dir.join(name)).ok();
        let path = dir.join(WEIGHTS);
        let fail = |e: std::io::Error| Error::FetchFailed { url: path.display().to_string(), reason: e.to_string() };
        let mut f = std::fs::File::open(&path).map_err(fail)?;
        let len = f.metadata().map_err(fail)?.len() as usize;
        let mut weights = AlignedBuf::with_capacity(len);
        f.read_exact(weights.grow(len)).map_err(fail)?;
        Ok(ModelFiles {
            config: read(CONFIG)?,
            tokenizer: read(TOKENIZER)?,
            weights,
            pooling: optional(POOLING),
            sentence_bert: optional(SENTENCE_BERT),
            modules: optional(MODULES),
        })
    }
}

/// Parses a JSON config file, naming the file on failure.
pub fn parse_json(file: &str, bytes: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(|e| Error::config(file, format!("not valid JSON: {e}")))
}
