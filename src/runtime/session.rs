//! A session: what the models loaded in it share. Each weight tensor is held once, by
//! content (sha-256 of its dtype, dims and values), however many models and loads use
//! it, with a count of its users; the backends are one per session and device, so their
//! packed and uploaded weights and their plans (keyed by graph content) are shared too;
//! each device has one run queue; and an output cache answers repeated inputs.

// Natively the backends are Send + Sync and a session may be shared across threads; in
// wasm (one thread) wgpu's handles are neither, and the same `Arc`s are merely
// single-threaded there.
#![allow(clippy::arc_with_non_send_sync)]

use super::queue::Queue;
use super::{Lru, LruStats};
use crate::backend::cpu::CpuBackend;
use crate::backend::webgpu::{GpuOptions, WebGpuBackend};
use crate::backend::webnn::{NnOptions, WebNnBackend};
use crate::backend::BackendKind;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::weights::Weights;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use crate::weights::Digest;

/// Bytes of outputs the cache keeps when the session names no budget.
pub const DEFAULT_OUTPUT_BUDGET: u64 = 16 << 20;
/// Outputs kept at most, whatever their size.
const OUTPUT_LIMIT: usize = 4096;

/// Cached outputs by (model id, input digest).
type Outputs = Lru<(u64, Digest), Arc<Vec<f32>>>;

#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    cpu: Arc<CpuBackend>,
    /// The device backends made so far, each once per kind and options.
    devices: Mutex<Vec<Device>>,
    /// Held while a device is made, so two loads at once share one.
    making: Queue,
    queues: [Queue; 3],
    state: Mutex<State>,
    /// The output cache; `None` with a budget of 0.
    outputs: Option<Mutex<Outputs>>,
}

#[derive(Default)]
struct State {
    tensors: HashMap<Digest, Held>,
    /// Weight files already read, by the file's sha-256 (the weight store's address):
    /// a second load of one file reads nothing.
    files: HashMap<String, (Weights, Vec<Digest>, usize)>,
    models: usize,
}

struct Held {
    tensor: Tensor,
    users: usize,
}

/// A device backend of the session: WebGPU by forced shader variant (`None`: the table's
/// choice), WebNN by context options.
#[derive(Clone)]
enum Device {
    Gpu(Option<String>, Arc<WebGpuBackend>),
    Nn(NnOptions, Arc<WebNnBackend>),
}

impl Device {
    fn forget(&self, t: &Tensor) {
        match self {
            Device::Gpu(_, g) => g.forget(t),
            Device::Nn(_, n) => n.forget(t),
        }
    }
}

/// What a session holds, for `stats()`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionStats {
    pub models: usize,
    pub tensors: usize,
    pub tensor_bytes: u64,
    /// Tensors used by more than one model, and the most models sharing one.
    pub shared_tensors: usize,
    pub max_sharing: usize,
    /// Device bytes on WebGPU: uploaded weights and the buffers of cached plans.
    pub gpu_bytes: u64,
    pub plan_hits: u64,
    pub plan_misses: u64,
    pub outputs: LruStats,
    /// Runs under way or waiting, per backend kind ("wasm", "webgpu", "webnn").
    pub queue: [usize; 3],
    pub webnn: WebNnStats,
}

/// What the session's WebNN backends did: graphs built, dispatches, the bytes of their
/// constant tensors, and the nodes run on the CPU instead, with why.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebNnStats {
    pub builds: u64,
    pub dispatches: u64,
    pub constant_bytes: u64,
    pub fallback_nodes: u64,
    pub fallback: Vec<String>,
}

/// A model's hold on its weights; dropping it (the model's dispose) gives them back, and
/// the last holder's drop frees them, with the backends' copies.
pub struct Lease {
    inner: Arc<Inner>,
    digests: Vec<Digest>,
    file: Option<String>,
    given_back: bool,
}

