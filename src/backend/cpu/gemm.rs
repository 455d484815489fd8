//! Single-precision GEMM: C = A·B over strided operands, packed into panels so that the
//! micro-kernel streams contiguous memory. The micro-kernel has a portable form (which
//! LLVM vectorises natively) and a wasm simd128 form.

use super::parallel;
use super::simd::Path;

/// Rows of C a micro-kernel call computes.
const MR: usize = 4;
/// Columns of C a micro-kernel call computes (two f32x4 vectors).
const NR: usize = 8;
/// Depth of one packed block, sized so a B panel (KC·NR floats = 8 KiB) stays in L1.
const KC: usize = 256;

/// A matrix operand: element (r, c) lives at `data[off + r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub off: usize,
    pub rs: usize,
    pub cs: usize,
}

impl MatRef<'_> {
    #[inline]
    fn at(&self, r: usize, c: usize) -> f32 {
        self.data[self.off + r * self.rs + c * self.cs]
    }
}

/// Scratch buffers reused across calls, so repeated GEMMs allocate nothing.
#[derive(Default)]
pub struct GemmScratch {
    pub(crate) pa: Vec<f32>,
    pb: PackedB,
}

/// B packed for the micro-kernel: for each KC-deep block, its NR-wide column panels,
/// depth-major. Weights are packed once and reused by every call.
#[derive(Default, Debug)]
pub struct PackedB {
    data: Vec<f32>,
    k: usize,
    n: usize,
}

impl PackedB {
    /// Packs the k×n matrix `b`.
    pub fn new(b: MatRef, k: usize, n: usize) -> Self {
        let mut p = PackedB::default();
        p.repack(b, k, n);
        p
    }

