//! What every model runner holds and does the same way: the backend it runs on, its
//! graphs by shape (an LRU), its session (shared weights, the run queue, the output
//! cache) and its hold on the weights, released with the model.

use super::files::{ModelFiles, WEIGHTS};
use super::scope::WeightScope;
use super::weight_dtype::WeightDtype;
use crate::backend::cpu::CpuBackend;
use crate::backend::webgpu::WebGpuBackend;
use crate::backend::{Backend, BackendKind, Value};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::runtime::{digest_bytes, Digest, Lease, Lru, Session};
use crate::tensor::Tensor;
use crate::weights::{read_held, read_safetensors, write_held, Weights};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Graphs kept (one per batch size and input shape); past it the least recently used
/// shape is built again when seen.
const MAX_GRAPHS: usize = 16;

pub struct ModelCore<K: Hash + Eq + Clone> {
    /// Where the model runs: the CPU backend unless `set_backend` chose another.
    backend: Arc<dyn Backend>,
    graphs: Mutex<Lru<K, Arc<Graph>>>,
    /// The session sharing this model's weights, backends and output cache, if any, and
    /// this model's hold on the weights.
    session: Option<Held>,
    /// What the output cache knows this model by: its files, weights and options.
    pub model_id: u64,
    /// Bytes of the host buffers its weights live in (`Weights::buffer_bytes`).
    pub weight_bytes: u64,
}

impl<K: Hash + Eq + Clone> Drop for ModelCore<K> {
    fn drop(&mut self) {
        // The last holder of the weights takes the model's plans with it; a model sharing
        // them keeps using those plans (they are keyed by content).
        let last = self.session.take().is_none_or(|(_, lease)| lease.release());
        if last {
            for g in self.graphs.lock().unwrap_or_else(|p| p.into_inner()).drain() {
                self.backend.release(&g);
            }
        }
    }
}

/// A model's hold on its weights in a session.
pub type Held = (Session, Lease);

/// The model `build` makes from the weights file of `files` in the form `dtype` asks, the
/// weights it holds (for its identity) and its hold on them in `session`.
/// - f32: the file's tensors, read in place, shared through the session by the file's id
///   (not read at all when the session holds the file).
/// - Another form: the weights the model holds are made once from the file (quantized
///   where the form says, the rest copied out of it: `WeightScope::held`) and shared by
///   the file's id and the form; the file's buffer is freed once they are made, so a q8
///   model holds about a quarter of the f32 bytes. `build` runs twice on the first load
///   (once to learn what the model holds), cheaply: it only names and checks tensors.
///   Those weights are left in `files.made` as a held-weights file when the caller asks
///   (the weight store keeps it), and read from `files.held` instead of the weights file
///   when the store had kept them.
pub fn load_model<M>(
    files: &mut ModelFiles,
    session: Option<&Session>,
    dtype: &WeightDtype,
    build: impl Fn(WeightScope) -> Result<M>,
) -> Result<(M, Weights, Option<Held>)> {
    let buf = files.take(WEIGHTS);
    let (kept, made, streamed) = (files.held.take(), files.made.take(), files.streamed.take());
    let scope = |w: Weights| WeightScope::with_dtype(w, WEIGHTS, dtype.clone());
    let derive = || -> Result<Weights> {
        if let Some(kept) = kept.filter(|_| !dtype.is_f32()) {
            return read_held(kept);
        }
        let w = match streamed {
            Some(w) => w,
            None => read_safetensors(buf)?,
        };
        if dtype.is_f32() {
            return Ok(w);
        }
        let root = scope(w);
        build(root.clone())?;
        let held = root.held()?;
        if let Some(slot) = made {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(write_held(&held)?);
        }
        Ok(held)
    };
    let (weights, held) = match session {
        None => (derive()?, None),
        Some(s) => {
            let key = files.weights_id.as_deref().map(|id| share_key(id, dtype));
            let (w, lease) = s.share(key.as_deref(), derive)?;
            (w, Some((s.clone(), lease)))
        }
    };
    Ok((build(scope(weights.clone()))?, weights, held))
}

/// What a session knows the weights made from the weights file `id` (its sha-256) in the
/// form `dtype` by: the file's id for f32, else the id and the form.
pub fn share_key(id: &str, dtype: &WeightDtype) -> String {
    if dtype.is_f32() {
        id.to_string()
    } else {
        format!("{id}#{}", dtype.id())
    }
}

