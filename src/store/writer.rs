//! `FileWriter`: takes a file's bytes as they arrive, keeps the whole file in one buffer
//! for the model, and stores each full chunk as soon as it is complete, so a broken
//! download keeps every chunk it finished.

use super::address::{sha256_hex, CHUNK_SIZE};
use super::backend::Backend;
use super::manifest::{ChunkRef, FileEntry, Partial, SCHEMA};
use super::weight_store::Store;
use crate::error::{Error, Result};
use crate::weights::AlignedBuf;
use sha2::{Digest, Sha256};

pub struct FileWriter<'s, B> {
    store: &'s Store<B>,
    partial: Partial,
    buf: AlignedBuf,
    /// Bytes of `buf` already stored as chunks.
    stored: usize,
    hasher: Sha256,
}

impl<'s, B: Backend> FileWriter<'s, B> {
    /// A writer for a file of `source` starting from nothing.
    pub fn fresh(store: &'s Store<B>, source: &str, name: &str) -> Self {
        let partial = Partial {
            schema: SCHEMA,
            source: source.into(),
            file: FileEntry::new(name),
            complete: false,
            updated: 0.0,
        };
        FileWriter { store, partial, buf: AlignedBuf::default(), stored: 0, hasher: Sha256::new() }
    }

    /// A writer that carries on after a stored partial download: its chunks are read back
    /// (the model needs the bytes anyway) and checked. `None` when any is missing or wrong,
    /// and the download must start over.
    pub async fn resume(store: &'s Store<B>, partial: Partial) -> Result<Option<Self>> {
        let buf = match store
            .read_file(&FileEntry { size: partial.file.stored(), ..partial.file.clone() }, &mut |_| {})
            .await?
        {
            Ok(b) => b,
            Err(_) => return Ok(None),
        };
        let mut hasher = Sha256::new();
        hasher.update(buf.as_bytes());
        let stored = buf.len();
        Ok(Some(FileWriter { store, partial, buf, stored, hasher }))
    }

    /// Bytes the writer holds (resumed ones included): where a resumed request starts.
    pub fn offset(&self) -> u64 {
        self.buf.len() as u64
    }

    /// Whether every byte was stored before (only the manifest is missing).
    pub fn is_complete(&self) -> bool {
        self.partial.complete
    }

    pub fn entry(&self) -> &FileEntry {
        &self.partial.file
    }

    /// Records what the server says of the file: its full size and validators.
    pub fn set_remote(&mut self, size: Option<u64>, etag: Option<String>, last_modified: Option<String>) {
        self.partial.file.size = size.unwrap_or(0);
        self.partial.file.etag = etag;
        self.partial.file.last_modified = last_modified;
    }

    /// Room for `n` more bytes, to be filled in place by the caller; `out_of_memory` when
    /// the file outgrows what one buffer can hold.
    pub fn space(&mut self, n: usize) -> Result<&mut [u8]> {
        self.buf.grow(n)
    }

    /// Appends bytes (a convenience over `space`).
    pub fn extend(&mut self, bytes: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(bytes)
    }

    /// Stores every complete chunk the buffer now holds.
    pub async fn flush_full(&mut self) -> Result<()> {
        while self.buf.len() - self.stored >= CHUNK_SIZE {
            self.store_chunk(CHUNK_SIZE).await?;
        }
        Ok(())
    }

    async fn store_chunk(&mut self, len: usize) -> Result<()> {
        let bytes = &self.buf.as_bytes()[self.stored..self.stored + len];
        self.hasher.update(bytes);
        let key = sha256_hex(bytes);
        self.partial.file.chunks.push(ChunkRef { sha256: key.clone(), size: len as u64 });
        self.partial.updated = super::now_ms();
        if let Err(e) = self.store.put_chunk(&key, bytes, &self.partial).await {
            self.partial.file.chunks.pop();
            return Err(e);
        }
        self.stored += len;
        Ok(())
    }

    /// Stores the last chunk, checks the length against what the server announced, and
    /// marks the file complete. Returns its entry and all its bytes.
    pub async fn finish(mut self) -> Result<(FileEntry, AlignedBuf)> {
        if self.partial.complete {
            return Ok((self.partial.file, self.buf));
        }
        self.flush_full().await?;
        let n = self.buf.len();
        let announced = self.partial.file.size;
        if announced != 0 && announced != n as u64 {
            return Err(Error::StoreFailed(format!(
                "{}: received {n} bytes but the server announced {announced}",
                self.partial.file.name
            )));
        }
        self.partial.file.size = n as u64;
        self.partial.complete = true;
        if n > self.stored {
            let tail = n - self.stored;
            let digest = self.hasher.clone().chain_update(&self.buf.as_bytes()[self.stored..]).finalize();
            self.partial.file.sha256 = data_encoding::HEXLOWER.encode(&digest);
            self.store_chunk(tail).await?;
        } else {
            self.partial.file.sha256 = data_encoding::HEXLOWER.encode(&self.hasher.clone().finalize());
            self.store.put_partial(&self.partial).await?;
        }
        Ok((self.partial.file, self.buf))
    }
}
