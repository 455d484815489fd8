//! ipfs-accelerate: ML models in the browser, from Rust compiled to WebAssembly.
//!
//! The core (tensors, the graph IR and the CPU backend) is plain Rust and is tested with
//! `cargo test` on the host; `web` is the thin wasm-bindgen facade over it.

pub mod backend;
pub mod detect;
pub mod error;
pub mod graph;
pub mod ipfs;
pub mod models;
pub mod runtime;
pub mod source;
pub mod store;
pub mod tensor;
pub mod weights;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
