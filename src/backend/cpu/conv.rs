//! 1-D and 2-D convolution by im2col and GEMM; 1-D runs as 2-D with a height of one.

use super::gemm::{gemm, GemmScratch, MatRef};
use super::pool::zeroed;
use super::simd::Path;
use crate::error::Result;

/// The sizes of one convolution, all spatial values as (height, width).
pub struct ConvGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub stride: (usize, usize),
    pub pad: (usize, usize),
    pub dil: (usize, usize),
    pub groups: usize,
}

/// out `[n, o, oh, ow]` = conv(x `[n, c, h, w]`, w `[o, c/groups, kh, kw]`) + bias.
pub fn conv2d(
    path: Path,
    x: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &ConvGeom,
    out: &mut [f32],
    s: &mut GemmScratch,
) -> Result<()> {
    let (cg, og) = (g.c / g.groups, g.o / g.groups);
    let kdim = cg * g.kh * g.kw;
    let ncols = g.oh * g.ow;
    let mut cols = zeroed(kdim * ncols, "the unfolded input of a convolution")?;
    for n in 0..g.n {
        for grp in 0..g.groups {
            for ci in 0..cg {
                let plane = &x[((n * g.c) + grp * cg + ci) * g.h * g.w..][..g.h * g.w];
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let row = &mut cols[((ci * g.kh + ky) * g.kw + kx) * ncols..][..ncols];
                        for oy in 0..g.oh {
                            let iy = (oy * g.stride.0 + ky * g.dil.0) as isize - g.pad.0 as isize;
                            for ox in 0..g.ow {
                                let ix = (ox * g.stride.1 + kx * g.dil.1) as isize - g.pad.1 as isize;
                                let inside = iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w;
                                row[oy * g.ow + ox] = if inside { plane[iy as usize * g.w + ix as usize] } else { 0.0 };
                            }
                        }
                    }
                }
            }
            let wm = MatRef { data: wt, off: grp * og * kdim, rs: kdim, cs: 1 };
            let cm = MatRef { data: &cols, off: 0, rs: ncols, cs: 1 };
            let dst = &mut out[(n * g.o + grp * og) * ncols..][..og * ncols];
            gemm(path, [og, ncols, kdim], wm, cm, dst, s);
            if let Some(b) = bias {
                for (oc, row) in dst.chunks_exact_mut(ncols).enumerate() {
                    let bv = b[grp * og + oc];
                    row.iter_mut().for_each(|v| *v += bv);
                }
            }
        }
    }
    Ok(())
}
