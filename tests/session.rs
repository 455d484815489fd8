//! Sessions: MiniLM loaded twice in one session holds each weight tensor once (stats say
//! so), adds under 10 MB of GPU bytes, and answers as the first load does; disposing one
//! load leaves the other working, disposing both leaves no model tensors. A repeated
//! input is an output-cache hit. Natively and in both browsers, on the CPU and WebGPU.
//! q8 loads share what they hold (made once from the file, under 30 MB), apart from an
//! f32 load's tensors.
//! Tolerance: the loads agree within 1e-6; the cached answer is the same vector.

mod common;

use ipfs_accelerate::backend::webgpu::GpuOptions;
use ipfs_accelerate::models::{EmbedderOptions, Form, ModelFiles, TextEmbedder, WeightDtype};
use ipfs_accelerate::runtime::Session;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

#[cfg(not(target_arch = "wasm32"))]
async fn files() -> ModelFiles {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
    ModelFiles::from_dir(dir, TextEmbedder::FILES).unwrap_or_else(|e| panic!("{dir}: {e} (run `npm run setup`)"))
}

#[cfg(target_arch = "wasm32")]
async fn files() -> ModelFiles {
    let base = env!("IPFS_ACCELERATE_MODEL_URL", "npm test bakes in the model server's URL");
    ipfs_accelerate::web::fetch_model_files(
        base,
        TextEmbedder::FILES,
        None,
        &ipfs_accelerate::web::Control::none("test"),
    )
    .await
    .expect("model files fetch")
}

async fn load(s: &Session, gpu: bool) -> TextEmbedder {
    let mut e = load_as(s, EmbedderOptions::default()).await;
    if gpu {
        e.set_backend(s.webgpu(GpuOptions::default()).await.expect("a WebGPU adapter"));
    }
    e
}

async fn load_as(s: &Session, opts: EmbedderOptions) -> TextEmbedder {
    TextEmbedder::from_files_in(files().await, &opts, s).expect("model loads")
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6)
}

async fn sharing(gpu: bool) -> String {
    // No output cache: every embed below really runs.
    let s = Session::new(Some(0));
    let texts = ["a session shares weights", "two loads hold one copy"];
    let a = load(&s, gpu).await;
    let va = a.embed_async(&texts).await.unwrap();
    let one = s.stats();
    assert_eq!(one.models, 1);
    assert!(one.tensors > 50 && one.shared_tensors == 0, "{one:?}");
    let b = load(&s, gpu).await;
    let vb = b.embed_async(&texts).await.unwrap();
    let two = s.stats();
    assert_eq!(two.models, 2);
    assert_eq!((two.tensors, two.tensor_bytes), (one.tensors, one.tensor_bytes), "the second load added tensors");
    assert_eq!(two.shared_tensors, two.tensors, "every tensor is shared: {two:?}");
    assert_eq!(two.max_sharing, 2);
    let grew = two.gpu_bytes - one.gpu_bytes;
    assert!(grew < 10 << 20, "the second load added {grew} GPU bytes");
    for (x, y) in va.iter().zip(&vb) {
        assert!(close(x, y), "the loads disagree");
    }
    drop(a);
    assert_eq!(s.stats().models, 1);
    assert_eq!(s.stats().tensors, one.tensors, "the other load still holds them");
    let again = b.embed_async(&texts).await.unwrap();
    assert!(close(&again[1], &va[1]), "the remaining load changed");
    drop(b);
    let none = s.stats();
    assert_eq!((none.models, none.tensors, none.tensor_bytes), (0, 0, 0), "{none:?}");
    let kind = if gpu { "webgpu" } else { "wasm" };
    format!("session: {kind}: {} tensors shared by two loads, {grew} GPU bytes added", two.tensors)
}

async fn output_cache(gpu: bool) {
    let s = Session::new(None);
    let e = load(&s, gpu).await;
    let first = e.embed_async(&["the same input twice"]).await.unwrap();
    let before = s.stats().outputs;
    let second = e.embed_async(&["the same input twice", "and one new"]).await.unwrap();
    let after = s.stats().outputs;
    assert_eq!(after.hits, before.hits + 1, "the repeated text is a hit");
    assert_eq!(after.misses, before.misses + 1, "the new text is a miss");
    assert_eq!(first[0], second[0]);
    // Another load of the same model in the session shares its outputs too.
    let other = load(&s, gpu).await;
    let third = other.embed_async(&["and one new"]).await.unwrap();
    assert_eq!(s.stats().outputs.hits, after.hits + 1);
    assert_eq!(third[0], second[1]);
}

/// Quantized loads: what a q8 model holds is made once from the file and shared by the
/// next q8 load of it (the f32 file freed, under 30 MB held); an f32 load of the same file
/// holds the file's own tensors beside them. Both report the file's unused tensors.
async fn quantized_sharing() -> String {
    let s = Session::new(Some(0));
    let q8 = || EmbedderOptions { dtype: WeightDtype::new(Form::Q8), ..Default::default() };
    let texts = ["a quantized load is shared too"];
    let a = load_as(&s, q8()).await;
    let one = s.stats();
    assert!(
        a.weight_bytes() <= 30_000_000 && one.tensor_bytes <= 30_000_000,
        "q8 holds {} bytes, {one:?}",
        a.weight_bytes()
    );
    let b = load_as(&s, q8()).await;
    let two = s.stats();
    assert_eq!((two.tensors, two.tensor_bytes), (one.tensors, one.tensor_bytes), "the second q8 load added tensors");
    assert_eq!(two.max_sharing, 2);
    assert!(close(&a.embed_async(&texts).await.unwrap()[0], &b.embed_async(&texts).await.unwrap()[0]));
    let f = load_as(&s, EmbedderOptions::default()).await;
    let three = s.stats();
    assert!(three.tensor_bytes > two.tensor_bytes + 60_000_000, "the f32 load holds its own weights: {three:?}");
    assert!(f.weight_bytes() > 90_000_000, "f32 holds {} bytes", f.weight_bytes());
    assert_eq!(a.unused_weights(), f.unused_weights());
    assert_eq!(b.unused_weights(), f.unused_weights());
    format!("session: q8 loads hold {} bytes of weights, shared by two; f32 {}", one.tensor_bytes, f.weight_bytes())
}

async fn all() -> Vec<String> {
    let mut lines = vec![quantized_sharing().await];
    for gpu in [false, true] {
        lines.push(sharing(gpu).await);
        output_cache(gpu).await;
    }
    lines
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn loads_in_one_session_share_weights_backends_and_outputs() {
    for l in pollster::block_on(all()) {
        println!("{l}");
    }
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test]
async fn loads_in_one_session_share_weights_backends_and_outputs() {
    for l in all().await {
        console_log!("{l}");
    }
}
