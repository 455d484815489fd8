//! The all-MiniLM-L6-v2 float64 reference (tests/fixtures/minilm, from gen_minilm.py next
//! to it) and the cosine the MiniLM tests compare with.

use ipfs_accelerate::models::{EmbedderOptions, TextEmbedder};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Fixture {
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
pub struct Case {
    pub text: String,
    pub ids: Vec<i32>,
    pub embedding: Vec<f64>,
}

pub fn fixture() -> Fixture {
    serde_json::from_str(include_str!("../fixtures/minilm/embeddings.json")).expect("embeddings.json parses")
}

/// Cosine of an f32 vector with the f64 reference, in f64.
pub fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * y).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// all-MiniLM-L6-v2 with `opts`: natively from models/, in the browsers from the server
/// whose URL `npm test` bakes in.
#[cfg(not(target_arch = "wasm32"))]
pub async fn embedder(opts: EmbedderOptions) -> TextEmbedder {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
    TextEmbedder::from_dir(dir, &opts).unwrap_or_else(|e| panic!("{dir}: {e} (run `npm run setup`)"))
}

#[cfg(target_arch = "wasm32")]
pub async fn embedder(opts: EmbedderOptions) -> TextEmbedder {
    let base = env!(
        "IPFS_ACCELERATE_MODEL_URL",
        "build with IPFS_ACCELERATE_MODEL_URL=http://host:port/models/all-MiniLM-L6-v2/ (npm test does)"
    );
    let files = ipfs_accelerate::web::fetch_model_files(
        base,
        TextEmbedder::FILES,
        None,
        &ipfs_accelerate::web::Control::none("test"),
    )
    .await
    .expect("model files fetch");
    TextEmbedder::from_files(files, &opts).expect("model loads")
}
