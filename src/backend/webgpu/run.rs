//! Running a plan: host inputs written into the plan's buffers and device values bound
//! in their place, every dispatch in one compute pass and one submission, and only the
//! outputs wanted on the host read back, with one map. Outputs kept on the device are
//! `GpuValue`s that a later run takes without a readback.

use super::device::Gpu;
use super::plan::Plan;
use super::{profile, WebGpuBackend};
use crate::backend::value::DeviceData;
use crate::backend::{BackendKind, DeviceTensor, RunStats, Value};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::tensor::{DType, Tensor};
use std::sync::Arc;

/// A tensor's buffer on the device, with the device generation that made it (a value
/// does not outlive a lost device).
#[derive(Clone, Debug)]
pub struct GpuValue(Arc<GpuBuf>);

#[derive(Debug)]
struct GpuBuf {
    buffer: wgpu::Buffer,
    generation: u64,
}

fn storage(device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("value"),
        size: bytes.max(4).div_ceil(4) * 4,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// The contents of a mapped readback buffer, read in place.
fn mapped(rb: &wgpu::Buffer) -> Result<wgpu::BufferView> {
    rb.get_mapped_range(..).map_err(|e| Error::GpuError(format!("readback: {e}")))
}

/// A buffer the host maps to read `bytes` back.
fn readback(device: &wgpu::Device, bytes: u64, label: &str) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4).div_ceil(4) * 4,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// Bytes of device values alive, over every WebGPU backend of this module: a decoder's
/// caches and cross keys and values, tokens left on the device.
static VALUE_BYTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn value_bytes() -> u64 {
    VALUE_BYTES.load(std::sync::atomic::Ordering::Relaxed)
}

impl GpuValue {
    fn new(buffer: wgpu::Buffer, generation: u64) -> Self {
        VALUE_BYTES.fetch_add(buffer.size(), std::sync::atomic::Ordering::Relaxed);
        GpuValue(Arc::new(GpuBuf { buffer, generation }))
    }
}

impl Drop for GpuBuf {
    fn drop(&mut self) {
        VALUE_BYTES.fetch_sub(self.buffer.size(), std::sync::atomic::Ordering::Relaxed);
    }
}

fn bytes_of(dims: &[usize], dtype: DType) -> u64 {
    dtype.bytes(dims.iter().product::<usize>()) as u64
}

fn host_bytes(t: &Tensor) -> Result<Vec<u8>> {
    Ok(match t.dtype() {
        DType::F32 => bytemuck::cast_slice(&t.to_f32_vec()).to_vec(),
        DType::I32 => bytemuck::cast_slice(&t.to_i32_vec("run")?).to_vec(),
        other => {
            return Err(Error::DTypeMismatch { op: "run", expected: "f32 or i32".into(), found: other.to_string() })
        }
    })
}

fn tensor_from(bytes: &[u8], dims: &[usize], dtype: DType) -> Result<Tensor> {
    match dtype {
        DType::F32 => Tensor::from_f32(dims.to_vec(), bytemuck::pod_collect_to_vec(bytes)),
        DType::I32 => Tensor::from_i32(dims.to_vec(), bytemuck::pod_collect_to_vec(bytes)),
        other => Tensor::from_stored(other, dims.to_vec(), bytes),
    }
}

impl WebGpuBackend {
    /// Runs `graph` (see `Backend::run_values`). A device lost before or during a run on
    /// host inputs is replaced and the run tried once more on the new one; device values
    /// die with their device, so a run on them fails with `gpu_device_lost`.
    pub async fn run_values(&self, graph: &Arc<Graph>, inputs: Vec<Value>, on_device: &[bool]) -> Result<Vec<Value>> {
        graph.check_values(inputs.iter().map(|v| (v.dims(), v.dtype())))?;
        // Natively, callbacks (device lost among them) only run when the device is polled.
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.with_state(|s| s.gpu.device.poll(wgpu::PollType::Poll));
        let seen = self.generation();
        if self.lost() {
            self.recreate(seen).await;
        }
        let seen = self.generation();
        let again = inputs.iter().all(|v| matches!(v, Value::Host(_))).then(|| inputs.clone());
        match self.run_once(graph, inputs, on_device).await {
            // In browsers the loss may only be reported after this run failed on it.
            Err(e) if matches!(e, Error::GpuDeviceLost(_) | Error::GpuError(_)) && self.lost() => {
                self.recreate(seen).await;
                match again {
                    Some(inputs) => self.run_once(graph, inputs, on_device).await,
                    None => Err(e),
                }
            }
            r => r,
        }
    }

