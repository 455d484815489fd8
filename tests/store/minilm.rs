//! The weight store with the real MiniLM (natively, a directory backend): read back
//! whole, read back tensor by tensor sharing what a session holds, and a q8 load's kept
//! weights. Part of tests/store.rs's binary.

use super::native::store;
use super::refs;
use ipfs_accelerate::models::{files, TextEmbedder};
use ipfs_accelerate::store::{keep_held, read_held, read_model, write_model, FileWriter, CHUNK_SIZE};
use ipfs_accelerate::weights::AlignedBuf;

/// MiniLM's directory and its files' bytes, as a download would give them.
fn minilm_files() -> (&'static std::path::Path, Vec<(&'static str, Vec<u8>)>) {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2"));
    let owned = TextEmbedder::FILES
        .iter()
        .filter_map(|f| files::read_file(&dir.join(f.name)).unwrap().map(|b| (f.name, b.as_bytes().to_vec())))
        .collect();
    (dir, owned)
}

/// The real model through the store gives the same embedding as read from disk.
#[test]
fn minilm_through_the_store() {
    use ipfs_accelerate::models::{EmbedderOptions, ModelFiles};
    let (dir, owned) = minilm_files();
    let store = store("minilm");
    pollster::block_on(async {
        write_model(&store, "minilm", &refs(&owned)).await.unwrap();
        let m = store.manifest("minilm").await.unwrap().unwrap();
        let f = read_model(&store, &m, TextEmbedder::FILES, &mut |_, _, _| {}).await.unwrap().unwrap();
        let opts = EmbedderOptions::default();
        let a = TextEmbedder::from_files(f, &opts).unwrap().embed(&["cached"]).unwrap();
        let b = TextEmbedder::from_files(ModelFiles::from_dir(dir, TextEmbedder::FILES).unwrap(), &opts)
            .unwrap()
            .embed(&["cached"])
            .unwrap();
        assert_eq!(a, b);
        store.clear().await.unwrap();
    });
}

/// The weights file read from the store tensor by tensor (`TensorSink`): a tensor the
/// session holds (here every one, by its digest) is taken from it rather than
/// allocated; a download broken after a chunk and a half resumes into a new stream;
/// both embed to the same bits as the whole file.
#[test]
fn minilm_streams_through_the_store() {
    use ipfs_accelerate::models::EmbedderOptions;
    use ipfs_accelerate::store::read_model_sharing;
    use ipfs_accelerate::weights::{digest, read_safetensors, Sink, Streamed, TensorSink};
    let (_, owned) = minilm_files();
    let weights = &owned.iter().find(|(n, _)| *n == files::WEIGHTS).unwrap().1;
    let held = read_safetensors(AlignedBuf::from(weights.as_slice())).unwrap();
    let by_digest: std::collections::HashMap<_, _> = held.iter().map(|(_, t)| (digest(t), t.clone())).collect();
    let lookup = |d: &ipfs_accelerate::weights::Digest| by_digest.get(d).cloned();
    let store = store("minilm-stream");
    let opts = EmbedderOptions::default();
    pollster::block_on(async {
        let m = write_model(&store, "minilm", &refs(&owned)).await.unwrap();
        let whole = read_model(&store, &m, TextEmbedder::FILES, &mut |_, _, _| {}).await.unwrap().unwrap();
        let want = TextEmbedder::from_files(whole, &opts).unwrap().embed(&["streamed"]).unwrap();
        let f = read_model_sharing(
            &store,
            &m,
            TextEmbedder::FILES,
            &|_| false,
            &|| TensorSink::<Vec<u8>>::new(&lookup),
            &mut |_, _, _| {},
        )
        .await
        .unwrap()
        .unwrap();
        let got = f.streamed.as_ref().expect("read tensor by tensor");
        assert_eq!(got.len(), held.len());
        for (name, t) in got.iter() {
            assert_eq!(t.storage_id(), held.get(name).unwrap().storage_id(), "{name} is the held tensor");
        }
        assert_eq!(TextEmbedder::from_files(f, &opts).unwrap().embed(&["streamed"]).unwrap(), want);

        // A download broken after a chunk and a half, resumed into a new stream.
        let nothing = |_: &ipfs_accelerate::weights::Digest| None;
        let mut w = FileWriter::fresh_into(&store, "http://s/", files::WEIGHTS, TensorSink::<Vec<u8>>::new(&nothing));
        w.set_remote(Some(weights.len() as u64), Some("\"v1\"".into()), None).unwrap();
        w.extend(&weights[..CHUNK_SIZE + CHUNK_SIZE / 2]).unwrap();
        w.flush_full().await.unwrap();
        drop(w);
        let p = store.partial("http://s/", files::WEIGHTS).await.unwrap().unwrap();
        let mut w = FileWriter::resume_into(&store, p, TensorSink::<Vec<u8>>::new(&nothing)).await.unwrap().unwrap();
        assert_eq!(w.offset(), CHUNK_SIZE as u64);
        for piece in weights[CHUNK_SIZE..].chunks(300_000) {
            w.extend(piece).unwrap();
            w.flush_full().await.unwrap();
        }
        let (entry, sink) = w.finish().await.unwrap();
        assert_eq!(entry.sha256, ipfs_accelerate::store::sha256_hex(weights));
        let Streamed::Tensors { weights: fresh, reused } = sink.finish().unwrap() else { panic!("gathered whole") };
        assert_eq!((fresh.len(), reused), (held.len(), 0));
        for (name, t) in fresh.iter() {
            assert_eq!(t.as_f32_slice(), held.get(name).unwrap().as_f32_slice(), "{name}");
        }
        store.clear().await.unwrap();
    });
}

