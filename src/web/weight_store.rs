//! The JS `WeightStore`: `await WeightStore.open(opts)`, then `list`, `usage`, `delete`,
//! `clear`, `prefetch`. Stores are shared by database name, so `TextEmbedder.load` finds
//! the one a page opened (with its budget) without holding a reference to it.

use super::error::to_js;
use super::model_source::{load_model_files, WebStore};
use super::options::{bool_field, check_options, field, function_field, plain, string_field, u64_field};
use crate::error::{Error, Result};
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

#[wasm_bindgen(js_name = WeightStore)]
pub struct JsWeightStore {
    inner: Rc<WebStore>,
    persisted: bool,
}

/// Opens (and registers) the store `name` with an optional byte budget.
async fn open_store(name: &str, budget: Option<u64>) -> Result<Rc<WebStore>> {
    let backend = IdbBackend::open(name).await?;
    let store = Rc::new(Store::new(backend, budget));
    // Chunks orphaned by a tab closed mid-write are collected when a page opens the store.
    store.gc().await?;
    OPEN.with(|m| m.borrow_mut().insert(name.to_string(), store.clone()));
    Ok(store)
}

/// The store `TextEmbedder.load` should use for `opts`: none with `cache: false`, the
/// store named by `opts.store` (a `WeightStore` or a name), else the default one. Where
/// IndexedDB does not exist (Node), loads go uncached rather than fail.
pub async fn store_for(op: &'static str, opts: &JsValue) -> Result<Option<Rc<WebStore>>> {
    if !bool_field(op, opts, "cache", true)? {
        return Ok(None);
    }
    let s = field(opts, "store");
    let name = if s.is_undefined() || s.is_null() {
        None
    } else if let Some(n) = s.as_string() {
        Some(n)
    } else {
        let n = js_sys::Reflect::get(&s, &"name".into()).ok().and_then(|n| n.as_string());
        Some(n.ok_or_else(|| Error::arg(op, "option store must be a WeightStore or a store name"))?)
    };
    let explicit = name.is_some();
    let name = name.unwrap_or_else(|| DEFAULT_NAME.into());
    if let Some(s) = OPEN.with(|m| m.borrow().get(&name).cloned()) {
        return Ok(Some(s));
    }
    match open_store(&name, None).await {
        Ok(s) => Ok(Some(s)),
        Err(_) if !explicit && !js_sys::Reflect::has(&js_sys::global(), &"indexedDB".into()).unwrap_or(false) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[wasm_bindgen(js_class = WeightStore)]
impl JsWeightStore {
    /// Options: `{ name = "ipfs-accelerate", budget (bytes), persist = false }`. With
    /// `persist`, asks the browser to keep the store under storage pressure.
    pub async fn open(opts: JsValue) -> std::result::Result<JsWeightStore, JsValue> {
        const OP: &str = "WeightStore.open";
        let parsed = (|| -> Result<_> {
            check_options(OP, &opts)?;
            Ok((
                string_field(OP, &opts, "name")?.unwrap_or_else(|| DEFAULT_NAME.into()),
                u64_field(OP, &opts, "budget")?,
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
            let src = source
                .as_string()
                .ok_or_else(|| to_js(Error::arg("WeightStore.manifest", "source must be a string")))?;
            match s.manifest(&super::fetch::normalize_base(&src)).await.map_err(to_js)? {
                Some(m) => plain(&m.described()),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Deletes a model by its base URL; resolves to whether it was there.
    pub fn delete(&self, source: JsValue) -> js_sys::Promise {
        let s = self.inner.clone();
        future_to_promise(async move {
            let src =
                source.as_string().ok_or_else(|| to_js(Error::arg("WeightStore.delete", "source must be a string")))?;
            let had = s.delete(&super::fetch::normalize_base(&src)).await.map_err(to_js)?;
            Ok(had.into())
        })
    }

    /// Deletes every model, partial download and chunk.
    pub fn clear(&self) -> js_sys::Promise {
        let s = self.inner.clone();
        future_to_promise(async move { s.clear().await.map(|_| JsValue::UNDEFINED).map_err(to_js) })
    }

    /// Downloads a model into the store (or verifies it there) without building it.
    /// Options: `{ onProgress({file, loaded, total}) }`. Resolves to its `list()` entry.
    pub fn prefetch(&self, base_url: JsValue, opts: JsValue) -> js_sys::Promise {
        const OP: &str = "WeightStore.prefetch";
        let s = self.inner.clone();
        future_to_promise(async move {
            let run = async {
                let base = base_url.as_string().ok_or_else(|| Error::arg(OP, "baseUrl must be a string"))?;
                check_options(OP, &opts)?;
                let progress = function_field(OP, &opts, "onProgress")?;
                load_model_files(&base, Some(&s), progress.as_ref()).await?;
                let source = super::fetch::normalize_base(&base);
                let list = s.list().await?;
                list.into_iter()
                    .find(|m| m.source == source)
                    .ok_or_else(|| Error::StoreFailed("prefetched model vanished".into()))
            };
            plain(&run.await.map_err(to_js)?)
        })
    }
}
