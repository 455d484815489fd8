//! Graph constants (weights) uploaded once per device and shared by every plan, keyed by
//! their host storage so that plans for other shapes of the same model reuse them. An
//! entry holds its storage, so the address cannot be freed and reused while it exists.

use crate::tensor::{DType, Storage, StorageId, Tensor};
use std::collections::HashMap;

/// How a weight is uploaded: widened to f32 (or narrowed to f16, the f16 variant's
/// weights), transposed or not; or its stored bytes as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Format {
    Wide { f16: bool, transpose: bool },
    Stored,
}

/// Storage identity, element count, format.
type Key = (StorageId, usize, Format);

#[derive(Default)]
pub struct Weights {
    map: HashMap<Key, (Storage, wgpu::Buffer)>,
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
    // Stored forms are widened here until the kernels read them as they are.
    let f32s = || {
        let wide = t.to_dtype(DType::F32).unwrap_or_else(|_| t.clone());
        match wide.permute(&[1, 0]) {
            Ok(tt) if transpose => tt.to_f32_vec(),
            _ => wide.to_f32_vec(),
        }
    };
    match (t.dtype(), f16) {
        (DType::I32, _) => bytemuck::cast_slice(&t.to_i32_vec("constant").unwrap_or_default()).to_vec(),
        (_, true) => {
            let h: Vec<u16> = f32s().iter().map(|&x| half::f16::from_f32(x).to_bits()).collect();
            bytemuck::cast_slice(&h).to_vec()
        }
        (_, false) => bytemuck::cast_slice(&f32s()).to_vec(),
    }
}

impl Weights {
    /// Drops the device copies of `t` (every precision and layout).
    pub fn forget(&mut self, t: &Tensor) {
        let (id, n) = (t.storage_id(), t.numel());
        self.map.retain(|k, (_, b)| {
            let gone = k.0 == id && k.1 == n;
            if gone {
                self.bytes -= b.size();
            }
            !gone
        });
    }

    /// The device buffer holding `t` (as f16 when asked; a 2-D `t` transposed when asked,
    /// so that a matmul reads a `[out, in]` weight along its rows), uploading it on first use.
    pub fn get(&mut self, device: &wgpu::Device, t: &Tensor, f16: bool, transpose: bool) -> wgpu::Buffer {
        if t.dtype() == DType::I32 || !t.is_contiguous() {
            // Small constants made by the graph itself (position ids, masks): not shared.
            return upload(device, &bytes_of(t, f16, transpose));
        }
        self.cached(device, t, Format::Wide { f16, transpose }, || bytes_of(t, f16, transpose))
    }

    /// The device buffer holding the stored weight `t`'s bytes as they are.
    pub fn get_stored(&mut self, device: &wgpu::Device, t: &Tensor) -> wgpu::Buffer {
        self.cached(device, t, Format::Stored, || t.stored_bytes().unwrap_or_default().to_vec())
    }

    fn cached(
        &mut self,
        device: &wgpu::Device,
        t: &Tensor,
        f: Format,
        bytes: impl FnOnce() -> Vec<u8>,
    ) -> wgpu::Buffer {
        let key = (t.storage_id(), t.numel(), f);
        if let Some((_, b)) = self.map.get(&key) {
            return b.clone();
        }
        let b = upload(device, &bytes());
        self.bytes += b.size();
        self.map.insert(key, (t.storage().clone(), b.clone()));
        b
    }
}
