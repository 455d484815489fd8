//! A backend that this platform or build lacks: every call is `backend_unavailable` with
//! the reason, so a runner holding it needs no special case.

use super::{Backend, BackendKind, LocalFuture, RunStats, Value};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::tensor::Tensor;
use std::sync::Arc;

pub struct Unavailable {
    kind: BackendKind,
    reason: String,
}

impl Unavailable {
    pub fn new(kind: BackendKind, reason: impl Into<String>) -> Self {
        Unavailable { kind, reason: reason.into() }
    }

    fn error(&self) -> Error {
        Error::BackendUnavailable(format!("{} ({})", self.kind, self.reason))
    }
}

impl Backend for Unavailable {
    fn kind(&self) -> BackendKind {
        self.kind
    }

    fn compile<'a>(&'a self, _graph: &'a Arc<Graph>) -> LocalFuture<'a, Result<()>> {
        Box::pin(async move { Err(self.error()) })
    }

    fn run_values<'a>(
        &'a self,
        _graph: &'a Arc<Graph>,
        _inputs: Vec<Value>,
        _on_device: &'a [bool],
    ) -> LocalFuture<'a, Result<Vec<Value>>> {
        Box::pin(async move { Err(self.error()) })
    }

    fn read<'a>(&'a self, _value: &'a Value) -> LocalFuture<'a, Result<Tensor>> {
        Box::pin(async move { Err(self.error()) })
    }

    fn upload<'a>(&'a self, _t: &'a Tensor) -> LocalFuture<'a, Result<Value>> {
        Box::pin(async move { Err(self.error()) })
    }

    fn run_stats(&self) -> RunStats {
        RunStats::default()
    }

    fn release(&self, _graph: &Graph) {}

    fn forget(&self, _t: &Tensor) {}

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_is_backend_unavailable_with_the_reason() {
        let b = Unavailable::new(BackendKind::WebNn, "navigator.ml is absent");
        let g = Arc::new(crate::graph::GraphBuilder::new().build(&[]).unwrap());
        let poll = |f: LocalFuture<'_, Result<Vec<Tensor>>>| crate::runtime::now(f);
        let e = poll(b.run(&g, &[])).unwrap().unwrap_err();
        assert_eq!(e.code(), "backend_unavailable");
        assert!(e.to_string().contains("webnn (navigator.ml is absent)"), "{e}");
        assert_eq!(b.kind(), BackendKind::WebNn);
    }
}
