//! A whole model in and out of the store: its files read back into `ModelFiles`, a set of
//! files already in memory (a directory, natively) written as one manifest, and the
//! weights a quantized load made (`weights::write_held`), kept as a derived artifact under
//! the weights file's sha-256 and the form, so that the next load reads those instead.

use super::address::CHUNK_SIZE;
use super::backend::Backend;
use super::manifest::{FileEntry, Manifest, SCHEMA};
use super::weight_store::{Corrupt, Store};
use super::writer::FileWriter;
use crate::error::Result;
use crate::models::files::WEIGHTS;
use crate::models::{FileSpec, ModelFiles};
use crate::weights::{AlignedBuf, Discard, Sink, Streamed};
use std::collections::HashMap;

/// Reads every file of a stored model, verified. `progress(file, loaded, total)` follows
/// the reads. The inner error names the first corrupt or missing piece.
pub async fn read_model<B: Backend>(
    store: &Store<B>,
    m: &Manifest,
    spec: &[FileSpec],
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<std::result::Result<ModelFiles, Corrupt>> {
    read_model_sharing(store, m, spec, &|_| false, &AlignedBuf::default, progress).await
}

/// `read_model` (the files of `spec` the manifest has), leaving out the weights file when
/// `held(its sha-256)` says a session already holds it (its bytes are then empty), and
/// otherwise reading it into a sink from `weights` (a `TensorSink` takes from the session
/// the tensors it holds). The files carry the weights file's sha-256 either way.
pub async fn read_model_sharing<B: Backend, S: Sink>(
    store: &Store<B>,
    m: &Manifest,
    spec: &[FileSpec],
    held: &dyn Fn(&str) -> bool,
    weights: &dyn Fn() -> S,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<std::result::Result<ModelFiles, Corrupt>> {
    let mut got = HashMap::new();
    for f in &m.files {
        let mut on_read = |n| progress(&f.name, n, f.size);
        let read = match f.name == WEIGHTS {
            true if held(&f.sha256) => Ok(Streamed::Whole(AlignedBuf::default())),
            true => read_weights(store, f, weights, &mut on_read).await?,
            false => store.read_file(f, &mut on_read).await?.map(Streamed::Whole),
        };
        match read {
            Ok(s) => got.insert(f.name.as_str(), s),
            Err(c) => return Ok(Err(c)),
        };
    }
    let mut files = match ModelFiles::from_streamed(spec, got) {
        Ok(f) => f,
        Err(e) => return Ok(Err(e.to_string())),
    };
    files.weights_id = m.sha256_of(WEIGHTS);
    Ok(Ok(files))
}

/// The weights file `f` into a sink from `weights`. When the sink refuses what is stored
/// (a version that checked less stored it), the file is read again whole, for the build
/// to fail on and name, so that the caller drops the stored model and fetches it again.
async fn read_weights<B: Backend, S: Sink>(
    store: &Store<B>,
    f: &FileEntry,
    weights: &dyn Fn() -> S,
    progress: &mut dyn FnMut(u64),
) -> Result<std::result::Result<Streamed, Corrupt>> {
    let mut sink = weights();
    sink.sized(f.size)?;
    let mut refused = false;
    let mut each = |b: &[u8]| {
        refused = refused || sink.put(b).is_err();
        Ok(())
    };
    if let Err(c) = store.read_chunks(f, &mut each, progress).await? {
        return Ok(Err(c));
    }
    match (refused, sink.finish()) {
        (false, Ok(s)) => Ok(Ok(s)),
        _ => Ok(store.read_file(f, progress).await?.map(Streamed::Whole)),
    }
}

/// Writes a model's files (name, bytes) under `source` and commits its manifest.
pub async fn write_model<B: Backend>(store: &Store<B>, source: &str, files: &[(&str, &[u8])]) -> Result<Manifest> {
    let needed = files.iter().map(|(_, b)| b.len() as u64).sum();
    store.check_fits(source, source, needed).await?;
    let mut m =
        Manifest { schema: SCHEMA, source: source.into(), files: Vec::new(), created: 0.0, last_used: 0.0, cid: None };
    for (name, bytes) in files {
        match write_file(store, source, name, bytes).await {
            Ok(entry) => m.files.push(entry),
            Err(e) => {
                store.abandon(source).await?;
                return Err(e);
            }
        }
    }
    m.created = super::now_ms();
    m.last_used = m.created;
    store.commit(&m).await?;
    Ok(m)
}

/// One file of `write_model`, a chunk at a time: the caller has the bytes, so the writer
/// keeps none of them.
async fn write_file<B: Backend>(store: &Store<B>, source: &str, name: &str, bytes: &[u8]) -> Result<FileEntry> {
    let mut w = FileWriter::fresh_into(store, source, name, Discard::default());
    w.set_remote(Some(bytes.len() as u64), None, None)?;
    for piece in bytes.chunks(CHUNK_SIZE) {
        w.extend(piece)?;
        w.flush_full().await?;
    }
    Ok(w.finish().await?.0)
}

/// The name the held weights go by in their manifest (and in load progress).
pub const HELD_FILE: &str = "model.held.safetensors";

/// The manifest key of the weights that the form `form` (`WeightDtype::id`) makes from
/// the weights file with sha-256 `weights`: by content, so two sources of one file share it.
pub fn held_key(weights: &str, form: &str) -> String {
    format!("{HELD_PREFIX}{weights}:{form}")
}

/// What every held-weights manifest key starts with (no model source does: sources are URLs).
pub const HELD_PREFIX: &str = "held:";

/// The held weights the store keeps for `weights` in `form`, verified, or `None` (a
/// damaged copy is deleted). `progress(file, loaded, total)` follows the read.
pub async fn read_held<B: Backend>(
    store: &Store<B>,
    weights: &str,
    form: &str,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<Option<AlignedBuf>> {
    let key = held_key(weights, form);
    let Some(mut m) = store.manifest(&key).await? else { return Ok(None) };
    let Some(f) = m.file(HELD_FILE).cloned() else { return Ok(None) };
    match store.read_file(&f, &mut |n| progress(HELD_FILE, n, f.size)).await? {
        Ok(buf) => {
            store.touch(&mut m).await?;
            Ok(Some(buf))
        }
        Err(_) => {
            store.delete(&key).await?;
            Ok(None)
        }
    }
}

/// Keeps the held weights `bytes` for `weights` in `form`, when they fit in the room the
/// store has now: a derived copy never evicts a model. Whether they were written.
pub async fn keep_held<B: Backend>(store: &Store<B>, weights: &str, form: &str, bytes: &[u8]) -> Result<bool> {
    let key = held_key(weights, form);
    if store.manifest(&key).await?.is_some() || store.available().await? < bytes.len() as u64 {
        return Ok(false);
    }
    write_model(store, &key, &[(HELD_FILE, bytes)]).await.map(|_| true)
}

/// Whether a manifest key names held weights rather than a model source.
pub(super) fn is_held(source: &str) -> bool {
    source.starts_with(HELD_PREFIX)
}
