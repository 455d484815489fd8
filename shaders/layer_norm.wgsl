// Layer normalisation over the last axis, one workgroup per row:
// (x - mean) / sqrt(var + eps) * gamma + beta, with the mean taken first and the
// variance as the mean squared deviation (two passes, as on the CPU backend).
// Knob (override constant): WG, invocations per workgroup (a power of two ≤ 256).
//
// p: LayerNormParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> p: LayerNormParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * groups.x;
    if row >= p.rows { return; }
    let n = p.n;
    let base = row * n;
    var s = 0.0;
    for (var j = lid; j < n; j += WG) { s += x[base + j]; }
    let mean = reduce_wg(lid, s, false) / f32(n);
    var q = 0.0;
    for (var j = lid; j < n; j += WG) { let d = x[base + j] - mean; q += d * d; }
    let inv = 1.0 / sqrt(reduce_wg(lid, q, false) / f32(n) + p.eps);
    for (var j = lid; j < n; j += WG) {
        out[base + j] = (x[base + j] - mean) * inv * gamma[j] + beta[j];
    }
}
