// Attention for a few query rows over many keys (a decoder step: one query against 1500
// encoder keys, or a cache of 448), split over the keys: one workgroup per (batch·head,
// query row), each invocation an online softmax over every WG-th key, then the workgroup
// merges the partial maxima, sums and weighted values. attention.wgsl gives a query row
// one invocation, which leaves a GPU idle when there are only heads × 1 rows.
// Masks, causality and the run-time offset are as in attention.wgsl (attention_score.wgsl).
//
// p: AttentionParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

const WG: u32 = 64u;
// Values are merged CH elements at a time, so the workgroup memory stays at 4 KiB.
const CH: u32 = 16u;

@group(0) @binding(0) var<storage, read> p: AttentionParams;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read> offset: array<i32>;

var<workgroup> red: array<f32, WG>;
var<workgroup> part: array<f32, 1024>; // WG × CH

@compute @workgroup_size(WG, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let t = wid.x + wid.y * groups.x;
    let sq = p.sq;
    // The same for the whole workgroup, so the barriers below stay in uniform control flow.
    if t >= p.bh * sq { return; }
    let bh = t / sq;
    let i = t % sq;
    let b = bh / p.heads;
    let sk = p.sk;
    let d = p.d;
    let dv = p.dv;
    let qo = (bh * sq + i) * d;
    let first = attention_first();
    var acc: array<f32, 128>;
    var m = -0x1.fffffep+127f;
    var l = 0.0;
    for (var j = tid; j < sk; j += WG) {
        if !attention_sees(b, i, j, first) { continue; }
        let s = attention_score(qo, (bh * sk + j) * d);
        let m2 = max(m, s);
        let corr = exp(m - m2);
        let w = exp(s - m2);
        l = l * corr + w;
        let vo = (bh * sk + j) * dv;
        for (var f = 0u; f < dv; f++) { acc[f] = acc[f] * corr + w * v[vo + f]; }
        m = m2;
    }

    // The workgroup's maximum, then each invocation's share rescaled to it.
    red[tid] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if tid < s { red[tid] = max(red[tid], red[tid + s]); }
        workgroupBarrier();
    }
    let top = red[0];
    workgroupBarrier();
    let f = select(0.0, exp(m - top), l > 0.0);
    red[tid] = l * f;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if tid < s { red[tid] += red[tid + s]; }
        workgroupBarrier();
    }
    let total = red[0];

    let oo = (bh * sq + i) * dv;
    for (var c = 0u; c < dv; c += CH) {
        for (var e = 0u; e < CH; e++) {
            part[tid * CH + e] = select(0.0, acc[min(c + e, 127u)] * f, c + e < dv);
        }
        workgroupBarrier();
        if tid < CH && c + tid < dv {
            var s = 0.0;
            for (var r = 0u; r < WG; r++) { s += part[r * CH + tid]; }
            out[oo + c + tid] = select(0.0, s / total, total > 0.0);
        }
        workgroupBarrier();
    }
}
