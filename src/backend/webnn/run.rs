//! A run on the WebNN backend: its inputs bound (host values written into the graph's
//! own tensors, device values as they are), one dispatch, the outputs read back or kept
//! on the context; reads and uploads of single values.

use super::backend::{last_op, How, NnGraph, WebNnBackend};
use super::bindings::{descriptor, MlContext, MlTensor};
use super::lower::{data_type, output_name};
use super::partition;
use super::value::{Held, NnValue};
use crate::backend::value::DeviceData;
use crate::backend::{DeviceTensor, Value};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::tensor::{DType, Tensor};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

impl WebNnBackend {
    pub async fn run_values(&self, graph: &Arc<Graph>, inputs: Vec<Value>, on_device: &[bool]) -> Result<Vec<Value>> {
        graph.check_values(inputs.iter().map(|v| (v.dims(), v.dtype())))?;
        let plan = self.plan(graph).await?;
        for c in &plan.checks {
            if let Value::Host(t) = &inputs[c.input] {
                c.verify(t)?;
            }
        }
        self.count_runs(|s| s.runs += 1);
        match &plan.how {
            How::Whole(nn) => self.dispatch(nn, graph, inputs, on_device).await,
            How::Split(parts) => partition::run(self, parts, graph, inputs, on_device).await,
        }
    }

    /// Binds the inputs, dispatches and reads back (or keeps) each output.
    pub(super) async fn dispatch(
        &self,
        nn: &NnGraph,
        graph: &Graph,
        inputs: Vec<Value>,
        on_device: &[bool],
    ) -> Result<Vec<Value>> {
        let (context, _, generation) = self.context().await?;
        // First every tensor (each an await); then the writes, the dispatch and the read
        // requests with no await between them, so that no other run's writes or dispatch
        // of this graph (its tensors are shared) can come in between: the timeline runs
        // each read after its own dispatch.
        let mut bound: Vec<(String, MlTensor, Option<Vec<u8>>)> = vec![];
        let mut held: Vec<NnValue> = vec![];
        for (k, v) in inputs.into_iter().enumerate() {
            let Some(name) = &nn.inputs[k] else { continue };
            let v = match v {
                // One tensor bound twice is a TypeError in dispatch: the second goes as host.
                Value::Device(d) => match self.own(&d, generation)? {
                    v if held.iter().any(|h| Rc::ptr_eq(&h.0, &v.0)) => {
                        Value::Host(self.read(&Value::Device(d)).await?)
                    }
                    v => Value::Device(DeviceTensor { data: DeviceData::WebNn(v), ..d }),
                },
                host => host,
            };
            match v {
                Value::Host(t) => {
                    let slot = &nn.host_in;
                    let tensor = self.cached(&context, slot, k, t.dtype(), t.dims(), false, true).await?;
                    bound.push((name.clone(), tensor, Some(host_bytes(&t))));
                }
                Value::Device(d) => {
                    let v = self.own(&d, generation)?;
                    bound.push((name.clone(), v.0.tensor.clone(), None));
                    held.push(v);
                }
            }
        }
        let mut targets = vec![];
        for (k, (dtype, dims)) in nn.outputs.iter().enumerate() {
            let keep = on_device.get(k).copied().unwrap_or(false);
            let tensor = match keep {
                true => match self.spares.take(&(*dtype, dims.clone())) {
                    Some(m) => m,
                    None => self.tensor(&context, *dtype, dims, true, false).await?,
                },
                false => self.cached(&context, &nn.host_out, k, *dtype, dims, true, false).await?,
            };
            targets.push((tensor, keep));
        }
        let ins = js_sys::Object::new();
        for (name, tensor, bytes) in &bound {
            if let Some(bytes) = bytes {
                if let Err(e) = context.write_tensor(tensor, bytes) {
                    return Err(self.failure("writeTensor", e).await);
                }
            }
            let _ = js_sys::Reflect::set(&ins, &JsValue::from_str(name), tensor);
        }
        let outs = js_sys::Object::new();
        for (k, (tensor, _)) in targets.iter().enumerate() {
            let _ = js_sys::Reflect::set(&outs, &JsValue::from_str(&output_name(k)), tensor);
        }
        if let Err(e) = context.dispatch(&nn.graph, &ins, &outs) {
            return Err(self.failure(&format!("dispatch of a graph ending in {}", last_op(graph)), e).await);
        }
        self.count(|s| s.dispatches += 1);
        let reads: Vec<Option<std::result::Result<js_sys::Promise, JsValue>>> =
            targets.iter().map(|(t, keep)| (!keep).then(|| context.read_tensor(t))).collect();
        drop(held);
        let mut out = Vec::with_capacity(targets.len());
        for (((tensor, keep), read), (dtype, dims)) in targets.into_iter().zip(reads).zip(&nn.outputs) {
            if keep {
                let held = self.hold(tensor, *dtype, dims, generation);
                out.push(Value::Device(DeviceTensor {
                    dims: dims.clone(),
                    dtype: *dtype,
                    data: DeviceData::WebNn(held),
                }));
            } else if let Some(read) = read {
                out.push(Value::Host(self.finish_read(read, *dtype, dims).await?));
            }
        }
        Ok(out)
    }

