//! Where a model's files come from in the browser: the weight store when it holds the
//! model (verified), else the network, streamed into the store chunk by chunk and
//! committed once the model builds. Concurrent loads of one source in a page share a
//! single download.

use super::control::{Control, Interrupted};
use super::download::download;
use super::fetch::{fetch_files, report};
use super::remote::Remote;
use super::sink::FileSink;
use crate::error::{Error, Result};
use crate::models::files::MadeSlot;
use crate::models::files::WEIGHTS;
use crate::models::{FileSpec, ModelFiles};
use crate::store::{held_key, keep_held, read_held, read_model_sharing, Corrupt, IdbBackend, Manifest, Store};
use crate::weights::Lookup;
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
    /// With a session, the tensor it holds with a digest, if any: the weights file is then
    /// read tensor by tensor, and a tensor the session has is taken from it instead of
    /// allocated again.
    pub tensor: Option<Lookup<'a>>,
}

impl Reuse<'_> {
    /// Nothing: every file is read.
    pub const NOTHING: Reuse<'static> = Reuse { session: &|_| false, form: None, tensor: None };
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
pub(super) type Build<'a> = dyn FnMut(ModelFiles) -> Result<()> + 'a;

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
        build(fetch_files(remote, spec, progress, control, reuse.tensor).await?)?;
        return Ok(Origin::Network);
    };
    let source = remote.key();
    let _claim = claim(format!("{}\n{source}", store.backend().name()), control).await?;
    let made = reuse.form.as_ref().map(|_| MadeSlot::default());
    let Some(mut m) = store.manifest(&source).await? else {
        let sha = download(store, remote, spec, progress, control, reuse, made.as_ref(), build).await?;
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
    let read = read_stored(store, &m, spec, &skip, reuse.tensor, &mut on_read).await?;
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
        built = read_stored(store, &m, spec, &|_| false, reuse.tensor, &mut on_read).await?.map(|mut files| {
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
                match download(store, remote, spec, progress, control, reuse, made.as_ref(), build).await {
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
        Err(corrupt) => match download(store, remote, spec, progress, control, reuse, made.as_ref(), build).await {
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

/// A stored model's files (`read_model_sharing`), the weights file read tensor by tensor
/// when the load has a session.
async fn read_stored(
    store: &WebStore,
    m: &Manifest,
    spec: &[FileSpec],
    skip: &dyn Fn(&str) -> bool,
    tensor: Option<Lookup<'_>>,
    on_read: &mut dyn FnMut(&str, u64, u64),
) -> Result<std::result::Result<ModelFiles, Corrupt>> {
    read_model_sharing(store, m, spec, skip, &|| FileSink::for_file(WEIGHTS, tensor), on_read).await
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
