//! What a place that holds chunks and records must do; IndexedDB and a directory do it.

use crate::error::Result;
use crate::weights::AlignedBuf;

/// The kinds of record beside the chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Manifest,
    Partial,
    /// The store's own settings (its byte budget), under one key.
    Meta,
}

/// The origin's storage use and quota, as `navigator.storage.estimate()` tells them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub usage: u64,
    pub quota: u64,
}

/// Storage for chunks (keyed by hex sha-256) and JSON records. A refused write for lack of
/// space is `Error::QuotaExceeded`; any other failure is `Error::StoreFailed`.
// The futures are awaited on one thread (the browser's), so they need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Backend {
    /// Appends the chunk's bytes to `out`; `false` when there is no such chunk.
    async fn read_chunk(&self, key: &str, out: &mut AlignedBuf) -> Result<bool>;
    /// Stores a chunk together with the partial record that now lists it, atomically, so
    /// that no stored chunk is ever unaccounted for.
    async fn put_chunk(&self, key: &str, bytes: &[u8], partial_key: &str, partial_json: &str) -> Result<()>;
    async fn chunk_keys(&self) -> Result<Vec<String>>;
    /// Whether a chunk is stored, without reading it.
    async fn has_chunk(&self, key: &str) -> Result<bool>;
    async fn delete_chunks(&self, keys: &[String]) -> Result<()>;
    async fn get_record(&self, kind: Kind, key: &str) -> Result<Option<String>>;
    async fn records(&self, kind: Kind) -> Result<Vec<String>>;
    async fn put_record(&self, kind: Kind, key: &str, json: &str) -> Result<()>;
    async fn delete_records(&self, kind: Kind, keys: &[String]) -> Result<()>;
    /// Writes a manifest and deletes the partial records it completes, atomically.
    async fn commit(&self, key: &str, manifest_json: &str, partial_keys: &[String]) -> Result<()>;
    /// The storage estimate where the platform has one.
    async fn estimate(&self) -> Result<Option<Estimate>>;
}
