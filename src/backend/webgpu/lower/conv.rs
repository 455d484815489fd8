//! Convolution lowering: 1-D convolution as 2-D with height 1; convolutions and
//! transposed convolutions as an implicit GEMM (conv_gemm.wgsl), grouped convolutions
//! whose groups split a block of 4 channels direct (conv.wgsl). One dispatch each.

use super::super::compiler::{linear, Compiler, Val, DUMMY};
use super::super::params::ConvKernelParams;
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
    let two = matches!(node.op, Op::Conv2d(_) | Op::ConvTranspose2d(_));
    let transposed = matches!(node.op, Op::ConvTranspose2d(_));
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
    let u = |x: usize| x as u32;
    let p = ConvKernelParams {
        n: u(numel),
        batch: u(xd[0]),
        c: u(xd[1]),
        h: u(sp(&xd[2..], 0)),
        w: u(sp(&xd[2..], 1)),
        // The output channels: [O, C/g, ..] for a convolution, [C, O, ..] transposed.
        o: u(if transposed { wd[1] } else { wd[0] }),
        kh: u(sp(&wd[2..], 0)),
        kw: u(sp(&wd[2..], 1)),
        oh: u(sp(&dims[2..], 0)),
        ow: u(sp(&dims[2..], 1)),
        sh: u(sh),
        sw: u(sw),
        ph: u(ph),
        pw: u(pw),
        dh: u(dh),
        dw: u(dw),
        groups: u(cp.groups),
        has_bias: bias.is_some() as u32,
    };
    let out = c.alloc(numel)?;
    let bbuf = bias.map_or(DUMMY, |b| b.buf);
    let bufs = vec![x.buf, w.buf, bbuf, out];
    let og = p.o as usize / cp.groups.max(1);
    // (A transposed convolution has one group: graph/infer.rs.)
    if cp.groups == 1 || og % 4 == 0 {
        // An implicit GEMM of 4 × 4 blocks (channels × positions), batch items on z.
        let knob = |name: &str| c.knob("conv_gemm.wgsl", name, 8);
        // The grid's columns: groups of 4 positions, or transposed (output row, group of
        // 4·SW columns, phase).
        let (sw, ow) = (p.sw as usize, p.ow as usize);
        let (entry, columns) = match transposed {
            false => ("main", ((p.oh * p.ow) as usize).div_ceil(4)),
            true => ("transposed", p.oh as usize * ow.div_ceil(4 * sw) * sw),
        };
        // Past 65535 workgroups across, each batch item's columns fold into slices on z.
        let across = columns.div_ceil(knob("WG_X"));
        let x = across.clamp(1, 65535);
        let fold = across.div_ceil(x);
        let groups =
            (x as u32, (p.o as usize).div_ceil(4).div_ceil(knob("WG_Y")) as u32, (p.batch as usize * fold) as u32);
        c.push("conv_gemm.wgsl", entry, p, bufs, groups);
        return Ok(Val { buf: out, dims });
    }
    let wg = c.wg("conv.wgsl");
    c.push("conv.wgsl", "main", p, bufs, linear(numel, wg));
    Ok(Val { buf: out, dims })
}
