//! Compute backends behind one contract. Every backend compiles and runs a `Graph`
//! asynchronously; a model runner holds a `dyn Backend` and never knows which one it has.
//! The CPU backend is always present; one missing on a platform is an `Unavailable`
//! stub, so callers need no `cfg`.

pub mod checks;
pub mod cpu;
mod unavailable;
mod value;
pub mod webgpu;
pub mod webnn;

pub use unavailable::Unavailable;
pub use value::{DeviceTensor, RunStats, Value};

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

/// How a model pads a length that varies by call (a text's tokens) to the shapes it
/// builds graphs for: fine steps where a new shape is cheap (a CPU plan, a WebGPU plan),
/// a few coarse ones where a build is slow and copies its constants (WebNN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapePolicy {
    /// Multiples of this step.
    Step(usize),
    /// Powers of two, from `least`.
    PowerOfTwo { least: usize },
}

impl ShapePolicy {
    /// The padded length for `n` (sequence lengths are padded so few graphs are built).
    pub fn bucket(self, n: usize) -> usize {
        match self {
            ShapePolicy::Step(s) => n.div_ceil(s.max(1)) * s.max(1),
            ShapePolicy::PowerOfTwo { least } => n.max(least).next_power_of_two(),
        }
    }
}

/// What every backend does. Inputs are one value per input node, in declaration order;
/// outputs one per graph output.
pub trait Backend {
    fn kind(&self) -> BackendKind;
    /// Readies `graph` for runs (its plan: a WebGPU plan's buffers and weights, the CPU's
    /// buffer liveness), so that the first run costs no compilation and allocation
    /// failures surface here.
    fn compile<'a>(&'a self, graph: &'a Arc<Graph>) -> LocalFuture<'a, Result<()>>;
    /// Runs `graph`. Output `i` stays on this backend's device where `on_device[i]` is true
    /// (missing entries are false), to feed a later run; inputs may be such values.
    fn run_values<'a>(
        &'a self,
        graph: &'a Arc<Graph>,
        inputs: Vec<Value>,
        on_device: &'a [bool],
    ) -> LocalFuture<'a, Result<Vec<Value>>>;
    /// A value's contents on the host (a device value is read back and counted).
    fn read<'a>(&'a self, value: &'a Value) -> LocalFuture<'a, Result<Tensor>>;
    /// A copy of `t` on this backend's device: the initial state a run then updates.
    /// Asynchronous, as WebNN's tensor creation is.
    fn upload<'a>(&'a self, t: &'a Tensor) -> LocalFuture<'a, Result<Value>>;
    fn run_stats(&self) -> RunStats;
    /// Drops `graph`'s plan: its model is gone (a plan holds its graph's constants).
    fn release(&self, graph: &Graph);
    /// Drops what this backend made from the constant `t` (packed or uploaded copies):
    /// the last model sharing it is gone.
    fn forget(&self, t: &Tensor);
    /// The concrete backend, for what only it has (a GPU's counters, a test's device
    /// loss).
    fn as_any(&self) -> &dyn std::any::Any;
    /// The shapes models should pad their variable lengths to on this backend.
    fn shape_policy(&self) -> ShapePolicy {
        ShapePolicy::Step(8)
    }

    /// Runs `graph` on host tensors and reads every output back.
    fn run<'a>(&'a self, graph: &'a Arc<Graph>, inputs: &'a [Tensor]) -> LocalFuture<'a, Result<Vec<Tensor>>> {
        let inputs = inputs.iter().cloned().map(Value::Host).collect();
        Box::pin(async move { self.run_values(graph, inputs, &[]).await?.into_iter().map(Value::into_host).collect() })
    }
}

impl Backend for cpu::CpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn compile<'a>(&'a self, graph: &'a Arc<Graph>) -> LocalFuture<'a, Result<()>> {
        Box::pin(async move { self.plan(graph).map(|_| ()) })
    }

    fn run_values<'a>(
        &'a self,
        graph: &'a Arc<Graph>,
        inputs: Vec<Value>,
        on_device: &'a [bool],
    ) -> LocalFuture<'a, Result<Vec<Value>>> {
        Box::pin(async move { self.run_values(graph, inputs, on_device) })
    }

    fn read<'a>(&'a self, value: &'a Value) -> LocalFuture<'a, Result<Tensor>> {
        Box::pin(async move { self.read(value) })
    }

    fn upload<'a>(&'a self, t: &'a Tensor) -> LocalFuture<'a, Result<Value>> {
        Box::pin(async move { Ok(cpu::CpuBackend::upload(t)) })
    }

    fn run_stats(&self) -> RunStats {
        self.run_stats()
    }

    fn release(&self, graph: &Graph) {
        cpu::CpuBackend::release(self, graph)
    }

    fn forget(&self, t: &Tensor) {
        cpu::CpuBackend::forget(self, t)
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

    fn run_values<'a>(
        &'a self,
        graph: &'a Arc<Graph>,
        inputs: Vec<Value>,
        on_device: &'a [bool],
    ) -> LocalFuture<'a, Result<Vec<Value>>> {
        Box::pin(webgpu::WebGpuBackend::run_values(self, graph, inputs, on_device))
    }

    fn read<'a>(&'a self, value: &'a Value) -> LocalFuture<'a, Result<Tensor>> {
        Box::pin(webgpu::WebGpuBackend::read(self, value))
    }

    fn upload<'a>(&'a self, t: &'a Tensor) -> LocalFuture<'a, Result<Value>> {
        Box::pin(async move { webgpu::WebGpuBackend::upload(self, t) })
    }

    fn run_stats(&self) -> RunStats {
        webgpu::WebGpuBackend::run_stats(self)
    }

    fn release(&self, graph: &Graph) {
        webgpu::WebGpuBackend::release(self, graph)
    }

    fn forget(&self, t: &Tensor) {
        webgpu::WebGpuBackend::forget(self, t)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(target_arch = "wasm32")]
impl Backend for webnn::WebNnBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::WebNn
    }

    fn compile<'a>(&'a self, graph: &'a Arc<Graph>) -> LocalFuture<'a, Result<()>> {
        Box::pin(webnn::WebNnBackend::compile(self, graph))
    }

    fn run_values<'a>(
        &'a self,
        graph: &'a Arc<Graph>,
        inputs: Vec<Value>,
        on_device: &'a [bool],
    ) -> LocalFuture<'a, Result<Vec<Value>>> {
        Box::pin(webnn::WebNnBackend::run_values(self, graph, inputs, on_device))
    }

    fn read<'a>(&'a self, value: &'a Value) -> LocalFuture<'a, Result<Tensor>> {
        Box::pin(webnn::WebNnBackend::read(self, value))
    }

    fn upload<'a>(&'a self, t: &'a Tensor) -> LocalFuture<'a, Result<Value>> {
        Box::pin(webnn::WebNnBackend::upload(self, t))
    }

    fn run_stats(&self) -> RunStats {
        webnn::WebNnBackend::run_stats(self)
    }

    fn release(&self, graph: &Graph) {
        webnn::WebNnBackend::release(self, graph)
    }

    fn forget(&self, t: &Tensor) {
        webnn::WebNnBackend::forget(self, t)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    /// A build is slow and copies its constants: powers of two from 16 tokens (MiniLM's
    /// 256 in five graphs per batch size, not 32).
    fn shape_policy(&self) -> ShapePolicy {
        ShapePolicy::PowerOfTwo { least: 16 }
    }
}
