// 2-D convolution (1-D runs as height 1), direct: one invocation per output value
// of [N, O, OH, OW], with groups, stride, padding, dilation and an optional bias. For
// grouped convolutions whose groups split conv_gemm.wgsl's blocks of 4 channels
// (depthwise ones); the rest run there.
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
    let ow = i % OW;
    let oh = (i / OW) % OH;
    let o = (i / (OW * OH)) % O;
    let n = i / (OW * OH * O);
    let cg = C / p.groups;
    let og = O / p.groups;
    let c0 = (o / og) * cg;
    var s = 0.0;
    if p.has_bias == 1u { s = bias[o]; }
    for (var c = 0u; c < cg; c++) {
        for (var ky = 0u; ky < KH; ky++) {
            let yy = i32(oh * p.sh + ky * p.dh) - i32(p.ph);
            if yy < 0 || yy >= i32(H) { continue; }
            for (var kx = 0u; kx < KW; kx++) {
                let xx = i32(ow * p.sw + kx * p.dw) - i32(p.pw);
                if xx < 0 || xx >= i32(W) { continue; }
                s += x[((n * C + c0 + c) * H + u32(yy)) * W + u32(xx)] * w[((o * cg + c) * KH + ky) * KW + kx];
            }
        }
    }
    out[i] = s;
}
