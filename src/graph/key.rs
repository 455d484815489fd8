//! A graph's content key: two graphs with the same ops, attributes, shapes and constants
//! (the same weight storage, as a session's shared tensors are) have the same key, so a
//! backend's plan for one serves the other. The key is worked out once, at build time.

use super::builder::Node;
use super::op::Op;
use std::hash::{DefaultHasher, Hash, Hasher};

/// The key of nodes and outputs. Constants count by identity (storage address, offset,
/// dims), not by value: hashing a model's weights on every build would cost more than a
/// plan, and shared weights are one storage.
pub fn content_key(nodes: &[Node], outputs: &[usize]) -> u64 {
    let mut h = DefaultHasher::new();
    for n in nodes {
        match &n.op {
            Op::Constant(t) => {
                "constant".hash(&mut h);
                match t.f32_storage() {
                    Some((s, offset)) => (std::sync::Arc::as_ptr(s) as usize, offset).hash(&mut h),
                    // Small i32 constants (ids a graph makes itself): by value.
                    None => t.to_i32_vec("key").unwrap_or_default().hash(&mut h),
                }
                t.dims().hash(&mut h);
                t.strides().hash(&mut h);
            }
            // Every other op's attributes are small; their debug form names them all.
            op => format!("{op:?}").hash(&mut h),
        }
        n.inputs.iter().map(|i| i.index()).collect::<Vec<_>>().hash(&mut h);
        n.shape.dims().hash(&mut h);
        n.dtype.hash(&mut h);
    }
    outputs.hash(&mut h);
    h.finish()
}
