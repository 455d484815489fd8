//! `WebNnBackend`: one `MLContext`, the constant tensors made from weights (once per
//! context, shared by every graph), and a plan per graph: one built `MLGraph`, or the
//! parts of a graph split between WebNN and the CPU. A lost context is reported once
//! (`webnn_context_lost`) and the next call makes a new one.

use super::bindings::{descriptor, dict, message, ml, MlContext, MlGraph, MlGraphBuilder, MlTensor};
use super::lower::{data_type, input_name, lower, output_name};
use super::partition::{self, Part};
use super::support::Support;
use super::{NnOptions, NnStats};
use crate::backend::checks::{input_checks, Check};
use crate::backend::cpu::CpuBackend;
use crate::backend::value::DeviceData;
use crate::backend::{DeviceTensor, RunStats, Value};
use crate::error::{Error, Result};
use crate::graph::{Graph, Op};
use crate::tensor::{DType, Storage, StorageId, Tensor};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A tensor this backend holds for a caller (a decoder's cache), destroyed when the last
/// handle goes; it belongs to the context of its generation.
#[derive(Clone, Debug)]
pub struct NnValue(Rc<Held>);

#[derive(Debug)]
struct Held {
    tensor: MlTensor,
    generation: u64,
    /// Where the tensor goes back to when the value is dropped (see `Spares`).
    spares: std::rc::Weak<Spares>,
    key: Desc,
}

impl Drop for Held {
    fn drop(&mut self) {
        match self.spares.upgrade() {
            Some(s) if s.generation.get() == self.generation => s.put(self.key.clone(), self.tensor.clone()),
            _ => self.tensor.destroy(),
        }
    }
}

/// A tensor's dtype and dims.
type Desc = (DType, Vec<usize>);

/// Device tensors whose values were dropped, kept for the next output of their shape: a
/// decoder's caches are then two sets of tensors used in turn (one read, one written),
/// not new tensors each step. As many per shape as were dropped: no more than the caller
/// once held at a time; a new context, or the backend's end, destroys them.
#[derive(Debug, Default)]
struct Spares {
    generation: Cell<u64>,
    free: RefCell<HashMap<Desc, Vec<MlTensor>>>,
}

impl Spares {
    fn put(&self, key: Desc, t: MlTensor) {
        self.free.borrow_mut().entry(key).or_default().push(t);
    }

    fn take(&self, key: &Desc) -> Option<MlTensor> {
        self.free.borrow_mut().get_mut(key).and_then(Vec::pop)
    }

    /// A new context: the spares were the old one's.
    fn clear(&self, generation: u64) {
        self.generation.set(generation);
        for t in self.free.borrow_mut().drain().flat_map(|(_, v)| v) {
            t.destroy();
        }
    }
}

/// A graph built on the context: its inputs (declared order; `None` where the outputs do
/// not reach it), its outputs, and the host-side input and output tensors it reuses.
pub(super) struct NnGraph {
    graph: MlGraph,
    inputs: Vec<Option<String>>,
    outputs: Vec<Desc>,
    host_in: RefCell<Vec<Option<MlTensor>>>,
    host_out: RefCell<Vec<Option<MlTensor>>>,
}

impl Drop for NnGraph {
    fn drop(&mut self) {
        self.graph.destroy();
        for t in self.host_in.borrow().iter().chain(self.host_out.borrow().iter()).flatten() {
            t.destroy();
        }
    }
}

struct Plan {
    how: How,
    /// Integer inputs checked on the host first: the graph clamps what the CPU rejects.
    checks: Vec<Check>,
}

enum How {
    Whole(NnGraph),
    Split(Vec<Part>),
}

type ConstKey = (StorageId, Vec<usize>, Vec<usize>);

#[derive(Default)]
struct State {
    context: Option<(MlContext, Rc<Support>)>,
    generation: u64,
    constants: HashMap<ConstKey, (Storage, MlTensor)>,
    plans: HashMap<u64, Rc<Plan>>,
}

pub struct WebNnBackend {
    options: NnOptions,
    state: RefCell<State>,
    /// Set by the current context's `lost` promise: (its generation, the message).
    lost: Rc<RefCell<Option<(u64, String)>>>,
    pub(super) cpu: CpuBackend,
    runs: Cell<RunStats>,
    nn: Cell<NnStats>,
    /// Why nodes of compiled graphs run on the CPU, each reason once.
    fallback: RefCell<Vec<String>>,
    spares: Rc<Spares>,
}

impl WebNnBackend {
    /// A backend on a new context; `backend_unavailable` with the reason when there is no
    /// `navigator.ml` or it refuses a context.
    pub async fn new(options: NnOptions) -> Result<Self> {
        let b = WebNnBackend {
            options,
            state: RefCell::default(),
            lost: Rc::default(),
            cpu: CpuBackend::new(),
            runs: Cell::default(),
            nn: Cell::default(),
            fallback: RefCell::default(),
            spares: Rc::default(),
        };
        b.context().await?;
        Ok(b)
    }

    pub fn stats(&self) -> NnStats {
        self.nn.get()
    }

    pub fn run_stats(&self) -> RunStats {
        self.runs.get()
    }

    /// Why nodes run on the CPU instead (one line per reason, for `stats()`).
    pub fn fallback_reasons(&self) -> Vec<String> {
        self.fallback.borrow().clone()
    }

    fn count(&self, f: impl FnOnce(&mut NnStats)) {
        let mut s = self.nn.get();
        f(&mut s);
        self.nn.set(s);
    }

    fn count_runs(&self, f: impl FnOnce(&mut RunStats)) {
        let mut s = self.runs.get();
        f(&mut s);
        self.runs.set(s);
    }

    /// The live context (made now if there is none). A context lost since the last call
    /// is dropped with everything made on it, and reported.
    async fn context(&self) -> Result<(MlContext, Rc<Support>, u64)> {
        if let Some(msg) = self.drop_lost() {
            return Err(Error::WebNnContextLost(msg));
        }
        if let Some((c, s)) = &self.state.borrow().context {
            return Ok((c.clone(), s.clone(), self.state.borrow().generation));
        }
        let unavailable = |why: String| Error::BackendUnavailable(format!("webnn ({why})"));
        let ml = ml().map_err(unavailable)?;
        let mut opts = vec![];
        if let Some(p) = &self.options.power_preference {
            opts.push(("powerPreference", JsValue::from_str(p)));
        }
        if let Some(a) = self.options.accelerated {
            opts.push(("accelerated", JsValue::from_bool(a)));
        }
        let made = match ml.create_context(&dict(&opts)) {
            Ok(p) => JsFuture::from(p).await,
            Err(e) => Err(e),
        };
        let context: MlContext =
            made.map_err(|e| unavailable(format!("createContext was refused: {}", message(&e))))?.unchecked_into();
        let support = Rc::new(Support::of(&context));
        let generation = self.state.borrow().generation;
        self.watch(&context, generation);
        self.state.borrow_mut().context = Some((context.clone(), support.clone()));
        self.count(|s| s.contexts += 1);
        Ok((context, support, generation))
    }

    /// When the current context was lost: drops it with everything made on it (the next
    /// call makes a new one) and gives the browser's message.
    fn drop_lost(&self) -> Option<String> {
        let (generation, msg) = self.lost.borrow_mut().take()?;
        let mut st = self.state.borrow_mut();
        if generation != st.generation || st.context.is_none() {
            return None;
        }
        let old = std::mem::take(&mut *st);
        st.generation = old.generation + 1;
        self.spares.clear(st.generation);
        drop(st);
        drop(old);
        Some(msg)
    }

    /// Notes the context's loss when its `lost` promise settles.
    fn watch(&self, context: &MlContext, generation: u64) {
        let lost = self.lost.clone();
        let promise = context.lost();
        if !promise.is_instance_of::<js_sys::Promise>() {
            return;
        }
        wasm_bindgen_futures::spawn_local(async move {
            let info = JsFuture::from(promise.unchecked_into::<js_sys::Promise>()).await.unwrap_or(JsValue::UNDEFINED);
            let msg = js_sys::Reflect::get(&info, &"message".into()).ok().and_then(|m| m.as_string());
            *lost.borrow_mut() = Some((generation, msg.unwrap_or_else(|| "no reason given".into())));
        });
    }

    /// A JS failure of `op` as an error: a context lost meanwhile is reported as such.
    pub(super) async fn failure(&self, op: &str, e: JsValue) -> Error {
        // The `lost` promise's reaction runs on a later microtask than the throw.
        for _ in 0..2 {
            let _ = JsFuture::from(js_sys::Promise::resolve(&JsValue::UNDEFINED)).await;
        }
        match self.drop_lost() {
            Some(msg) => Error::WebNnContextLost(msg),
            None => Error::WebNn { op: op.into(), reason: message(&e) },
        }
    }

    pub async fn compile(&self, graph: &Arc<Graph>) -> Result<()> {
        self.plan(graph).await.map(|_| ())
    }

    async fn plan(&self, graph: &Graph) -> Result<Rc<Plan>> {
        let (_, support, generation) = self.context().await?;
        if let Some(p) = self.state.borrow().plans.get(&graph.key()) {
            return Ok(p.clone());
        }
        let refused = support.refusals(graph);
        let how = if refused.iter().all(Option::is_none) {
            How::Whole(self.build(graph).await?)
        } else {
            {
                let mut seen = self.fallback.borrow_mut();
                for why in refused.iter().flatten() {
                    if !seen.contains(why) {
                        seen.push(why.clone());
                    }
                }
            }
            let mut parts = partition::split(graph, &refused)?;
            for p in &mut parts {
                if p.on_cpu {
                    self.count(|s| s.fallback_nodes += p.graph.nodes.iter().filter(|n| !is_leaf(&n.op)).count() as u64);
                } else {
                    p.nn = Some(self.build(&p.graph).await?);
                }
            }
            How::Split(parts)
        };
        let plan = Rc::new(Plan { how, checks: input_checks(graph) });
        let mut st = self.state.borrow_mut();
        if st.generation == generation {
            st.plans.insert(graph.key(), plan.clone());
        }
        self.count_runs(|s| s.compiles += 1);
        Ok(plan)
    }

    /// The graph lowered and built on the context, its weights made constant tensors
    /// first (those already made are reused).
    async fn build(&self, graph: &Graph) -> Result<NnGraph> {
        let (context, _, generation) = self.context().await?;
        let mut made: HashMap<usize, MlTensor> = HashMap::new();
        let reach = super::lower::reached(graph);
        for (i, node) in graph.nodes.iter().enumerate().filter(|(i, _)| reach[*i]) {
            if let Op::Constant(t) = &node.op {
                made.insert(i, self.constant(&context, t, generation).await?);
            }
        }
        let builder = MlGraphBuilder::new(&context)
            .map_err(|e| Error::WebNn { op: "MLGraphBuilder".into(), reason: message(&e) })?;
        let outs = lower(&builder, graph, &|i| made.get(&i).cloned())?;
        let named: Vec<(String, JsValue)> =
            outs.iter().enumerate().map(|(k, o)| (output_name(k), JsValue::from(o))).collect();
        let named: Vec<(&str, JsValue)> = named.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let built = match builder.build(&dict(&named)) {
            Ok(p) => JsFuture::from(p).await,
            Err(e) => Err(e),
        };
        let built = match built {
            Ok(g) => g.unchecked_into::<MlGraph>(),
            Err(e) => return Err(self.failure(&format!("build of a graph ending in {}", last_op(graph)), e).await),
        };
        self.count(|s| s.builds += 1);
        let inputs: Vec<Option<String>> =
            graph.inputs().enumerate().map(|(k, (id, _))| reach[id.index()].then(|| input_name(k))).collect();
        let n_in = inputs.len();
        let outputs =
            graph.outputs.iter().map(|o| (graph.node(*o).dtype, graph.node(*o).shape.dims().to_vec())).collect();
        Ok(NnGraph {
            graph: built,
            inputs,
            outputs,
            host_in: RefCell::new(vec![None; n_in]),
            host_out: RefCell::new(vec![None; graph.outputs.len()]),
        })
    }

    /// The constant tensor of weight `t`, made once per context.
    async fn constant(&self, context: &MlContext, t: &Tensor, generation: u64) -> Result<MlTensor> {
        let key = (t.storage_id(), t.dims().to_vec(), t.strides().to_vec());
        if let Some((_, m)) = self.state.borrow().constants.get(&key) {
            return Ok(m.clone());
        }
        let bytes = host_bytes(t);
        let desc = descriptor(data_type(t.dtype()), t.dims(), false, false);
        let made = match context.create_constant_tensor(&desc, &bytes) {
            Ok(p) => JsFuture::from(p).await,
            Err(e) => Err(e),
        };
        let m: MlTensor = match made {
            Ok(m) => m.unchecked_into(),
            Err(e) => return Err(self.failure("createConstantTensor", e).await),
        };
        self.count(|s| {
            s.constants += 1;
            s.constant_bytes += bytes.len() as u64;
        });
        let mut st = self.state.borrow_mut();
        if st.generation == generation {
            st.constants.insert(key, (t.storage().clone(), m.clone()));
        }
        Ok(m)
    }

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

    pub fn release(&self, graph: &Graph) {
        self.state.borrow_mut().plans.remove(&graph.key());
    }

    pub fn forget(&self, t: &Tensor) {
        let id = t.storage_id();
        self.state.borrow_mut().constants.retain(|k, (_, m)| {
            let keep = k.0 != id;
            if !keep {
                m.destroy();
            }
            keep
        });
    }

    /// Loses the context as a browser would (`MLContext.destroy()`): for tests.
    pub fn destroy_context(&self) {
        if let Some((c, _)) = &self.state.borrow().context {
            c.destroy();
        }
    }
}

impl Drop for WebNnBackend {
    /// The context's memory (the weights' constant tensors above all) goes with the
    /// backend, not whenever JS collects it.
    fn drop(&mut self) {
        self.spares.clear(u64::MAX);
        let st = std::mem::take(&mut *self.state.borrow_mut());
        for (_, m) in st.constants.values() {
            m.destroy();
        }
        if let Some((c, _)) = &st.context {
            c.destroy();
        }
    }
}

fn is_leaf(op: &Op) -> bool {
    matches!(op, Op::Input { .. } | Op::Constant(_))
}

fn last_op(graph: &Graph) -> &'static str {
    graph.outputs.last().map(|o| graph.node(*o).op.name()).unwrap_or("nothing")
}

/// A tensor's elements as WebNN takes them: int32, or float32 (stored forms widened).
fn host_bytes(t: &Tensor) -> Vec<u8> {
    match t.dtype() {
        DType::I32 => bytemuck::cast_slice(&t.to_i32_vec("webnn").unwrap_or_default()).to_vec(),
        _ => bytemuck::cast_slice(&t.to_f32_vec()).to_vec(),
    }
}
