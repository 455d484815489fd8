// Argmax over the last axis, one workgroup per row: the index of the largest value,
// the first of equals, written as i32. NaN counts as the smallest value, as on the CPU.
// Indices travel through the f32 workgroup reduction, exact below 2^24.
// Knob (override constant): WG, invocations per workgroup (a power of two ≤ 256).
//
// p: ArgmaxParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> p: ArgmaxParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

const LOWEST = -0x1.fffffep+127f;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * groups.x;
    // The whole workgroup leaves together, so barriers stay uniform.
    if row >= p.rows { return; }
    let n = p.n;
    let base = row * n;
    var m = LOWEST;
    for (var j = lid; j < n; j += WG) {
        let v = x[base + j];
        if v == v { m = max(m, v); }
    }
    let mx = reduce_wg(lid, m, true);
    // The smallest index holding the maximum, as the largest negated index.
    var first = -f32(n);
    for (var j = lid; j < n; j += WG) {
        let v = x[base + j];
        if v == v && max(v, LOWEST) == mx { first = max(first, -f32(j)); }
    }
    let best = -reduce_wg(lid, first, true);
    if lid == 0u { out[row] = select(0, i32(best), best < f32(n)); }
}
