//! Compute backends. Each one runs a `Graph`; the CPU backend is always present.

pub mod cpu;
pub mod webgpu;
