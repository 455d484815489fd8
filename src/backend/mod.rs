//! Compute backends behind one contract. Every backend compiles and runs a `Graph`
//! asynchronously; a model runner holds a `dyn Backend` and never knows which one it has.
//! The CPU backend is always present; one missing on a platform is an `Unavailable`
//! stub, so callers need no `cfg`.

pub mod cpu;
mod unavailable;
pub mod webgpu;

pub use unavailable::Unavailable;

use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::tensor::Tensor;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A backend's future: not `Send`, since browser handles live on one thread.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Which backend: the one word JS callers, `recommend()` and the options use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The WASM SIMD CPU backend (natively, the same kernels on the host CPU).
    Cpu,
    WebGpu,
    WebNn,
}

impl BackendKind {
    /// The name JS sees: "wasm", "webgpu" or "webnn".
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "wasm",
            BackendKind::WebGpu => "webgpu",
            BackendKind::WebNn => "webnn",
        }
    }

    /// A `backend` option: `None` for "auto" (the caller asks `recommend()`), else the
    /// kind; "cpu" is accepted for "wasm". Anything else is `invalid_argument` for `op`.
    pub fn parse(op: &'static str, s: &str) -> Result<Option<Self>> {
        match s {
            "auto" => Ok(None),
            "wasm" | "cpu" => Ok(Some(BackendKind::Cpu)),
            "webgpu" => Ok(Some(BackendKind::WebGpu)),
            "webnn" => Ok(Some(BackendKind::WebNn)),
            other => Err(Error::arg(op, format!("backend '{other}' is not one of auto, wasm, webgpu, webnn"))),
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What every backend does. Inputs are one tensor per input node, in declaration order;
/// outputs one per graph output.
pub trait Backend {
    fn kind(&self) -> BackendKind;
    /// Readies `graph` for runs (a WebGPU plan, its buffers and weights), so that the
    /// first run costs no compilation and allocation failures surface here.
    fn compile<'a>(&'a self, graph: &'a Arc<Graph>) -> LocalFuture<'a, Result<()>>;
    fn run<'a>(&'a self, graph: &'a Arc<Graph>, inputs: &'a [Tensor]) -> LocalFuture<'a, Result<Vec<Tensor>>>;
    /// The concrete backend, for what only it has (a GPU's counters, a test's device
    /// loss).
    fn as_any(&self) -> &dyn std::any::Any;
}

impl Backend for cpu::CpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn compile<'a>(&'a self, graph: &'a Arc<Graph>) -> LocalFuture<'a, Result<()>> {
        // Nothing to compile: nodes run as they come, and weights pack on first use.
        let _ = graph;
        Box::pin(async { Ok(()) })
    }

    fn run<'a>(&'a self, graph: &'a Arc<Graph>, inputs: &'a [Tensor]) -> LocalFuture<'a, Result<Vec<Tensor>>> {
        Box::pin(async move { cpu::CpuBackend::run(self, graph, inputs) })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Backend for webgpu::WebGpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::WebGpu
    }

    fn compile<'a>(&'a self, graph: &'a Arc<Graph>) -> LocalFuture<'a, Result<()>> {
        Box::pin(webgpu::WebGpuBackend::compile(self, graph))
    }

    fn run<'a>(&'a self, graph: &'a Arc<Graph>, inputs: &'a [Tensor]) -> LocalFuture<'a, Result<Vec<Tensor>>> {
        Box::pin(webgpu::WebGpuBackend::run(self, graph, inputs))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
