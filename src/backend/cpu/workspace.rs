//! The memory the CPU backend keeps between runs: recycled buffers, GEMM scratch, and
//! weights packed for GEMM, keyed by their storage so a weight shared by models is packed
//! once.

use super::gemm::{GemmScratch, PackedB};
use super::pool::BufferPool;
use super::{matmul, qgemm};
use crate::tensor::{Storage, StorageId, Tensor};
use std::collections::HashMap;
use std::sync::Arc;

/// Packed weights kept at most (in floats, 256 MiB); past it the cache starts afresh.
const PACKED_LIMIT: usize = 64 << 20;

/// Memory a backend keeps between runs.
#[derive(Default)]
pub(super) struct Workspace {
    pub(super) pool: BufferPool,
    pub(super) gemm: GemmScratch,
    pub(super) packed: PackedWeights,
    pub(super) stored: qgemm::QScratch,
}

/// The weight's storage identity, and whether the operand is transposed.
type PackKey = (StorageId, bool);

/// Weights packed for GEMM, keyed by their storage identity. Each entry holds the storage
/// itself, so the address cannot be freed and reused while the entry exists.
#[derive(Default)]
pub(super) struct PackedWeights {
    map: HashMap<PackKey, (Storage, Arc<PackedB>)>,
    floats: usize,
}

impl PackedWeights {
    /// Drops the packings of the weight `id`.
    pub(super) fn forget(&mut self, id: StorageId) {
        let gone: Vec<PackKey> = self.map.keys().filter(|k| k.0 == id).copied().collect();
        for k in gone {
            if let Some((_, p)) = self.map.remove(&k) {
                self.floats -= p.len();
            }
        }
    }

    pub(super) fn get(&mut self, t: &Tensor, operand: &matmul::Operand) -> Option<Arc<PackedB>> {
        t.f32_storage()?;
        let key = (t.storage_id(), operand.transposed);
        if let Some((_, p)) = self.map.get(&key) {
            return Some(p.clone());
        }
        let packed = Arc::new(matmul::pack_weight(operand));
        if self.floats + packed.len() > PACKED_LIMIT {
            self.map.clear();
            self.floats = 0;
        }
        self.floats += packed.len();
        self.map.insert(key, (t.storage().clone(), packed.clone()));
        Some(packed)
    }
}
