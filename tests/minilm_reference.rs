//! all-MiniLM-L6-v2 end to end against the float64 numpy reference
//! (tests/fixtures/minilm/gen_minilm.py): tokenization, the BERT graph on the CPU backend,
//! mean pooling and normalisation. Tolerances: cosine >= 0.99999, max |diff| <= 1e-4.
//! Natively it reads models/; compiled to wasm it fetches the model from the server whose
//! URL `npm test` bakes in as IPFS_ACCELERATE_MODEL_URL.

mod common;

use common::minilm::{cosine, fixture};
use ipfs_accelerate::models::{EmbedderOptions, TextEmbedder, Truncation};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

#[cfg(not(target_arch = "wasm32"))]
async fn embedder(opts: EmbedderOptions) -> TextEmbedder {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
    TextEmbedder::from_dir(dir, &opts).unwrap_or_else(|e| panic!("{dir}: {e} (run `npm run setup`)"))
}

#[cfg(target_arch = "wasm32")]
async fn embedder(opts: EmbedderOptions) -> TextEmbedder {
    let base = env!(
        "IPFS_ACCELERATE_MODEL_URL",
        "build with IPFS_ACCELERATE_MODEL_URL=http://host:port/models/all-MiniLM-L6-v2/ (npm test does)"
    );
    let files = ipfs_accelerate::web::fetch_model_files(base, None).await.expect("model files fetch");
    TextEmbedder::from_files(files, &opts).expect("model loads")
}

macro_rules! async_test {
    ($name:ident $body:block) => {
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            // The native embedder is synchronous underneath; a trivial executor drives it.
            futures_lite_block_on(async $body)
        }
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test]
        async fn $name() $body
    };
}

#[cfg(not(target_arch = "wasm32"))]
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
    fn noop(_: *const ()) {}
    fn clone(p: *const ()) -> RawWaker {
        RawWaker::new(p, &VTABLE)
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: the vtable's functions ignore the data pointer.
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

async_test!(embeddings_match_float64_reference {
    let fx = fixture();
    assert!(fx.cases.len() >= 10);
    let e = embedder(EmbedderOptions::default()).await;
    assert_eq!(e.dims(), 384);
    assert_eq!(e.max_tokens(), 256);
    let texts: Vec<&str> = fx.cases.iter().map(|c| c.text.as_str()).collect();
    let got = e.embed(&texts).expect("embed");
    for (c, v) in fx.cases.iter().zip(&got) {
        assert_eq!(e.token_count(&c.text).unwrap(), c.ids.len(), "token count of {:?}", c.text);
        let cos = cosine(v, &c.embedding);
        let max_abs = v.iter().zip(&c.embedding).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
        assert!(cos >= 0.99999, "{:?}: cosine {cos}", c.text);
        assert!(max_abs <= 1e-4, "{:?}: max |diff| {max_abs}", c.text);
    }
});

async_test!(batching_does_not_change_embeddings {
    let fx = fixture();
    let e = embedder(EmbedderOptions::default()).await;
    // Eight texts of mixed lengths (2 to 30 tokens), so most rows of the batch are padded.
    let texts: Vec<&str> = fx.cases.iter().filter(|c| c.ids.len() <= 32).take(8).map(|c| c.text.as_str()).collect();
    assert_eq!(texts.len(), 8);
    let together = e.embed(&texts).unwrap();
    for (t, b) in texts.iter().zip(&together) {
        let alone = &e.embed(&[t]).unwrap()[0];
        let diff = alone.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-5, "{t:?}: alone vs batched differ by {diff}");
    }
});

async_test!(long_inputs_truncate_or_fail_as_asked {
    let fx = fixture();
    let long = fx.cases.iter().find(|c| c.ids.len() == 256).expect("a text at the 256-token limit");
    let strict = embedder(EmbedderOptions { truncation: Truncation::Error, ..Default::default() }).await;
    let err = strict.embed(&["short", &long.text]).unwrap_err();
    assert_eq!(err.code(), "input_too_long");
    assert!(err.to_string().contains("text 1") && err.to_string().contains("256"), "{err}");
    assert_eq!(strict.embed(&["short"]).unwrap().len(), 1, "the next call works");
});
