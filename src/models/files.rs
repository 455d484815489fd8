//! The files a model is made of, wherever their bytes came from (disk, network, cache).
//! Each architecture declares its set (`FILES`: names, required or optional); the store,
//! the downloads and `prefetch` take any such set.

use crate::error::{Error, Result};
use crate::weights::{AlignedBuf, Streamed, Weights};
use std::collections::HashMap;

/// The Hugging Face names every family shares.
pub const CONFIG: &str = "config.json";
pub const WEIGHTS: &str = "model.safetensors";
pub const TOKENIZER: &str = "tokenizer.json";
pub const PREPROCESSOR: &str = "preprocessor_config.json";

/// One file of a model, relative to its base directory or URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    pub name: &'static str,
    pub required: bool,
}

impl FileSpec {
    pub const fn required(name: &'static str) -> Self {
        FileSpec { name, required: true }
    }

    pub const fn optional(name: &'static str) -> Self {
        FileSpec { name, required: false }
    }
}

/// A model's files by name. The weights file (`model.safetensors`) may be left out when a
/// session already holds it: `weights_id` then names it.
#[derive(Default)]
pub struct ModelFiles {
    files: HashMap<String, AlignedBuf>,
    /// The weights file's sha-256, where the weight store knows it: a session holding
    /// that file shares it, and the file is then not read at all (its bytes are empty).
    pub weights_id: Option<String>,
    /// The weights as a load in another form than f32 holds them (`weights::write_held`),
    /// where the weight store kept them: read instead of the weights file.
    pub held: Option<AlignedBuf>,
    /// The weights file's tensors as a streaming load read them (`weights::TensorStream`,
    /// sharing what the session held): used instead of the file, whose bytes are empty.
    pub streamed: Option<Weights>,
    /// Where a load that made its weights' form from the weights file leaves them as a
    /// held-weights file, for the weight store to keep (set by whoever wants them).
    pub made: Option<MadeSlot>,
}

/// A held-weights file a load made, handed back to the caller that gave the slot.
pub type MadeSlot = std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>;

impl ModelFiles {
    /// Assembles a model from the files of `spec`; `get` answers `None` for a file that
    /// is absent, which is an error for a required one.
    pub fn from_named(spec: &[FileSpec], mut get: impl FnMut(&str) -> Result<Option<AlignedBuf>>) -> Result<Self> {
        let mut files = HashMap::new();
        for f in spec {
            match get(f.name)? {
                Some(b) => {
                    files.insert(f.name.to_string(), b);
                }
                None if f.required => {
                    return Err(Error::config(f.name, "the model has no such file, and it is required"))
                }
                None => {}
            }
        }
        Ok(ModelFiles { files, ..Default::default() })
    }

    /// `from_named` over files as they were read: a weights file taken apart tensor by
    /// tensor becomes `streamed` (its bytes empty).
    pub fn from_streamed(spec: &[FileSpec], mut got: HashMap<&str, Streamed>) -> Result<Self> {
        let mut streamed = None;
        let mut files = Self::from_named(spec, |name| {
            Ok(got.remove(name).map(|s| match s {
                Streamed::Whole(buf) => buf,
                Streamed::Tensors { weights, .. } => {
                    streamed = Some(weights);
                    AlignedBuf::default()
                }
            }))
        })?;
        files.streamed = streamed;
        Ok(files)
    }

    /// Reads a model laid out in Hugging Face form under `dir`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: impl AsRef<std::path::Path>, spec: &[FileSpec]) -> Result<Self> {
        let dir = dir.as_ref();
        Self::from_named(spec, |name| read_file(&dir.join(name)))
    }

    /// A file's bytes, if the model has it.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(AlignedBuf::as_bytes)
    }

    /// A required file's bytes (`from_named` checked it is there).
    pub fn require(&self, name: &str) -> Result<&[u8]> {
        self.get(name).ok_or_else(|| Error::config(name, "the model has no such file, and it is required"))
    }

    /// Replaces (or adds) a file.
    pub fn set(&mut self, name: &str, bytes: impl Into<AlignedBuf>) {
        self.files.insert(name.to_string(), bytes.into());
    }

    /// Takes a file's buffer out (a weights file, handed to the parser without a copy).
    pub fn take(&mut self, name: &str) -> AlignedBuf {
        self.files.remove(name).unwrap_or_default()
    }

    /// Whether the weights were left out because a session holds them.
    pub fn weights_skipped(&self) -> bool {
        self.weights_id.is_some() && self.streamed.is_none() && self.get(WEIGHTS).is_none_or(<[u8]>::is_empty)
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
