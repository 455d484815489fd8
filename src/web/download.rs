//! A model's download into the weight store: each file streamed in, stored chunk by
//! chunk (resumed after the chunks an interrupted load stored), and the manifest
//! committed only once the model builds from what arrived.

use super::control::Control;
use super::fetch::{failed, open, report};
use super::ipfs_fetch::IpfsDir;
use super::model_source::{Build, Reuse, WebStore};
use super::remote::Remote;
use super::sink::FileSink;
use crate::error::{Error, Result};
use crate::models::files::{MadeSlot, WEIGHTS};
use crate::models::{FileSpec, ModelFiles};
use crate::store::{now_ms, FileEntry, FileWriter, IdbBackend, Manifest, Partial, SCHEMA};
use crate::weights::{Sink, Streamed};
use std::collections::HashMap;

/// Downloads every file into the store, builds the model and then commits the manifest;
/// the model and its weights file's sha-256. Running out of space, or files the model
/// cannot be built from, leave nothing of the model; a broken or aborted connection keeps
/// the stored chunks for a retry. With a session, the weights file is read tensor by
/// tensor as it arrives (`reuse.tensor`).
#[allow(clippy::too_many_arguments)]
pub(super) async fn download(
    store: &WebStore,
    remote: &Remote,
    spec: &[FileSpec],
    progress: Option<&js_sys::Function>,
    control: &Control,
    reuse: &Reuse<'_>,
    made: Option<&MadeSlot>,
    build: &mut Build<'_>,
) -> Result<Option<String>> {
    let source = &remote.key();
    let r = async {
        let mut m = Manifest {
            schema: SCHEMA,
            source: source.into(),
            files: Vec::new(),
            created: 0.0,
            last_used: 0.0,
            cid: None,
        };
        let mut got = HashMap::new();
        let ipfs = remote.ipfs(progress, control);
        let to = Place { store, source, dir: ipfs.as_ref(), progress, control };
        for f in spec {
            if let Some((entry, file)) = to.download(f, &|| FileSink::for_file(f.name, reuse.tensor)).await? {
                m.files.push(entry);
                got.insert(f.name, file);
            }
        }
        let mut files = ModelFiles::from_streamed(spec, got)?;
        files.weights_id = m.sha256_of(WEIGHTS);
        files.made = made.cloned();
        build(files)?;
        m.created = now_ms();
        m.last_used = m.created;
        store.commit(&m).await?;
        Ok(m.sha256_of(WEIGHTS))
    }
    .await;
    match &r {
        // Network failures keep what arrived verified, for the next load to resume.
        Err(Error::FetchFailed { .. } | Error::Aborted(_) | Error::Integrity { .. }) | Ok(_) => {}
        Err(_) => store.abandon(source).await?,
    }
    r
}

/// Where a download's files come from and go: into the store under `source`, from the
/// IPFS directory when there is one, else from the source's URLs.
struct Place<'a> {
    store: &'a WebStore,
    source: &'a str,
    dir: Option<&'a IpfsDir<'a>>,
    progress: Option<&'a js_sys::Function>,
    control: &'a Control,
}

/// A file's writer: after its stored chunks when `resumable` allows the partial record
/// (and they read back whole), else fresh.
enum Written<'s, S> {
    /// Every byte was stored before (only the manifest was missing): the file.
    Complete((FileEntry, S)),
    Partly(FileWriter<'s, IdbBackend, S>),
}

impl<'a> Place<'a> {
    /// The file `f` into the store and into a sink from `mk`, which it then gives;
    /// `None` for an optional file the source does not have.
    async fn download<S: Sink>(&self, f: &FileSpec, mk: &dyn Fn() -> S) -> Result<Option<(FileEntry, Streamed)>> {
        self.control.check()?;
        let got = match self.dir {
            Some(dir) => self.ipfs_file(dir, f.name, !f.required, mk).await?,
            None => self.http_file(f.name, !f.required, mk).await?,
        };
        got.map(|(entry, sink)| Ok((entry, sink.finish()?))).transpose()
    }