    /// The buffer of a device value of this backend, on the current device.
    fn own<'v>(&self, d: &'v DeviceTensor) -> Result<&'v GpuValue> {
        let DeviceData::WebGpu(g) = &d.data else {
            return Err(Value::foreign(d, BackendKind::WebGpu));
        };
        if g.0.generation != self.generation() {
            return Err(Error::GpuDeviceLost("a value from a device since lost was given: make it again".into()));
        }
        Ok(g)
    }

    async fn run_once(&self, graph: &Arc<Graph>, inputs: Vec<Value>, on_device: &[bool]) -> Result<Vec<Value>> {
        let (gpu, plan) = self.ready_plan(graph).await?;
        let generation = self.generation();
        for c in &plan.checks {
            if let Value::Host(t) = &inputs[c.input] {
                c.verify(t)?;
            }
        }
        let mut enc = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("run") });
        // The plan's buffers, with device inputs bound in place of theirs; `given[b]` is
        // the value now at buffer `b`.
        let mut bufs = plan.bufs.clone();
        let mut given: Vec<Option<GpuValue>> = vec![None; bufs.len()];
        let mut swapped = vec![];
        for (k, v) in inputs.into_iter().enumerate() {
            let at = plan.inputs[k];
            match v {
                Value::Host(t) if plan.resident[k] => {
                    // A resident input given from the host: uploaded for this run alone.
                    let bytes = host_bytes(&t)?;
                    let fresh = storage(&gpu.device, bytes.len() as u64);
                    if !bytes.is_empty() {
                        gpu.queue.write_buffer(&fresh, 0, &bytes);
                    }
                    bufs[at] = fresh.clone();
                    swapped.push(at);
                    given[at] = Some(GpuValue::new(fresh, generation));
                }
                Value::Host(t) => {
                    let bytes = host_bytes(&t)?;
                    if !bytes.is_empty() {
                        gpu.queue.write_buffer(&bufs[at], 0, &bytes);
                    }
                }
                Value::Device(d) => {
                    let mut g = self.own(&d)?.clone();
                    drop(d);
                    // The plan writes into this input: a value held elsewhere too is copied
                    // first, so no holder sees it change.
                    if plan.written[k] && Arc::strong_count(&g.0) > 1 {
                        let n = g.0.buffer.size();
                        let fresh = storage(&gpu.device, n);
                        enc.copy_buffer_to_buffer(&g.0.buffer, 0, &fresh, 0, n);
                        g = GpuValue::new(fresh, generation);
                    }
                    bufs[at] = g.0.buffer.clone();
                    swapped.push(at);
                    given[at] = Some(g);
                }
            }
        }
        let groups: Vec<Option<wgpu::BindGroup>> =
            (0..plan.steps.len()).map(|i| plan.rebind(&gpu.device, i, &bufs, &swapped)).collect();
        let profiler = self
            .profiling
            .load(std::sync::atomic::Ordering::Relaxed)
            .then(|| profile::Profiler::new(&gpu.device, plan.steps.len()));
        encode(&mut enc, &plan, &groups, profiler.as_ref());
        // Device outputs: the input value whose buffer holds the output, or a copy of the
        // plan's buffer (which the next run overwrites). Host outputs go to the readback.
        let mut out: Vec<Option<Value>> = vec![None; plan.outputs.len()];
        let mut to_host = vec![];
        for (o, (b, dims, dtype)) in plan.outputs.iter().enumerate() {
            let n = bytes_of(dims, *dtype);
            if !on_device.get(o).copied().unwrap_or(false) {
                to_host.push((o, *b, n));
                continue;
            }
            let data = match &given[*b] {
                Some(g) => DeviceData::WebGpu(g.clone()),
                None => {
                    let fresh = storage(&gpu.device, n);
                    if n > 0 {
                        enc.copy_buffer_to_buffer(&bufs[*b], 0, &fresh, 0, n);
                    }
                    DeviceData::WebGpu(GpuValue::new(fresh, generation))
                }
            };
            out[o] = Some(Value::Device(DeviceTensor { dims: dims.clone(), dtype: *dtype, data }));
        }
        let out_bytes: u64 = to_host.iter().map(|(_, _, n)| n).sum();
        let total = out_bytes + profiler.as_ref().map_or(0, |p| p.bytes());
        let readback = (total > 0).then(|| readback(&gpu.device, total, "readback"));
        if let Some(rb) = &readback {
            let mut at = 0;
            for &(_, b, n) in &to_host {
                if n > 0 {
                    enc.copy_buffer_to_buffer(&bufs[b], 0, rb, at, n);
                }
                at += n;
            }
            if let Some(p) = &profiler {
                p.encode(&mut enc, rb, out_bytes);
            }
        }
        gpu.queue.submit([enc.finish()]);
        self.count(|c| {
            c.submissions += 1;
            c.runs += 1;
        });
        let Some(rb) = readback else {
            // Nothing to wait for: errors surface at the next read or run.
            return out.into_iter().map(|v| v.ok_or_else(|| Error::GpuError("an output was lost".into()))).collect();
        };
        self.map(&gpu, &rb).await?;
        let view = mapped(&rb)?;
        self.count(|c| c.read_bytes += out_bytes);
        let mut at = 0usize;
        for &(o, _, n) in &to_host {
            let (_, dims, dtype) = &plan.outputs[o];
            out[o] = Some(Value::Host(tensor_from(&view[at..at + n as usize], dims, *dtype)?));
            at += n as usize;
        }
        if profiler.is_some() {
            let ms =
                profile::durations(&view[out_bytes as usize..], gpu.queue.get_timestamp_period(), plan.steps.len());
            let named = plan.steps.iter().map(|s| s.kernel).zip(ms).collect();
            *self.last_profile.lock().unwrap_or_else(|p| p.into_inner()) = named;
        }
        drop(view);
        rb.unmap();
        out.into_iter().map(|v| v.ok_or_else(|| Error::GpuError("an output was lost".into()))).collect()
    }

    /// Maps `rb` for reading once the queue's work is done (read it with `mapped`); errors
    /// the device reported meanwhile (out of memory, a loss) come first.
    async fn map(&self, gpu: &Gpu, rb: &wgpu::Buffer) -> Result<()> {
        let (tx, rx) = futures_channel::oneshot::channel();
        rb.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
        let mapped = rx.await;
        self.count(|c| c.readbacks += 1);
        if let Some(e) = gpu.take_error() {
            return Err(match e {
                Error::GpuOutOfMemory(m) => self.out_of_memory(m),
                e => e,
            });
        }
        match mapped {
            Ok(Ok(())) => {}
            _ => return Err(Error::GpuError("reading the results back failed".into())),
        }
        Ok(())
    }

    /// A value's contents on the host; a device value is copied back (and counted).
    pub async fn read(&self, value: &Value) -> Result<Tensor> {
        let d = match value {
            Value::Host(t) => return Ok(t.clone()),
            Value::Device(d) => d,
        };
        let g = self.own(d)?;
        let gpu = self.with_state(|s| s.gpu.clone())?;
        let n = d.bytes();
        let rb = readback(&gpu.device, n, "read");
        let mut enc = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("read") });
        if n > 0 {
            enc.copy_buffer_to_buffer(&g.0.buffer, 0, &rb, 0, n);
        }
        gpu.queue.submit([enc.finish()]);
        self.map(&gpu, &rb).await?;
        let t = tensor_from(&mapped(&rb)?[..n as usize], &d.dims, d.dtype);
        rb.unmap();
        self.count(|c| c.read_bytes += n);
        t
    }

    /// `t` copied into a new buffer on the device.
    pub fn upload(&self, t: &Tensor) -> Result<Value> {
        let gpu = self.with_state(|s| s.gpu.clone())?;
        let bytes = host_bytes(t)?;
        let buffer = storage(&gpu.device, bytes.len() as u64);
        if !bytes.is_empty() {
            gpu.queue.write_buffer(&buffer, 0, &bytes);
        }
        let data = DeviceData::WebGpu(GpuValue::new(buffer, self.generation()));
        Ok(Value::Device(DeviceTensor { dims: t.dims().to_vec(), dtype: t.dtype(), data }))
    }

    pub fn run_stats(&self) -> RunStats {
        let s = self.stats();
        RunStats { compiles: s.plan_misses, runs: s.runs, read_bytes: s.read_bytes }
    }
}

/// Every dispatch of `plan` into `enc`: one compute pass, or one per dispatch with
/// timestamps when profiling. `groups` holds a run's own bind group where it has one.
fn encode(
    enc: &mut wgpu::CommandEncoder,
    plan: &Plan,
    groups: &[Option<wgpu::BindGroup>],
    profiler: Option<&profile::Profiler>,
) {
    let group = |i: usize| groups[i].as_ref().unwrap_or(&plan.steps[i].bind_group);
    match profiler {
        Some(p) => {
            for (i, s) in plan.steps.iter().enumerate() {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(s.kernel),
                    timestamp_writes: p.writes(i),
                });
                pass.set_pipeline(&s.pipeline);
                pass.set_bind_group(0, group(i), &[]);
                pass.dispatch_workgroups(s.groups.0, s.groups.1, s.groups.2);
            }
        }
        None => {
            let mut pass =
                enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("graph"), timestamp_writes: None });
            for (i, s) in plan.steps.iter().enumerate() {
                pass.set_pipeline(&s.pipeline);
                pass.set_bind_group(0, group(i), &[]);
                pass.dispatch_workgroups(s.groups.0, s.groups.1, s.groups.2);
            }
        }
    }
}
