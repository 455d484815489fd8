//! The weight store: model files cut into content-addressed chunks, with one manifest per
//! model source that is written only once every chunk is stored.
//!
//! The logic (`Store`, `FileWriter`) works over the `Backend` trait, which IndexedDB
//! implements in the browser (`idb`) and a directory implements natively (`dir`), so it is
//! tested with plain `cargo test` and model code never knows where bytes came from.

mod address;
mod backend;
mod dag;
#[cfg(not(target_arch = "wasm32"))]
mod dir;
#[cfg(target_arch = "wasm32")]
mod idb;
mod manifest;
mod model;
mod room;
mod weight_store;
mod writer;

pub use address::{cid, sha256_hex, CHUNK_SIZE};
pub use backend::{Backend, Estimate, Kind};
pub use dag::{cid_of, export_car};
#[cfg(not(target_arch = "wasm32"))]
pub use dir::DirBackend;
#[cfg(target_arch = "wasm32")]
pub use idb::{storage_call, IdbBackend};
pub use manifest::{ChunkRef, FileEntry, Manifest, Partial, SCHEMA};
pub use model::{held_key, keep_held, read_held, read_model, read_model_sharing, write_model, HELD_FILE};
pub use weight_store::{Corrupt, ModelInfo, Store, Usage};
pub use writer::FileWriter;

/// Milliseconds since the Unix epoch, for last-used times.
pub fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }
}
