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
    #[error("the model produced a non-finite value (NaN or ±Inf): {0}")]
    NonFiniteOutput(String),
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    #[error("{0} was aborted")]
    Aborted(String),
    #[error("invalid image: {0}")]
    InvalidImage(String),
    #[error("invalid audio: {0}")]
    InvalidAudio(String),
    /// A block whose bytes do not hash to its CID (or a CAR that cannot be read as one).
    #[error("integrity: block {cid} from {gateway} failed verification: {reason}")]
    Integrity { cid: String, gateway: String, reason: String },
    /// Verified content that is not what a model directory needs: a file where a
    /// directory must be, a broken HAMT, sizes that disagree with their blocks.
    #[error("invalid IPFS content at {cid}: {reason}")]
    InvalidDag { cid: String, reason: String },
    /// The WebNN context was lost (destroyed, or the browser's ML service went away); the
    /// next call makes a new one.
    #[error("the WebNN context was lost: {0}")]
    WebNnContextLost(String),
    /// WebNN refused or failed an op: a graph it would not build, a dispatch it rejected.
    #[error("WebNN error in {op}: {reason}")]
    WebNn { op: String, reason: String },
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
            Error::NonFiniteOutput(_) => "non_finite_output",
            Error::OutOfMemory(_) => "out_of_memory",
            Error::Aborted(_) => "aborted",
            Error::InvalidImage(_) => "invalid_image",
            Error::InvalidAudio(_) => "invalid_audio",
            Error::Integrity { .. } => "integrity",
            Error::InvalidDag { .. } => "invalid_dag",
            Error::WebNnContextLost(_) => "webnn_context_lost",
            Error::WebNn { .. } => "webnn_error",
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of every variant. The match has no wildcard, so a new variant does not
    /// compile until it is listed here, and so checked against index.d.ts below.
    fn one_of_each() -> Vec<Error> {
        let all = vec![
            Error::shapes("op", &[&[1]], "r"),
            Error::arg("op", "r"),
            Error::DTypeMismatch { op: "op", expected: "f32".into(), found: "i32".into() },
            Error::InvalidGraph("g".into()),
            Error::BackendUnavailable("b".into()),
            Error::weights("w", "r"),
            Error::UnsupportedModel("m".into()),
            Error::config("f", "r"),
            Error::FetchFailed { url: "u".into(), reason: "r".into() },
            Error::InputTooLong { index: 0, limit: 1 },
            Error::Disposed("x"),
            Error::CacheCorrupt { source_url: "u".into(), detail: "d".into(), reason: "r".into() },
            Error::QuotaExceeded { what: "w".into(), needed: 2, available: 1, detail: String::new() },
            Error::StoreFailed("s".into()),
            Error::GpuDeviceLost("l".into()),
            Error::GpuError("e".into()),
            Error::GpuOutOfMemory("o".into()),
            Error::NonFiniteOutput("n".into()),
            Error::OutOfMemory("m".into()),
            Error::Aborted("a".into()),
            Error::InvalidImage("i".into()),
            Error::InvalidAudio("a".into()),
            Error::Integrity { cid: "c".into(), gateway: "g".into(), reason: "r".into() },
            Error::InvalidDag { cid: "c".into(), reason: "r".into() },
            Error::WebNnContextLost("l".into()),
            Error::WebNn { op: "o".into(), reason: "r".into() },
        ];
        for e in &all {
            match e {
                Error::ShapeMismatch { .. }
                | Error::InvalidArgument { .. }
                | Error::DTypeMismatch { .. }
                | Error::InvalidGraph(_)
                | Error::BackendUnavailable(_)
                | Error::InvalidWeights { .. }
                | Error::UnsupportedModel(_)
                | Error::InvalidConfig { .. }
                | Error::FetchFailed { .. }
                | Error::InputTooLong { .. }
                | Error::Disposed(_)
                | Error::CacheCorrupt { .. }
                | Error::QuotaExceeded { .. }
                | Error::StoreFailed(_)
                | Error::GpuDeviceLost(_)
                | Error::GpuError(_)
                | Error::GpuOutOfMemory(_)
                | Error::NonFiniteOutput(_)
                | Error::OutOfMemory(_)
                | Error::Aborted(_)
                | Error::InvalidImage(_)
                | Error::InvalidAudio(_)
                | Error::Integrity { .. }
                | Error::InvalidDag { .. }
                | Error::WebNnContextLost(_)
                | Error::WebNn { .. } => {}
            }
        }
        all
    }

    /// The codes of `IpfsAccelerateError` in pkg-template/index.d.ts.
    fn typed_codes() -> Vec<String> {
        let dts = include_str!("../pkg-template/index.d.ts");
        let start = dts.find("  code:").expect("index.d.ts declares code");
        let end = start + dts[start..].find(';').expect("the code union ends");
        dts[start..end].split('\'').skip(1).step_by(2).map(String::from).collect()
    }

    #[test]
    fn every_code_is_in_index_d_ts_and_every_typed_code_is_thrown() {
        let typed = typed_codes();
        let rust: Vec<&str> = one_of_each().iter().map(Error::code).collect();
        assert_eq!(rust.len(), 26, "one error of each variant");
        for c in &rust {
            assert!(typed.iter().any(|t| t == c), "code '{c}' is missing from index.d.ts");
        }
        // Codes that only the JS facade raises, each found in its source.
        let js = [
            include_str!("../pkg-template/sdk.js"),
            include_str!("../pkg-template/react.js"),
            include_str!("../pkg-template/worker-host.js"),
            include_str!("../pkg-template/image-input.js"),
            include_str!("../pkg-template/audio-input.js"),
        ]
        .concat();
        for t in &typed {
            let thrown = rust.contains(&t.as_str()) || js.contains(&format!("'{t}'"));
            assert!(thrown, "index.d.ts lists '{t}', which nothing raises");
        }
    }
}
