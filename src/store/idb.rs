//! The browser backend: IndexedDB through rexie. Chunks are `Uint8Array` values in the
//! `chunks` object store; records are JSON strings in `manifests` and `partials`. A chunk
//! and its partial record, or a manifest and the partials it replaces, share one
//! transaction, so a closed tab leaves either both or neither.

use super::backend::{Backend, Estimate, Kind};
use crate::error::{Error, Result};
use crate::weights::AlignedBuf;
use futures_util::future::{try_join, try_join_all};
use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The IndexedDB schema version: bump it (and add the upgrade to `open`) when object
/// stores change. The record format has its own version, `manifest::SCHEMA`.
const DB_VERSION: u32 = 2;
const CHUNKS: &str = "chunks";
const MANIFESTS: &str = "manifests";
const PARTIALS: &str = "partials";
/// Added in version 2: the store's settings.
const META: &str = "meta";

pub struct IdbBackend {
    db: Rexie,
    name: String,
}

fn store_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Manifest => MANIFESTS,
        Kind::Partial => PARTIALS,
        Kind::Meta => META,
    }
}

/// Maps an IndexedDB failure: a refused write for space is `QuotaExceeded`.
fn fail(what: &str, e: rexie::Error) -> Error {
    let msg = match &e {
        rexie::Error::IdbError(i) => i.to_string(),
        other => other.to_string(),
    };
    if msg.contains("Quota") {
        return Error::QuotaExceeded { what: what.into(), needed: 0, available: 0, detail: format!(" ({msg})") };
    }
    Error::StoreFailed(format!("IndexedDB {what}: {msg}"))
}

