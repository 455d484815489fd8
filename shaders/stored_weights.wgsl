// Reading weights held in a stored form, shared by the kernels that take them
// (matmul_stored.wgsl, gather_stored.wgsl). Each row of a weight is its values, then its
// scales (src/tensor/quant.rs):
// - form 0, f16: halves, no scales;
// - form 1, int8 in groups of p.group, an f32 scale each;
// - form 2, int4 in blocks of 32, two to a byte (low nibble first, offset by 8), an f16
//   scale each.
// The including kernel binds the weight as `w: array<u32>`, and its `p` has `form`,
// `group`, `row_words` (a row's length in words) and `scales_at` (the word of a row where
// its scales start): the lowering picks these kernels only where rows and their values are
// whole words.

// Weights e..e+3 of row n (e a multiple of 4), without their scale.
fn stored_quad(n: u32, e: u32) -> vec4<f32> {
    let base = n * p.row_words;
    switch p.form {
        case 0u: {
            return vec4<f32>(unpack2x16float(w[base + e / 2u]), unpack2x16float(w[base + e / 2u + 1u]));
        }
        case 1u: {
            // Four bytes, sign-extended by shifting each to the top and back.
            let x = bitcast<i32>(w[base + e / 4u]);
            return vec4<f32>(vec4<i32>((x << 24u) >> 24u, (x << 16u) >> 24u, (x << 8u) >> 24u, x >> 24u));
        }
        default: {
            // Eight nibbles a word; e is the first or the second four of them.
            let x = w[base + e / 8u] >> (4u * (e % 8u));
            return vec4<f32>(vec4<u32>(x & 15u, (x >> 4u) & 15u, (x >> 8u) & 15u, (x >> 12u) & 15u)) - 8.0;
        }
    }
}

// The scale of row n's group g (f16 has none).
fn stored_scale(n: u32, g: u32) -> f32 {
    let at = n * p.row_words + p.scales_at;
    switch p.form {
        case 1u: { return bitcast<f32>(w[at + g]); }
        case 2u: { return unpack2x16float(w[at + g / 2u])[g % 2u]; }
        default: { return 1.0; }
    }
}
