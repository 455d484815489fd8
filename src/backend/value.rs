//! What a run takes and gives: host tensors, or tensors left on a backend's device, which
//! feed that backend's next run without a readback (a decoder's KV cache, its next token).

use super::webgpu::GpuValue;
use super::webnn::NnValue;
use super::BackendKind;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// One input or output of a run.
#[derive(Clone, Debug)]
pub enum Value {
    Host(Tensor),
    Device(DeviceTensor),
}

/// A tensor held by one backend. Cloning shares it; a run that writes into an input (a
/// cache append) does so in place only when it holds the last handle, so a value the
/// caller kept is never changed under it.
#[derive(Clone, Debug)]
pub struct DeviceTensor {
    pub(crate) dims: Vec<usize>,
    pub(crate) dtype: DType,
    pub(crate) data: DeviceData,
}

#[derive(Clone, Debug)]
pub(crate) enum DeviceData {
    /// The CPU backend's device is host memory.
    Cpu(Tensor),
    WebGpu(GpuValue),
    /// An `MLTensor` (natively an empty type: there is no WebNN there).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    WebNn(NnValue),
}

impl DeviceTensor {
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn backend(&self) -> BackendKind {
        match self.data {
            DeviceData::Cpu(_) => BackendKind::Cpu,
            DeviceData::WebGpu(_) => BackendKind::WebGpu,
            DeviceData::WebNn(_) => BackendKind::WebNn,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.dtype.bytes(self.dims.iter().product::<usize>()) as u64
    }
}

impl Value {
    pub fn dims(&self) -> &[usize] {
        match self {
            Value::Host(t) => t.dims(),
            Value::Device(d) => d.dims(),
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            Value::Host(t) => t.dtype(),
            Value::Device(d) => d.dtype(),
        }
    }

    /// The host tensor of a `Host` value; a device value must be read through its backend.
    pub fn into_host(self) -> Result<Tensor> {
        match self {
            Value::Host(t) => Ok(t),
            Value::Device(d) => Err(Error::arg(
                "run",
                format!(
                    "a {:?} {} value is on the {} device: read it through its backend",
                    d.dims,
                    d.dtype,
                    d.backend()
                ),
            )),
        }
    }

    /// A device value held by another backend than `kind`.
    pub(crate) fn foreign(d: &DeviceTensor, kind: BackendKind) -> Error {
        Error::arg("run", format!("a value on the {} device was given to the {kind} backend", d.backend()))
    }
}

/// What a backend counts, the same for every backend: tests check a decoder compiles its
/// step once and reads back only its token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Graphs compiled into plans (a plan cache miss).
    pub compiles: u64,
    pub runs: u64,
    /// Bytes that came back to the host: host outputs of runs, and reads of device values.
    pub read_bytes: u64,
}