    /// The tensor a graph keeps in `slot[k]` for a host input or output, made on first use.
    /// Two runs may both make it (each awaits); the first stored wins, the other is destroyed.
    #[allow(clippy::too_many_arguments)]
    async fn cached(
        &self,
        context: &MlContext,
        slot: &RefCell<Vec<Option<MlTensor>>>,
        k: usize,
        dtype: DType,
        dims: &[usize],
        readable: bool,
        writable: bool,
    ) -> Result<MlTensor> {
        if let Some(m) = slot.borrow()[k].clone() {
            return Ok(m);
        }
        let made = self.tensor(context, dtype, dims, readable, writable).await?;
        let mut slot = slot.borrow_mut();
        match &slot[k] {
            Some(m) => {
                made.destroy();
                Ok(m.clone())
            }
            None => {
                slot[k] = Some(made.clone());
                Ok(made)
            }
        }
    }

    async fn tensor(
        &self,
        context: &MlContext,
        dtype: DType,
        dims: &[usize],
        readable: bool,
        writable: bool,
    ) -> Result<MlTensor> {
        self.count(|s| s.tensors += 1);
        match context.create_tensor(&descriptor(data_type(dtype), dims, readable, writable)) {
            Ok(p) => match JsFuture::from(p).await {
                Ok(t) => Ok(t.unchecked_into()),
                Err(e) => Err(self.failure("createTensor", e).await),
            },
            Err(e) => Err(self.failure("createTensor", e).await),
        }
    }

    async fn read_tensor(
        &self,
        context: &MlContext,
        tensor: &MlTensor,
        dtype: DType,
        dims: &[usize],
    ) -> Result<Tensor> {
        self.finish_read(context.read_tensor(tensor), dtype, dims).await
    }

    /// A requested `readTensor`'s bytes as a host tensor.
    async fn finish_read(
        &self,
        read: std::result::Result<js_sys::Promise, JsValue>,
        dtype: DType,
        dims: &[usize],
    ) -> Result<Tensor> {
        let buf = match read {
            Ok(p) => JsFuture::from(p).await,
            Err(e) => Err(e),
        };
        let buf = match buf {
            Ok(b) => js_sys::Uint8Array::new(&b).to_vec(),
            Err(e) => return Err(self.failure("readTensor", e).await),
        };
        self.count_runs(|s| s.read_bytes += buf.len() as u64);
        match dtype {
            DType::I32 => Tensor::from_i32(dims.to_vec(), bytemuck::pod_collect_to_vec(&buf)),
            _ => Tensor::from_f32(dims.to_vec(), bytemuck::pod_collect_to_vec(&buf)),
        }
    }

    /// A device value holding `tensor`, which goes back to the spares when dropped.
    fn hold(&self, tensor: MlTensor, dtype: DType, dims: &[usize], generation: u64) -> NnValue {
        let (spares, key) = (Rc::downgrade(&self.spares), (dtype, dims.to_vec()));
        NnValue(Rc::new(Held { tensor, generation, spares, key }))
    }

    /// A device value of this backend's current context.
    fn own(&self, d: &DeviceTensor, generation: u64) -> Result<NnValue> {
        match &d.data {
            DeviceData::WebNn(v) if v.0.generation == generation => Ok(v.clone()),
            DeviceData::WebNn(_) => {
                Err(Error::WebNnContextLost("a value made on an earlier context was given to a run".into()))
            }
            _ => Err(Value::foreign(d, crate::backend::BackendKind::WebNn)),
        }
    }

    pub async fn read(&self, value: &Value) -> Result<Tensor> {
        match value {
            Value::Host(t) => Ok(t.clone()),
            Value::Device(d) => {
                let (context, _, generation) = self.context().await?;
                let v = self.own(d, generation)?;
                self.read_tensor(&context, &v.0.tensor, d.dtype, &d.dims).await
            }
        }
    }

    pub async fn upload(&self, t: &Tensor) -> Result<Value> {
        let (context, _, generation) = self.context().await?;
        let tensor = self.tensor(&context, t.dtype(), t.dims(), true, true).await?;
        if let Err(e) = context.write_tensor(&tensor, &host_bytes(t)) {
            return Err(self.failure("writeTensor", e).await);
        }
        let held = self.hold(tensor, t.dtype(), t.dims(), generation);
        Ok(Value::Device(DeviceTensor { dims: t.dims().to_vec(), dtype: t.dtype(), data: DeviceData::WebNn(held) }))
    }
}

/// A tensor's elements as WebNN takes them: int32, or float32 (stored forms widened).
pub(super) fn host_bytes(t: &Tensor) -> Vec<u8> {
    match t.dtype() {
        DType::I32 => bytemuck::cast_slice(&t.to_i32_vec("webnn").unwrap_or_default()).to_vec(),
        _ => bytemuck::cast_slice(&t.to_f32_vec()).to_vec(),
    }
}
