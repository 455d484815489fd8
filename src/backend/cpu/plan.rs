//! The CPU backend's side of the backend contract: a plan per graph (its buffer
//! liveness and fusions, worked out once and kept in an LRU by graph content), device values (host tensors,
//! since the CPU's device is host memory) and the counters every backend keeps.

use super::CpuBackend;
use crate::backend::value::DeviceData;
use crate::backend::{BackendKind, DeviceTensor, RunStats, Value};
use crate::error::Result;
use crate::graph::{absorbed, epilogues, last_uses, Epilogue, Graph};
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::sync::Arc;

/// Plans kept at most; past it the least recently used graph is planned again when seen.
pub const PLAN_LIMIT: usize = 64;

pub struct CpuPlan {
    /// Held so that the storage addresses in the graph's content key are not reused.
    _graph: Arc<Graph>,
    schedule: Schedule,
}

/// How a graph runs node by node: when each value is read last, and which matmuls apply
/// their bias add and activation in place as they finish (`graph::passes`).
pub struct Schedule {
    pub last: Vec<usize>,
    pub fused: HashMap<usize, Epilogue>,
    /// The adds and activations a fused matmul does instead.
    pub absorbed: Vec<bool>,
}

impl Schedule {
    pub fn of(graph: &Graph) -> Self {
        let fused = epilogues(graph);
        Schedule { last: last_uses(graph), absorbed: absorbed(graph, &fused), fused }
    }
}

fn device(t: Tensor) -> Value {
    Value::Device(DeviceTensor { dims: t.dims().to_vec(), dtype: t.dtype(), data: DeviceData::Cpu(t) })
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
        let plan = Arc::new(CpuPlan { _graph: graph.clone(), schedule: Schedule::of(graph) });
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
        let outs = self.execute(graph, &plan.schedule, tensors)?;
        self.count(|c| c.runs += 1);
        Ok(outs
            .into_iter()
            .enumerate()
            .map(|(i, t)| match on_device.get(i) {
                Some(true) => device(t),
                _ => {
                    self.count(|c| c.read_bytes += t.byte_len());
                    Value::Host(t)
                }
            })
            .collect())
    }

    pub fn read(&self, value: &Value) -> Result<Tensor> {
        match value {
            Value::Host(t) => Ok(t.clone()),
            Value::Device(DeviceTensor { data: DeviceData::Cpu(t), .. }) => {
                self.count(|c| c.read_bytes += t.byte_len());
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
        self.ws.lock().unwrap_or_else(|p| p.into_inner()).packed.forget(t.storage_id());
    }

    pub fn run_stats(&self) -> RunStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphBuilder;
    use crate::tensor::DType;

    /// matmul + bias + gelu, the bias a constant (fused) or an input (not).
    fn graph(bias_const: bool) -> Graph {
        let mut g = GraphBuilder::new();
        let x = g.input("x", &[3, 4], DType::F32);
        let w = g.constant(Tensor::from_f32(vec![4, 5], (0..20).map(|i| (i as f32 - 9.5) * 0.1).collect()).unwrap());
        let b = Tensor::from_f32(vec![5], vec![0.5, -0.25, 0.0, 1.0, -1.0]).unwrap();
        let b = if bias_const { g.constant(b) } else { g.input("b", &[5], DType::F32) };
        let y = g.matmul(x, w).unwrap();
        let y = g.add(y, b).unwrap();
        let y = g.gelu(y).unwrap();
        g.build(&[y]).unwrap()
    }

    #[test]
    fn a_fused_matmul_bias_and_activation_equal_the_three_nodes() {
        let (fused, plain) = (graph(true), graph(false));
        let s = Schedule::of(&fused);
        assert_eq!(s.fused.len(), 1, "the constant-bias matmul fuses");
        assert_eq!(s.absorbed.iter().filter(|&&a| a).count(), 2, "the add and the gelu are absorbed");
        assert!(Schedule::of(&plain).fused.is_empty(), "an input bias does not fuse");
        let x = Tensor::from_f32(vec![3, 4], (0..12).map(|i| i as f32 * 0.3 - 1.7).collect()).unwrap();
        let b = Tensor::from_f32(vec![5], vec![0.5, -0.25, 0.0, 1.0, -1.0]).unwrap();
        let cpu = CpuBackend::new();
        let got = cpu.run(&fused, std::slice::from_ref(&x)).unwrap().remove(0).to_f32_vec();
        let want = cpu.run(&plain, &[x, b]).unwrap().remove(0).to_f32_vec();
        assert_eq!(got, want);
    }
}
