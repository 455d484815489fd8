//! Storage buffers recycled by size class, within a compiled graph (a value's buffer is
//! reused once nothing reads the value) and across graphs (a dropped plan's buffers
//! return here).

use std::collections::HashMap;

#[derive(Default)]
pub struct BufferPool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    /// Buffers made so far; a test checks a second compile of the same graph makes none.
    pub created: usize,
}

/// Power-of-two size classes from 256 bytes, so a freed buffer fits many later requests.
fn class(bytes: u64) -> u64 {
    bytes.max(256).next_power_of_two()
}

impl BufferPool {
    pub fn take(&mut self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let size = class(bytes);
        if let Some(b) = self.free.get_mut(&size).and_then(Vec::pop) {
            return b;
        }
        self.created += 1;
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("pool"),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    pub fn put(&mut self, b: wgpu::Buffer) {
        self.free.entry(b.size()).or_default().push(b);
    }
}
