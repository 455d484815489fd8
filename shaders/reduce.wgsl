// Sum and mean over a set of axes. Each invocation makes one output value: it walks
// the reduced axes from the base offset of its kept coordinates.
// Knob (override constant): WG, invocations per workgroup.
//
// p: 0 n (outputs), 1 rank (≤ 6), 2 count (elements per output), 3 mean,
//    4..10 kept dims (1 on reduced axes), 10..16 reduced dims (1 on kept axes),
//    16..22 input strides.

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let o = gid.x + gid.y * groups.x * WG;
    if o >= p[0] { return; }
    let rank = p[1];
    var rem = o;
    var base = 0u;
    for (var k = 0u; k < rank; k++) {
        let d = rank - 1u - k;
        base += (rem % p[4u + d]) * p[16u + d];
        rem = rem / p[4u + d];
    }
    var s = 0.0;
    for (var r = 0u; r < p[2]; r++) {
        var rr = r;
        var off = base;
        for (var k = 0u; k < rank; k++) {
            let d = rank - 1u - k;
            off += (rr % p[10u + d]) * p[16u + d];
            rr = rr / p[10u + d];
        }
        s += x[off];
    }
    if p[3] == 1u { s = s / f32(max(p[2], 1u)); }
    out[o] = s;
}
