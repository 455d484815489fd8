//! Graph constants (weights) uploaded once per device and shared by every plan, keyed by
//! their host storage so that plans for other shapes of the same model reuse them. An
//! entry holds its storage, so the address cannot be freed and reused while it exists.

use crate::tensor::{DType, Tensor};
use std::collections::HashMap;
use std::sync::Arc;

/// Storage address, element offset, element count, stored as f16, stored transposed.
type Key = (usize, usize, usize, bool, bool);

#[derive(Default)]
pub struct Weights {
    map: HashMap<Key, (Arc<Vec<f32>>, wgpu::Buffer)>,
    pub bytes: u64,
}

fn upload(device: &wgpu::Device, bytes: &[u8]) -> wgpu::Buffer {
    // Storage bindings must be multiples of 4 bytes: an odd count of f16s is padded.
    let mut padded = bytes.to_vec();
    padded.resize(bytes.len().max(4).div_ceil(4) * 4, 0);
    wgpu::util::DeviceExt::create_buffer_init(
        device,
        &wgpu::util::BufferInitDescriptor {
            label: Some("weight"),
            contents: &padded,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        },
    )
}

fn bytes_of(t: &Tensor, f16: bool, transpose: bool) -> Vec<u8> {
    let f32s = || match t.permute(&[1, 0]) {
        Ok(tt) if transpose => tt.to_f32_vec(),
        _ => t.to_f32_vec(),
    };
    match (t.dtype(), f16) {
        (DType::I32, _) => bytemuck::cast_slice(&t.to_i32_vec("constant").unwrap_or_default()).to_vec(),
        (DType::F32, true) => {
            let h: Vec<u16> = f32s().iter().map(|&x| half::f16::from_f32(x).to_bits()).collect();
            bytemuck::cast_slice(&h).to_vec()
        }
        (DType::F32, false) => bytemuck::cast_slice(&f32s()).to_vec(),
    }
}

impl Weights {
    /// Drops the device copies of `t` (every precision and layout).
    pub fn forget(&mut self, t: &Tensor) {
        let Some((storage, offset)) = t.f32_storage() else { return };
        let ptr = Arc::as_ptr(storage) as usize;
        let n = t.numel();
        self.map.retain(|k, (_, b)| {
            let gone = k.0 == ptr && k.1 == offset && k.2 == n;
            if gone {
                self.bytes -= b.size();
            }
            !gone
        });
    }

    /// The device buffer holding `t` (as f16 when asked; a 2-D `t` transposed when asked,
    /// so that a matmul reads a `[out, in]` weight along its rows), uploading it on first use.
    pub fn get(&mut self, device: &wgpu::Device, t: &Tensor, f16: bool, transpose: bool) -> wgpu::Buffer {
        let shared = t.f32_storage().filter(|_| t.is_contiguous());
        let Some((storage, offset)) = shared else {
            // Small constants made by the graph itself (position ids, masks): not shared.
            return upload(device, &bytes_of(t, f16, transpose));
        };
        let key = (Arc::as_ptr(storage) as usize, offset, t.numel(), f16, transpose);
        if let Some((_, b)) = self.map.get(&key) {
            return b.clone();
        }
        let b = upload(device, &bytes_of(t, f16, transpose));
        self.bytes += b.size();
        self.map.insert(key, (storage.clone(), b.clone()));
        b
    }
}
