//! Per-dispatch GPU timings from timestamp queries, where the device granted
//! `timestamp-query`: each dispatch gets its own compute pass with a begin and an end
//! timestamp, resolved into the same readback as the outputs, so a profiled run is
//! still one submission and one readback.

/// WebGPU caps a query set at 4096 queries: two per dispatch.
const MAX_DISPATCHES: usize = 2048;

pub struct Profiler {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    n: u32,
}

impl Profiler {
    pub fn new(device: &wgpu::Device, dispatches: usize) -> Self {
        let n = (dispatches.min(MAX_DISPATCHES) * 2).max(2) as u32;
        let set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count: n,
        });
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile-resolve"),
            size: n as u64 * 8,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        Profiler { set, resolve, n }
    }

    /// The timestamp writes for dispatch `i` (none past the query set's capacity).
    pub fn writes(&self, i: usize) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        let at = (i * 2) as u32;
        (at + 1 < self.n).then_some(wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(at),
            end_of_pass_write_index: Some(at + 1),
        })
    }

    /// Bytes the timestamps take in the readback buffer.
    pub fn bytes(&self) -> u64 {
        self.n as u64 * 8
    }

    /// Resolves the queries and copies them into `readback` at `at`.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder, readback: &wgpu::Buffer, at: u64) {
        enc.resolve_query_set(&self.set, 0..self.n, &self.resolve, 0);
        enc.copy_buffer_to_buffer(&self.resolve, 0, readback, at, self.bytes());
    }
}

/// Milliseconds per dispatch, from resolved timestamps (`period`: ns per tick).
pub fn durations(bytes: &[u8], period: f32, dispatches: usize) -> Vec<f64> {
    let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(bytes);
    (0..dispatches.min(ticks.len() / 2))
        .map(|i| ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period as f64 / 1e6)
        .collect()
}
