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

/// out `[n, o, oh, ow]` = conv_transpose(x `[n, c, h, w]`, w `[c, o, kh, kw]`) + bias: one
/// GEMM per image gives every input pixel's contribution to each (o, ky, kx), which is
/// then added at its output position (col2im).
pub fn conv_transpose2d(
    path: Path,
    x: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &ConvGeom,
    out: &mut [f32],
    s: &mut GemmScratch,
) -> Result<()> {
    let okk = g.o * g.kh * g.kw;
    let hw = g.h * g.w;
    let mut cols = zeroed(okk * hw, "the columns of a transposed convolution")?;
    for n in 0..g.n {
        // cols[(o, ky, kx), (iy, ix)] = Σ_c w[c, (o, ky, kx)] · x[n, c, (iy, ix)]
        let a = MatRef { data: wt, off: 0, rs: 1, cs: okk };
        let b = MatRef { data: x, off: n * g.c * hw, rs: hw, cs: 1 };
        gemm(path, [okk, hw, g.c], a, b, &mut cols, s);
        let dst = &mut out[n * g.o * g.oh * g.ow..][..g.o * g.oh * g.ow];
        for o in 0..g.o {
            let plane = &mut dst[o * g.oh * g.ow..][..g.oh * g.ow];
            plane.fill(bias.map_or(0.0, |b| b[o]));
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let row = &cols[((o * g.kh + ky) * g.kw + kx) * hw..][..hw];
                    for iy in 0..g.h {
                        let oy = (iy * g.stride.0 + ky * g.dil.0) as isize - g.pad.0 as isize;
                        if oy < 0 || oy as usize >= g.oh {
                            continue;
                        }
                        for ix in 0..g.w {
                            let ox = (ix * g.stride.1 + kx * g.dil.1) as isize - g.pad.1 as isize;
                            if ox >= 0 && (ox as usize) < g.ow {
                                plane[oy as usize * g.ow + ox as usize] += row[iy * g.w + ix];
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
