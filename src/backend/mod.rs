//! Compute backends. Each one runs a `Graph`; the CPU backend is always present.

pub mod cpu;
#[cfg(not(target_arch = "wasm32"))]
pub mod webgpu;
