// Matmul, register-tiled: each invocation computes 4 rows × 4 columns of
// C = act(A·B + bias) as four vec4 accumulators. Its columns are NX apart
// (NX = ceil(N / 4), the invocations across a row), so neighbouring invocations read
// neighbouring elements of B: coalesced on a GPU, one vector load on a CPU adapter
// such as lavapipe or SwiftShader. Blocks wholly inside C skip the bounds checks. Batch dims
// broadcast through per-operand batch strides (0 where broadcast; matmul_batch.wgsl). The f16 variant is this file with
// `WT` (B's element type) set to f16: weights stored at half the bytes, products
// accumulated in f32. Activations come from activation.wgsl.
// Knobs (override constants): WG_X, WG_Y, the workgroup shape in 4×4 blocks.
//
// p: MatmulParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source. A weight too large for one binding is bound in column
// blocks, one dispatch each: p.n is then the block's width, and p.row_len and p.first
// place it within C.

alias WT = f32;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<storage, read> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<WT>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let M = p.m;
    let N = p.n;
    let K = p.k;
    let nx = (N + 3u) / 4u;
    let row0 = gid.y * 4u;
    let col0 = gid.x;
    if row0 >= M || col0 >= nx { return; }
    let offs = batch_offsets(gid.z);
    let aoff = offs.x;
    let boff = offs.y;
    // Element strides: A(m, k) at aoff + m·sam + k·sak, B(k, n) at boff + k·sbk + n·sbn.
    let ta = p.transpose_a == 1u;
    let tb = p.transpose_b == 1u;
    let sam = select(K, 1u, ta);
    let sak = select(1u, M, ta);
    let sbk = select(N, 1u, tb);
    let sbn = select(1u, K, tb);
    var acc: array<vec4<f32>, 4>;
    let cs = nx * sbn;
    if row0 + 4u <= M && col0 + 3u * nx < N {
        var ai = aoff + row0 * sam;
        var bi = boff + col0 * sbn;
        for (var k = 0u; k < K; k++) {
            let bv = vec4<f32>(f32(b[bi]), f32(b[bi + cs]), f32(b[bi + 2u * cs]), f32(b[bi + 3u * cs]));
            acc[0] += a[ai] * bv;
            acc[1] += a[ai + sam] * bv;
            acc[2] += a[ai + 2u * sam] * bv;
            acc[3] += a[ai + 3u * sam] * bv;
            ai += sak;
            bi += sbk;
        }
    } else {
        // An edge block: rows and columns past C's edge read row or column 0 instead
        // and are never written.
        for (var k = 0u; k < K; k++) {
            var bv = vec4<f32>(0.0);
            for (var j = 0u; j < 4u; j++) {
                let n = select(0u, col0 + j * nx, col0 + j * nx < N);
                bv[j] = f32(b[boff + k * sbk + n * sbn]);
            }
            for (var i = 0u; i < 4u; i++) {
                let m = select(0u, row0 + i, row0 + i < M);
                acc[i] += a[aoff + m * sam + k * sak] * bv;
            }
        }
    }
    let ldc = p.row_len;
    let coff = gid.z * M * ldc + p.first;
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            let n = col0 + j * nx;
            if row0 + i < M && n < N {
                var v = acc[i][j];
                if p.has_bias == 1u { v += bias[p.first + n]; }
                c[coff + (row0 + i) * ldc + n] = activate(v, p.act);
            }
        }
    }
}
