//! Fusion: a matmul whose only reader is a bias add (a constant as long as its last
//! dim), perhaps followed by an activation that is the add's only reader, runs as one
//! step: the backends apply the bias and activation to the product as it is written.

use super::liveness::readers;
use crate::graph::{BinaryOp, Graph, Op, UnaryOp};
use std::collections::HashMap;

/// What follows a fused matmul.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epilogue {
    /// The bias constant's node.
    pub bias: usize,
    pub activation: Option<UnaryOp>,
    /// The node whose value the fused step produces (the add, or the activation).
    pub end: usize,
}

/// Matmul node → its epilogue, for every matmul that fuses.
pub fn epilogues(g: &Graph) -> HashMap<usize, Epilogue> {
    let readers = readers(g);
    let is_output = |i: usize| g.outputs.iter().any(|o| o.index() == i);
    let mut consumer = vec![None; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        for id in &n.inputs {
            consumer[id.index()] = Some(i);
        }
    }
    let mut out = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if !matches!(n.op, Op::MatMul { .. }) || readers[i] != 1 || is_output(i) {
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
        let mut e = Epilogue { bias: other.index(), activation: None, end: a };
        if readers[a] == 1 && !is_output(a) {
            if let Some(u) = consumer[a] {
                if let Op::Unary(op) = g.nodes[u].op {
                    e = Epilogue { activation: Some(op), end: u, ..e };
                }
            }
        }
        out.insert(i, e);
    }
    out
}

/// The nodes a fused step absorbs: each epilogue's add, and its activation.
pub fn absorbed(g: &Graph, fused: &HashMap<usize, Epilogue>) -> Vec<bool> {
    let mut out = vec![false; g.nodes.len()];
    for e in fused.values() {
        out[e.end] = true;
        if e.activation.is_some() {
            if let Some(add) = g.nodes[e.end].inputs.first() {
                out[add.index()] = true;
            }
        }
    }
    out
}