    async fn writer<S: Sink>(
        &self,
        name: &str,
        resumable: &dyn Fn(&Partial) -> bool,
        mk: &dyn Fn() -> S,
    ) -> Result<Written<'a, S>> {
        let (store, source) = (self.store, self.source);
        let resumed = match store.partial(source, name).await? {
            Some(p) if resumable(&p) => FileWriter::resume_into(store, p, mk()).await?,
            _ => None,
        };
        let w = resumed.unwrap_or_else(|| FileWriter::fresh_into(store, source, name, mk()));
        if w.is_complete() {
            report(self.progress, name, w.offset(), Some(w.offset()));
            return w.finish().await.map(Written::Complete);
        }
        Ok(Written::Partly(w))
    }

    /// One file by URL: resumed after its stored chunks when a partial record and a
    /// validator allow it, otherwise from the start.
    async fn http_file<S: Sink>(
        &self,
        name: &str,
        optional: bool,
        mk: &dyn Fn() -> S,
    ) -> Result<Option<(FileEntry, S)>> {
        let (store, source, progress) = (self.store, self.source, self.progress);
        let url = format!("{source}{name}");
        // Only a validator can tell whether the stored chunks are still the server's file.
        let resumable = |p: &Partial| p.file.etag.is_some() || p.file.last_modified.is_some();
        let mut w = match self.writer(name, &resumable, mk).await? {
            Written::Complete(done) => return Ok(Some(done)),
            Written::Partly(w) => w,
        };
        let validator = w.entry().etag.clone().or_else(|| w.entry().last_modified.clone()).unwrap_or_default();
        let resume = (w.offset() > 0).then_some((w.offset(), validator.as_str()));
        let Some(mut d) = open(&url, resume, self.control).await? else {
            return if optional { Ok(None) } else { Err(failed(&url, "HTTP 404 Not Found")) };
        };
        if d.start != w.offset() {
            if d.start != 0 {
                return Err(failed(&url, format!("asked for bytes from {} but got them from {}", w.offset(), d.start)));
            }
            // The file changed (or the server ignores Range): start over.
            w = FileWriter::fresh_into(store, source, name, mk());
        }
        w.set_remote(d.total, d.etag.take(), d.last_modified.take())?;
        if let Some(total) = d.total {
            // Fails early, evicting nothing, when the file could never fit; the room itself
            // is made chunk by chunk (`Store::put_chunk`), counting only chunks not yet stored.
            store.check_fits(source, name, total.saturating_sub(w.offset())).await?;
        }
        report(progress, name, w.offset(), d.total);
        while let Some(piece) = d.next().await? {
            // A chunk at a time: a browser may hand over many megabytes in one piece.
            let mut at = 0;
            while at < piece.length() {
                let end = piece.length().min(at.saturating_add(w.room() as u32));
                piece.subarray(at, end).copy_to(w.space((end - at) as usize)?);
                w.flush_full().await?;
                at = end;
            }
            report(progress, name, w.offset(), d.total);
        }
        w.finish().await.map(Some)
    }

    /// One file of an IPFS directory: resumed after the chunks an interrupted load stored
    /// (they were verified block by block when they arrived, and content by CID never
    /// changes), else from the start.
    async fn ipfs_file<S: Sink>(
        &self,
        dir: &IpfsDir<'_>,
        name: &str,
        optional: bool,
        mk: &dyn Fn() -> S,
    ) -> Result<Option<(FileEntry, S)>> {
        let (store, source, progress) = (self.store, self.source, self.progress);
        let mut w = match self.writer(name, &|_| true, mk).await? {
            Written::Complete(done) => return Ok(Some(done)),
            Written::Partly(w) => w,
        };
        let Some(cid) = dir.find(name).await? else {
            return if optional { Ok(None) } else { Err(dir.missing(name)) };
        };
        let start = w.offset();
        let mut f = dir.file(cid, name, start);
        let mut sized = false;
        report(progress, name, start, None);
        while let Some(piece) = f.next().await? {
            if let (false, Some(total)) = (sized, f.size()) {
                w.set_remote(Some(total), None, None)?;
                store.check_fits(source, name, total.saturating_sub(start)).await?;
                sized = true;
            }
            w.extend(&piece)?;
            w.flush_full().await?;
            report(progress, name, w.offset(), f.size());
        }
        w.finish().await.map(Some)
    }
}
