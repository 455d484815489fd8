//! Where a model's files come from in the browser: the weight store when it holds the
//! model (verified), else the network, streamed into the store chunk by chunk and
//! committed once the model builds. Concurrent loads of one source in a page share a
//! single download.

use super::control::{Control, Interrupted};
use super::fetch::{failed, fetch_files, open, report};
use super::ipfs_fetch::IpfsDir;
use super::remote::Remote;
use crate::error::{Error, Result};
use crate::models::files::MadeSlot;
use crate::models::files::WEIGHTS;
use crate::models::{FileSpec, ModelFiles};
use crate::store::{
    held_key, keep_held, now_ms, read_held, read_model_sharing, FileEntry, FileWriter, IdbBackend, Manifest, Partial,
    Store, SCHEMA,
};
use crate::weights::{AlignedBuf, Lookup};
use std::cell::RefCell;
use std::collections::HashMap;

pub type WebStore = Store<IdbBackend>;

/// Where a load found its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Cache,
    Network,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Cache => "cache",
            Origin::Network => "network",
        }
    }
}

thread_local! {
    /// Loads under way, by store and source: a later load of the same waits for this
    /// promise and then finds the model in the store.
    static IN_FLIGHT: RefCell<HashMap<String, js_sys::Promise>> = RefCell::new(HashMap::new());
}

/// Holds a source for one load; dropping it (on success, error or cancellation) lets the
/// next load of that source go.
struct Claim {
    key: String,
    release: js_sys::Function,
}

impl Drop for Claim {
    fn drop(&mut self) {
        IN_FLIGHT.with(|m| m.borrow_mut().remove(&self.key));
        let _ = self.release.call0(&wasm_bindgen::JsValue::NULL);
    }
}

/// Waits for any load of `key` under way to end (or `control`'s signal), then holds it.
async fn claim(key: String, control: &Control) -> Result<Claim> {
    while let Some(p) = IN_FLIGHT.with(|m| m.borrow().get(&key).cloned()) {
        if let Err(Interrupted::Aborted(e)) = control.wait(p).await {
            return Err(e);
        }
    }
    let mut release = None;
    let p = js_sys::Promise::new(&mut |resolve, _| release = Some(resolve));
    IN_FLIGHT.with(|m| m.borrow_mut().insert(key.clone(), p));
    // `Promise::new` runs its executor at once, so `release` is set.
    Ok(Claim { key, release: release.unwrap_or_else(|| js_sys::Function::new_no_args("")) })
}

/// What a load can reuse instead of reading the weights file: what the caller's session
/// holds, and the held weights the store kept for the load's form.
pub struct Reuse<'a> {
    /// Whether the session already holds a weights file (by sha-256) in the load's form.
    pub session: &'a dyn Fn(&str) -> bool,
    /// The load's form (`WeightDtype::id`) when it is not f32: the store's held weights
    /// for it are read instead of the file, or kept after a load that made them.
    pub form: Option<String>,
    /// The tensor the session holds with a digest, if any: a load without the store takes
    /// it instead of allocating the file's copy.
    pub tensor: Lookup<'a>,
}

impl Reuse<'_> {
    /// Nothing: every file is read.
    pub const NOTHING: Reuse<'static> = Reuse { session: &|_| false, form: None, tensor: &|_| None };
}

/// Loads a model's files from `remote`, through `store` when there is one, and builds the
/// model from them with `build`. A download's manifest is committed only once `build`
/// succeeds, so files that do not parse (an HTML page for `config.json`, a cut-off
/// weights file) are never served from the store; a stored model that no longer builds is
/// deleted and fetched again. The weights file is not read when the session holds it or
/// the store kept the load's held weights (`reuse`); a load that made held weights leaves
/// them in the store.
pub async fn load_model<T>(
    remote: &Remote,
    spec: &[FileSpec],
    store: Option<&WebStore>,
    progress: Option<&js_sys::Function>,
    control: &Control,
    reuse: &Reuse<'_>,
    build: &mut dyn FnMut(ModelFiles) -> Result<T>,
) -> Result<(T, Origin)> {
    // One copy of the loading logic serves every model type: it sees only `Build`.
    let mut model = None;
    let origin = load(remote, spec, store, progress, control, reuse, &mut |files| {
        model = Some(build(files)?);
        Ok(())
    })
    .await?;
    Ok((model.ok_or_else(|| Error::StoreFailed("the model was not built".into()))?, origin))
}

