//! The native backend: chunks and records as files under one directory. A record is
//! written to a temporary file and renamed into place, so it is whole or absent.

use super::backend::{Backend, Estimate, Kind};
use crate::error::{Error, Result};
use crate::weights::AlignedBuf;
use std::path::{Path, PathBuf};

pub struct DirBackend {
    root: PathBuf,
}

fn fail(what: &str, path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull {
        return Error::QuotaExceeded { what: what.into(), needed: 0, available: 0, detail: format!(": {e}") };
    }
    Error::StoreFailed(format!("{what} {}: {e}", path.display()))
}

fn dir_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Manifest => "manifests",
        Kind::Partial => "partials",
        Kind::Meta => "meta",
    }
}

impl DirBackend {
    /// Opens (creating) a store directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for sub in ["chunks", "manifests", "partials", "meta"] {
            let p = root.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| fail("creating", &p, e))?;
        }
        Ok(DirBackend { root })
    }

    /// Where a chunk lives (tests use it to damage one).
    pub fn chunk_path(&self, key: &str) -> PathBuf {
        self.root.join("chunks").join(key)
    }

    fn record_path(&self, kind: Kind, key: &str) -> PathBuf {
        let dir = dir_of(kind);
        // Keys are URLs; hex keeps them valid file names.
        self.root.join(dir).join(data_encoding::HEXLOWER.encode(key.as_bytes()))
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes).map_err(|e| fail("writing", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| fail("renaming", path, e))
    }

    fn remove(&self, path: &Path) -> Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(fail("deleting", path, e)),
            _ => Ok(()),
        }
    }

    fn names(&self, dir: &str) -> Result<Vec<PathBuf>> {
        let d = self.root.join(dir);
        let entries = std::fs::read_dir(&d).map_err(|e| fail("listing", &d, e))?;
        Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_none()).collect())
    }
}

impl Backend for DirBackend {
    async fn read_chunk(&self, key: &str, out: &mut AlignedBuf) -> Result<bool> {
        match crate::models::files::read_file(&self.chunk_path(key))? {
            Some(b) => {
                out.extend_from_slice(b.as_bytes())?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn put_chunk(&self, key: &str, bytes: &[u8], partial_key: &str, partial_json: &str) -> Result<()> {
        // The chunk first: a crash between the two leaves an unlisted chunk, which gc removes.
        self.write_atomic(&self.chunk_path(key), bytes)?;
        self.put_record(Kind::Partial, partial_key, partial_json).await
    }

    async fn chunk_keys(&self) -> Result<Vec<String>> {
        Ok(self.names("chunks")?.iter().filter_map(|p| p.file_name()?.to_str().map(String::from)).collect())
    }

    async fn has_chunk(&self, key: &str) -> Result<bool> {
        Ok(self.chunk_path(key).is_file())
    }

    async fn delete_chunks(&self, keys: &[String]) -> Result<()> {
        keys.iter().try_for_each(|k| self.remove(&self.chunk_path(k)))
    }

    async fn get_record(&self, kind: Kind, key: &str) -> Result<Option<String>> {
        let p = self.record_path(kind, key);
        match std::fs::read_to_string(&p) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fail("reading", &p, e)),
        }
    }

    async fn records(&self, kind: Kind) -> Result<Vec<String>> {
        self.names(dir_of(kind))?
            .iter()
            .map(|p| std::fs::read_to_string(p).map_err(|e| fail("reading", p, e)))
            .collect()
    }

    async fn put_record(&self, kind: Kind, key: &str, json: &str) -> Result<()> {
        self.write_atomic(&self.record_path(kind, key), json.as_bytes())
    }

    async fn delete_records(&self, kind: Kind, keys: &[String]) -> Result<()> {
        keys.iter().try_for_each(|k| self.remove(&self.record_path(kind, k)))
    }

    async fn commit(&self, key: &str, manifest_json: &str, partial_keys: &[String]) -> Result<()> {
        // The rename makes the manifest visible at once; partial records left by a crash
        // right after it only pin chunks the manifest holds anyway.
        self.put_record(Kind::Manifest, key, manifest_json).await?;
        self.delete_records(Kind::Partial, partial_keys).await
    }

    async fn estimate(&self) -> Result<Option<Estimate>> {
        Ok(None)
    }
}
