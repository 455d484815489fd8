//! Graph passes. Buffer planning: the last node that reads each value, so a backend can
//! recycle a buffer as soon as nothing will read it again.

use super::builder::Graph;

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
