//! The one error type of the SDK; every variant carries a stable code for JS callers.

use thiserror::Error as ThisError;

/// Every failure that input can reach. Variants name the op, the shapes or the item at
/// fault so that a message alone is enough to find the mistake.
#[derive(Debug, Clone, PartialEq, ThisError)]
pub enum Error {
    #[error("{op}: incompatible shapes {shapes}: {reason}")]
    ShapeMismatch {
        op: &'static str,
        shapes: String,
        reason: String,
    },
    #[error("{op}: invalid argument: {reason}")]
    InvalidArgument { op: &'static str, reason: String },
    #[error("{op}: dtype {found} is not supported here (expected {expected})")]
    DTypeMismatch {
        op: &'static str,
        expected: String,
        found: String,
    },
    #[error("graph: {0}")]
    InvalidGraph(String),
    #[error("backend {0} is not available on this platform")]
    BackendUnavailable(&'static str),
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
        }
    }

    pub(crate) fn shapes(op: &'static str, shapes: &[&[usize]], reason: impl Into<String>) -> Self {
        let shapes = shapes
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(" and ");
        Error::ShapeMismatch {
            op,
            shapes,
            reason: reason.into(),
        }
    }

    pub(crate) fn arg(op: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
