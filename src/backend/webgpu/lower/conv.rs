//! Convolution lowering: 1-D convolution as 2-D with height 1, one direct dispatch.

use super::super::compiler::{linear, u32s, Compiler, Val, DUMMY};
use super::super::plan::Lowering;
use crate::error::Result;
use crate::graph::{ConvParams, Op};

pub(super) fn conv(c: &mut Compiler, at: &Lowering, cp: &ConvParams) -> Result<Val> {
    let node = at.node;
    let dims = node.shape.dims().to_vec();
    let numel = node.shape.numel();
    let x = at.arg(c, 0, false)?;
    let w = at.arg(c, 1, false)?;
    let bias = if node.inputs.len() > 2 { Some(at.arg(c, 2, false)?) } else { None };
    let two = matches!(node.op, Op::Conv2d(_));
    // 1-D convolution is 2-D with height 1.
    let sp = |v: &[usize], k: usize| {
        if two {
            v[k]
        } else if k == 0 {
            1
        } else {
            v[k - 1]
        }
    };
    let pp = |v: &[usize], dflt: usize| if two { (v[0], v[1]) } else { (dflt, v[0]) };
    let (xd, wd) = (&x.dims, &w.dims);
    let (sh, sw) = pp(&cp.stride, 1);
    let (ph, pw) = pp(&cp.padding, 0);
    let (dh, dw) = pp(&cp.dilation, 1);
    let p = vec![
        numel,
        xd[0],
        xd[1],
        sp(&xd[2..], 0),
        sp(&xd[2..], 1),
        wd[0],
        sp(&wd[2..], 0),
        sp(&wd[2..], 1),
        sp(&dims[2..], 0),
        sp(&dims[2..], 1),
        sh,
        sw,
        ph,
        pw,
        dh,
        dw,
        cp.groups,
        bias.is_some() as usize,
    ];
    let out = c.alloc(numel)?;
    let bbuf = bias.map_or(DUMMY, |b| b.buf);
    let wg = c.wg("conv.wgsl");
    c.push("conv.wgsl", "main", u32s(&p), vec![x.buf, w.buf, bbuf, out], linear(numel, wg));
    Ok(Val { buf: out, dims })
}
