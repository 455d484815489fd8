//! The WebGPU backend (wgpu: Vulkan natively, lavapipe on CI). A graph compiles once per
//! device into a plan of dispatches; a run writes the inputs, encodes every dispatch in
//! one compute pass, submits once and reads every output back with one asynchronous map.
//! A lost device is replaced on the next run.

// Natively wgpu's handles are Send + Sync and a backend may be shared across threads; in
// wasm (one thread) they are neither, so the same `Arc`s are merely single-threaded there.
#![allow(clippy::arc_with_non_send_sync)]

mod compiler;
mod device;
mod kernels;
mod lower;
mod params;
mod plan;
mod plans;
mod pool;
mod profile;
mod run;
#[cfg(target_arch = "wasm32")]
mod subgroups_too;
pub mod variants;
mod weights;

use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::runtime::Lru;
use device::Gpu;
use kernels::Pipelines;
use plan::Plan;
use pool::BufferPool;
pub use run::GpuValue;
use std::sync::{Arc, Mutex};
use variants::Variant;
use weights::Weights;

/// How to set the backend up.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Force a matmul variant by name ("tiled", "subgroup", "f16") instead of the table's
    /// choice; it must be one the device granted.
    pub variant: Option<String>,
    /// Optional features not to request ("shader-f16", "subgroups", "timestamp-query").
    pub without: Vec<&'static str>,
    /// Bind at most this many bytes of one buffer (as if the device's
    /// maxStorageBufferBindingSize were lower): tests use it to exercise the splitting of
    /// large tables with small ones.
    pub max_binding_bytes: Option<u64>,
}

/// Counters a test or a benchmark reads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GpuStats {
    pub submissions: u64,
    pub readbacks: u64,
    /// Devices made so far (more than one after a device loss).
    pub devices: u64,
    pub pipelines: usize,
    pub buffers_created: usize,
    pub plans: usize,
    /// Plan cache lookups that found a plan, and that compiled one.
    pub plan_hits: u64,
    pub plan_misses: u64,
    /// Bytes read back to the host: host outputs, and reads of device values.
    pub read_bytes: u64,
    pub runs: u64,
    /// Bytes of uploaded weights, and of the buffers cached plans hold.
    pub weight_bytes: u64,
    pub plan_bytes: u64,
    /// Bytes of device values alive (every WebGPU backend's): state such as KV caches.
    pub value_bytes: u64,
}

/// Everything tied to one device; replaced as a whole when the device is lost.
struct State {
    gpu: Arc<Gpu>,
    variant: Variant,
    pipelines: Pipelines,
    pool: BufferPool,
    weights: Weights,
    /// Plans by graph content key (each plan holds its graph, so the constants' storage
    /// addresses in the key are not reused).
    plans: Lru<u64, Arc<Plan>>,
}

pub struct WebGpuBackend {
    opts: GpuOptions,
    state: Mutex<Option<State>>,
    stats: Mutex<GpuStats>,
    /// Whether runs record per-dispatch timestamps (where the device has them).
    profiling: std::sync::atomic::AtomicBool,
    /// The last profiled run: (kernel file, GPU milliseconds) per dispatch.
    last_profile: Mutex<Vec<(&'static str, f64)>>,
    /// While a lost device is being replaced: the runs waiting for that replacement, so
    /// that N runs in flight at the loss share one new device.
    replacing: Mutex<Option<Vec<futures_channel::oneshot::Sender<()>>>>,
}

/// Resolves to the out-of-memory error of a plan's allocations, if there was one.
type AllocVerdict = std::pin::Pin<Box<dyn std::future::Future<Output = Option<wgpu::Error>>>>;

/// Plans kept at most, and the bytes of device buffers they may hold together; past
/// either, the least recently used shapes are compiled again when seen.
const PLAN_LIMIT: usize = 16;
const PLAN_BYTES: u64 = 512 << 20;

async fn make_state(opts: &GpuOptions) -> Result<State> {
    let mut gpu = device::acquire(&opts.without).await?;
    if let Some(max) = opts.max_binding_bytes {
        let l = &mut gpu.limits.max_storage_buffer_binding_size;
        *l = (*l).min(max.max(256));
    }
    let variant = variants::select(device::engine(), &gpu.granted, opts.variant.as_deref())?;
    Ok(State {
        gpu: Arc::new(gpu),
        variant,
        pipelines: Pipelines::default(),
        pool: BufferPool::default(),
        weights: Weights::default(),
        plans: Lru::new(PLAN_LIMIT, PLAN_BYTES),
    })
}

impl WebGpuBackend {
    /// Acquires a device; `backend_unavailable` where there is no adapter.
    pub async fn new(opts: GpuOptions) -> Result<Self> {
        let state = make_state(&opts).await?;
        let stats = GpuStats { devices: 1, ..Default::default() };
        Ok(WebGpuBackend {
            opts,
            state: Mutex::new(Some(state)),
            stats: Mutex::new(stats),
            profiling: false.into(),
            last_profile: Mutex::new(vec![]),
            replacing: Mutex::new(None),
        })
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.as_mut().map(f).ok_or_else(|| Error::GpuDeviceLost("no device (re-creating it failed)".into()))
    }

