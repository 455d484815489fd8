//! The JS surface: everything `#[wasm_bindgen]` lives under here; nothing below knows JS.

mod control;
mod detect;
mod download;
mod error;
mod fetch;
mod image_embedder;
mod ipfs_fetch;
mod ipfs_file;
mod load_options;
mod model;
mod model_source;
mod ops;
mod options;
mod remote;
mod session;
mod sink;
mod speech_recognizer;
mod tensor;
mod text_embedder;
mod weight_store;

pub use control::Control;
pub use error::to_js;
pub use fetch::{fetch_bytes, fetch_model_files};
pub use image_embedder::JsImageEmbedder;
pub use session::JsSession;
pub use speech_recognizer::JsSpeechRecognizer;
pub use tensor::JsTensor;
pub use text_embedder::JsTextEmbedder;
pub use weight_store::JsWeightStore;

use wasm_bindgen::prelude::*;

/// Runs once when the module is instantiated: panics, which should never happen, at least
/// reach the console with a message instead of a bare `unreachable`.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The SDK version, from Cargo.toml.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Which CPU kernel path this build runs: "simd128", "simd128+relaxed" (the build whose
/// GEMM uses relaxed-simd fused multiply-add) or "portable".
#[wasm_bindgen(js_name = cpuPath)]
pub fn cpu_path() -> String {
    let path = crate::backend::cpu::Path::best().name();
    if cfg!(relaxed_simd) {
        format!("{path}+relaxed")
    } else {
        path.to_string()
    }
}

/// Threads the CPU backend splits its work over in this module: 1 in the single-thread
/// builds; in the threaded build, this thread and the helper workers that have started.
#[wasm_bindgen(js_name = cpuThreads)]
pub fn cpu_threads() -> usize {
    crate::backend::cpu::parallel::threads()
}

/// The body of a helper worker (pkg-template/thread.js): in the threaded build it serves
/// the CPU backend's split kernels and never returns; the single-thread builds have no
/// shared memory to help in.
#[wasm_bindgen(js_name = threadHelper)]
pub fn thread_helper() -> Result<(), JsValue> {
    #[cfg(target_feature = "atomics")]
    crate::backend::cpu::parallel::help();
    #[cfg(not(target_feature = "atomics"))]
    Err(error::to_js(crate::error::Error::arg("threadHelper", "this build has no threads: load the threaded build")))
}

/// Bytes of this module's wasm memory. Linear memory only grows, so this is also the peak.
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    (core::arch::wasm32::memory_size(0) * 65536) as f64
}
