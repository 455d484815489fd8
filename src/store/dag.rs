//! A stored model as IPFS names it: the UnixFS DAG the `unixfs-v1-2025` import profile
//! makes of its files (so any conforming importer, given the same files, gets the same
//! root CID), the root kept in the manifest once computed, and a CARv1 of the DAG.

use super::backend::{Backend, Kind};
use super::manifest::Manifest;
use super::weight_store::Store;
use crate::error::{Error, Result};
use crate::ipfs::block::text;
use crate::ipfs::build::{file, tree};
use crate::ipfs::car::{header, section};
use crate::ipfs::Cid;

/// Builds the DAG of `m`'s files, handing every block to `emit`; the root.
async fn build<B: Backend>(store: &Store<B>, m: &Manifest, emit: &mut dyn FnMut(&Cid, &[u8])) -> Result<Cid> {
    let mut built = Vec::with_capacity(m.files.len());
    for f in &m.files {
        let bytes = store.read_file(f, &mut |_| {}).await?.map_err(|detail| Error::CacheCorrupt {
            source_url: m.source.clone(),
            detail,
            reason: "its files must be read whole to name them by CID".into(),
        })?;
        built.push((f.name.clone(), file(bytes.as_bytes(), emit)));
    }
    Ok(tree(&built, emit).cid)
}

/// The stored model of `source`, or `invalid_argument` from `op`.
async fn stored<B: Backend>(store: &Store<B>, op: &'static str, source: &str) -> Result<Manifest> {
    store.manifest(source).await?.ok_or_else(|| Error::arg(op, format!("the store holds no model for '{source}'")))
}

/// The root CID of the model stored for `source`, computed once and then kept in its
/// manifest.
pub async fn cid_of<B: Backend>(store: &Store<B>, op: &'static str, source: &str) -> Result<String> {
    let mut m = stored(store, op, source).await?;
    if let Some(c) = &m.cid {
        return Ok(c.clone());
    }
    let root = text(&build(store, &m, &mut |_, _| {}).await?);
    m.cid = Some(root.clone());
    store.backend().put_record(Kind::Manifest, &m.source, &serde_json::to_string(&m).unwrap_or_default()).await?;
    Ok(root)
}

/// A CARv1 of the model stored for `source` (its root as the CAR's one root), as the
/// pieces to concatenate: the header, then one section per block.
pub async fn export_car<B: Backend>(store: &Store<B>, op: &'static str, source: &str) -> Result<Vec<Vec<u8>>> {
    let m = stored(store, op, source).await?;
    let mut sections = vec![Vec::new()];
    let root = build(store, &m, &mut |c, b| sections.push(section(c, b))).await?;
    sections[0] = header(&root);
    Ok(sections)
}
