//! Products against weights in a stored form, read in place as `[n, k]` rows (PyTorch's
//! Linear layout, never transposed): int4 weights against activations quantized to int8
//! as they arrive, in the weight's blocks, with i32 accumulation per block and the two
//! blocks' scales applied after (XNNPACK's QD8-F32-QC4W form, with block scales for the
//! activations too); int8 weights against int16 activations (q8gemm); f16 weights
//! widened a row at a time against f32 activations.

use super::gemm::{gemm, GemmScratch, MatRef};
use super::simd::{self, Path};
use super::{parallel, q8gemm};
use crate::tensor::{quant, DType};
use half::f16;

/// Rows of A handled per pass over the weight: a widened or unpacked weight row is
/// reused by this many rows while it is in the L1 cache.
const ROW_BLOCK: usize = 32;

/// `a` quantized to int8 in groups of `group` (the weight's): `x ≈ q × scale`, scale =
/// max|x| / 127 per group. A scale per row would let one outlier (BERT's activations have
/// some a hundred times the rest) flatten the row: MiniLM's cosine fell to 0.988 that way.
fn quantize_groups(a: &[f32], group: usize, q: &mut Vec<i8>, scales: &mut Vec<f32>) {
    q.clear();
    scales.clear();
    for g in a.chunks_exact(group) {
        let amax = g.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        q.extend(g.iter().map(|v| (v * inv).round() as i8));
        scales.push(scale);
    }
}

/// Scratch a product keeps between calls: the quantized activations and a weight row.
#[derive(Default)]
pub struct QScratch {
    aq: Vec<i8>,
    ascale: Vec<f32>,
    wq: Vec<i8>,
    wscale: Vec<f32>,
    wf: Vec<f32>,
    q8: q8gemm::Q8Scratch,
    /// A split few-row product's output, column-major.
    transposed: Vec<f32>,
    /// A whole f16 or int4 weight widened to f32, and the GEMM's scratch, for many-row
    /// products.
    widened: Vec<f32>,
    gemm: GemmScratch,
}

/// Rows from which an f16 or int4 product widens the whole weight for the f32 GEMM, and the
/// largest weight (elements) it widens: 16 MB of scratch at most (a vocabulary-sized
/// output layer stays on the row-at-a-time path).
const WIDEN_ROWS: usize = 16;
const WIDEN_MAX: usize = 1 << 22;

thread_local! {
    /// A helper thread's scratch, for its share of a split product.
    static SCRATCH: std::cell::RefCell<QScratch> = std::cell::RefCell::new(QScratch::default());
}

/// out (`rows × n`) = a (`rows × k`) · Wᵀ for `w`, the bytes of an `[n, k]` weight of
/// stored form `dtype` (F16, Q8 or Q4; its groups divide `k`, as a tensor's do).
///
/// With helper threads, many rows are split between them in blocks of rows; a few rows
/// (a decoder's step) by the weight's rows instead, each thread writing its columns
/// into a transposed scratch that is copied back.
pub fn matmul_stored(path: Path, a: &[f32], k: usize, w: &[u8], dtype: DType, out: &mut [f32], s: &mut QScratch) {
    let rows = a.len() / k.max(1);
    let n = out.len() / rows.max(1);
    // f16 and int4 weights against many rows: widened once into f32 and multiplied by the
    // packed f32 GEMM, which outruns a row-at-a-time product by far (MiniLM, 158 tokens:
    // f16 about 3x); the widened copy is scratch, so memory holds the stored bytes
    // between products.
    if matches!(dtype, DType::F16 | DType::Q4 { .. }) && rows >= WIDEN_ROWS && n * k <= WIDEN_MAX {
        let mut wide = std::mem::take(&mut s.widened);
        wide.resize(n * k, 0.0);
        let row = dtype.bytes(k);
        for (j, o) in wide.chunks_exact_mut(k.max(1)).enumerate() {
            quant::widen_into(&w[j * row..(j + 1) * row], dtype, o);
        }
        let a = MatRef { data: a, off: 0, rs: k, cs: 1 };
        let b = MatRef { data: &wide, off: 0, rs: 1, cs: k };
        gemm(path, [rows, n, k], a, b, out, &mut s.gemm);
        s.widened = wide;
        return;
    }
    let threads = parallel::threads_for(rows * n * k);
    if threads == 1 || rows == 0 || n == 0 {
        return product(path, a, k, w, dtype, 0..n, (n, 1), out, s);
    }
    if rows >= 2 * ROW_BLOCK {
        let per = rows.div_ceil(threads).next_multiple_of(ROW_BLOCK);
        parallel::for_each_chunk(out, per * n, |i, part| {
            let a = &a[i * per * k..][..part.len() / n * k];
            SCRATCH.with_borrow_mut(|s| product(path, a, k, w, dtype, 0..n, (n, 1), part, s));
        });
        return;
    }
    let cols = n.div_ceil(threads).max(super::matmul::GEMV_MIN_SPLIT);
    let mut t = std::mem::take(&mut s.transposed);
    t.resize(rows * n, 0.0);
    parallel::for_each_chunk(&mut t, cols * rows, |i, part| {
        let j0 = i * cols;
        let js = j0..j0 + part.len() / rows;
        SCRATCH.with_borrow_mut(|s| product(path, a, k, w, dtype, js, (1, rows), part, s));
    });
    for (j, col) in t.chunks_exact(rows).enumerate() {
        for (r, v) in col.iter().enumerate() {
            out[r * n + j] = *v;
        }
    }
    s.transposed = t;
}

