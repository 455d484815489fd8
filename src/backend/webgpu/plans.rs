//! The plan cache of the WebGPU backend: compiling a graph into a plan on first use (and
//! ahead of runs), keeping plans in the LRU, and dropping every cached buffer when the
//! device runs out of memory.

use super::device::Gpu;
use super::plan::{self, Plan};
use super::pool::BufferPool;
use super::weights::Weights;
use super::{AllocVerdict, WebGpuBackend};
use crate::error::{Error, Result};
use crate::graph::Graph;
use std::sync::Arc;

impl WebGpuBackend {
    /// Compiles `graph` for this device (its plan, buffers, weights and pipelines) and
    /// waits for the browser's verdict on the allocations, so that a later run neither
    /// compiles nor finds a dead buffer.
    pub async fn compile(&self, graph: &Arc<Graph>) -> Result<()> {
        self.ready_plan(graph).await.map(|_| ())
    }

    /// The plan for `graph` with its device. A browser reports an allocation that failed
    /// only later, and asynchronously: a new plan's verdict is awaited here, so that no plan
    /// with a dead buffer is kept.
    pub(super) async fn ready_plan(&self, graph: &Arc<Graph>) -> Result<(Arc<Gpu>, Arc<Plan>)> {
        let (gpu, plan, allocated) = self.plan(graph)?;
        if let Some(verdict) = allocated {
            if let Some(e) = verdict.await {
                let steps = plan.steps.len();
                return Err(self.out_of_memory(format!("allocating the buffers of a {steps}-dispatch plan: {e}")));
            }
        }
        Ok((gpu, plan))
    }

    /// An out-of-memory error, after dropping every plan, pooled buffer and weight this
    /// backend holds: one of them may be a buffer the device failed to make, and freeing
    /// them gives the next (perhaps smaller) run room. Weights are uploaded again on use.
    pub(super) fn out_of_memory(&self, detail: String) -> Error {
        let _ = self.with_state(|s| {
            s.plans.drain();
            s.pool = BufferPool::default();
            s.weights = Weights::default();
        });
        Error::GpuOutOfMemory(detail)
    }

    /// Drops `graph`'s plan, its buffers back to the pool once no run holds it.
    pub fn release(&self, graph: &Graph) {
        let _ = self.with_state(|s| {
            if let Some(old) = s.plans.remove(&graph.key()) {
                retire(&mut s.pool, old);
            }
        });
    }

    /// Drops the device copies of the constant `t`.
    pub fn forget(&self, t: &crate::tensor::Tensor) {
        let _ = self.with_state(|s| s.weights.forget(t));
    }

    /// The plan for `graph`, compiled on first use; for a new plan also the future verdict
    /// on its allocations (an out-of-memory error or none).
    pub(super) fn plan(&self, graph: &Arc<Graph>) -> Result<(Arc<Gpu>, Arc<Plan>, Option<AllocVerdict>)> {
        let key = graph.key();
        self.with_state(|s| {
            if let Some(p) = s.plans.get(&key) {
                return Ok((s.gpu.clone(), p.clone(), None));
            }
            let gpu = s.gpu.clone();
            let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let compiled =
                plan::compile(&gpu.device, &gpu.limits, &s.pipelines, &mut s.pool, &mut s.weights, &s.variant, graph);
            let verdict: AllocVerdict = Box::pin(scope.pop());
            let p = Arc::new(compiled?);
            if let Some(e) = gpu.take_error() {
                return Err(e);
            }
            let bytes = p.held.iter().map(|b| b.size()).sum();
            for old in s.plans.insert(key, p.clone(), bytes) {
                retire(&mut s.pool, old);
            }
            Ok((gpu, p, Some(verdict)))
        })?
    }
}

/// A plan out of the cache: its buffers back to the pool, unless a run still holds the
/// plan (it then keeps them until it is dropped).
fn retire(pool: &mut BufferPool, old: Arc<Plan>) {
    if let Ok(old) = Arc::try_unwrap(old) {
        old.held.into_iter().for_each(|b| pool.put(b));
    }
}