/// A q8 load keeps the weights it made; a load that reads them back (and not the f32
/// file: about a quarter of the bytes read) embeds to the same bits.
#[test]
fn minilm_q8_reads_its_held_weights() {
    use ipfs_accelerate::models::files::MadeSlot;
    use ipfs_accelerate::models::{EmbedderOptions, Form, WeightDtype};
    use ipfs_accelerate::store::read_model_sharing;
    let (_, owned) = minilm_files();
    let store = store("minilm-q8");
    let dtype = WeightDtype::new(Form::Q8);
    let opts = EmbedderOptions { dtype: dtype.clone(), ..Default::default() };
    pollster::block_on(async {
        let m = write_model(&store, "minilm", &refs(&owned)).await.unwrap();
        let sha = m.sha256_of(files::WEIGHTS).unwrap();
        let (mut first, mut second) = (0u64, 0u64);
        let mut f = read_model(&store, &m, TextEmbedder::FILES, &mut |_, n, t| first += (n == t) as u64 * n)
            .await
            .unwrap()
            .unwrap();
        let made = MadeSlot::default();
        f.made = Some(made.clone());
        let a = TextEmbedder::from_files(f, &opts).unwrap().embed(&["held weights"]).unwrap();
        let bytes = made.lock().unwrap().take().expect("a q8 load makes held weights");
        assert!(keep_held(&store, &sha, &dtype.id(), &bytes).await.unwrap());
        let mut count = |_: &str, n: u64, t: u64| second += (n == t) as u64 * n;
        let held = read_held(&store, &sha, &dtype.id(), &mut count).await.unwrap().unwrap();
        let mut f = read_model_sharing(&store, &m, TextEmbedder::FILES, &|_| true, &AlignedBuf::default, &mut count)
            .await
            .unwrap()
            .unwrap();
        f.held = Some(held);
        let e = TextEmbedder::from_files(f, &opts).unwrap();
        assert_eq!(e.embed(&["held weights"]).unwrap(), a);
        println!("minilm q8: the first load read {first} bytes, the second {second}");
        assert!(first > 90_000_000 && second < 30_000_000, "{first} then {second} bytes read");
        store.clear().await.unwrap();
    });
}