    fn repack(&mut self, b: MatRef, k: usize, n: usize) {
        let np = n.div_ceil(NR);
        self.data.clear();
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            pack(&mut self.data, np, NR, kc, |p, kk, j| {
                let col = p * NR + j;
                if col < n {
                    b.at(k0 + kk, col)
                } else {
                    0.0
                }
            });
        }
        self.k = k;
        self.n = n;
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// Floats held, for cache accounting.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// c (row-major m×n, overwritten) = a (m×k) · b (k×n), with sizes given as [m, n, k].
pub fn gemm(path: Path, [m, n, k]: [usize; 3], a: MatRef, b: MatRef, c: &mut [f32], s: &mut GemmScratch) {
    s.pb.repack(b, k, n);
    gemm_packed(path, m, a, &s.pb, c, &mut s.pa);
}

thread_local! {
    /// A helper thread's packed rows of A, for its share of a split GEMM.
    static PA: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// c (row-major m×n, overwritten) = a (m×k) · B, with B packed beforehand. With helper
/// threads the rows of C are split between them in whole micro-kernel panels, so each
/// element is summed in the same order as on one thread: the result is the same bits.
pub fn gemm_packed(path: Path, m: usize, a: MatRef, pb: &PackedB, c: &mut [f32], pa: &mut Vec<f32>) {
    let threads = parallel::threads_for(m * pb.n * pb.k);
    if threads == 1 || m < 2 * MR {
        return gemm_rows(path, m, a, pb, c, pa);
    }
    let n = pb.n;
    let rows = m.div_ceil(threads).next_multiple_of(MR);
    parallel::for_each_chunk(&mut c[..m * n], rows * n, |i, part| {
        let sub = MatRef { off: a.off + i * rows * a.rs, ..a };
        PA.with_borrow_mut(|pa| gemm_rows(path, part.len() / n.max(1), sub, pb, part, pa));
    });
}

/// `gemm_packed` on this thread.
fn gemm_rows(path: Path, m: usize, a: MatRef, pb: &PackedB, c: &mut [f32], pa: &mut Vec<f32>) {
    let (n, k) = (pb.n, pb.k);
    let c = &mut c[..m * n];
    c.fill(0.0);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let (mp, np) = (m.div_ceil(MR), n.div_ceil(NR));
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        pa.clear();
        pack(pa, mp, MR, kc, |p, kk, i| {
            let r = p * MR + i;
            if r < m {
                a.at(r, k0 + kk)
            } else {
                0.0
            }
        });
        let block = &pb.data[k0 * np * NR..(k0 + kc) * np * NR];
        for jp in 0..np {
            let pbp = &block[jp * kc * NR..(jp + 1) * kc * NR];
            let nr = NR.min(n - jp * NR);
            for ip in 0..mp {
                let pap = &pa[ip * kc * MR..(ip + 1) * kc * MR];
                let mr = MR.min(m - ip * MR);
                let mut acc = [[0f32; NR]; MR];
                micro(path, kc, pap, pbp, &mut acc);
                for (i, row) in acc.iter().enumerate().take(mr) {
                    let base = (ip * MR + i) * n + jp * NR;
                    for (cv, av) in c[base..base + nr].iter_mut().zip(row) {
                        *cv += av;
                    }
                }
            }
        }
    }
}

/// Appends `panels` panels of `width` lanes, depth-major: element (p, kk, lane) at
/// `(p * depth + kk) * width + lane` past the buffer's previous end.
fn pack(buf: &mut Vec<f32>, panels: usize, width: usize, depth: usize, get: impl Fn(usize, usize, usize) -> f32) {
    buf.reserve(panels * depth * width);
    for p in 0..panels {
        for kk in 0..depth {
            for lane in 0..width {
                buf.push(get(p, kk, lane));
            }
        }
    }
}

#[inline]
fn micro(path: Path, kc: usize, pa: &[f32], pb: &[f32], acc: &mut [[f32; NR]; MR]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if path == Path::Simd128 {
        return micro_simd128(kc, pa, pb, acc);
    }
    let _ = path;
    micro_portable(kc, pa, pb, acc)
}

#[inline]
fn micro_portable(kc: usize, pa: &[f32], pb: &[f32], acc: &mut [[f32; NR]; MR]) {
    for (a, b) in pa.chunks_exact(MR).zip(pb.chunks_exact(NR)).take(kc) {
        for i in 0..MR {
            for j in 0..NR {
                acc[i][j] += a[i] * b[j];
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
// The relaxed build enables relaxed-simd here only, so its dependencies compile as in the
// plain build and cargo reuses them (the `relaxed_simd` cfg: see build.rs).
#[cfg_attr(relaxed_simd, target_feature(enable = "relaxed-simd"))]
fn micro_simd128(kc: usize, pa: &[f32], pb: &[f32], acc: &mut [[f32; NR]; MR]) {
    use core::arch::wasm32::*;
    assert!(pa.len() >= kc * MR && pb.len() >= kc * NR);
    let z = f32x4_splat(0.0);
    let mut c = [[z; 2]; MR];
    let (ap, bp) = (pa.as_ptr(), pb.as_ptr());
    for kk in 0..kc {
        // SAFETY: kk < kc, and the assert above bounds both panels.
        unsafe {
            let b0 = v128_load(bp.add(kk * NR) as *const v128);
            let b1 = v128_load(bp.add(kk * NR + 4) as *const v128);
            for (i, ci) in c.iter_mut().enumerate() {
                let a = f32x4_splat(*ap.add(kk * MR + i));
                ci[0] = fma(a, b0, ci[0]);
                ci[1] = fma(a, b1, ci[1]);
            }
        }
    }
    for (i, ci) in c.iter().enumerate() {
        // SAFETY: each row of `acc` holds NR = 8 floats, two v128.
        unsafe {
            v128_store(acc[i].as_mut_ptr() as *mut v128, ci[0]);
            v128_store(acc[i].as_mut_ptr().add(4) as *mut v128, ci[1]);
        }
    }
}

/// a·b + c: one fused instruction under relaxed-simd, a multiply and an add otherwise.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[cfg_attr(not(relaxed_simd), inline(always))]
#[cfg_attr(relaxed_simd, inline, target_feature(enable = "relaxed-simd"))]
fn fma(
    a: core::arch::wasm32::v128,
    b: core::arch::wasm32::v128,
    c: core::arch::wasm32::v128,
) -> core::arch::wasm32::v128 {
    use core::arch::wasm32::*;
    #[cfg(relaxed_simd)]
    {
        f32x4_relaxed_madd(a, b, c)
    }
    #[cfg(not(relaxed_simd))]
    {
        f32x4_add(f32x4_mul(a, b), c)
    }
}
