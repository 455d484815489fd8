// Gather from a table held in a stored form (a token embedding in f16, int8 or int4):
// rows of a [V, D] table picked by i32 ids, dequantized as they are read; out is
// ids.shape + [D]. As gather.wgsl, ids are checked on the host and clamped here. The
// reading of stored rows is stored_weights.wgsl's.
// Knob (override constant): WG, invocations per workgroup.
//
// p: StoredGatherParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> p: StoredGatherParams;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    if i >= p.n { return; }
    let d = p.d;
    let id = u32(clamp(ids[i / d], 0, i32(p.v) - 1));
    let e = i % d;
    let q = e % 4u;
    out[i] = stored_quad(id, e - q)[q] * stored_scale(id, e / p.group);
}