    /// The matmul variant in use.
    pub fn variant(&self) -> String {
        self.with_state(|s| s.variant.name.clone()).unwrap_or_default()
    }

    /// The optional features the device was granted.
    pub fn granted(&self) -> Vec<&'static str> {
        self.with_state(|s| s.gpu.granted.clone()).unwrap_or_default()
    }

    /// The adapter's name and API.
    pub fn adapter(&self) -> String {
        self.with_state(|s| s.gpu.adapter.clone()).unwrap_or_default()
    }

    pub fn stats(&self) -> GpuStats {
        let mut st = *self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.with_state(|s| {
            st.pipelines = s.pipelines.count();
            st.buffers_created = s.pool.created;
            let p = s.plans.stats();
            (st.plans, st.plan_hits, st.plan_misses) = (p.entries, p.hits, p.misses);
            (st.weight_bytes, st.plan_bytes) = (s.weights.bytes, p.bytes);
        });
        st.value_bytes = run::value_bytes();
        st
    }

    /// Bytes of the buffers `graph`'s plan holds (compiling it if needed): its activations,
    /// and the buffers of its inputs that are not resident.
    pub fn plan_bytes(&self, graph: &Arc<Graph>) -> Result<u64> {
        Ok(self.plan(graph)?.1.held.iter().map(|b| b.size()).sum())
    }

    /// The kernel file of each dispatch `graph` compiles to, in order (compiling it if
    /// needed): what tests check fusion with.
    pub fn dispatches(&self, graph: &Arc<Graph>) -> Result<Vec<&'static str>> {
        Ok(self.plan(graph)?.1.steps.iter().map(|s| s.kernel).collect())
    }

    /// Turns per-dispatch GPU timing on or off; false where the device has no timestamp
    /// queries.
    pub fn set_profiling(&self, on: bool) -> bool {
        let ok = on && self.granted().contains(&"timestamp-query");
        self.profiling.store(ok, std::sync::atomic::Ordering::Relaxed);
        ok
    }

    /// GPU milliseconds per dispatch of the last profiled run, with its kernel file.
    pub fn last_profile(&self) -> Vec<(&'static str, f64)> {
        self.last_profile.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Destroys the device, as a driver reset would: the next run must make a new one.
    pub fn destroy_device(&self) {
        let _ = self.with_state(|s| {
            s.gpu.device.destroy();
            // Browsers report the loss asynchronously; this loss is known now.
            if let Ok(mut l) = s.gpu.lost.lock() {
                l.get_or_insert_with(|| "destroyed by destroy_device".into());
            }
        });
    }

    fn count(&self, f: impl FnOnce(&mut GpuStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Which device this is: the count of devices made, bumped by each replacement.
    pub(crate) fn generation(&self) -> u64 {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).devices
    }

    fn lost(&self) -> bool {
        self.with_state(|s| s.gpu.is_lost()).unwrap_or(true)
    }

    /// A new device, and with it new buffers, weights and pipelines, in place of device
    /// `seen`, which the caller found lost. Runs that find the same loss while one
    /// replacement is under way wait for it instead of making their own, and a run that
    /// saw an older device finds it already replaced.
    async fn recreate(&self, seen: u64) {
        loop {
            let wait = {
                let mut r = self.replacing.lock().unwrap_or_else(|p| p.into_inner());
                if self.generation() != seen {
                    return;
                }
                match r.as_mut() {
                    Some(waiters) => {
                        let (tx, rx) = futures_channel::oneshot::channel();
                        waiters.push(tx);
                        rx
                    }
                    None => {
                        *r = Some(Vec::new());
                        break;
                    }
                }
            };
            let _ = wait.await;
        }
        let fresh = make_state(&self.opts).await;
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = fresh.ok();
        self.count(|c| c.devices += 1);
        let waiters = self.replacing.lock().unwrap_or_else(|p| p.into_inner()).take();
        for w in waiters.into_iter().flatten() {
            let _ = w.send(());
        }
    }
}
