//! The one error type of the SDK; every variant carries a stable code for JS callers.

use thiserror::Error as ThisError;

/// Every failure that input can reach. Variants name the op, the shapes or the item at
/// fault so that a message alone is enough to find the mistake.
#[derive(Debug, Clone, PartialEq, ThisError)]
pub enum Error {
    #[error("{op}: incompatible shapes {shapes}: {reason}")]
    ShapeMismatch { op: &'static str, shapes: String, reason: String },
    #[error("{op}: invalid argument: {reason}")]
    InvalidArgument { op: &'static str, reason: String },
    #[error("{op}: dtype {found} is not supported here (expected {expected})")]
    DTypeMismatch { op: &'static str, expected: String, found: String },
    #[error("graph: {0}")]
    InvalidGraph(String),
    #[error("backend {0} is not available on this platform")]
    BackendUnavailable(String),
    #[error("invalid weights: tensor '{name}': {reason}")]
    InvalidWeights { name: String, reason: String },
    #[error("unsupported model: {0}")]
    UnsupportedModel(String),
    #[error("invalid {file}: {reason}")]
    InvalidConfig { file: String, reason: String },
    #[error("fetch failed for {url}: {reason}")]
    FetchFailed { url: String, reason: String },
    #[error(
        "text {index} is longer than the model's limit of {limit} tokens (pass truncation: \"truncate\" to cut it)"
    )]
    InputTooLong { index: usize, limit: usize },
    #[error("{0} was disposed and cannot be used")]
    Disposed(&'static str),
    #[error("cached model {source_url} is corrupt ({detail}) and could not be fetched again: {reason}")]
    CacheCorrupt { source_url: String, detail: String, reason: String },
    #[error("storage quota exceeded: {what} needs {needed} bytes but only {available} bytes are available{detail}")]
    QuotaExceeded { what: String, needed: u64, available: u64, detail: String },
    #[error("weight store: {0}")]
    StoreFailed(String),
    #[error("the GPU device was lost: {0}")]
    GpuDeviceLost(String),
    #[error("GPU error: {0}")]
    GpuError(String),
    #[error("the GPU is out of memory: {0}")]
    GpuOutOfMemory(String),
}

impl Error {
    /// A stable, machine-readable code; JS errors carry it as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ShapeMismatch { .. } => "shape_mismatch",
            Error::InvalidArgument { .. } => "invalid_argument",
            Error::DTypeMismatch { .. } => "dtype_mismatch",
            Error::InvalidGraph(_) => "invalid_graph",
            Error::BackendUnavailable(_) => "backend_unavailable",
            Error::InvalidWeights { .. } => "invalid_weights",
            Error::UnsupportedModel(_) => "unsupported_model",
            Error::InvalidConfig { .. } => "invalid_config",
            Error::FetchFailed { .. } => "fetch_failed",
            Error::InputTooLong { .. } => "input_too_long",
            Error::Disposed(_) => "disposed",
            Error::CacheCorrupt { .. } => "cache_corrupt",
            Error::QuotaExceeded { .. } => "quota_exceeded",
            Error::StoreFailed(_) => "store_failed",
            Error::GpuDeviceLost(_) => "gpu_device_lost",
            Error::GpuError(_) => "gpu_error",
            Error::GpuOutOfMemory(_) => "gpu_out_of_memory",
        }
    }

    pub(crate) fn shapes(op: &'static str, shapes: &[&[usize]], reason: impl Into<String>) -> Self {
        let shapes = shapes.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" and ");
        Error::ShapeMismatch { op, shapes, reason: reason.into() }
    }

    pub(crate) fn weights(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidWeights { name: name.into(), reason: reason.into() }
    }

    pub(crate) fn config(file: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidConfig { file: file.into(), reason: reason.into() }
    }

    pub(crate) fn arg(op: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument { op, reason: reason.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