/// Builds the model from its files, keeping it where the caller can take it.
type Build<'a> = dyn FnMut(ModelFiles) -> Result<()> + 'a;

async fn load(
    remote: &Remote,
    spec: &[FileSpec],
    store: Option<&WebStore>,
    progress: Option<&js_sys::Function>,
    control: &Control,
    reuse: &Reuse<'_>,
    build: &mut Build<'_>,
) -> Result<Origin> {
    let Some(store) = store else {
        build(fetch_files(remote, spec, progress, control, Some(reuse.tensor)).await?)?;
        return Ok(Origin::Network);
    };
    let source = remote.key();
    let _claim = claim(format!("{}\n{source}", store.backend().name()), control).await?;
    let made = reuse.form.as_ref().map(|_| MadeSlot::default());
    let Some(mut m) = store.manifest(&source).await? else {
        let sha = download(store, remote, spec, progress, control, made.as_ref(), build).await?;
        keep(store, sha, reuse, made).await;
        return Ok(Origin::Network);
    };
    let mut on_read = |file: &str, loaded: u64, total: u64| report(progress, file, loaded, Some(total));
    let sha = m.sha256_of(WEIGHTS);
    let kept = match (&reuse.form, &sha) {
        (Some(form), Some(sha)) if !(reuse.session)(sha) => read_held(store, sha, form, &mut on_read).await?,
        _ => None,
    };
    let had_kept = kept.is_some();
    let skip = |s: &str| had_kept || (reuse.session)(s);
    let read = read_model_sharing(store, &m, spec, &skip, &mut on_read).await?;
    let mut built = read.map(|mut files| {
        (files.held, files.made) = (kept, made.clone());
        (files.weights_skipped(), build(files))
    });
    // The session let the weights go while the other files were read, or the held
    // weights did not build: read the file after all, rather than take the stored model
    // for a broken one.
    if matches!(built, Ok((true, Err(_)))) {
        if let (true, Some(form), Some(sha)) = (had_kept, &reuse.form, &sha) {
            store.delete(&held_key(sha, form)).await?;
        }
        built = read_model_sharing(store, &m, spec, &|_| false, &mut on_read).await?.map(|mut files| {
            files.made = made.clone();
            (false, build(files))
        });
    }
    match built.map(|(_, b)| b) {
        Ok(built) => match built {
            Ok(()) => {
                store.touch(&mut m).await?;
                keep(store, sha, reuse, made).await;
                Ok(Origin::Cache)
            }
            // Stored by a version that checked less, say: never serve it again.
            Err(invalid) => {
                store.delete(&source).await?;
                match download(store, remote, spec, progress, control, made.as_ref(), build).await {
                    Ok(sha) => {
                        keep(store, sha, reuse, made).await;
                        Ok(Origin::Network)
                    }
                    Err(Error::FetchFailed { .. }) => Err(invalid),
                    Err(e) => Err(e),
                }
            }
        },
        // Damaged or missing chunks: fetch again (good chunks are rewritten unchanged).
        Err(corrupt) => match download(store, remote, spec, progress, control, made.as_ref(), build).await {
            Ok(sha) => {
                keep(store, sha, reuse, made).await;
                Ok(Origin::Network)
            }
            Err(Error::FetchFailed { reason, url }) => {
                Err(Error::CacheCorrupt { source_url: source, detail: corrupt, reason: format!("{url}: {reason}") })
            }
            Err(e) => Err(e),
        },
    }
}

/// Keeps the held weights a load made (if it made any) for the weights file `sha`. The
/// load has succeeded whatever happens here: a copy that does not fit, or a store that
/// fails to write it, only means the next load quantizes again (`keep_held` leaves
/// nothing half-written).
async fn keep(store: &WebStore, sha: Option<String>, reuse: &Reuse<'_>, made: Option<MadeSlot>) {
    let bytes = made.and_then(|m| m.lock().unwrap_or_else(|p| p.into_inner()).take());
    if let (Some(bytes), Some(sha), Some(form)) = (bytes, sha, &reuse.form) {
        let _ = keep_held(store, &sha, form, &bytes).await;
    }
}

