//! Integer inputs checked on the host before a run: gather ids, cache offsets. A GPU
//! kernel or a WebNN graph cannot fail on a bad one (they clamp or skip), so a backend
//! that runs them there checks the host value first, for the same `invalid_argument` the
//! CPU gives.

use crate::error::{Error, Result};
use crate::graph::{Graph, Op};
use crate::tensor::Tensor;
use std::collections::HashMap;

/// Graph input `input` must hold values in `lo..=hi`.
pub struct Check {
    pub input: usize,
    pub op: &'static str,
    pub what: &'static str,
    pub lo: i64,
    pub hi: i64,
}

impl Check {
    /// The input error for a host value outside this check's range, if there is one.
    pub fn verify(&self, t: &Tensor) -> Result<()> {
        let bad = t.to_i32_vec(self.op)?.into_iter().find(|&x| (x as i64) < self.lo || x as i64 > self.hi);
        match bad {
            None => Ok(()),
            Some(bad) if self.op == "gather" => {
                Err(Error::arg("gather", format!("index {bad} is outside the table's {} rows", self.hi + 1)))
            }
            Some(bad) => Err(Error::arg(self.op, format!("{} {bad} is outside {}..={}", self.what, self.lo, self.hi))),
        }
    }
}

/// Every check `graph`'s inputs need: ids into a table, a cache's write offset, a
/// decoder's first query position.
pub fn input_checks(graph: &Graph) -> Vec<Check> {
    let index: HashMap<usize, usize> = graph.inputs().enumerate().map(|(k, (id, _))| (id.index(), k)).collect();
    let mut checks = vec![];
    for node in &graph.nodes {
        let dims = |k: usize| graph.node(node.inputs[k]).shape.dims();
        let (k, op, what, lo, hi) = match &node.op {
            Op::Gather => (1, "gather", "index", 0, dims(0)[0] as i64 - 1),
            Op::WriteAt { axis } => (2, "write_at", "offset", 0, (dims(0)[*axis] - dims(1)[*axis]) as i64),
            Op::Attention { offset: true, .. } => (node.inputs.len() - 1, "attention", "offset", 0, i32::MAX as i64),
            _ => continue,
        };
        if let Some(&input) = index.get(&node.inputs[k].index()) {
            checks.push(Check { input, op, what, lo, hi });
        }
    }
    checks
}
