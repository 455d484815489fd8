// Sum and mean over a set of axes. Each invocation makes one output value: it walks
// the reduced axes from the base offset of its kept coordinates.
// Knob (override constant): WG, invocations per workgroup.
//
// p: ReduceParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> p: ReduceParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let o = gid.x + gid.y * groups.x * WG;
    if o >= p.n { return; }
    let rank = p.rank;
    var rem = o;
    var base = 0u;
    for (var k = 0u; k < rank; k++) {
        let d = rank - 1u - k;
        base += (rem % p.kept[d]) * p.strides[d];
        rem = rem / p.kept[d];
    }
    var s = 0.0;
    for (var r = 0u; r < p.count; r++) {
        var rr = r;
        var off = base;
        for (var k = 0u; k < rank; k++) {
            let d = rank - 1u - k;
            off += (rr % p.reduced[d]) * p.strides[d];
            rr = rr / p.reduced[d];
        }
        s += x[off];
    }
    if p.mean == 1u { s = s / f32(max(p.count, 1u)); }
    out[o] = s;
}
