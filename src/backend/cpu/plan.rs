//! The CPU backend's side of the backend contract: a plan per graph (its buffer
//! liveness, worked out once and kept in an LRU by graph), device values (host tensors,
//! since the CPU's device is host memory) and the counters every backend keeps.

use super::CpuBackend;
use crate::backend::value::DeviceData;
use crate::backend::{BackendKind, DeviceTensor, RunStats, Value};
use crate::error::Result;
use crate::graph::{last_uses, Graph};
use crate::tensor::Tensor;
use std::sync::Arc;

/// Plans kept at most; past it the least recently used graph is planned again when seen.
pub const PLAN_LIMIT: usize = 64;

pub struct CpuPlan {
    /// Held so that the storage addresses in the graph's content key are not reused.
    _graph: Arc<Graph>,
    /// The node that reads each value last (see `graph::last_uses`).
    last: Vec<usize>,
}

fn device(t: Tensor) -> Value {
    Value::Device(DeviceTensor { dims: t.dims().to_vec(), dtype: t.dtype(), data: DeviceData::Cpu(t) })
}

fn host_bytes(t: &Tensor) -> u64 {
    (t.numel() * t.dtype().size_of()) as u64
}

impl CpuBackend {
    fn count(&self, f: impl FnOnce(&mut RunStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub(crate) fn plan(&self, graph: &Arc<Graph>) -> Result<Arc<CpuPlan>> {
        let key = graph.key();
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = plans.get(&key) {
            return Ok(p.clone());
        }
        let plan = Arc::new(CpuPlan { _graph: graph.clone(), last: last_uses(graph) });
        plans.insert(key, plan.clone(), 0);
        self.count(|c| c.compiles += 1);
        Ok(plan)
    }

    /// Runs `graph` on host or CPU-device values; outputs flagged in `on_device` stay
    /// device values, the rest are host values (and counted as read back).
    pub fn run_values(&self, graph: &Arc<Graph>, inputs: Vec<Value>, on_device: &[bool]) -> Result<Vec<Value>> {
        let plan = self.plan(graph)?;
        let tensors = inputs
            .into_iter()
            .map(|v| match v {
                Value::Host(t) => Ok(t),
                Value::Device(DeviceTensor { data: DeviceData::Cpu(t), .. }) => Ok(t),
                Value::Device(d) => Err(Value::foreign(&d, BackendKind::Cpu)),
            })
            .collect::<Result<Vec<_>>>()?;
        let outs = self.execute(graph, &plan.last, tensors)?;
        self.count(|c| c.runs += 1);
        Ok(outs
            .into_iter()
            .enumerate()
            .map(|(i, t)| match on_device.get(i) {
                Some(true) => device(t),
                _ => {
                    self.count(|c| c.read_bytes += host_bytes(&t));
                    Value::Host(t)
                }
            })
            .collect())
    }

    pub fn read(&self, value: &Value) -> Result<Tensor> {
        match value {
            Value::Host(t) => Ok(t.clone()),
            Value::Device(DeviceTensor { data: DeviceData::Cpu(t), .. }) => {
                self.count(|c| c.read_bytes += host_bytes(t));
                Ok(t.clone())
            }
            Value::Device(d) => Err(Value::foreign(d, BackendKind::Cpu)),
        }
    }

    pub fn upload(t: &Tensor) -> Value {
        device(t.contiguous())
    }

    pub fn release(&self, graph: &Graph) {
        self.plans.lock().unwrap_or_else(|p| p.into_inner()).remove(&graph.key());
    }

    /// Drops the packed copies of `t`.
    pub fn forget(&self, t: &Tensor) {
        if let Some((storage, offset)) = t.f32_storage() {
            let ptr = Arc::as_ptr(storage) as usize;
            self.ws.lock().unwrap_or_else(|p| p.into_inner()).packed.forget(ptr, offset);
        }
    }

    pub fn run_stats(&self) -> RunStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }
}
