//! The records the store keeps beside its chunks: a manifest per model source, and a
//! partial record per file while that file is being downloaded.

use serde::{Deserialize, Serialize};

/// The version of the record format. A record from a newer SDK is left alone and treated
/// as absent; older versions are migrated in `migrate` when the format changes.
pub const SCHEMA: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkRef {
    pub sha256: String,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The path relative to the model's base URL, e.g. `1_Pooling/config.json`.
    pub name: String,
    pub size: u64,
    /// The whole file's sha-256 (empty while a download is under way).
    pub sha256: String,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub last_modified: Option<String>,
    pub chunks: Vec<ChunkRef>,
}

impl FileEntry {
    pub fn new(name: &str) -> Self {
        FileEntry {
            name: name.into(),
            size: 0,
            sha256: String::new(),
            etag: None,
            last_modified: None,
            chunks: Vec::new(),
        }
    }

    /// Bytes held in chunks so far.
    pub fn stored(&self) -> u64 {
        self.chunks.iter().map(|c| c.size).sum()
    }
}

/// A complete model: every file it has, in chunks. Its key is `source`, the model's base URL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: u32,
    pub source: String,
    pub files: Vec<FileEntry>,
    pub created: f64,
    pub last_used: f64,
    /// The root CID of its files (`store::cid_of`), once computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

impl Manifest {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name == name)
    }

    /// File `name`'s sha-256, where the manifest has it (it is empty mid-download).
    pub fn sha256_of(&self, name: &str) -> Option<String> {
        self.file(name).map(|f| f.sha256.clone()).filter(|s| !s.is_empty())
    }

    /// The manifest as users see it (camelCase, each chunk with its CIDv1 beside its hash).
    pub fn described(&self) -> serde_json::Value {
        let files: Vec<serde_json::Value> = self
            .files
            .iter()
            .map(|f| {
                let chunks: Vec<serde_json::Value> = f
                    .chunks
                    .iter()
                    .map(|c| serde_json::json!({ "sha256": c.sha256, "cid": super::cid(&c.sha256), "size": c.size }))
                    .collect();
                serde_json::json!({
                    "name": f.name, "size": f.size, "sha256": f.sha256, "etag": f.etag,
                    "lastModified": f.last_modified, "chunks": chunks,
                })
            })
            .collect();
        serde_json::json!({
            "source": self.source, "bytes": self.bytes(), "created": self.created,
            "lastUsed": self.last_used, "files": files, "cid": self.cid,
        })
    }
}

/// One file of a download under way; its chunks are already stored, so a retry resumes
/// after them. It is not a manifest, so nothing shows the model as present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    pub schema: u32,
    pub source: String,
    pub file: FileEntry,
    /// Every byte is stored and `file.sha256` is set; only the manifest is missing.
    pub complete: bool,
    pub updated: f64,
}

impl Partial {
    pub fn key(source: &str, name: &str) -> String {
        format!("{source}#{name}")
    }
}

/// Parses a stored record of the current schema, migrating older ones; `None` for a record
/// this version cannot read (a newer SDK's, or damaged), which callers treat as absent.
pub fn migrate<T: serde::de::DeserializeOwned>(json: &str) -> Option<T> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    match v.get("schema")?.as_u64()? {
        1 => serde_json::from_value(v).ok(),
        _ => None,
    }
}
