//! The JS `WeightStore`: `await WeightStore.open(opts)`, then `list`, `usage`, `delete`,
//! `clear`, `prefetch`. A page has one store object per database name, so
//! `TextEmbedder.load` finds the one a page opened without holding a reference to it, and
//! the budget lives in the database, so it holds for every page and every later `open`.

use super::error::to_js;
use super::fetch::fetch_bytes;
use super::load_options::{LoadOptions, StoreChoice};
use super::model_source::{load_model, Reuse, WebStore};
use super::options::{bool_field, check_options, field, plain, string_field, u64_field};
use super::remote::Remote;
use crate::error::{Error, Result};
use crate::models::files::CONFIG;
use crate::models::{Family, ModelFiles};
use crate::source::{ModelSource, DEFAULT_HUB};
use crate::store::{storage_call, IdbBackend, Store};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// The database name used unless `open({ name })` says otherwise.
pub const DEFAULT_NAME: &str = "ipfs-accelerate";

thread_local! {
    static OPEN: RefCell<HashMap<String, Rc<WebStore>>> = RefCell::new(HashMap::new());
}

/// The family of the model at `remote`, by its `config.json`: the stored copy when the
/// store holds the model (so a prefetch that only verifies works offline), else the
/// remote's.
async fn family_of(store: &WebStore, remote: &Remote, control: &super::control::Control) -> Result<Family> {
    let source = remote.key();
    if let Some(entry) = store.manifest(&source).await?.and_then(|m| m.file(CONFIG).cloned()) {
        if let Ok(bytes) = store.read_file(&entry, &mut |_| {}).await? {
            return Family::of_config(bytes.as_bytes());
        }
    }
    let config = match remote.ipfs(None, control) {
        Some(dir) => dir.read(CONFIG, false).await?,
        None => fetch_bytes(&format!("{source}{CONFIG}"), CONFIG, None, false, control).await?,
    };
    Family::of_config(config.as_ref().map_or(&[][..], |c| c.as_bytes()))
}

/// The store key of a `manifest`/`delete`/`cidOf` argument: a source as `load` takes it
/// (`hf:` sources on the default hub).
fn key_of(op: &'static str, source: &JsValue) -> Result<String> {
    let s = source.as_string().ok_or_else(|| Error::arg(op, "source must be a string"))?;
    Ok(ModelSource::parse(op, &s)?.key(DEFAULT_HUB))
}

#[wasm_bindgen(js_name = WeightStore)]
pub struct JsWeightStore {
    inner: Rc<WebStore>,
    persisted: bool,
}

/// The page's store `name`, opened (and registered) on first use. `budget`: `Some` sets
/// the store's byte budget (`Some(None)` removes it), `None` keeps the one it has.
async fn open_store(name: &str, budget: Option<Option<u64>>) -> Result<Rc<WebStore>> {
    if let Some(s) = OPEN.with(|m| m.borrow().get(name).cloned()) {
        if let Some(b) = budget {
            s.set_budget(b).await?;
        }
        return Ok(s);
    }
    let store = Rc::new(Store::open(IdbBackend::open(name).await?, budget).await?);
    // Chunks orphaned by a tab closed mid-write are collected when a page opens the store.
    store.gc().await?;
    // Two first opens may race; the first registered wins so the page keeps one object.
    Ok(OPEN.with(|m| m.borrow_mut().entry(name.to_string()).or_insert(store).clone()))
}

