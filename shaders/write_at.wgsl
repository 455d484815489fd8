// WriteAt: an update [outer, len, inner] written into out [outer, full, inner] at the
// run-time offset along the middle axis (a KV cache's append). An offset from the host
// is checked there; one computed on the device that would run past the end (or is
// negative) writes nothing, since a kernel cannot fail.
// Knob (override constant): WG, invocations per workgroup.
//
// p: WriteAtParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> p: WriteAtParams;
@group(0) @binding(1) var<storage, read> update: array<f32>;
@group(0) @binding(2) var<storage, read> offset: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = gid.x + gid.y * groups.x * WG;
    if e >= p.n { return; }
    let off = offset[0];
    let inner = p.inner;
    let len = p.len;
    let full = p.full;
    if off < 0 || u32(off) + len > full { return; }
    let o = e / (len * inner);
    let r = e % (len * inner);
    out[(o * full + u32(off)) * inner + r] = update[e];
}
