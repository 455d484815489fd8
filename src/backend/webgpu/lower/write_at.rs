//! WriteAt lowering: the KV cache's append, in place when nothing reads the base later.

use super::super::compiler::{contiguous, linear, Compiler, Val};
use super::super::params::WriteAtParams;
use super::super::plan::{Check, Lowering};
use crate::error::Result;
use crate::graph::Op;

pub(super) fn write_at(c: &mut Compiler, at: &Lowering, checks: &mut Vec<Check>, axis: &usize) -> Result<Val> {
    let (g, node) = (at.g, at.node);
    let dims = node.shape.dims().to_vec();
    let numel = node.shape.numel();
    let base_id = node.inputs[0];
    let base = at.arg(c, 0, false)?;
    let update = at.arg(c, 1, false)?;
    let offset = at.arg(c, 2, false)?;
    let (len, full) = (update.dims[*axis], base.dims[*axis]);
    checks.extend(at.check(node.inputs[2], "write_at", "offset", 0, (full - len) as i64));
    // In place when nothing reads the base after this and no alias of its buffer
    // is live (a constant is shared, never written); else into a copy.
    let alone = at.left[base_id.index()] == 1 && c.live[base.buf] == 1 && !g.outputs.contains(&base_id);
    let out = if alone && !matches!(g.node(base_id).op, Op::Constant(_)) {
        c.live[base.buf] += 1;
        c.written[base.buf] = true;
        base.buf
    } else {
        let out = c.alloc(numel)?;
        c.copy(base.buf, 0, &dims, &contiguous(&dims), out, 0);
        out
    };
    let inner: usize = dims[axis + 1..].iter().product();
    let n: usize = update.dims.iter().product();
    let p = WriteAtParams { n: n as u32, inner: inner as u32, len: len as u32, full: full as u32 };
    let wg = c.wg("write_at.wgsl");
    c.push("write_at.wgsl", "main", p, vec![update.buf, offset.buf, out], linear(n, wg));
    Ok(Val { buf: out, dims })
}
