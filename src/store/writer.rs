//! `FileWriter`: takes a file's bytes as they arrive, stores each full chunk as soon as it
//! is complete (so a broken download keeps every chunk it finished), and hands what it
//! stored to a `Sink`: the whole file in one buffer, or a weights file tensor by tensor.

use super::address::{sha256_hex, CHUNK_SIZE};
use super::backend::Backend;
use super::manifest::{ChunkRef, FileEntry, Partial, SCHEMA};
use super::weight_store::Store;
use crate::error::{Error, Result};
use crate::weights::{AlignedBuf, Sink};
use sha2::{Digest, Sha256};

pub struct FileWriter<'s, B, S = AlignedBuf> {
    store: &'s Store<B>,
    partial: Partial,
    /// Bytes not yet stored as a chunk (less than a chunk after each flush).
    tail: Vec<u8>,
    /// Bytes already stored as chunks, and given to `out`.
    stored: u64,
    hasher: Sha256,
    /// Where the file's bytes go once stored: the whole file in one buffer, or a
    /// weights file taken apart tensor by tensor (`weights::TensorSink`).
    out: S,
}

impl<'s, B: Backend> FileWriter<'s, B> {
    /// A writer for a file of `source` starting from nothing, gathering it whole.
    pub fn fresh(store: &'s Store<B>, source: &str, name: &str) -> Self {
        Self::fresh_into(store, source, name, AlignedBuf::default())
    }

    /// `resume_into`, gathering the file whole.
    pub async fn resume(store: &'s Store<B>, partial: Partial) -> Result<Option<Self>> {
        Self::resume_into(store, partial, AlignedBuf::default()).await
    }
}

impl<'s, B: Backend, S: Sink> FileWriter<'s, B, S> {
    /// A writer for a file of `source` starting from nothing, its bytes going to `out`.
    pub fn fresh_into(store: &'s Store<B>, source: &str, name: &str, out: S) -> Self {
        let partial = Partial {
            schema: SCHEMA,
            source: source.into(),
            file: FileEntry::new(name),
            complete: false,
            updated: 0.0,
        };
        FileWriter { store, partial, tail: Vec::new(), stored: 0, hasher: Sha256::new(), out }
    }

    /// A writer that carries on after a stored partial download: its chunks are read back
    /// into `out` (the model needs the bytes anyway) and checked. `None` when any is
    /// missing or wrong, and the download must start over (with a new `out`).
    pub async fn resume_into(store: &'s Store<B>, partial: Partial, mut out: S) -> Result<Option<Self>> {
        let mut hasher = Sha256::new();
        if partial.file.size != 0 {
            out.sized(partial.file.size)?;
        }
        let stored = partial.file.stored();
        let read = store
            .read_chunks(
                &FileEntry { size: stored, ..partial.file.clone() },
                &mut |b| {
                    hasher.update(b);
                    out.put(b)
                },
                &mut |_| {},
            )
            .await?;
        if read.is_err() {
            return Ok(None);
        }
        Ok(Some(FileWriter { store, partial, tail: Vec::new(), stored, hasher, out }))
    }

    /// Bytes the writer holds (resumed ones included): where a resumed request starts.
    pub fn offset(&self) -> u64 {
        self.stored + self.tail.len() as u64
    }

    /// How many bytes fit before the next chunk is complete: a caller that takes pieces
    /// of any size in at most this many at a time (flushing between) holds one chunk.
    pub fn room(&self) -> usize {
        CHUNK_SIZE.saturating_sub(self.tail.len()).max(1)
    }

    /// Whether every byte was stored before (only the manifest is missing).
    pub fn is_complete(&self) -> bool {
        self.partial.complete
    }

    pub fn entry(&self) -> &FileEntry {
        &self.partial.file
    }

    /// Records what the server says of the file: its full size and validators.
    pub fn set_remote(&mut self, size: Option<u64>, etag: Option<String>, last_modified: Option<String>) -> Result<()> {
        self.partial.file.size = size.unwrap_or(0);
        self.partial.file.etag = etag;
        self.partial.file.last_modified = last_modified;
        match size {
            Some(n) => self.out.sized(n),
            None => Ok(()),
        }
    }

    /// Room for `n` more bytes, to be filled in place by the caller.
    pub fn space(&mut self, n: usize) -> Result<&mut [u8]> {
        let at = self.tail.len();
        self.tail.try_reserve(n).map_err(|_| Error::OutOfMemory(format!("{n} more bytes of a download")))?;
        self.tail.resize(at + n, 0);
        Ok(&mut self.tail[at..])
    }

    /// Appends bytes (a convenience over `space`).
    pub fn extend(&mut self, bytes: &[u8]) -> Result<()> {
        self.space(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// Stores every complete chunk the writer now holds.
    pub async fn flush_full(&mut self) -> Result<()> {
        let mut at = 0;
        let r = loop {
            if self.tail.len() - at < CHUNK_SIZE {
                break Ok(());
            }
            if let Err(e) = self.store_chunk(at, CHUNK_SIZE).await {
                break Err(e);
            }
            at += CHUNK_SIZE;
        };
        self.tail.drain(..at);
        r
    }

    /// Stores `tail[at..at + len]` as the next chunk and gives it to `out`.
    async fn store_chunk(&mut self, at: usize, len: usize) -> Result<()> {
        let bytes = &self.tail[at..at + len];
        self.hasher.update(bytes);
        let key = sha256_hex(bytes);
        self.partial.file.chunks.push(ChunkRef { sha256: key.clone(), size: len as u64 });
        self.partial.updated = super::now_ms();
        if let Err(e) = self.store.put_chunk(&key, bytes, &self.partial).await {
            self.partial.file.chunks.pop();
            return Err(e);
        }
        self.stored += len as u64;
        self.out.put(bytes)
    }

    /// Stores the last chunk, checks the length against what the server announced, and
    /// marks the file complete. Returns its entry and where its bytes went.
    pub async fn finish(mut self) -> Result<(FileEntry, S)> {
        if self.partial.complete {
            return Ok((self.partial.file, self.out));
        }
        self.flush_full().await?;
        let n = self.offset();
        let announced = self.partial.file.size;
        if announced != 0 && announced != n {
            return Err(Error::StoreFailed(format!(
                "{}: received {n} bytes but the server announced {announced}",
                self.partial.file.name
            )));
        }
        self.partial.file.size = n;
        self.partial.complete = true;
        if !self.tail.is_empty() {
            let digest = self.hasher.clone().chain_update(&self.tail).finalize();
            self.partial.file.sha256 = data_encoding::HEXLOWER.encode(&digest);
            self.store_chunk(0, self.tail.len()).await?;
        } else {
            self.partial.file.sha256 = data_encoding::HEXLOWER.encode(&self.hasher.clone().finalize());
            self.store.put_partial(&self.partial).await?;
        }
        Ok((self.partial.file, self.out))
    }
}
