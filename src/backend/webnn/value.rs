//! Device values of the WebNN backend: `MLTensor`s held for a caller (a decoder's
//! caches), and the spares their tensors go back to when dropped, for the next output of
//! their shape.

use super::bindings::MlTensor;
use crate::tensor::DType;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// A tensor this backend holds for a caller (a decoder's cache), destroyed when the last
/// handle goes; it belongs to the context of its generation.
#[derive(Clone, Debug)]
pub struct NnValue(pub(super) Rc<Held>);

#[derive(Debug)]
pub(super) struct Held {
    pub(super) tensor: MlTensor,
    pub(super) generation: u64,
    /// Where the tensor goes back to when the value is dropped (see `Spares`).
    pub(super) spares: std::rc::Weak<Spares>,
    pub(super) key: Desc,
}

impl Drop for Held {
    fn drop(&mut self) {
        match self.spares.upgrade() {
            Some(s) if s.generation.get() == self.generation => s.put(self.key.clone(), self.tensor.clone()),
            _ => self.tensor.destroy(),
        }
    }
}

/// A tensor's dtype and dims.
pub(super) type Desc = (DType, Vec<usize>);

/// Device tensors whose values were dropped, kept for the next output of their shape: a
/// decoder's caches are then two sets of tensors used in turn (one read, one written),
/// not new tensors each step. As many per shape as were dropped: no more than the caller
/// once held at a time; a new context, or the backend's end, destroys them.
#[derive(Debug, Default)]
pub(super) struct Spares {
    generation: Cell<u64>,
    free: RefCell<HashMap<Desc, Vec<MlTensor>>>,
}

impl Spares {
    pub(super) fn put(&self, key: Desc, t: MlTensor) {
        self.free.borrow_mut().entry(key).or_default().push(t);
    }

    pub(super) fn take(&self, key: &Desc) -> Option<MlTensor> {
        self.free.borrow_mut().get_mut(key).and_then(Vec::pop)
    }

    /// A new context: the spares were the old one's.
    pub(super) fn clear(&self, generation: u64) {
        self.generation.set(generation);
        for t in self.free.borrow_mut().drain().flat_map(|(_, v)| v) {
            t.destroy();
        }
    }
}
