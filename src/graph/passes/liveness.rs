//! Buffer liveness: the last node that reads each value, and how many nodes read it, so
//! a backend can recycle a buffer as soon as nothing will read it again.

use crate::graph::Graph;

/// For each node, the index of the last node that reads it; graph outputs are marked
/// `usize::MAX` so they are never recycled.
pub fn last_uses(graph: &Graph) -> Vec<usize> {
    let mut last = vec![0usize; graph.nodes.len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        for inp in &node.inputs {
            last[inp.index()] = i;
        }
    }
    for out in &graph.outputs {
        last[out.index()] = usize::MAX;
    }
    last
}

/// For each node, how many inputs of later nodes it is (a node read twice counts twice).
pub fn readers(graph: &Graph) -> Vec<usize> {
    let mut readers = vec![0usize; graph.nodes.len()];
    for n in &graph.nodes {
        for id in &n.inputs {
            readers[id.index()] += 1;
        }
    }
    readers
}