/// The digest of arbitrary bytes (an input, for the output cache).
pub fn digest_bytes(parts: &[&[u8]]) -> Digest {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

fn slot(kind: BackendKind) -> usize {
    match kind {
        BackendKind::Cpu => 0,
        BackendKind::WebGpu => 1,
        BackendKind::WebNn => 2,
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Session {
    /// A session whose output cache keeps at most `budget` bytes (default 16 MiB; 0 turns
    /// the cache off).
    pub fn new(budget: Option<u64>) -> Self {
        let budget = budget.unwrap_or(DEFAULT_OUTPUT_BUDGET);
        Session {
            inner: Arc::new(Inner {
                cpu: Arc::new(CpuBackend::new()),
                devices: Mutex::new(vec![]),
                making: Queue::default(),
                queues: Default::default(),
                state: Mutex::new(State::default()),
                outputs: (budget > 0).then(|| Mutex::new(Lru::new(OUTPUT_LIMIT, budget))),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session's CPU backend.
    pub fn cpu(&self) -> Arc<CpuBackend> {
        self.inner.cpu.clone()
    }

    /// The session's WebGPU backend for `opts.variant`, made on first use.
    pub async fn webgpu(&self, opts: GpuOptions) -> Result<Arc<WebGpuBackend>> {
        let find = |d: &Device| match d {
            Device::Gpu(v, g) if *v == opts.variant => Some(g.clone()),
            _ => None,
        };
        if let Some(g) = self.find(find) {
            return Ok(g);
        }
        let _making = self.inner.making.turn().await;
        if let Some(g) = self.find(find) {
            return Ok(g);
        }
        let g = Arc::new(WebGpuBackend::new(opts.clone()).await?);
        self.devices().push(Device::Gpu(opts.variant, g.clone()));
        Ok(g)
    }

    /// The session's WebNN backend for these context options, made on first use.
    pub async fn webnn(&self, opts: NnOptions) -> Result<Arc<WebNnBackend>> {
        let find = |d: &Device| match d {
            Device::Nn(o, n) if *o == opts => Some(n.clone()),
            _ => None,
        };
        if let Some(n) = self.find(find) {
            return Ok(n);
        }
        let _making = self.inner.making.turn().await;
        if let Some(n) = self.find(find) {
            return Ok(n);
        }
        let n = Arc::new(WebNnBackend::new(opts.clone()).await?);
        self.devices().push(Device::Nn(opts, n.clone()));
        Ok(n)
    }

    fn devices(&self) -> std::sync::MutexGuard<'_, Vec<Device>> {
        self.inner.devices.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn find<T>(&self, f: impl Fn(&Device) -> Option<T>) -> Option<T> {
        self.devices().iter().find_map(f)
    }

    /// The run queue of a device.
    pub fn queue(&self, kind: BackendKind) -> &Queue {
        &self.inner.queues[slot(kind)]
    }

    /// The tensor the session holds with this content, if any (a streaming load takes it
    /// instead of making its own copy).
    pub fn tensor(&self, d: &Digest) -> Option<Tensor> {
        self.state().tensors.get(d).map(|h| h.tensor.clone())
    }

    /// Whether the session holds the weight file with this sha-256 (so a load need not
    /// read it).
    pub fn has_file(&self, sha256: &str) -> bool {
        !sha256.is_empty() && self.state().files.contains_key(sha256)
    }

    /// A model's weights, shared: the session's copy of the file `file` (its sha-256)
    /// when it has one, else `parse()`'s tensors with each one the session already holds
    /// (by content) replaced by that copy.
    pub fn share(&self, file: Option<&str>, parse: impl FnOnce() -> Result<Weights>) -> Result<(Weights, Lease)> {
        let file = file.filter(|f| !f.is_empty()).map(str::to_string);
        let lease = |digests, file| Lease { inner: self.inner.clone(), digests, file, given_back: false };
        {
            let mut s = self.state();
            if let Some((w, digests, users)) = file.as_ref().and_then(|f| s.files.get_mut(f)) {
                *users += 1;
                let (w, digests) = (w.clone(), digests.clone());
                for d in &digests {
                    if let Some(h) = s.tensors.get_mut(d) {
                        h.users += 1;
                    }
                }
                s.models += 1;
                return Ok((w, lease(digests, file)));
            }
        }
        let parsed = parse()?;
        // Hashing happens outside the lock: it is the slow part.
        let digests: Vec<(String, Digest)> =
            parsed.names().filter_map(|n| Some((n.to_string(), parsed.digest_of(n)?))).collect();
        let mut s = self.state();
        let mut order = Vec::with_capacity(digests.len());
        let mut tensors = HashMap::new();
        for (name, d) in digests {
            let Some(t) = parsed.get(&name) else { continue };
            let held = s.tensors.entry(d).or_insert_with(|| Held { tensor: t.clone(), users: 0 });
            held.users += 1;
            tensors.insert(name, held.tensor.clone());
            order.push(d);
        }
        let weights = Weights::from_map(tensors).with_unheld(parsed.unheld().to_vec());
        if let Some(f) = &file {
            // The record lives as long as a model loaded from the file, whose lease holds
            // the tensors, so it counts models, not tensor users.
            s.files.insert(f.clone(), (weights.clone(), order.clone(), 1));
        }
        s.models += 1;
        Ok((weights, lease(order, file)))
    }

    /// A cached output of `model` for `input`, counted as a hit or a miss.
    pub fn output(&self, model: u64, input: &Digest) -> Option<Arc<Vec<f32>>> {
        let outputs = self.inner.outputs.as_ref()?;
        outputs.lock().unwrap_or_else(|p| p.into_inner()).get(&(model, *input)).cloned()
    }

    /// Keeps `value` as `model`'s output for `input`, the least recently used outputs
    /// making room.
    pub fn keep_output(&self, model: u64, input: Digest, value: Arc<Vec<f32>>) {
        let bytes = (value.len() * 4) as u64;
        if let Some(o) = &self.inner.outputs {
            o.lock().unwrap_or_else(|p| p.into_inner()).insert((model, input), value, bytes);
        }
    }

    pub fn stats(&self) -> SessionStats {
        let s = self.state();
        let mut st = SessionStats { models: s.models, tensors: s.tensors.len(), ..Default::default() };
        for h in s.tensors.values() {
            st.tensor_bytes += h.tensor.byte_len();
            if h.users > 1 {
                st.shared_tensors += 1;
            }
            st.max_sharing = st.max_sharing.max(h.users);
        }
        drop(s);
        let cpu = self.inner.cpu.run_stats();
        st.plan_misses = cpu.compiles;
        for d in self.devices().iter() {
            match d {
                Device::Gpu(_, g) => {
                    let gs = g.stats();
                    st.gpu_bytes += gs.weight_bytes + gs.plan_bytes;
                    st.plan_hits += gs.plan_hits;
                    st.plan_misses += gs.plan_misses;
                }
                Device::Nn(_, n) => {
                    let ns = n.stats();
                    st.webnn.builds += ns.builds;
                    st.webnn.dispatches += ns.dispatches;
                    st.webnn.constant_bytes += ns.constant_bytes;
                    st.webnn.fallback_nodes += ns.fallback_nodes;
                    st.webnn.fallback.extend(n.fallback_reasons());
                }
            }
        }
        if let Some(o) = &self.inner.outputs {
            st.outputs = o.lock().unwrap_or_else(|p| p.into_inner()).stats();
        }
        st.queue = [0, 1, 2].map(|i| self.inner.queues[i].depth());
        st
    }
}

impl Lease {
    /// Gives the weights back; true when this was their last holder (so what was made
    /// from them, a model's plans among it, is garbage too).
    pub fn release(mut self) -> bool {
        self.give_back()
    }

    fn give_back(&mut self) -> bool {
        if std::mem::replace(&mut self.given_back, true) {
            return false;
        }
        let mut gone = vec![];
        {
            let mut s = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
            s.models = s.models.saturating_sub(1);
            for d in std::mem::take(&mut self.digests) {
                if let Some(h) = s.tensors.get_mut(&d) {
                    h.users -= 1;
                    if h.users == 0 {
                        gone.extend(s.tensors.remove(&d).map(|h| h.tensor));
                    }
                }
            }
            if let Some(f) = self.file.take() {
                let last = s.files.get_mut(&f).is_some_and(|(_, _, users)| {
                    *users -= 1;
                    *users == 0
                });
                if last {
                    s.files.remove(&f);
                }
            }
        }
        let devices: Vec<Device> = self.inner.devices.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for t in &gone {
            self.inner.cpu.forget(t);
            for d in &devices {
                d.forget(t);
            }
        }
        !gone.is_empty()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.give_back();
    }
}
