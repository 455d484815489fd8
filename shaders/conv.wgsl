// 2-D convolution (1-D runs as height 1), direct: one invocation per output value
// of [N, O, OH, OW], with groups, stride, padding, dilation and an optional bias.
// Knob (override constant): WG, invocations per workgroup.
//
// p: 0 n (outputs), 1 N, 2 C, 3 H, 4 W, 5 O, 6 KH, 7 KW, 8 OH, 9 OW, 10 SH, 11 SW,
//    12 PH, 13 PW, 14 DH, 15 DW, 16 groups, 17 has_bias.

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    if i >= p[0] { return; }
    let C = p[2]; let H = p[3]; let W = p[4]; let O = p[5];
    let KH = p[6]; let KW = p[7]; let OH = p[8]; let OW = p[9];
    let ow = i % OW;
    let oh = (i / OW) % OH;
    let o = (i / (OW * OH)) % O;
    let n = i / (OW * OH * O);
    let cg = C / p[16];
    let og = O / p[16];
    let c0 = (o / og) * cg;
    var s = 0.0;
    if p[17] == 1u { s = bias[o]; }
    for (var c = 0u; c < cg; c++) {
        for (var ky = 0u; ky < KH; ky++) {
            let yy = i32(oh * p[10] + ky * p[14]) - i32(p[12]);
            if yy < 0 || yy >= i32(H) { continue; }
            for (var kx = 0u; kx < KW; kx++) {
                let xx = i32(ow * p[11] + kx * p[15]) - i32(p[13]);
                if xx < 0 || xx >= i32(W) { continue; }
                s += x[((n * C + c0 + c) * H + u32(yy)) * W + u32(xx)] * w[((o * cg + c) * KH + ky) * KW + kx];
            }
        }
    }
    out[i] = s;
}
