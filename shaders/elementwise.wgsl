// Elementwise ops. `binary`: a ∘ b with broadcasting through per-operand strides
// (0 along a broadcast axis); `unary`: activations in place of a copy.
// Knob (override constant): WG, invocations per workgroup.
//
// binary p: 0 n, 1 op (0 add, 1 sub, 2 mul, 3 div), 2 rank (≤ 6),
//           3..9 output dims, 9..15 A strides, 15..21 B strides.
// unary p:  0 n, 1 op (1 gelu (erf), 2 gelu (tanh), 3 relu, 4 silu, 5 tanh).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> p: array<u32>;
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
    if i >= p[0] { return; }
    var rem = i;
    var xo = 0u;
    var yo = 0u;
    for (var k = 0u; k < p[2]; k++) {
        let d = p[2] - 1u - k;
        let idx = rem % p[3u + d];
        rem = rem / p[3u + d];
        xo += idx * p[9u + d];
        yo += idx * p[15u + d];
    }
    let u = x[xo];
    let v = y[yo];
    switch p[1] {
        case 0u: { out[i] = u + v; }
        case 1u: { out[i] = u - v; }
        case 2u: { out[i] = u * v; }
        default: { out[i] = u / v; }
    }
}

@compute @workgroup_size(WG, 1, 1)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat(gid, groups);
    if i >= p[0] { return; }
    out[i] = activate(x[i], p[1]);
}
