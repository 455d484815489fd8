//! A stored model as IPFS names it: the UnixFS DAG the `unixfs-v1-2025` import profile
//! makes of its files (so any conforming importer, given the same files, gets the same
//! root CID), the root kept in the manifest once computed, and a CARv1 of the DAG.

use super::backend::Backend;
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
    store.save(&m).await?;
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ipfs::car::CarReader;
    use crate::store::{write_model, DirBackend};

    #[test]
    fn a_stored_model_has_the_cid_of_its_files_and_a_car_of_their_dag() {
        let dir = std::env::temp_dir().join(format!("ipfs-accelerate-dag-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let big: Vec<u8> = (0..(3 << 20) + 5).map(|i| (i % 253) as u8).collect();
        let files: [(&str, &[u8]); 3] =
            [("config.json", b"{}"), ("model.safetensors", &big), ("1_Pooling/config.json", b"{\"p\":1}")];
        pollster::block_on(async {
            let store = Store::open(DirBackend::open(&dir).unwrap(), None).await.unwrap();
            write_model(&store, "http://x/m/", &files).await.unwrap();
            let cid = cid_of(&store, "t", "http://x/m/").await.unwrap();
            let built: Vec<_> = files.iter().map(|(n, b)| (n.to_string(), file(b, &mut |_, _| {}))).collect();
            let root = tree(&built, &mut |_, _| {}).cid;
            assert_eq!(cid, text(&root));
            assert_eq!(store.manifest("http://x/m/").await.unwrap().unwrap().cid, Some(cid.clone()), "kept");
            let parts = export_car(&store, "t", "http://x/m/").await.unwrap();
            let root_bytes = root.to_bytes();
            assert!(parts[0].windows(root_bytes.len()).any(|w| w == root_bytes), "the header names the root");
            let mut r = CarReader::default();
            r.push(&parts.concat());
            let mut blocks = 0;
            while r.next_block().unwrap().is_some() {
                blocks += 1;
            }
            // 4 leaves and a node for the big file, a leaf each for the small ones, two directories.
            assert_eq!((blocks, parts.len() - 1), (9, 9));
            assert_eq!(cid_of(&store, "t", "http://x/none/").await.unwrap_err().code(), "invalid_argument");
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
