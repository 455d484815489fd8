// 2-D transposed convolution (PyTorch's ConvTranspose2d, one group), direct: one
// invocation per output value of [N, O, OH, OW], gathering the input pixels whose
// upsampled kernel footprint covers it. Weight layout [C, O, KH, KW].
// Knob (override constant): WG, invocations per workgroup.
//
// p: ConvKernelParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> p: ConvKernelParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    if i >= p.n { return; }
    let C = p.c; let H = p.h; let W = p.w; let O = p.o;
    let KH = p.kh; let KW = p.kw; let OH = p.oh; let OW = p.ow;
    let ox = i % OW;
    let oy = (i / OW) % OH;
    let o = (i / (OW * OH)) % O;
    let n = i / (OW * OH * O);
    // Without dilation only every stride-th kernel row and column can reach this
    // output: start at the first and step by the stride.
    let ky0 = select(0u, (oy + p.ph) % p.sh, p.dh == 1u);
    let kx0 = select(0u, (ox + p.pw) % p.sw, p.dw == 1u);
    let sy = select(1u, p.sh, p.dh == 1u);
    let sx = select(1u, p.sw, p.dw == 1u);
    var s = 0.0;
    if p.has_bias == 1u { s = bias[o]; }
    for (var ky = ky0; ky < KH; ky += sy) {
        let ty = i32(oy + p.ph) - i32(ky * p.dh);
        if ty < 0 || u32(ty) % p.sh != 0u { continue; }
        let iy = u32(ty) / p.sh;
        if iy >= H { continue; }
        for (var kx = kx0; kx < KW; kx += sx) {
            let tx = i32(ox + p.pw) - i32(kx * p.dw);
            if tx < 0 || u32(tx) % p.sw != 0u { continue; }
            let ix = u32(tx) / p.sw;
            if ix >= W { continue; }
            for (var c = 0u; c < C; c++) {
                s += x[((n * C + c) * H + iy) * W + ix] * w[((c * O + o) * KH + ky) * KW + kx];
            }
        }
    }
    out[i] = s;
}
