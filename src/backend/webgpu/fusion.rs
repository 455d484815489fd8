//! Which matmuls the WebGPU plan fuses with the bias add and activation after them.

use super::compiler::act_code;
use crate::graph::{BinaryOp, Graph, Op};
use std::collections::HashMap;

/// Matmul node → (bias node, activation code, the node whose value the fused dispatch
/// produces).
pub type Fusions = HashMap<usize, (usize, u32, usize)>;

/// Matmuls whose only reader is a bias add (a constant of the last dim's length), and
/// perhaps then an activation: matmul node → (bias node, activation, the node whose value
/// the fused dispatch produces).
pub fn fusions(g: &Graph, readers: &[usize]) -> Fusions {
    let mut consumer = vec![None; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        for id in &n.inputs {
            consumer[id.index()] = Some(i);
        }
    }
    let mut out = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if !matches!(n.op, Op::MatMul { .. }) || readers[i] != 1 || g.outputs.iter().any(|o| o.index() == i) {
            continue;
        }
        let Some(a) = consumer[i] else { continue };
        let add = &g.nodes[a];
        if !matches!(add.op, Op::Binary(BinaryOp::Add)) || add.inputs[0] == add.inputs[1] {
            continue;
        }
        let other = if add.inputs[0].index() == i { add.inputs[1] } else { add.inputs[0] };
        let bias = g.node(other);
        let n_cols = n.shape.last();
        if !matches!(bias.op, Op::Constant(_)) || bias.shape.numel() != n_cols || bias.shape.last() != n_cols {
            continue;
        }
        if add.shape.dims() != n.shape.dims() {
            continue;
        }
        let mut end = (other.index(), 0, a);
        if readers[a] == 1 && !g.outputs.iter().any(|o| o.index() == a) {
            if let Some(u) = consumer[a] {
                if let Op::Unary(op) = g.nodes[u].op {
                    end = (other.index(), act_code(op), u);
                }
            }
        }
        out.insert(i, end);
    }
    out
}
