//! The WebNN backend (`navigator.ml`): each graph is lowered to one `MLGraph`, built
//! once and dispatched on every run; weights become constant tensors made once per
//! context and shared by every graph that reads them. Nodes the context's
//! `opSupportLimits()` rejects run on the CPU backend instead (`partition.rs`). Only
//! browsers have WebNN: natively `WebNnBackend::new` is `backend_unavailable`.

#[cfg(target_arch = "wasm32")]
mod backend;
#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod decompose;
#[cfg(target_arch = "wasm32")]
mod lower;
#[cfg(target_arch = "wasm32")]
mod partition;
#[cfg(target_arch = "wasm32")]
mod run;
#[cfg(target_arch = "wasm32")]
mod support;
#[cfg(target_arch = "wasm32")]
mod value;

#[cfg(target_arch = "wasm32")]
pub use backend::WebNnBackend;
#[cfg(target_arch = "wasm32")]
pub use value::NnValue;

/// How to ask for a context (`MLContextOptions`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NnOptions {
    /// "default", "high-performance" or "low-power".
    pub power_preference: Option<String>,
    /// `accelerated: false` asks for a CPU context.
    pub accelerated: Option<bool>,
}

/// What a WebNN backend did, for tests that count reuse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NnStats {
    pub contexts: u64,
    pub builds: u64,
    pub dispatches: u64,
    pub constants: u64,
    pub constant_bytes: u64,
    /// Nodes of compiled graphs that run on the CPU because the context refused them.
    pub fallback_nodes: u64,
    /// Tensors created (inputs, outputs, uploads; constants apart).
    pub tensors: u64,
}

/// Natively there is no WebNN: a value can never be one of its tensors.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Debug)]
pub enum NnValue {}

/// Natively: every attempt says WebNN is a browser API.
#[cfg(not(target_arch = "wasm32"))]
pub enum WebNnBackend {}

#[cfg(not(target_arch = "wasm32"))]
impl WebNnBackend {
    pub async fn new(_opts: NnOptions) -> crate::error::Result<Self> {
        Err(crate::error::Error::BackendUnavailable("webnn (navigator.ml exists only in browsers)".into()))
    }

    pub fn stats(&self) -> NnStats {
        match *self {}
    }

    pub fn fallback_reasons(&self) -> Vec<String> {
        match *self {}
    }

    pub fn forget(&self, _t: &crate::tensor::Tensor) {
        match *self {}
    }
}
