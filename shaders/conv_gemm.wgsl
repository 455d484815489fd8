// 2-D convolution (1-D runs as height 1) as an implicit GEMM, register-tiled as
// matmul.wgsl is: each invocation computes 4 output channels × 4 output positions of
// [N, O, OH, OW] as four vec4 accumulators, over K = C/groups × KH × KW, reading the
// weights as A (rows of K) and the input where each position's window falls as B (zeros
// in the padding). Its positions are NX apart (NX = ceil(OH·OW / 4)), so neighbouring
// invocations read neighbouring inputs. One load of each operand serves four products,
// where the direct kernel (conv.wgsl) loaded both for each one (Whisper's two
// convolutions took 22 s of lavapipe's time that way). A block of 4 channels must lie in
// one group: the lowering sends groups of a multiple of 4 channels here, the rest to
// conv.wgsl. Batch items are the grid's z. `transposed` (below) is the transposed
// convolution's entry point.
// Knobs (override constants): WG_X, WG_Y, the workgroup shape in 4×4 blocks.
//
// p: ConvKernelParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<storage, read> p: ConvKernelParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// (batch item, column) of an invocation: z holds the batch items, each over `fold`
// slices of columns when one item has more than the 65535 workgroups an axis allows.
fn item_and_column(gid: vec3<u32>, groups: vec3<u32>) -> vec2<u32> {
    let fold = max(groups.z / p.batch, 1u);
    return vec2<u32>(gid.z / fold, gid.x + (gid.z % fold) * groups.x * WG_X);
}

// Writes a block: channels o0.. (those below O), plus their bias, at the positions `at`
// (offsets within a channel's plane) that are `live`.
fn store_block(acc: array<vec4<f32>, 4>, n: u32, o0: u32, at: vec4<u32>, live: vec4<bool>) {
    let O = p.o;
    for (var i = 0u; i < 4u; i++) {
        let o = o0 + i;
        if o >= O { break; }
        var b = 0.0;
        if p.has_bias == 1u { b = bias[o]; }
        let base = (n * O + o) * p.oh * p.ow;
        for (var j = 0u; j < 4u; j++) {
            if live[j] { out[base + at[j]] = acc[i][j] + b; }
        }
    }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let O = p.o;
    let P = p.oh * p.ow;
    let nx = (P + 3u) / 4u;
    let o0 = gid.y * 4u;
    let at = item_and_column(gid, groups);
    let n = at.x;
    let col0 = at.y;
    if o0 >= O || col0 >= nx { return; }
    let H = i32(p.h);
    let W = i32(p.w);
    let cg = p.c / p.groups;
    let c0 = (o0 / (O / p.groups)) * cg;
    // The four positions: where each one's window starts, and whether it exists.
    var pos = vec4<u32>(col0, col0 + nx, col0 + 2u * nx, col0 + 3u * nx);
    let live = pos < vec4<u32>(P);
    pos = select(vec4<u32>(0u), pos, live);
    let y0 = vec4<i32>((pos / p.ow) * p.sh) - vec4<i32>(i32(p.ph));
    let x0 = vec4<i32>((pos % p.ow) * p.sw) - vec4<i32>(i32(p.pw));
    // The four channels' weight rows (channels past O read the last one, never written).
    let kk = cg * p.kh * p.kw;
    let last = O - 1u;
    let w0 = min(o0, last) * kk;
    let w1 = min(o0 + 1u, last) * kk;
    let w2 = min(o0 + 2u, last) * kk;
    let w3 = min(o0 + 3u, last) * kk;
    var acc: array<vec4<f32>, 4>;
    var wi = 0u;
    for (var c = 0u; c < cg; c++) {
        let plane = i32((n * p.c + c0 + c) * p.h * p.w);
        for (var ky = 0u; ky < p.kh; ky++) {
            let yy = y0 + vec4<i32>(i32(ky * p.dh));
            let rows_in = live & (yy >= vec4<i32>(0)) & (yy < vec4<i32>(H));
            for (var kx = 0u; kx < p.kw; kx++) {
                let xx = x0 + vec4<i32>(i32(kx * p.dw));
                let inside = rows_in & (xx >= vec4<i32>(0)) & (xx < vec4<i32>(W));
                let at = select(vec4<i32>(0), vec4<i32>(plane) + yy * W + xx, inside);
                let xv = select(vec4<f32>(0.0), vec4<f32>(x[at.x], x[at.y], x[at.z], x[at.w]), inside);
                acc[0] += w[w0 + wi] * xv;
                acc[1] += w[w1 + wi] * xv;
                acc[2] += w[w2 + wi] * xv;
                acc[3] += w[w3 + wi] * xv;
                wi++;
            }
        }
    }
    store_block(acc, n, o0, pos, live);
}

// The transposed 2-D convolution (PyTorch's ConvTranspose2d, one group; weights
// [C, O, KH, KW]) the same way: 4 output channels × 4 outputs of one row that are SW
// apart, so the same kernel taps reach all four and their inputs are neighbours in a row.
// An invocation's column is (output row, group of 4·SW columns, phase within SW).
@compute @workgroup_size(WG_X, WG_Y, 1)
fn transposed(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let O = p.o;
    let sw = p.sw;
    let span = (p.ow + 4u * sw - 1u) / (4u * sw);
    let per_row = span * sw;
    let o0 = gid.y * 4u;
    let at = item_and_column(gid, groups);
    let n = at.x;
    if o0 >= O || at.y >= p.oh * per_row { return; }
    let oy = at.y / per_row;
    let g = at.y % per_row;
    let ox0 = (g / sw) * 4u * sw + g % sw;
    let ox = vec4<u32>(ox0, ox0 + sw, ox0 + 2u * sw, ox0 + 3u * sw);
    let live = ox < vec4<u32>(p.ow);
    let H = i32(p.h);
    let W = i32(p.w);
    let S = vec4<i32>(i32(sw));
    let taps = p.kh * p.kw;
    let last = O - 1u;
    var acc: array<vec4<f32>, 4>;
    for (var ky = 0u; ky < p.kh; ky++) {
        let ty = i32(oy + p.ph) - i32(ky * p.dh);
        if ty < 0 || ty % i32(p.sh) != 0 || ty / i32(p.sh) >= H { continue; }
        let iy = ty / i32(p.sh);
        for (var kx = 0u; kx < p.kw; kx++) {
            let tx = vec4<i32>(ox + vec4<u32>(p.pw)) - vec4<i32>(i32(kx * p.dw));
            let ix = tx / S;
            let hit = live & (tx >= vec4<i32>(0)) & (tx % S == vec4<i32>(0)) & (ix < vec4<i32>(W));
            if !any(hit) { continue; }
            let tap = ky * p.kw + kx;
            for (var c = 0u; c < p.c; c++) {
                let row = i32(((n * p.c + c) * p.h) * p.w) + iy * W;
                let at = select(vec4<i32>(0), vec4<i32>(row) + ix, hit);
                let xv = select(vec4<f32>(0.0), vec4<f32>(x[at.x], x[at.y], x[at.z], x[at.w]), hit);
                let wc = c * O * taps + tap;
                acc[0] += w[wc + min(o0, last) * taps] * xv;
                acc[1] += w[wc + min(o0 + 1u, last) * taps] * xv;
                acc[2] += w[wc + min(o0 + 2u, last) * taps] * xv;
                acc[3] += w[wc + min(o0 + 3u, last) * taps] * xv;
            }
        }
    }
    store_block(acc, n, o0, vec4<u32>(oy * p.ow) + ox, live);
}