/// Downloads every file into the store, builds the model and then commits the manifest;
/// the model and its weights file's sha-256. Running out of space, or files the model
/// cannot be built from, leave nothing of the model; a broken or aborted connection keeps
/// the stored chunks for a retry.
async fn download(
    store: &WebStore,
    remote: &Remote,
    spec: &[FileSpec],
    progress: Option<&js_sys::Function>,
    control: &Control,
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
        let mut bufs = HashMap::new();
        let ipfs = remote.ipfs(progress, control);
        for f in spec {
            let got = match &ipfs {
                Some(dir) => download_ipfs_file(store, source, dir, f.name, !f.required, progress, control).await?,
                None => download_file(store, source, f.name, !f.required, progress, control).await?,
            };
            if let Some((entry, buf)) = got {
                m.files.push(entry);
                bufs.insert(f.name, buf);
            }
        }
        let mut files = ModelFiles::from_named(spec, |n| Ok(bufs.remove(n)))?;
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

/// A file's writer: after its stored chunks when `resumable` allows the partial record
/// (and they read back whole), else fresh.
enum Written<'s> {
    /// Every byte was stored before (only the manifest was missing): the file.
    Complete((FileEntry, AlignedBuf)),
    Partly(FileWriter<'s, IdbBackend>),
}

async fn writer<'s>(
    store: &'s WebStore,
    source: &str,
    name: &str,
    resumable: &dyn Fn(&Partial) -> bool,
    progress: Option<&js_sys::Function>,
) -> Result<Written<'s>> {
    let w = match store.partial(source, name).await? {
        Some(p) if resumable(&p) => {
            FileWriter::resume(store, p).await?.unwrap_or_else(|| FileWriter::fresh(store, source, name))
        }
        _ => FileWriter::fresh(store, source, name),
    };
    if w.is_complete() {
        report(progress, name, w.offset(), Some(w.offset()));
        return w.finish().await.map(Written::Complete);
    }
    Ok(Written::Partly(w))
}

/// One file: resumed after its stored chunks when a partial record and a validator allow
/// it, otherwise from the start. `None` for an optional file the server does not have.
async fn download_file(
    store: &WebStore,
    source: &str,
    name: &str,
    optional: bool,
    progress: Option<&js_sys::Function>,
    control: &Control,
) -> Result<Option<(FileEntry, AlignedBuf)>> {
    control.check()?;
    let url = format!("{source}{name}");
    // Only a validator can tell whether the stored chunks are still the server's file.
    let resumable = |p: &Partial| p.file.etag.is_some() || p.file.last_modified.is_some();
    let mut w = match writer(store, source, name, &resumable, progress).await? {
        Written::Complete(done) => return Ok(Some(done)),
        Written::Partly(w) => w,
    };
    let validator = w.entry().etag.clone().or_else(|| w.entry().last_modified.clone()).unwrap_or_default();
    let resume = (w.offset() > 0).then_some((w.offset(), validator.as_str()));
    let Some(mut d) = open(&url, resume, control).await? else {
        return if optional { Ok(None) } else { Err(failed(&url, "HTTP 404 Not Found")) };
    };
    if d.start != w.offset() {
        if d.start != 0 {
            return Err(failed(&url, format!("asked for bytes from {} but got them from {}", w.offset(), d.start)));
        }
        // The file changed (or the server ignores Range): start over.
        w = FileWriter::fresh(store, source, name);
    }
    w.set_remote(d.total, d.etag.take(), d.last_modified.take());
    if let Some(total) = d.total {
        // Fails early, evicting nothing, when the file could never fit; the room itself is
        // made chunk by chunk (`Store::put_chunk`), counting only chunks not yet stored.
        store.check_fits(source, name, total.saturating_sub(w.offset())).await?;
    }
    report(progress, name, w.offset(), d.total);
    while let Some(piece) = d.next().await? {
        piece.copy_to(w.space(piece.length() as usize)?);
        w.flush_full().await?;
        report(progress, name, w.offset(), d.total);
    }
    w.finish().await.map(Some)
}

/// One file of an IPFS directory: resumed after the chunks an interrupted load stored
/// (they were verified block by block when they arrived, and content by CID never
/// changes), else from the start. `None` for an optional file the directory lacks.
async fn download_ipfs_file(
    store: &WebStore,
    source: &str,
    dir: &IpfsDir<'_>,
    name: &str,
    optional: bool,
    progress: Option<&js_sys::Function>,
    control: &Control,
) -> Result<Option<(FileEntry, AlignedBuf)>> {
    control.check()?;
    let mut w = match writer(store, source, name, &|_| true, progress).await? {
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
            w.set_remote(Some(total), None, None);
            store.check_fits(source, name, total.saturating_sub(start)).await?;
            sized = true;
        }
        w.extend(&piece)?;
        w.flush_full().await?;
        report(progress, name, w.offset(), f.size());
    }
    w.finish().await.map(Some)
}
