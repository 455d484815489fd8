// Elementwise ops. `binary`: a ∘ b with broadcasting through per-operand strides
// (0 along a broadcast axis); `unary`: activations in place of a copy.
// Knob (override constant): WG, invocations per workgroup.
//
// p: ElementwiseParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> p: ElementwiseParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;


// Large tensors take a 2-D grid; this is the flat index either way.
fn flat(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WG;
}

@compute @workgroup_size(WG, 1, 1)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat(gid, groups);
    if i >= p.n { return; }
    var rem = i;
    var xo = 0u;
    var yo = 0u;
    for (var k = 0u; k < p.rank; k++) {
        let d = p.rank - 1u - k;
        let idx = rem % p.dims[d];
        rem = rem / p.dims[d];
        xo += idx * p.a_strides[d];
        yo += idx * p.b_strides[d];
    }
    let u = x[xo];
    let v = y[yo];
    switch p.op {
        case 0u: { out[i] = u + v; }
        case 1u: { out[i] = u - v; }
        case 2u: { out[i] = u * v; }
        default: { out[i] = u / v; }
    }
}

@compute @workgroup_size(WG, 1, 1)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat(gid, groups);
    if i >= p.n { return; }
    out[i] = activate(x[i], p.op);
}
