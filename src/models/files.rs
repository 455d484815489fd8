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

/// Every file a text model may have, and whether it must be there.
pub const ALL: [(&str, bool); 6] =
    [(CONFIG, true), (TOKENIZER, true), (WEIGHTS, true), (POOLING, false), (SENTENCE_BERT, false), (MODULES, false)];

pub struct ModelFiles {
    pub config: Vec<u8>,
    pub tokenizer: Vec<u8>,
    pub weights: AlignedBuf,
    /// The weights file's sha-256, where the weight store knows it: a session holding
    /// that file shares it, and the file is then not read at all (`weights` is empty).
    pub weights_id: Option<String>,
    /// sentence-transformers' pooling module config, when the model has one.
    pub pooling: Option<Vec<u8>>,
    /// sentence-transformers' `max_seq_length`, when present.
    pub sentence_bert: Option<Vec<u8>>,
    /// sentence-transformers' module list (tells whether embeddings are normalised).
    pub modules: Option<Vec<u8>>,
}

impl ModelFiles {
    /// Assembles a model from its files by name; `get` answers `None` for a file that is absent.
    pub fn from_named(mut get: impl FnMut(&str) -> Result<Option<AlignedBuf>>) -> Result<Self> {
        let mut take = |name: &str| -> Result<Option<AlignedBuf>> { get(name) };
        let required = |name: &str, b: Option<AlignedBuf>| {
            b.ok_or_else(|| Error::config(name, "the model has no such file, and it is required"))
        };
        let small = |b: Option<AlignedBuf>| b.map(|b| b.as_bytes().to_vec());
        Ok(ModelFiles {
            config: required(CONFIG, take(CONFIG)?)?.as_bytes().to_vec(),
            tokenizer: required(TOKENIZER, take(TOKENIZER)?)?.as_bytes().to_vec(),
            weights: required(WEIGHTS, take(WEIGHTS)?)?,
            weights_id: None,
            pooling: small(take(POOLING)?),
            sentence_bert: small(take(SENTENCE_BERT)?),
            modules: small(take(MODULES)?),
        })
    }

    /// Reads a model laid out in Hugging Face form under `dir`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let dir = dir.as_ref();
        Self::from_named(|name| read_file(&dir.join(name)))
    }
}

/// The whole of a file in an aligned buffer, or `None` when it does not exist.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_file(path: &std::path::Path) -> Result<Option<AlignedBuf>> {
    use std::io::Read;
    let fail = |e: std::io::Error| Error::FetchFailed { url: path.display().to_string(), reason: e.to_string() };
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e)),
    };
    let len = f.metadata().map_err(fail)?.len();
    let mut buf = AlignedBuf::with_capacity(len)?;
    // `with_capacity` checked that `len` fits in memory, and so in usize.
    f.read_exact(buf.grow(len as usize)?).map_err(fail)?;
    Ok(Some(buf))
}

/// Parses a JSON config file, naming the file on failure.
pub fn parse_json(file: &str, bytes: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(|e| Error::config(file, format!("not valid JSON: {e}")))
}
