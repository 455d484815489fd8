// Strided copy: permute, slice and each part of a concat are one copy each, from
// a strided view of the source into a strided region of the destination. It moves
// 32-bit words, so f32 and i32 tensors share it.
// Knob (override constant): WG, invocations per workgroup.
//
// p: 0 n, 1 rank (≤ 6), 2 source offset, 3 destination offset, 4..10 dims,
//    10..16 source strides, 16..22 destination strides.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    if i >= p[0] { return; }
    var rem = i;
    var so = p[2];
    var d_o = p[3];
    for (var k = 0u; k < p[1]; k++) {
        let d = p[1] - 1u - k;
        let idx = rem % p[4u + d];
        rem = rem / p[4u + d];
        so += idx * p[10u + d];
        d_o += idx * p[16u + d];
    }
    dst[d_o] = src[so];
}
