// What attention.wgsl, attention_rows.wgsl and attention_keys.wgsl share: where a query row sits, which keys it
// sees, and its scaled score against one key. They read the including kernel's p, q, k,
// mask and offset bindings.

// Causally, query row i sits at position first + i and sees keys up to there: first is
// the run-time offset where there is one (a decoder step over a fixed-capacity cache),
// else Sk - Sq (the last query on the last key).
fn attention_first() -> i32 {
    return select(i32(p.sk) - i32(p.sq), offset[0], p.has_offset == 1u);
}

// Whether query row i of batch b sees key j: not masked out ([B, Sk], 0 = ignore) and,
// causally, not past the row's position.
fn attention_sees(b: u32, i: u32, j: u32, first: i32) -> bool {
    if p.has_mask == 1u && mask[b * p.sk + j] == 0.0 { return false; }
    return !(p.causal == 1u && i32(j) > first + i32(i));
}

// The scaled dot product of the query at qo with the key at ko. Four elements an
// iteration: fewer loop iterations per invocation, which also keeps long sequences under
// llvmpipe's cap of 65535 per invocation (lavapipe returns garbage past it).
fn attention_score(qo: u32, ko: u32) -> f32 {
    let d = p.d;
    var s = 0.0;
    var e = 0u;
    for (; e + 4u <= d; e += 4u) {
        s += q[qo + e] * k[ko + e] + q[qo + e + 1u] * k[ko + e + 1u]
            + q[qo + e + 2u] * k[ko + e + 2u] + q[qo + e + 3u] * k[ko + e + 3u];
    }
    for (; e < d; e++) { s += q[qo + e] * k[ko + e]; }
    return s * p.scale;
}
