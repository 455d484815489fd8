// Products with a constant weight held in a stored form, dequantized as it is read, so
// the device holds the weight at its stored size: C = act(A·Wᵀ + bias) for A [M, K] and
// W [N, K] as PyTorch's Linear stores it. Each row of W is its K values, then its scales
// (src/tensor/quant.rs); stored_weights.wgsl lists the forms and reads them. Each
// invocation computes 4 rows × 4 columns as matmul.wgsl does (columns nx apart); products
// sum per group in f32 and are scaled once per group. Rows of A past M read row
// 0 and are never written, so a decoder's single row runs here too: one kernel for every
// M, and a weight that is also a gather table (a tied token embedding) is held once.
// Knob (override constant): WG, invocations per workgroup.
//
// p: StoredMatmulParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source. Activations come from activation.wgsl.

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> p: StoredMatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let M = p.m;
    let N = p.n;
    let K = p.k;
    let G = p.group;
    let nx = (N + 3u) / 4u;
    let t = gid.x + gid.y * groups.x * WG;
    let col0 = t % nx;
    let row0 = (t / nx) * 4u;
    if row0 >= M { return; }
    // Where each of the 4 rows of A starts, and each of the 4 columns' row of W; past the
    // edge, row or column 0.
    var ar: vec4<u32>;
    var wn: vec4<u32>;
    for (var i = 0u; i < 4u; i++) {
        ar[i] = select(0u, row0 + i, row0 + i < M) * K;
        wn[i] = select(0u, col0 + i * nx, col0 + i * nx < N);
    }
    var acc: array<vec4<f32>, 4>;
    for (var g0 = 0u; g0 < K; g0 += G) {
        // Initialized explicitly: SwiftShader (Chromium) kept the last group's sums in an
        // uninitialized var declared in the loop, which WGSL zeroes at each declaration.
        var part = array<vec4<f32>, 4>();
        for (var e = g0; e < g0 + G; e += 4u) {
            let w0 = stored_quad(wn[0], e);
            let w1 = stored_quad(wn[1], e);
            let w2 = stored_quad(wn[2], e);
            let w3 = stored_quad(wn[3], e);
            for (var i = 0u; i < 4u; i++) {
                let x = vec4<f32>(a[ar[i] + e], a[ar[i] + e + 1u], a[ar[i] + e + 2u], a[ar[i] + e + 3u]);
                part[i] += vec4<f32>(dot(x, w0), dot(x, w1), dot(x, w2), dot(x, w3));
            }
        }
        let g = g0 / G;
        let s = vec4<f32>(stored_scale(wn[0], g), stored_scale(wn[1], g), stored_scale(wn[2], g), stored_scale(wn[3], g));
        for (var i = 0u; i < 4u; i++) {
            acc[i] += part[i] * s;
        }
    }
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            let n = col0 + j * nx;
            if row0 + i < M && n < N {
                var v = acc[i][j];
                if p.has_bias == 1u { v += bias[n]; }
                c[(row0 + i) * N + n] = activate(v, p.act);
            }
        }
    }
}
