// Strided copy: permute, slice and each part of a concat are one copy each, from
// a strided view of the source into a strided region of the destination. It moves
// 32-bit words, so f32 and i32 tensors share it.
// Knob (override constant): WG, invocations per workgroup.
//
// p: CopyParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> p: CopyParams;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    if i >= p.n { return; }
    var rem = i;
    var so = p.src_offset;
    var d_o = p.dst_offset;
    for (var k = 0u; k < p.rank; k++) {
        let d = p.rank - 1u - k;
        let idx = rem % p.dims[d];
        rem = rem / p.dims[d];
        so += idx * p.src_strides[d];
        d_o += idx * p.dst_strides[d];
    }
    dst[d_o] = src[so];
}
