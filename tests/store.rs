//! The weight store's logic over each backend: a directory natively, IndexedDB in the
//! browsers (wasm-bindgen-test). Same scenarios, same assertions, no network: a model's
//! bytes go in through `FileWriter` as a download would feed them.

use ipfs_accelerate::models::{files, TextEmbedder};
use ipfs_accelerate::store::{
    held_key, keep_held, read_held, read_model, write_model, Backend, FileWriter, Kind, Partial, Store, CHUNK_SIZE,
    SCHEMA,
};
use ipfs_accelerate::Error;

/// Deterministic, incompressible-looking bytes (xorshift), `n` of them.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A small stand-in for a model: the three required files, weights over two chunks long.
fn model_files(seed: u64) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("config.json", br#"{"model_type":"bert"}"#.to_vec()),
        ("tokenizer.json", bytes(1000, seed)),
        ("model.safetensors", bytes(2 * CHUNK_SIZE + 12345, seed + 1)),
    ]
}

fn refs<'a>(files: &'a [(&'static str, Vec<u8>)]) -> Vec<(&'static str, &'a [u8])> {
    files.iter().map(|(n, b)| (*n, b.as_slice())).collect()
}

async fn weights_of<B: Backend>(store: &Store<B>, source: &str) -> std::result::Result<Vec<u8>, String> {
    let m = store.manifest(source).await.unwrap().ok_or("no manifest")?;
    read_model(store, &m, TextEmbedder::FILES, &mut |_, _, _| {})
        .await
        .unwrap()
        .map(|f| f.get(files::WEIGHTS).unwrap_or_default().to_vec())
}

async fn round_trip_and_dedup<B: Backend>(backend: B) {
    let store = Store::new(backend, None);
    let a = model_files(1);
    write_model(&store, "http://a/", &refs(&a)).await.unwrap();
    assert_eq!(weights_of(&store, "http://a/").await.unwrap(), a[2].1);
    let m = store.manifest("http://a/").await.unwrap().unwrap();
    assert_eq!(m.file("model.safetensors").unwrap().chunks.len(), 3);
    let one = store.usage().await.unwrap();
    // The same files under another source share every chunk.
    write_model(&store, "http://b/", &refs(&a)).await.unwrap();
    let two = store.usage().await.unwrap();
    assert_eq!(two.models, 2);
    assert_eq!(two.bytes, one.bytes, "identical content is stored once");
    assert_eq!(two.logical_bytes, 2 * one.logical_bytes);
    // Deleting one keeps the other whole.
    assert!(store.delete("http://a/").await.unwrap());
    assert_eq!(weights_of(&store, "http://b/").await.unwrap(), a[2].1);
    store.clear().await.unwrap();
    assert_eq!(store.usage().await.unwrap().chunks, 0);
    assert!(store.backend().chunk_keys().await.unwrap().is_empty());
}

async fn broken_download_resumes<B: Backend>(backend: B) {
    let store = Store::new(backend, None);
    let files = model_files(2);
    let weights = &files[2].1;
    // A download that breaks off after a chunk and a half.
    let mut w = FileWriter::fresh(&store, "http://r/", "model.safetensors");
    w.set_remote(Some(weights.len() as u64), Some("\"v1\"".into()), None).unwrap();
    w.extend(&weights[..CHUNK_SIZE + CHUNK_SIZE / 2]).unwrap();
    w.flush_full().await.unwrap();
    drop(w);
    assert!(store.manifest("http://r/").await.unwrap().is_none(), "no manifest for a broken download");
    assert!(store.list().await.unwrap().is_empty());
    assert_eq!(store.usage().await.unwrap().partial_bytes, CHUNK_SIZE as u64);
    // A gc (another tab's, say) must not take the stored chunk.
    assert_eq!(store.gc().await.unwrap(), 0);
    // The retry resumes after the stored chunk and completes.
    let p = store.partial("http://r/", "model.safetensors").await.unwrap().unwrap();
    assert_eq!(p.file.etag.as_deref(), Some("\"v1\""));
    let mut w = FileWriter::resume(&store, p).await.unwrap().expect("the stored chunk reads back");
    assert_eq!(w.offset(), CHUNK_SIZE as u64);
    w.extend(&weights[CHUNK_SIZE..]).unwrap();
    let (entry, buf) = w.finish().await.unwrap();
    assert_eq!(buf.as_bytes(), weights.as_slice());
    assert_eq!(entry.sha256, ipfs_accelerate::store::sha256_hex(weights));
    store.clear().await.unwrap();
}

async fn corruption_is_detected<B: Backend>(backend: B) {
    let store = Store::new(backend, None);
    let files = model_files(3);
    write_model(&store, "http://c/", &refs(&files)).await.unwrap();
    let m = store.manifest("http://c/").await.unwrap().unwrap();
    let victim = m.file("model.safetensors").unwrap().chunks[1].sha256.clone();
    // Overwrite the chunk through the backend, then drop the record that write made.
    let junk =
        Partial { schema: SCHEMA, source: "junk".into(), file: m.files[0].clone(), complete: false, updated: 0.0 };
    let json = serde_json::to_string(&junk).unwrap();
    store.backend().put_chunk(&victim, b"wrong bytes", "junk#x", &json).await.unwrap();
    store.backend().delete_records(Kind::Partial, &["junk#x".into()]).await.unwrap();
    let err = weights_of(&store, "http://c/").await.unwrap_err();
    assert!(err.contains("model.safetensors: chunk 1") && err.contains("does not match its hash"), "{err}");
    // A missing chunk is caught too.
    store.backend().delete_chunks(&[victim]).await.unwrap();
    let err = weights_of(&store, "http://c/").await.unwrap_err();
    assert!(err.contains("is missing"), "{err}");
    store.clear().await.unwrap();
}

async fn budget_evicts_lru_and_refuses_what_cannot_fit<B: Backend>(backend: B) {
    let a = model_files(4);
    let size: u64 = a.iter().map(|(_, b)| b.len() as u64).sum();
    let store = Store::new(backend, Some(size * 3 / 2));
    write_model(&store, "http://old/", &refs(&a)).await.unwrap();
    let b = model_files(5);
    write_model(&store, "http://new/", &refs(&b)).await.unwrap();
    let list = store.list().await.unwrap();
    assert_eq!(list.iter().map(|m| m.source.as_str()).collect::<Vec<_>>(), ["http://new/"], "LRU model evicted");
    // A model bigger than the whole budget fails with numbers, evicts nothing (it could not
    // fit anyway) and leaves nothing of itself.
    let before = store.usage().await.unwrap();
    let mut big = model_files(6);
    big[2].1 = bytes(size as usize * 2, 7);
    match write_model(&store, "http://big/", &refs(&big)).await {
        Err(Error::QuotaExceeded { needed, available, .. }) => {
            assert!(needed > size * 2 && available < needed, "needed {needed}, available {available}");
        }
        other => panic!("expected quota_exceeded, got {other:?}"),
    }
    let after = store.usage().await.unwrap();
    assert_eq!((after.models, after.partial_bytes), (1, 0), "no eviction, and nothing of the big model is kept");
    assert_eq!(after.bytes, before.bytes);
    assert!(store.partials().await.unwrap().is_empty());
    store.clear().await.unwrap();
}

async fn budget_counts_only_new_chunks_and_holds_without_a_size<B: Backend>(backend: B) {
    let a = model_files(8);
    let size: u64 = a.iter().map(|(_, b)| b.len() as u64).sum();
    let budget = size + size / 4;
    let store = Store::new(backend, Some(budget));
    write_model(&store, "http://one/", &refs(&a)).await.unwrap();
    // The same files under another source are stored already: no room needed, no eviction.
    write_model(&store, "http://two/", &refs(&a)).await.unwrap();
    let sources: Vec<String> = store.list().await.unwrap().into_iter().map(|m| m.source).collect();
    assert_eq!(sources, ["http://one/", "http://two/"]);
    // A file whose size the server did not say is held to the budget chunk by chunk.
    let mut w = FileWriter::fresh(&store, "http://three/", "model.safetensors");
    w.set_remote(None, None, None).unwrap();
    let big = bytes(size as usize * 2, 9);
    let mut refused = None;
    for piece in big.chunks(CHUNK_SIZE / 2) {
        w.extend(piece).unwrap();
        if let Err(e) = w.flush_full().await {
            refused = Some(e);
            break;
        }
    }
    assert!(matches!(refused, Some(Error::QuotaExceeded { .. })), "{refused:?}");
    assert!(store.usage().await.unwrap().bytes <= budget, "the budget held while streaming");
    store.clear().await.unwrap();
}

async fn gc_and_schema<B: Backend>(backend: B) {
    let store = Store::new(backend, None);
    // An orphan chunk (a crash between a chunk and its record) is collected.
    store.backend().put_chunk("00ff", b"orphan", "p#x", "{}").await.unwrap();
    store.backend().delete_records(Kind::Partial, &["p#x".into()]).await.unwrap();
    assert_eq!(store.gc().await.unwrap(), 1);
    // A manifest from a newer schema is left alone and not read as a model.
    store.backend().put_record(Kind::Manifest, "http://future/", r#"{"schema":99,"source":"x"}"#).await.unwrap();
    assert!(store.manifest("http://future/").await.unwrap().is_none());
    assert!(store.list().await.unwrap().is_empty());
    store.backend().delete_records(Kind::Manifest, &["http://future/".into()]).await.unwrap();
}

/// The weights a quantized load made, kept by the weights file's content and the form:
/// read back verified, shared by two sources of one file, never listed as a model, gone
/// with the last model of that file, never evicting a model to fit, and a damaged copy
/// dropped rather than served.
async fn held_weights_are_kept_by_content<B: Backend>(backend: B) {
    let store = Store::new(backend, None);
    let a = model_files(7);
    write_model(&store, "http://a/", &refs(&a)).await.unwrap();
    write_model(&store, "http://b/", &refs(&a)).await.unwrap();
    let sha = store.manifest("http://a/").await.unwrap().unwrap().sha256_of(files::WEIGHTS).unwrap();
    let held = bytes(CHUNK_SIZE + 99, 8);
    let mut read = 0;
    assert_eq!(read_held(&store, &sha, "q8", &mut |_, n, _| read = n).await.unwrap().map(|b| b.len()), None);
    assert!(keep_held(&store, &sha, "q8", &held).await.unwrap());
    assert!(!keep_held(&store, &sha, "q8", &held).await.unwrap(), "kept once");
    let back = read_held(&store, &sha, "q8", &mut |_, n, _| read = n).await.unwrap().unwrap();
    assert_eq!((back.as_bytes(), read), (held.as_slice(), held.len() as u64));
    assert!(read_held(&store, &sha, "q4", &mut |_, _, _| {}).await.unwrap().is_none(), "another form is another copy");
    let usage = store.usage().await.unwrap();
    assert_eq!(usage.models, 2, "held weights are not a model");
    assert_eq!(store.list().await.unwrap().len(), 2);
    // Kept while another model has the same weights file; gone with the last one.
    store.delete("http://a/").await.unwrap();
    assert!(store.manifest(&held_key(&sha, "q8")).await.unwrap().is_some());
    store.delete("http://b/").await.unwrap();
    assert!(store.manifest(&held_key(&sha, "q8")).await.unwrap().is_none());
    assert_eq!(store.usage().await.unwrap().bytes, 0, "their chunks went too");
    // Under a budget they would not fit in, nothing is evicted for them.
    write_model(&store, "http://a/", &refs(&a)).await.unwrap();
    store.set_budget(Some(store.usage().await.unwrap().bytes + 1000)).await.unwrap();
    assert!(!keep_held(&store, &sha, "q8", &held).await.unwrap());
    assert!(store.manifest("http://a/").await.unwrap().is_some());
    store.set_budget(None).await.unwrap();
    // A damaged copy is dropped, not served.
    assert!(keep_held(&store, &sha, "q8", &held).await.unwrap());
    let m = store.manifest(&held_key(&sha, "q8")).await.unwrap().unwrap();
    let junk =
        Partial { schema: SCHEMA, source: "junk".into(), file: m.files[0].clone(), complete: false, updated: 0.0 };
    let json = serde_json::to_string(&junk).unwrap();
    store.backend().put_chunk(&m.files[0].chunks[0].sha256, b"not it", "junk#x", &json).await.unwrap();
    store.backend().delete_records(Kind::Partial, &["junk#x".into()]).await.unwrap();
    assert!(read_held(&store, &sha, "q8", &mut |_, _, _| {}).await.unwrap().is_none());
    assert!(store.manifest(&held_key(&sha, "q8")).await.unwrap().is_none());
    store.clear().await.unwrap();
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use ipfs_accelerate::store::DirBackend;

    /// A fresh directory for one test, under the build's own scratch directory: each run
    /// empties the last run's, so none piles up (in the system's temp dir, one per
    /// process id did).
    pub fn backend(name: &str) -> DirBackend {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("store-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        DirBackend::open(dir).unwrap()
    }

    pub fn store(name: &str) -> Store<DirBackend> {
        Store::new(backend(name), None)
    }

    /// A budget set by one open holds for a later open that names none, until removed.
    #[test]
    fn the_budget_is_kept_in_the_store() {
        pollster::block_on(async {
            let dir = backend("budget");
            let root = dir.chunk_path("x").parent().unwrap().parent().unwrap().to_path_buf();
            let a = Store::open(dir, Some(Some(1234))).await.unwrap();
            assert_eq!(a.budget(), Some(1234));
            let b = Store::open(DirBackend::open(&root).unwrap(), None).await.unwrap();
            assert_eq!(b.budget(), Some(1234), "a later open keeps the store's budget");
            assert_eq!(b.usage().await.unwrap().budget, Some(1234));
            b.set_budget(None).await.unwrap();
            let c = Store::open(DirBackend::open(&root).unwrap(), None).await.unwrap();
            assert_eq!(c.budget(), None);
        });
    }
}

// The real MiniLM through the store, natively.
#[cfg(not(target_arch = "wasm32"))]
#[path = "store/minilm.rs"]
mod minilm;

#[cfg(target_arch = "wasm32")]
mod browser {
    use ipfs_accelerate::store::{IdbBackend, Store};

    /// A fresh IndexedDB database for one test.
    pub async fn backend(name: &str) -> IdbBackend {
        let b = IdbBackend::open(&format!("ipfs-accelerate-test-{name}")).await.unwrap();
        Store::new(b, None).clear().await.unwrap();
        IdbBackend::open(&format!("ipfs-accelerate-test-{name}")).await.unwrap()
    }
}

/// Runs each scenario natively over a directory and in the browsers over IndexedDB.
macro_rules! on_every_backend {
    ($($name:ident),*) => {
        #[cfg(not(target_arch = "wasm32"))]
        mod native_runs {
            $(#[test]
            fn $name() {
                pollster::block_on(super::$name(super::native::backend(stringify!($name))));
            })*
        }
        #[cfg(target_arch = "wasm32")]
        mod browser_runs {
            $(#[wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                super::$name(super::browser::backend(stringify!($name)).await).await;
            })*
        }
    };
}

on_every_backend!(
    round_trip_and_dedup,
    broken_download_resumes,
    corruption_is_detected,
    budget_evicts_lru_and_refuses_what_cannot_fit,
    budget_counts_only_new_chunks_and_holds_without_a_size,
    gc_and_schema,
    held_weights_are_kept_by_content
);
