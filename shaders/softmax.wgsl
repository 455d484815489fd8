// Softmax over the last axis, one workgroup per row, with an optional additive mask
// broadcast through strides. A row that is entirely -inf gives zeros, not NaN, as
// on the CPU backend.
// Knob (override constant): WG, invocations per workgroup (a power of two ≤ 256).
//
// p: SoftmaxParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> p: SoftmaxParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn value(i: u32) -> f32 {
    if p.has_mask == 0u { return x[i]; }
    var rem = i;
    var mo = 0u;
    for (var k = 0u; k < p.rank; k++) {
        let d = p.rank - 1u - k;
        mo += (rem % p.dims[d]) * p.mask_strides[d];
        rem = rem / p.dims[d];
    }
    return x[i] + mask[mo];
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * groups.x;
    // The whole workgroup leaves together, so barriers stay uniform.
    if row >= p.rows { return; }
    let n = p.n;
    let base = row * n;
    var m = -0x1.fffffep+127f;
    var any = false;
    for (var j = lid; j < n; j += WG) {
        let v = value(base + j);
        if v > -0x1.fffffep+127f { any = true; m = max(m, v); }
    }
    let mx = reduce_wg(lid, select(-0x1.fffffep+127f, m, any), true);
    var s = 0.0;
    for (var j = lid; j < n; j += WG) {
        let v = value(base + j);
        if v > -0x1.fffffep+127f { s += exp(v - mx); }
    }
    let total = reduce_wg(lid, s, false);
    for (var j = lid; j < n; j += WG) {
        let v = value(base + j);
        if total > 0.0 && v > -0x1.fffffep+127f { out[base + j] = exp(v - mx) / total; } else { out[base + j] = 0.0; }
    }
}
