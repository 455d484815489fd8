//! `WebNnBackend`: one `MLContext`, the constant tensors made from weights (once per
//! context, shared by every graph), and a plan per graph: one built `MLGraph`, or the
//! parts of a graph split between WebNN and the CPU. A lost context is reported once
//! (`webnn_context_lost`) and the next call makes a new one.

use super::bindings::{descriptor, dict, message, ml, MlContext, MlGraph, MlGraphBuilder, MlTensor};
use super::lower::{data_type, input_name, lower, output_name};
use super::partition::{self, Part};
use super::run::host_bytes;
use super::support::Support;
use super::value::{Desc, Spares};
use super::{NnOptions, NnStats};
use crate::backend::checks::{input_checks, Check};
use crate::backend::cpu::CpuBackend;
use crate::backend::RunStats;
use crate::error::{Error, Result};
use crate::graph::{Graph, Op};
use crate::tensor::{Storage, StorageId, Tensor};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A graph built on the context: its inputs (declared order; `None` where the outputs do
/// not reach it), its outputs, and the host-side input and output tensors it reuses.
pub(super) struct NnGraph {
    pub(super) graph: MlGraph,
    pub(super) inputs: Vec<Option<String>>,
    pub(super) outputs: Vec<Desc>,
    pub(super) host_in: RefCell<Vec<Option<MlTensor>>>,
    pub(super) host_out: RefCell<Vec<Option<MlTensor>>>,
}

impl Drop for NnGraph {
    fn drop(&mut self) {
        self.graph.destroy();
        for t in self.host_in.borrow().iter().chain(self.host_out.borrow().iter()).flatten() {
            t.destroy();
        }
    }
}

pub(super) struct Plan {
    pub(super) how: How,
    /// Integer inputs checked on the host first: the graph clamps what the CPU rejects.
    pub(super) checks: Vec<Check>,
}

pub(super) enum How {
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
    pub(super) spares: Rc<Spares>,
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

    pub(super) fn count(&self, f: impl FnOnce(&mut NnStats)) {
        let mut s = self.nn.get();
        f(&mut s);
        self.nn.set(s);
    }

    pub(super) fn count_runs(&self, f: impl FnOnce(&mut RunStats)) {
        let mut s = self.runs.get();
        f(&mut s);
        self.runs.set(s);
    }

    /// The live context (made now if there is none). A context lost since the last call
    /// is dropped with everything made on it, and reported.
    pub(super) async fn context(&self) -> Result<(MlContext, Rc<Support>, u64)> {
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

    pub(super) async fn plan(&self, graph: &Graph) -> Result<Rc<Plan>> {
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

pub(super) fn last_op(graph: &Graph) -> &'static str {
    graph.outputs.last().map(|o| graph.node(*o).op.name()).unwrap_or("nothing")
}