/// Columns `js` of the product, element (r, j) written at `out[r * strides.0 + (j -
/// js.start) * strides.1]`.
#[allow(clippy::too_many_arguments)]
fn product(
    path: Path,
    a: &[f32],
    k: usize,
    w: &[u8],
    dtype: DType,
    js: std::ops::Range<usize>,
    (rs, cs): (usize, usize),
    out: &mut [f32],
    s: &mut QScratch,
) {
    let k1 = k.max(1);
    let rows = a.len() / k1;
    let at = |r: usize, j: usize| r * rs + (j - js.start) * cs;
    match dtype {
        // int8 weights against int16 activations (see q8gemm).
        DType::Q8 { group } => q8gemm::product(path, a, k, w, group.clamp(1, k1), js, (rs, cs), out, &mut s.q8),
        DType::F16 => {
            s.wf.resize(k, 0.0);
            let row_bytes = dtype.bytes(k);
            for r0 in (0..rows).step_by(ROW_BLOCK) {
                let r1 = (r0 + ROW_BLOCK).min(rows);
                for j in js.clone() {
                    quant::widen_into(&w[j * row_bytes..(j + 1) * row_bytes], dtype, &mut s.wf);
                    for r in r0..r1 {
                        out[at(r, j)] = simd::dot(path, &a[r * k..(r + 1) * k], &s.wf);
                    }
                }
            }
        }
        DType::Q4 { block: group } => {
            let group = group.clamp(1, k1);
            let groups = k / group;
            quantize_groups(a, group, &mut s.aq, &mut s.ascale);
            s.wq.resize(k, 0);
            s.wscale.resize(groups, 0.0);
            let row_bytes = dtype.bytes(k);
            for r0 in (0..rows).step_by(ROW_BLOCK) {
                let r1 = (r0 + ROW_BLOCK).min(rows);
                for j in js.clone() {
                    // Weight row j (its nibbles, then its scales) as int8 values and f32
                    // block scales.
                    let (values, scales) = w[j * row_bytes..(j + 1) * row_bytes].split_at(k / 2);
                    for (pair, b) in s.wq.chunks_exact_mut(2).zip(values) {
                        pair[0] = (b & 15) as i8 - 8;
                        pair[1] = (b >> 4) as i8 - 8;
                    }
                    for (x, b) in s.wscale.iter_mut().zip(scales.chunks_exact(2)) {
                        *x = f16::from_le_bytes([b[0], b[1]]).to_f32();
                    }
                    for r in r0..r1 {
                        let ar = &s.aq[r * k..(r + 1) * k];
                        let ascale = &s.ascale[r * groups..(r + 1) * groups];
                        let mut acc = 0f32;
                        for (g, (ws, xs)) in s.wscale.iter().zip(ascale).enumerate() {
                            let span = g * group..(g + 1) * group;
                            acc += simd::dot_i8(path, &ar[span.clone()], &s.wq[span]) as f32 * (ws * xs);
                        }
                        out[at(r, j)] = acc;
                    }
                }
            }
        }
        // Not stored forms (infer lets none reach here); widened for completeness.
        DType::F32 | DType::I32 => {
            let n = w.len() / dtype.bytes(k).max(1);
            let wide = quant::widen(w, n * k, k, dtype);
            for r in 0..rows {
                for j in js.clone() {
                    out[at(r, j)] = simd::dot(path, &a[r * k..(r + 1) * k], &wide[j * k..(j + 1) * k]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each stored form on every path against a float64 product with the dequantized
    /// weight, on odd shapes. int8 activations (against int4) add at most half a step of
    /// their block's scale per element: |error| ≤ Σ_t |w_t| × max|a| / 254, plus f32
    /// rounding; int16 ones (against int8) Σ_t |w_t| × max|a| / 65534.
    #[test]
    fn stored_products_match_a_float64_reference() {
        let mut s = QScratch::default();
        for path in Path::available() {
            for (rows, k, n) in [(1, 32, 1), (3, 64, 5), (33, 96, 7), (2, 384, 17)] {
                let a: Vec<f32> = (0..rows * k).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
                let w: Vec<f32> = (0..n * k).map(|i| ((i * 53 % 29) as f32 - 14.0) / 9.0).collect();
                for dtype in [DType::F16, DType::Q8 { group: k }, DType::Q8 { group: 32 }, DType::Q4 { block: 32 }] {
                    let bytes = match dtype {
                        DType::F16 => w.iter().flat_map(|x| f16::from_f32(*x).to_le_bytes()).collect(),
                        _ => quant::quantize(&w, k, dtype).unwrap(),
                    };
                    let wd = quant::widen(&bytes, n * k, k, dtype);
                    let mut out = vec![0.0; rows * n];
                    matmul_stored(path, &a, k, &bytes, dtype, &mut out, &mut s);
                    for r in 0..rows {
                        let amax = a[r * k..(r + 1) * k].iter().fold(0f64, |m, x| m.max(x.abs() as f64));
                        for j in 0..n {
                            let wr = &wd[j * k..(j + 1) * k];
                            let want: f64 = (0..k).map(|t| a[r * k + t] as f64 * wr[t] as f64).sum();
                            let bound = match dtype {
                                DType::Q4 { .. } => wr.iter().map(|x| x.abs() as f64).sum::<f64>() * amax / 254.0,
                                DType::Q8 { .. } => wr.iter().map(|x| x.abs() as f64).sum::<f64>() * amax / 65534.0,
                                _ => 0.0,
                            };
                            let got = out[r * n + j] as f64;
                            assert!(
                                (got - want).abs() <= bound + 1e-4 * (1.0 + want.abs()),
                                "{path:?} {dtype} {rows}x{k}x{n} [{r},{j}]: {got} vs {want} (bound {bound})"
                            );
                        }
                    }
                }
            }
        }
    }
}