impl IdbBackend {
    /// Opens (creating or upgrading) the database `name`.
    pub async fn open(name: &str) -> Result<Self> {
        let has_idb = js_sys::Reflect::has(&js_sys::global(), &"indexedDB".into()).unwrap_or(false);
        if !has_idb {
            return Err(Error::StoreFailed("IndexedDB is not available in this environment".into()));
        }
        let db = Rexie::builder(name)
            .version(DB_VERSION)
            .add_object_store(ObjectStore::new(CHUNKS))
            .add_object_store(ObjectStore::new(MANIFESTS))
            .add_object_store(ObjectStore::new(PARTIALS))
            .add_object_store(ObjectStore::new(META))
            .build()
            .await
            .map_err(|e| fail("open", e))?;
        Ok(IdbBackend { db, name: name.into() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `body` in one transaction. A body that makes several requests issues them
    /// together (`try_join`), in its first poll: IndexedDB keeps a transaction open only
    /// while requests are pending or within the task of a request's answer, and in the
    /// threaded build the futures executor resumes a body in a later task (it wakes through
    /// `Atomics.waitAsync`), by when a transaction awaited request by request has committed.
    async fn run<T>(
        &self,
        stores: &[&str],
        mode: TransactionMode,
        what: &str,
        body: impl AsyncFnOnce(&rexie::Transaction) -> rexie::Result<T>,
    ) -> Result<T> {
        let tx = self.db.transaction(stores, mode).map_err(|e| fail(what, e))?;
        let out = body(&tx).await.map_err(|e| fail(what, e))?;
        let done = tx.done().await.map_err(|e| fail(what, e))?;
        if !done.is_committed() {
            // IndexedDB aborts a transaction that outgrows the quota without a failed request.
            return Err(Error::QuotaExceeded {
                what: what.into(),
                needed: 0,
                available: 0,
                detail: " (the browser aborted the write transaction)".into(),
            });
        }
        Ok(out)
    }
}

impl IdbBackend {
    /// Deletes `keys` from one object store, in one transaction.
    async fn delete_keys(&self, store: &str, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.run(&[store], TransactionMode::ReadWrite, "delete", async |tx| {
            let s = tx.store(store)?;
            try_join_all(keys.iter().map(|k| s.delete(k.into()))).await.map(|_| ())
        })
        .await
    }
}

impl Backend for IdbBackend {
    async fn read_chunk(&self, key: &str, out: &mut AlignedBuf) -> Result<bool> {
        let v = self
            .run(&[CHUNKS], TransactionMode::ReadOnly, "read", async |tx| tx.store(CHUNKS)?.get(key.into()).await)
            .await?;
        let Some(v) = v else { return Ok(false) };
        let Some(arr) = v.dyn_ref::<js_sys::Uint8Array>() else {
            // Not bytes at all: report it as a chunk whose hash cannot match.
            return Ok(true);
        };
        arr.copy_to(out.grow(arr.length() as usize)?);
        Ok(true)
    }

    async fn put_chunk(&self, key: &str, bytes: &[u8], partial_key: &str, partial_json: &str) -> Result<()> {
        // A copy in the JS heap: IndexedDB clones it, and wasm memory may move meanwhile.
        let value: JsValue = js_sys::Uint8Array::from(bytes).into();
        self.run(&[CHUNKS, PARTIALS], TransactionMode::ReadWrite, "chunk write", async |tx| {
            let (chunks, partials) = (tx.store(CHUNKS)?, tx.store(PARTIALS)?);
            let partial = partial_json.into();
            try_join_all([chunks.put(&value, Some(&key.into())), partials.put(&partial, Some(&partial_key.into()))])
                .await
        })
        .await
        .map(|_| ())
    }

    async fn chunk_keys(&self) -> Result<Vec<String>> {
        let keys = self
            .run(&[CHUNKS], TransactionMode::ReadOnly, "list", async |tx| {
                tx.store(CHUNKS)?.get_all_keys(None, None).await
            })
            .await?;
        Ok(keys.into_iter().filter_map(|k| k.as_string()).collect())
    }

    async fn has_chunk(&self, key: &str) -> Result<bool> {
        self.run(&[CHUNKS], TransactionMode::ReadOnly, "read", async |tx| {
            tx.store(CHUNKS)?.key_exists(key.into()).await
        })
        .await
    }

    async fn delete_chunks(&self, keys: &[String]) -> Result<()> {
        self.delete_keys(CHUNKS, keys).await
    }

    async fn get_record(&self, kind: Kind, key: &str) -> Result<Option<String>> {
        let s = store_name(kind);
        let v =
            self.run(&[s], TransactionMode::ReadOnly, "read", async |tx| tx.store(s)?.get(key.into()).await).await?;
        Ok(v.and_then(|v| v.as_string()))
    }

    async fn records(&self, kind: Kind) -> Result<Vec<String>> {
        let s = store_name(kind);
        let all = self
            .run(&[s], TransactionMode::ReadOnly, "list", async |tx| tx.store(s)?.get_all(None, None).await)
            .await?;
        Ok(all.into_iter().filter_map(|v| v.as_string()).collect())
    }

    async fn put_record(&self, kind: Kind, key: &str, json: &str) -> Result<()> {
        let s = store_name(kind);
        self.run(&[s], TransactionMode::ReadWrite, "record write", async |tx| {
            tx.store(s)?.put(&json.into(), Some(&key.into())).await
        })
        .await
        .map(|_| ())
    }

    async fn delete_records(&self, kind: Kind, keys: &[String]) -> Result<()> {
        self.delete_keys(store_name(kind), keys).await
    }

    async fn commit(&self, key: &str, manifest_json: &str, partial_keys: &[String]) -> Result<()> {
        self.run(&[MANIFESTS, PARTIALS], TransactionMode::ReadWrite, "manifest write", async |tx| {
            let (m, p) = (tx.store(MANIFESTS)?, tx.store(PARTIALS)?);
            let manifest = manifest_json.into();
            let deletes = try_join_all(partial_keys.iter().map(|k| p.delete(k.into())));
            try_join(m.put(&manifest, Some(&key.into())), deletes).await.map(|_| ())
        })
        .await
    }

    async fn estimate(&self) -> Result<Option<Estimate>> {
        Ok(storage_call("estimate").await.and_then(|e| {
            let num = |k: &str| js_sys::Reflect::get(&e, &k.into()).ok()?.as_f64().map(|n| n as u64);
            Some(Estimate { usage: num("usage")?, quota: num("quota")? })
        }))
    }
}

/// Calls `navigator.storage.<method>()` and awaits it; `None` where the StorageManager is
/// missing or the call fails (private modes, old browsers, Node).
pub async fn storage_call(method: &str) -> Option<JsValue> {
    let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &k.into()).ok().filter(|v| !v.is_undefined());
    let storage = get(&get(&js_sys::global(), "navigator")?, "storage")?;
    let f: js_sys::Function = get(&storage, method)?.dyn_into().ok()?;
    let p: js_sys::Promise = f.call0(&storage).ok()?.dyn_into().ok()?;
    JsFuture::from(p).await.ok()
}
