//! Lowering one node into dispatches: layout and elementwise ops here, the larger
//! families (matmul, gather, attention, convolution, the cache append) in their files.

mod attention;
mod conv;
mod gather;
mod matmul;
mod stored;
mod write_at;

use super::compiler::{act_code, broadcast_strides, contiguous, linear, Compiler, Pending, Val, DUMMY};
use super::params::*;
use super::plan::{Check, Lowering};
use super::variants;
use crate::error::{Error, Result};
use crate::graph::{BinaryOp, Epilogue, Op, ReduceOp};

/// Fused matmuls by node (see `graph::passes::fusion`).
pub(super) type Fusions = std::collections::HashMap<usize, Epilogue>;

/// The value of node `at.i`, after pushing its dispatches.
pub(super) fn node_value(c: &mut Compiler, at: &Lowering, fused: &Fusions, checks: &mut Vec<Check>) -> Result<Val> {
    let node = at.node;
    let dims = node.shape.dims().to_vec();
    let numel = node.shape.numel();
    match &node.op {
        Op::Reshape(_) => {
            let v = at.arg(c, 0, false)?;
            c.live[v.buf] += 1;
            Ok(Val { buf: v.buf, dims })
        }
        Op::Permute(perm) => {
            let x = at.arg(c, 0, false)?;
            let out = c.alloc(numel)?;
            let s = contiguous(&x.dims);
            let src: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
            c.copy(x.buf, 0, &dims, &src, out, 0);
            Ok(Val { buf: out, dims })
        }
        Op::Slice { axis, start, .. } => {
            let x = at.arg(c, 0, false)?;
            let out = c.alloc(numel)?;
            let s = contiguous(&x.dims);
            c.copy(x.buf, start * s[*axis], &dims, &s, out, 0);
            Ok(Val { buf: out, dims })
        }
        Op::Concat { axis } => {
            let out = c.alloc(numel)?;
            let os = contiguous(&dims);
            let mut start = 0;
            for k in 0..node.inputs.len() {
                let x = at.arg(c, k, false)?;
                let s = contiguous(&x.dims);
                // The part lands in the output's strides, not its own.
                let n: usize = x.dims.iter().product();
                if n > 0 {
                    let p = CopyParams {
                        n: n as u32,
                        rank: dims.len() as u32,
                        src_offset: 0,
                        dst_offset: (start * os[*axis]) as u32,
                        dims: fixed(&x.dims),
                        src_strides: fixed(&s),
                        dst_strides: fixed(&os),
                    };
                    let wg = c.wg("copy.wgsl");
                    c.push("copy.wgsl", "main", p, vec![x.buf, out], linear(n, wg));
                }
                start += x.dims[*axis];
            }
            Ok(Val { buf: out, dims })
        }
        Op::MatMul { transpose_a, transpose_b } => matmul::matmul(c, at, fused, transpose_a, transpose_b),
        Op::Binary(op) => {
            let a = at.arg(c, 0, false)?;
            let b = at.arg(c, 1, false)?;
            if dims.len() > 6 {
                return Err(Error::GpuError("elementwise ops take at most 6 dims on webgpu".into()));
            }
            let code = match op {
                BinaryOp::Add => 0,
                BinaryOp::Sub => 1,
                BinaryOp::Mul => 2,
                BinaryOp::Div => 3,
            };
            let p = ElementwiseParams {
                n: numel as u32,
                op: code,
                rank: dims.len() as u32,
                dims: fixed(&dims),
                a_strides: fixed(&broadcast_strides(&a.dims, &dims)),
                b_strides: fixed(&broadcast_strides(&b.dims, &dims)),
            };
            let out = c.alloc(numel)?;
            let wg = c.wg("elementwise.wgsl");
            c.push("elementwise.wgsl", "binary", p, vec![a.buf, b.buf, out], linear(numel, wg));
            Ok(Val { buf: out, dims })
        }
        Op::Unary(op) => {
            let x = at.arg(c, 0, false)?;
            let out = c.alloc(numel)?;
            let wg = c.wg("elementwise.wgsl");
            // `y` (binding 2) is unused by `unary`, so its pipeline's layout has no such binding.
            c.pending.push(Pending {
                file: "elementwise.wgsl",
                f16: false,
                entry: "unary",
                knobs: variants::knobs("elementwise.wgsl"),
                params: ElementwiseParams { n: numel as u32, op: act_code(*op), ..Default::default() }.words(),
                bufs: vec![Some(x.buf), None, Some(out)],
                groups: linear(numel, wg),
                range: None,
            });
            Ok(Val { buf: out, dims })
        }
        Op::Softmax => {
            let x = at.arg(c, 0, false)?;
            let mask = if node.inputs.len() > 1 { Some(at.arg(c, 1, false)?) } else { None };
            let n = node.shape.last();
            let rows = numel.checked_div(n).unwrap_or(0);
            let p = SoftmaxParams {
                rows: rows as u32,
                n: n as u32,
                has_mask: mask.is_some() as u32,
                rank: dims.len() as u32,
                dims: fixed(&dims),
                mask_strides: fixed(&mask.as_ref().map_or(vec![], |m| broadcast_strides(&m.dims, &dims))),
            };
            let out = c.alloc(numel)?;
            let mbuf = mask.map_or(DUMMY, |m| m.buf);
            c.push("softmax.wgsl", "main", p, vec![x.buf, mbuf, out], linear(rows, 1));
            Ok(Val { buf: out, dims })
        }
        Op::LayerNorm { eps } => {
            let x = at.arg(c, 0, false)?;
            let gm = at.arg(c, 1, false)?;
            let bt = at.arg(c, 2, false)?;
            let n = node.shape.last();
            let rows = numel.checked_div(n).unwrap_or(0);
            let out = c.alloc(numel)?;
            c.push(
                "layer_norm.wgsl",
                "main",
                LayerNormParams { rows: rows as u32, n: n as u32, eps: *eps },
                vec![x.buf, gm.buf, bt.buf, out],
                linear(rows, 1),
            );
            Ok(Val { buf: out, dims })
        }
        Op::Gather => gather::gather(c, at, checks),
        Op::Reduce { op, axes, .. } => {
            let x = at.arg(c, 0, false)?;
            let xd = &x.dims;
            if xd.len() > 6 {
                return Err(Error::GpuError("reduce takes at most 6 dims on webgpu".into()));
            }
            let kept: Vec<usize> = xd.iter().enumerate().map(|(k, &d)| if axes.contains(&k) { 1 } else { d }).collect();
            let red: Vec<usize> = xd.iter().enumerate().map(|(k, &d)| if axes.contains(&k) { d } else { 1 }).collect();
            let count: usize = red.iter().product();
            let p = ReduceParams {
                n: numel as u32,
                rank: xd.len() as u32,
                count: count as u32,
                mean: (*op == ReduceOp::Mean) as u32,
                kept: fixed(&kept),
                reduced: fixed(&red),
                strides: fixed(&contiguous(xd)),
            };
            let out = c.alloc(numel)?;
            let wg = c.wg("reduce.wgsl");
            c.push("reduce.wgsl", "main", p, vec![x.buf, out], linear(numel, wg));
            Ok(Val { buf: out, dims })
        }
        Op::Attention { causal, scale, offset } => attention::attention(c, at, checks, causal, scale, offset),
        Op::Argmax => {
            let x = at.arg(c, 0, false)?;
            let n = *x.dims.last().unwrap_or(&1);
            let rows = numel;
            let out = c.alloc(rows)?;
            let p = ArgmaxParams { rows: rows as u32, n: n as u32 };
            c.push("argmax.wgsl", "main", p, vec![x.buf, out], linear(rows, 1));
            Ok(Val { buf: out, dims })
        }
        Op::WriteAt { axis } => write_at::write_at(c, at, checks, axis),
        Op::Conv1d(cp) | Op::Conv2d(cp) | Op::ConvTranspose2d(cp) => conv::conv(c, at, cp),
        Op::Input { .. } | Op::Constant(_) => Err(Error::InvalidGraph("leaf nodes are not compiled".into())),
    }
}