/// A model's identity for the output cache: `parts` (its configs, its options) and its
/// weights by identity (a session's shared tensors are one storage).
pub fn model_id(parts: &[&[u8]], weights: &Weights) -> u64 {
    let mut ids: Vec<String> =
        weights.iter().map(|(n, t)| format!("{n}:{:?}:{}:{:?}", t.storage_id(), t.dtype(), t.dims())).collect();
    ids.sort_unstable();
    let joined = ids.join("\n");
    let mut all: Vec<&[u8]> = parts.to_vec();
    all.push(joined.as_bytes());
    let d = digest_bytes(&all);
    u64::from_le_bytes(d[..8].try_into().unwrap_or_default())
}

impl<K: Hash + Eq + Clone> ModelCore<K> {
    /// A model on the CPU: its session's CPU backend, or without a session one of its own.
    pub fn new(session: Option<Held>, model_id: u64, weights: &Weights) -> Self {
        let backend: Arc<dyn Backend> = match &session {
            Some((s, _)) => s.cpu(),
            None => Arc::new(CpuBackend::new()),
        };
        let graphs = Mutex::new(Lru::new(MAX_GRAPHS, u64::MAX));
        ModelCore { backend, graphs, session, model_id, weight_bytes: weights.buffer_bytes() }
    }

    pub fn set_backend(&mut self, backend: Arc<dyn Backend>) {
        self.backend = backend;
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref().map(|(s, _)| s)
    }

    pub fn backend_kind(&self) -> BackendKind {
        self.backend.kind()
    }

    /// The shapes the backend wants variable lengths padded to.
    pub fn shape_policy(&self) -> crate::backend::ShapePolicy {
        self.backend.shape_policy()
    }

    /// The WebGPU backend running the model, if it is one.
    pub fn webgpu(&self) -> Option<&WebGpuBackend> {
        self.backend.as_any().downcast_ref()
    }

    /// The graph for `key`, built by `build` on first use.
    pub fn graph(&self, key: K, build: impl FnOnce() -> Result<Graph>) -> Result<Arc<Graph>> {
        let mut cache = self.graphs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = cache.get(&key) {
            return Ok(g.clone());
        }
        let g = Arc::new(build()?);
        cache.insert(key, g.clone(), 0);
        Ok(g)
    }

    /// Runs `graph` on the model's backend, taking its turn in the device's queue.
    pub async fn run(&self, graph: &Arc<Graph>, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        // Runs on one device take turns, in call order, across every model.
        let _turn = match self.session() {
            Some(s) => Some(s.queue(self.backend.kind()).turn().await),
            None => None,
        };
        self.backend.run(graph, inputs).await
    }

    /// Runs `graph` on values (some left on the device, as `on_device` asks), taking its
    /// turn in the device's queue: a decoder's step.
    pub async fn run_values(&self, graph: &Arc<Graph>, inputs: Vec<Value>, on_device: &[bool]) -> Result<Vec<Value>> {
        let _turn = match self.session() {
            Some(s) => Some(s.queue(self.backend.kind()).turn().await),
            None => None,
        };
        self.backend.run_values(graph, inputs, on_device).await
    }

    /// A value's contents on the host.
    pub async fn read(&self, v: &Value) -> Result<Tensor> {
        self.backend.read(v).await
    }

    /// A copy of `t` on the model's device.
    pub async fn upload(&self, t: &Tensor) -> Result<Value> {
        self.backend.upload(t).await
    }

    /// The session's cached output of this model for `input`, if any.
    pub fn cached(&self, input: &Digest) -> Option<Arc<Vec<f32>>> {
        self.session().and_then(|s| s.output(self.model_id, input))
    }

    /// Keeps an output in the session's cache.
    pub fn keep(&self, input: Digest, value: Arc<Vec<f32>>) {
        if let Some(s) = self.session() {
            s.keep_output(self.model_id, input, value);
        }
    }

    /// `Err` for a backend that must wait (WebGPU) where the caller cannot: the sync
    /// entry points run the async ones with `runtime::now`.
    pub fn must_wait(&self, op: &'static str) -> Error {
        Error::arg(op, format!("the {} backend runs asynchronously; use the async call", self.backend.kind()))
    }
}

/// Output `index`'s vector, or `non_finite_output`: a NaN or infinity (weights checked at
/// load can still overflow) is never returned as if it were a result.
pub fn finite(what: &str, index: usize, v: Vec<f32>) -> Result<Vec<f32>> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(j) => Err(Error::NonFiniteOutput(format!("element {j} of {what} {index}'s vector is {}", v[j]))),
        None => Ok(v),
    }
}
