// Gather: rows of a [V, D] table picked by i32 ids; out is ids.shape + [D].
// Ids are checked on the host before upload (an id outside 0..V is an input
// error there); the clamp here only keeps a bad id from reading out of bounds.
// Knob (override constant): WG, invocations per workgroup.
//
// p: GatherParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> p: GatherParams;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    if i >= p.n { return; }
    let d = p.d;
    let id = u32(clamp(ids[i / d], 0, i32(p.v) - 1));
    out[i] = table[id * d + i % d];
}

// A table larger than one storage binding (maxStorageBufferBindingSize: 128 MiB in
// Firefox) is bound in row ranges, one dispatch per range: `table` then holds rows
// lo..hi, and only ids in that range are written here, so each output element is
// written by exactly one dispatch.
@compute @workgroup_size(WG, 1, 1)
fn part(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    if i >= p.n { return; }
    let d = p.d;
    let id = u32(clamp(ids[i / d], 0, i32(p.v) - 1));
    if id < p.lo || id >= p.hi { return; }
    out[i] = table[(id - p.lo) * d + i % d];
}
