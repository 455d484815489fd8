//! `Store`: lookup, verified reads, atomic commits, LRU eviction to a budget or the browser
//! quota, and collection of chunks that nothing refers to.

use super::address::sha256_hex;
use super::backend::{Backend, Kind};
use super::manifest::{migrate, FileEntry, Manifest, Partial};
use super::model::{held_key, is_held};
use crate::error::{Error, Result};
use crate::models::files::WEIGHTS;
use crate::weights::{AlignedBuf, Sink};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

/// One stored model, as `WeightStore.list()` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    pub source: String,
    pub files: Vec<String>,
    pub bytes: u64,
    pub last_used: f64,
}

/// What the store holds, as `WeightStore.usage()` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Bytes of distinct chunks: identical content in two models counts once.
    pub bytes: u64,
    /// Bytes the models would take without deduplication.
    pub logical_bytes: u64,
    pub models: usize,
    pub chunks: usize,
    /// Bytes of downloads under way or broken off, kept for resuming.
    pub partial_bytes: u64,
    /// The configured byte budget, if any.
    pub budget: Option<u64>,
    /// The browser's estimate for the whole origin, where there is one.
    pub origin_usage: Option<u64>,
    pub origin_quota: Option<u64>,
}

pub struct Store<B> {
    pub(super) backend: B,
    /// Bytes of chunks the store may keep; `None` for no limit but the browser's quota.
    pub(super) budget: Cell<Option<u64>>,
}

/// A model's file failed verification on read: why, in words.
pub type Corrupt = String;

