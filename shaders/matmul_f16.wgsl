// Matmul, f16-weight variant: matmul.wgsl's register-tiled 4×4 kernel with B
// (a constant weight) stored as f16, halving the bytes read; products accumulate
// in f32. Used only where the device grants shader-f16.
// Batch dims broadcast through per-operand batch strides (0 where broadcast).
// Knobs (override constants): WG_X, WG_Y, the workgroup shape in 4×4 blocks.
//
// p: 0 M, 1 N, 2 K, 3 transpose_a, 4 transpose_b, 5 activation, 6 has_bias,
//    7 batch rank r (≤ 4), 8..12 output batch dims, 12..16 A batch strides,
//    16..20 B batch strides. Activations: 0 none, 1 gelu (erf), 2 gelu (tanh),
//    3 relu, 4 silu, 5 tanh.

enable f16;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f16>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

fn erf(x: f32) -> f32 {
    // Abramowitz & Stegun 7.1.26, the same polynomial as the CPU backend.
    let s = sign(x);
    let ax = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * ax);
    let y = ((((1.0614054 * t - 1.4531521) * t + 1.4214138) * t - 0.28449674) * t + 0.2548296) * t;
    return s * (1.0 - y * exp(-ax * ax));
}

fn activate(x: f32, kind: u32) -> f32 {
    switch kind {
        case 1u: { return 0.5 * x * (1.0 + erf(x * 0.70710678)); }
        case 2u: { return 0.5 * x * (1.0 + tanh(clamp(0.7978846 * (x + 0.044715 * x * x * x), -15.0, 15.0))); }
        case 3u: { return max(x, 0.0); }
        case 4u: { return x / (1.0 + exp(-x)); }
        case 5u: { return tanh(clamp(x, -15.0, 15.0)); }
        default: { return x; }
    }
}

fn a_at(base: u32, m: u32, k: u32) -> f32 {
    if p[3] == 1u { return a[base + k * p[0] + m]; }
    return a[base + m * p[2] + k];
}

fn b_at(base: u32, k: u32, n: u32) -> f32 {
    if p[4] == 1u { return f32(b[base + n * p[2] + k]); }
    return f32(b[base + k * p[1] + n]);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let M = p[0];
    let N = p[1];
    let K = p[2];
    let row0 = gid.y * 4u;
    let col0 = gid.x * 4u;
    if row0 >= M || col0 >= N { return; }
    var rem = gid.z;
    var aoff = 0u;
    var boff = 0u;
    for (var i = 0u; i < p[7]; i++) {
        let d = p[7] - 1u - i;
        let idx = rem % p[8u + d];
        rem = rem / p[8u + d];
        aoff += idx * p[12u + d];
        boff += idx * p[16u + d];
    }
    var acc: array<vec4<f32>, 4>;
    for (var k = 0u; k < K; k++) {
        var bv = vec4<f32>(0.0);
        for (var j = 0u; j < 4u; j++) {
            if col0 + j < N { bv[j] = b_at(boff, k, col0 + j); }
        }
        for (var i = 0u; i < 4u; i++) {
            if row0 + i < M { acc[i] += a_at(aoff, row0 + i, k) * bv; }
        }
    }
    let coff = gid.z * M * N;
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            if row0 + i < M && col0 + j < N {
                var v = acc[i][j];
                if p[6] == 1u { v += bias[col0 + j]; }
                c[coff + (row0 + i) * N + col0 + j] = activate(v, p[5]);
            }
        }
    }
}