/// The store a load should use: none with `cache: false`, the one named, else the default
/// one. Where IndexedDB does not exist (Node), loads go uncached rather than fail, unless
/// a store was named.
pub async fn store_for(choice: &StoreChoice) -> Result<Option<Rc<WebStore>>> {
    let (name, explicit) = match choice {
        StoreChoice::None => return Ok(None),
        StoreChoice::Default => (DEFAULT_NAME, false),
        StoreChoice::Named(n) => (n.as_str(), true),
    };
    match open_store(name, None).await {
        Ok(s) => Ok(Some(s)),
        Err(_) if !explicit && !js_sys::Reflect::has(&js_sys::global(), &"indexedDB".into()).unwrap_or(false) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[wasm_bindgen(js_class = WeightStore)]
impl JsWeightStore {
    /// Options: `{ name = "ipfs-accelerate", budget (bytes), persist = false }`. The
    /// budget is saved in the store: leaving it out keeps the store's, `null` removes it.
    /// With `persist`, asks the browser to keep the store under storage pressure.
    pub async fn open(opts: JsValue) -> std::result::Result<JsWeightStore, JsValue> {
        const OP: &str = "WeightStore.open";
        let parsed = (|| -> Result<_> {
            check_options(OP, &opts)?;
            Ok((
                string_field(OP, &opts, "name")?.unwrap_or_else(|| DEFAULT_NAME.into()),
                match field(&opts, "budget") {
                    v if v.is_undefined() => None,
                    v if v.is_null() => Some(None),
                    _ => Some(u64_field(OP, &opts, "budget")?),
                },
                bool_field(OP, &opts, "persist", false)?,
            ))
        })();
        let (name, budget, persist) = parsed.map_err(to_js)?;
        let inner = open_store(&name, budget).await.map_err(to_js)?;
        let persisted = if persist {
            storage_call("persist").await.and_then(|v| v.as_bool()).unwrap_or(false)
        } else {
            storage_call("persisted").await.and_then(|v| v.as_bool()).unwrap_or(false)
        };
        Ok(JsWeightStore { inner, persisted })
    }

    /// The IndexedDB database name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.backend().name().to_string()
    }

    /// The store's byte budget, or `null` for none.
    #[wasm_bindgen(getter)]
    pub fn budget(&self) -> JsValue {
        self.inner.budget().map_or(JsValue::NULL, |b| JsValue::from_f64(b as f64))
    }

    /// Whether the browser granted persistent storage to this origin.
    #[wasm_bindgen(getter)]
    pub fn persisted(&self) -> bool {
        self.persisted
    }

    /// `[{ source, files, bytes, lastUsed }]`, one per complete model.
    pub fn list(&self) -> js_sys::Promise {
        let s = self.inner.clone();
        future_to_promise(async move { plain(&s.list().await.map_err(to_js)?) })
    }

    /// `{ bytes, logicalBytes, models, chunks, partialBytes, budget, originUsage, originQuota }`.
    pub fn usage(&self) -> js_sys::Promise {
        let s = self.inner.clone();
        future_to_promise(async move { plain(&s.usage().await.map_err(to_js)?) })
    }

    /// A stored model's manifest: its files with sizes, validators, whole-file sha-256 and
    /// chunks (sha-256 and CIDv1 each); `null` when the store does not hold it.
    pub fn manifest(&self, source: JsValue) -> js_sys::Promise {
        let s = self.inner.clone();
        future_to_promise(async move {
            let key = key_of("WeightStore.manifest", &source).map_err(to_js)?;
            match s.manifest(&key).await.map_err(to_js)? {
                Some(m) => plain(&m.described()),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Deletes a model by its base URL; resolves to whether it was there.
    pub fn delete(&self, source: JsValue) -> js_sys::Promise {
        let s = self.inner.clone();
        future_to_promise(async move {
            let key = key_of("WeightStore.delete", &source).map_err(to_js)?;
            let had = s.delete(&key).await.map_err(to_js)?;
            Ok(had.into())
        })
    }

    /// The root CID of a stored model's files: what the `unixfs-v1-2025` import profile
    /// (CIDv1, raw leaves, 1 MiB chunks, 1024 links per node, wrapped in a directory)
    /// gives them, so the model can be pinned and shared by CID. Computed once (the files
    /// are read and hashed), then kept in the manifest (`manifest(source).cid`).
    #[wasm_bindgen(js_name = cidOf)]
    pub fn cid_of(&self, source: JsValue) -> js_sys::Promise {
        const OP: &str = "WeightStore.cidOf";
        let s = self.inner.clone();
        future_to_promise(async move {
            let key = key_of(OP, &source).map_err(to_js)?;
            Ok(crate::store::cid_of(&s, OP, &key).await.map_err(to_js)?.into())
        })
    }

    /// A CARv1 `Blob` of a stored model's DAG (the one `cidOf` names, its root the CAR's
    /// root), for pinning or serving by CID elsewhere.
    #[wasm_bindgen(js_name = exportCar)]
    pub fn export_car(&self, source: JsValue) -> js_sys::Promise {
        const OP: &str = "WeightStore.exportCar";
        let s = self.inner.clone();
        future_to_promise(async move {
            let key = key_of(OP, &source).map_err(to_js)?;
            let sections = crate::store::export_car(&s, OP, &key).await.map_err(to_js)?;
            let parts = js_sys::Array::new();
            for sec in sections {
                parts.push(&js_sys::Uint8Array::from(&sec[..]));
            }
            let opts = web_sys::BlobPropertyBag::new();
            opts.set_type("application/vnd.ipld.car; version=1");
            let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts)
                .map_err(|e| to_js(Error::StoreFailed(format!("the CAR could not be made a Blob: {e:?}"))))?;
            Ok(blob.into())
        })
    }

    /// Deletes every model, partial download and chunk.
    pub fn clear(&self) -> js_sys::Promise {
        let s = self.inner.clone();
        future_to_promise(async move { s.clear().await.map(|_| JsValue::UNDEFINED).map_err(to_js) })
    }

    /// Downloads a model into the store (or verifies it there). Its file set is the
    /// family's that option `model` names ('text-embedding', 'image-embedding'), or by
    /// default ('auto') the one its `config.json`'s `model_type` says. The configs are
    /// parsed and the safetensors headers checked before anything is committed, so only
    /// a sound model is stored; nothing is built. Options: a load's (`onProgress({file,
    /// loaded, total})`, `signal`, `stallTimeoutMs`; the others are accepted and do
    /// nothing here) and `model`. Resolves to its `list()` entry.
    pub fn prefetch(&self, base_url: JsValue, opts: JsValue) -> js_sys::Promise {
        const OP: &str = "WeightStore.prefetch";
        let s = self.inner.clone();
        future_to_promise(async move {
            let run = async {
                let family_options = ["model", "pooling", "normalize", "truncation", "size"];
                let lo = LoadOptions::<()>::from_js(OP, &opts, &family_options)?;
                let remote = lo.remote(OP, &base_url)?;
                let named = match string_field(OP, &opts, "model")? {
                    Some(m) => Family::parse(OP, &m)?,
                    None => None,
                };
                let family = match named {
                    Some(f) => f,
                    None => family_of(&s, &remote, &lo.control).await?,
                };
                let mut check = |files: ModelFiles| family.check(&files);
                load_model(
                    &remote,
                    family.files(),
                    Some(&s),
                    lo.progress.as_ref(),
                    &lo.control,
                    &Reuse::NOTHING,
                    &mut check,
                )
                .await?;
                let source = remote.key();
                let list = s.list().await?;
                list.into_iter()
                    .find(|m| m.source == source)
                    .ok_or_else(|| Error::StoreFailed("prefetched model vanished".into()))
            };
            plain(&run.await.map_err(to_js)?)
        })
    }
}