impl<B: Backend> Store<B> {
    /// `budget` caps the bytes of chunks the store keeps; least recently used models are
    /// evicted to stay under it. It lasts as long as this value: `open` keeps it in the
    /// store itself.
    pub fn new(backend: B, budget: Option<u64>) -> Self {
        Store { backend, budget: Cell::new(budget) }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub async fn manifests(&self) -> Result<Vec<Manifest>> {
        Ok(self.backend.records(Kind::Manifest).await?.iter().filter_map(|j| migrate(j)).collect())
    }

    pub async fn manifest(&self, source: &str) -> Result<Option<Manifest>> {
        Ok(self.backend.get_record(Kind::Manifest, source).await?.and_then(|j| migrate(&j)))
    }

    pub async fn partials(&self) -> Result<Vec<Partial>> {
        Ok(self.backend.records(Kind::Partial).await?.iter().filter_map(|j| migrate(j)).collect())
    }

    pub async fn partial(&self, source: &str, name: &str) -> Result<Option<Partial>> {
        Ok(self.backend.get_record(Kind::Partial, &Partial::key(source, name)).await?.and_then(|j| migrate(&j)))
    }

    pub async fn list(&self) -> Result<Vec<ModelInfo>> {
        let mut out: Vec<ModelInfo> = self
            .manifests()
            .await?
            .into_iter()
            .filter(|m| !is_held(&m.source))
            .map(|m| ModelInfo {
                bytes: m.bytes(),
                files: m.files.iter().map(|f| f.name.clone()).collect(),
                source: m.source,
                last_used: m.last_used,
            })
            .collect();
        out.sort_by(|a, b| a.source.cmp(&b.source));
        Ok(out)
    }

    /// Reads a file's chunks in order, each checked against its address before `each` gets
    /// it: one chunk is in memory at a time, besides what `each` keeps. `progress` gets the
    /// bytes read so far. The inner error says what is corrupt.
    pub async fn read_chunks(
        &self,
        f: &FileEntry,
        each: &mut dyn FnMut(&[u8]) -> Result<()>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<std::result::Result<(), Corrupt>> {
        let mut chunk = AlignedBuf::default();
        let mut read = 0u64;
        for (i, c) in f.chunks.iter().enumerate() {
            chunk.truncate(0);
            if !self.backend.read_chunk(&c.sha256, &mut chunk).await? {
                return Ok(Err(format!("{}: chunk {i} ({}) is missing", f.name, c.sha256)));
            }
            let got = chunk.as_bytes();
            if got.len() as u64 != c.size || sha256_hex(got) != c.sha256 {
                return Ok(Err(format!("{}: chunk {i} ({}) does not match its hash", f.name, c.sha256)));
            }
            each(got)?;
            read += got.len() as u64;
            progress(read);
        }
        if read != f.size {
            return Ok(Err(format!("{}: {read} bytes stored, {} expected", f.name, f.size)));
        }
        Ok(Ok(()))
    }

    /// `read_chunks` into `sink`.
    pub async fn read_into(
        &self,
        f: &FileEntry,
        sink: &mut dyn Sink,
        progress: &mut dyn FnMut(u64),
    ) -> Result<std::result::Result<(), Corrupt>> {
        sink.sized(f.size)?;
        self.read_chunks(f, &mut |b| sink.put(b), progress).await
    }

    /// A file's bytes, verified, in one buffer.
    pub async fn read_file(
        &self,
        f: &FileEntry,
        progress: &mut dyn FnMut(u64),
    ) -> Result<std::result::Result<AlignedBuf, Corrupt>> {
        let mut buf = AlignedBuf::default();
        Ok(self.read_into(f, &mut buf, progress).await?.map(|()| buf))
    }

    /// Marks a model as just used, for LRU eviction.
    pub async fn touch(&self, m: &mut Manifest) -> Result<()> {
        m.last_used = super::now_ms();
        self.save(m).await
    }

    /// Rewrites a committed model's manifest (what it records of the model changed).
    pub async fn save(&self, m: &Manifest) -> Result<()> {
        self.backend.put_record(Kind::Manifest, &m.source, &to_json(m)).await
    }

    /// Makes the manifest visible and drops the source's partial records, in one step.
    pub async fn commit(&self, m: &Manifest) -> Result<()> {
        let partials = self.partial_keys(Some(&m.source)).await?;
        self.backend.commit(&m.source, &to_json(m), &partials).await
    }

    /// The record keys of the partial downloads of `source`, or of every source.
    async fn partial_keys(&self, source: Option<&str>) -> Result<Vec<String>> {
        Ok(self
            .partials()
            .await?
            .iter()
            .filter(|p| source.is_none_or(|s| p.source == s))
            .map(|p| Partial::key(&p.source, &p.file.name))
            .collect())
    }

    /// Stores a chunk with its partial record. A chunk not stored yet must first fit the
    /// budget and quota, evicting least recently used other models if need be (a chunk
    /// another model already holds needs no room). When the platform refuses for lack of
    /// space all the same, evicts one more model and tries once more.
    pub async fn put_chunk(&self, key: &str, bytes: &[u8], partial: &Partial) -> Result<()> {
        let f = &partial.file;
        // What the rest of the file needs, this chunk included (it is listed, not yet stored),
        // for the messages.
        let rest = f.size.saturating_sub(f.stored() - bytes.len() as u64).max(bytes.len() as u64);
        if !self.backend.has_chunk(key).await? {
            self.make_room(&partial.source, &f.name, bytes.len() as u64, rest).await?;
        }
        let pk = Partial::key(&partial.source, &partial.file.name);
        let json = to_json(partial);
        let mut r = self.backend.put_chunk(key, bytes, &pk, &json).await;
        if matches!(r, Err(Error::QuotaExceeded { .. })) && self.evict_one(&partial.source).await? {
            r = self.backend.put_chunk(key, bytes, &pk, &json).await;
        }
        match r {
            Err(Error::QuotaExceeded { detail, .. }) => {
                let mut e = self.quota_error(&f.name, rest).await;
                if let Error::QuotaExceeded { available, detail: d, .. } = &mut e {
                    // The estimate said there was room, yet the write was refused: trust the refusal.
                    *available = 0;
                    *d = format!("; the browser refused the write{detail}{d}");
                }
                Err(e)
            }
            r => r,
        }
    }

    pub async fn put_partial(&self, p: &Partial) -> Result<()> {
        self.backend.put_record(Kind::Partial, &Partial::key(&p.source, &p.file.name), &to_json(p)).await
    }

    /// Deletes a model, its partial downloads and the chunks no other model shares.
    /// Held weights made from its weights file go with it, unless another stored model
    /// has the same file.
    pub async fn delete(&self, source: &str) -> Result<bool> {
        let gone = self.manifest(source).await?;
        let mut keys = vec![source.to_string()];
        if let Some(sha) = gone.as_ref().and_then(|m| m.sha256_of(WEIGHTS)).filter(|_| !is_held(source)) {
            let all = self.manifests().await?;
            if !all.iter().any(|m| m.source != source && m.sha256_of(WEIGHTS).as_ref() == Some(&sha)) {
                let prefix = held_key(&sha, "");
                keys.extend(all.into_iter().map(|m| m.source).filter(|s| s.starts_with(&prefix)));
            }
        }
        self.backend.delete_records(Kind::Manifest, &keys).await?;
        self.abandon(source).await?;
        Ok(gone.is_some())
    }

    /// Drops a source's partial downloads (after a failure that must leave nothing behind).
    pub async fn abandon(&self, source: &str) -> Result<()> {
        let keys = self.partial_keys(Some(source)).await?;
        self.backend.delete_records(Kind::Partial, &keys).await?;
        self.gc().await.map(|_| ())
    }

    pub async fn clear(&self) -> Result<()> {
        let sources: Vec<String> = self.manifests().await?.into_iter().map(|m| m.source).collect();
        self.backend.delete_records(Kind::Manifest, &sources).await?;
        let partials = self.partial_keys(None).await?;
        self.backend.delete_records(Kind::Partial, &partials).await?;
        let chunks = self.backend.chunk_keys().await?;
        self.backend.delete_chunks(&chunks).await
    }

    /// Deletes chunks that no manifest and no partial download refers to (left by a crash,
    /// a delete or an eviction); returns how many.
    pub async fn gc(&self) -> Result<usize> {
        let mut live = HashSet::new();
        for m in self.manifests().await? {
            live.extend(m.files.into_iter().flat_map(|f| f.chunks).map(|c| c.sha256));
        }
        for p in self.partials().await? {
            live.extend(p.file.chunks.into_iter().map(|c| c.sha256));
        }
        let dead: Vec<String> = self.backend.chunk_keys().await?.into_iter().filter(|k| !live.contains(k)).collect();
        self.backend.delete_chunks(&dead).await?;
        Ok(dead.len())
    }

    pub async fn usage(&self) -> Result<Usage> {
        let manifests = self.manifests().await?;
        let mut distinct: HashMap<String, u64> = HashMap::new();
        for c in manifests.iter().flat_map(|m| &m.files).flat_map(|f| &f.chunks) {
            distinct.insert(c.sha256.clone(), c.size);
        }
        let mut partial_bytes = 0;
        for p in self.partials().await? {
            for c in p.file.chunks {
                if distinct.insert(c.sha256, c.size).is_none() {
                    partial_bytes += c.size;
                }
            }
        }
        let estimate = self.backend.estimate().await?;
        Ok(Usage {
            bytes: distinct.values().sum(),
            logical_bytes: manifests.iter().map(Manifest::bytes).sum(),
            models: manifests.iter().filter(|m| !is_held(&m.source)).count(),
            chunks: distinct.len(),
            partial_bytes,
            budget: self.budget.get(),
            origin_usage: estimate.map(|e| e.usage),
            origin_quota: estimate.map(|e| e.quota),
        })
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Records are plain structs of strings and numbers; serialising them cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}
