//! A graph's content key: two graphs with the same ops, attributes, shapes and constants
//! (the same weight storage, as a session's shared tensors are) have the same key, so a
//! backend's plan for one serves the other. The key is worked out once, at build time.

use super::builder::Node;
use super::op::Op;
use crate::tensor::DType;
use std::hash::{DefaultHasher, Hash, Hasher};

/// The key of nodes and outputs. Constants count by identity (`storage_id`, dtype, dims),
/// not by value: hashing a model's weights on every build would cost more than a plan,
/// and shared weights are one storage.
pub fn content_key(nodes: &[Node], outputs: &[usize]) -> u64 {
    let mut h = DefaultHasher::new();
    for n in nodes {
        match &n.op {
            Op::Constant(t) => {
                "constant".hash(&mut h);
                match t.dtype() {
                    // Small i32 constants (ids a graph makes itself): by value.
                    DType::I32 => t.to_i32_vec("key").unwrap_or_default().hash(&mut h),
                    dtype => (t.storage_id(), dtype).hash(&mut h),
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

#[cfg(test)]
mod tests {
    use crate::graph::GraphBuilder;
    use crate::tensor::{DType, Tensor};

    /// The key of a graph holding constant `w`.
    fn key_of(w: &Tensor) -> u64 {
        let mut g = GraphBuilder::new();
        let c = g.constant(w.clone());
        g.build(&[c]).unwrap().key()
    }

    #[test]
    fn stored_weights_of_one_shape_never_share_a_plan() {
        let a = Tensor::from_f32(vec![8, 64], (0..512).map(|i| i as f32 / 100.0).collect()).unwrap();
        let b = Tensor::from_f32(vec![8, 64], (0..512).map(|i| -(i as f32) / 50.0).collect()).unwrap();
        for dtype in [DType::F16, DType::Q8 { group: 64 }, DType::Q8 { group: 32 }, DType::Q4 { block: 32 }] {
            let (qa, qb) = (a.to_dtype(dtype).unwrap(), b.to_dtype(dtype).unwrap());
            assert_ne!(key_of(&qa), key_of(&qb), "{dtype}: two weights, one key");
            // One weight is one plan, however often a graph is built over it.
            assert_eq!(key_of(&qa), key_of(&qa.clone()), "{dtype}");
        }
        // The same values in two dtypes are two plans.
        let (q8, q8g) = (a.to_dtype(DType::Q8 { group: 64 }).unwrap(), a.to_dtype(DType::Q8 { group: 32 }).unwrap());
        assert_ne!(key_of(&q8), key_of(&q8g));
        assert_ne!(key_of(&a), key_of(&a.to_dtype(DType::F16).unwrap()));
    }
}
