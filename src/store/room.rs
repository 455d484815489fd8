//! Space in the store: the byte budget (kept in the store itself), the room left under it
//! and the browser's quota, and least-recently-used eviction that never starts for a load
//! that could not fit anyway.

use super::backend::{Backend, Kind};
use super::weight_store::Store;
use crate::error::{Error, Result};
use std::collections::HashSet;

/// The key of the settings record.
const SETTINGS: &str = "settings";

#[derive(serde::Serialize, serde::Deserialize)]
struct Settings {
    schema: u32,
    budget: Option<u64>,
}

impl<B: Backend> Store<B> {
    /// Opens a store over `backend` with the budget it keeps: `set` replaces that budget
    /// (`Some(None)` removes it) and `None` keeps it, so a budget belongs to the store and
    /// not to whichever call opened it last.
    pub async fn open(backend: B, set: Option<Option<u64>>) -> Result<Self> {
        let store = Store::new(backend, None);
        match set {
            Some(budget) => store.set_budget(budget).await?,
            None => {
                let saved = store.backend.get_record(Kind::Meta, SETTINGS).await?;
                let settings = saved.and_then(|j| super::manifest::migrate::<Settings>(&j));
                store.budget.set(settings.and_then(|s| s.budget));
            }
        }
        Ok(store)
    }

    /// The byte budget, if any.
    pub fn budget(&self) -> Option<u64> {
        self.budget.get()
    }

    /// Sets (or with `None` removes) the budget and saves it in the store. A lower budget
    /// evicts nothing at once; the next write makes room.
    pub async fn set_budget(&self, budget: Option<u64>) -> Result<()> {
        let json = serde_json::to_string(&Settings { schema: super::SCHEMA, budget }).unwrap_or_default();
        self.backend.put_record(Kind::Meta, SETTINGS, &json).await?;
        self.budget.set(budget);
        Ok(())
    }

    /// Makes room for `needed` more bytes of `source`'s file `what`, evicting other models
    /// least recently used first; fails with `quota_exceeded` (reporting `report` bytes
    /// needed) when even that is not enough.
    pub(super) async fn make_room(&self, source: &str, what: &str, needed: u64, report: u64) -> Result<()> {
        loop {
            if self.available().await? >= needed {
                return Ok(());
            }
            if !self.evict_one(source).await? {
                return Err(self.quota_error(what, report).await);
            }
        }
    }

    /// Fails with `quota_exceeded`, evicting nothing, when `needed` more bytes of
    /// `source`'s file `what` could not fit even with every other model evicted. Room is
    /// made later, chunk by chunk, as chunks that are not yet stored arrive.
    pub async fn check_fits(&self, source: &str, what: &str, needed: u64) -> Result<()> {
        if self.available().await?.saturating_add(self.evictable(source).await?) >= needed {
            Ok(())
        } else {
            Err(self.quota_error(what, needed).await)
        }
    }

    /// Bytes that evicting every model but `keep` would free: chunks that neither `keep`
    /// nor any partial download refers to.
    async fn evictable(&self, keep: &str) -> Result<u64> {
        let manifests = self.manifests().await?;
        let mut pinned: HashSet<String> = HashSet::new();
        for m in manifests.iter().filter(|m| m.source == keep) {
            pinned.extend(m.files.iter().flat_map(|f| &f.chunks).map(|c| c.sha256.clone()));
        }
        for p in self.partials().await? {
            pinned.extend(p.file.chunks.into_iter().map(|c| c.sha256));
        }
        let mut counted = HashSet::new();
        let mut bytes = 0;
        for c in manifests.iter().filter(|m| m.source != keep).flat_map(|m| &m.files).flat_map(|f| &f.chunks) {
            if !pinned.contains(&c.sha256) && counted.insert(c.sha256.clone()) {
                bytes += c.size;
            }
        }
        Ok(bytes)
    }

    /// Bytes that may still be written: the smaller of the budget's and the quota's room.
    pub(super) async fn available(&self) -> Result<u64> {
        let mut room = u64::MAX;
        if let Some(b) = self.budget.get() {
            room = b.saturating_sub(self.usage().await?.bytes);
        }
        if let Some(e) = self.backend.estimate().await? {
            room = room.min(e.quota.saturating_sub(e.usage));
        }
        Ok(room)
    }

    pub(super) async fn quota_error(&self, what: &str, needed: u64) -> Error {
        let available = self.available().await.unwrap_or(0);
        let mut detail = String::new();
        if let Some(b) = self.budget.get() {
            detail += &format!("; the store's budget is {b} bytes");
        }
        if let Ok(Some(e)) = self.backend.estimate().await {
            detail += &format!("; the browser reports {} of {} bytes used", e.usage, e.quota);
        }
        Error::QuotaExceeded { what: what.into(), needed, available, detail }
    }

    /// Deletes the least recently used model other than `keep`; `false` when there is none.
    pub async fn evict_one(&self, keep: &str) -> Result<bool> {
        let victim = self
            .manifests()
            .await?
            .into_iter()
            .filter(|m| m.source != keep)
            .min_by(|a, b| a.last_used.total_cmp(&b.last_used));
        match victim {
            Some(m) => self.delete(&m.source).await,
            None => Ok(false),
        }
    }
}
