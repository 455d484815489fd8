// A thin product against a constant weight read in place: C = act(A·Wᵀ + bias) for the
// few rows of A that a decoder's step has (one token, or a short prompt), W row-major
// [N, K] as PyTorch's Linear stores it. Each invocation computes one output as a dot
// product along a row of W, so W is never uploaded transposed: the tied token embedding
// of a decoder is the same buffer as its gather table. A weight larger than one binding
// is bound in row ranges, one dispatch each: W then holds rows first..first + n.
// Knob (override constant): WG, invocations per workgroup.
//
// p: GemvParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source. Activations come from activation.wgsl.

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> p: GemvParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let j = gid.x + gid.y * groups.x * WG;
    let row = gid.z;
    if j >= p.n || row >= p.m { return; }
    let k = p.k;
    let ab = row * k;
    let wb = j * k;
    // Four partial sums, four elements per iteration (software adapters cap a loop's
    // iterations), then the remainder.
    var s = vec4<f32>(0.0);
    let k4 = k / 4u;
    for (var t = 0u; t < k4; t++) {
        let i = 4u * t;
        s += vec4<f32>(a[ab + i], a[ab + i + 1u], a[ab + i + 2u], a[ab + i + 3u])
            * vec4<f32>(w[wb + i], w[wb + i + 1u], w[wb + i + 2u], w[wb + i + 3u]);
    }
    var acc = s.x + s.y + s.z + s.w;
    for (var i = 4u * k4; i < k; i++) {
        acc += a[ab + i] * w[wb + i];
    }
    let col = p.first + j;
    if p.has_bias == 1u {
        acc += bias[col];
    }
    c[row * p.row_len + col] = activate(acc, p.act);
}
