// Scaled dot-product attention, one invocation per (batch·head, query row), with an
// online softmax: keys stream through once, never as a score matrix in memory.
// A key mask [B, Sk] (0 = ignore) and causal masking skip keys (attention_score.wgsl); a
// query with no key left gives zeros, as on the CPU backend.
// The query row and the output row are held as vec4s in arrays indexed only by loops of
// an override count (QD4 = d / 4, VD4 = dv / 4, set per head size by the lowering): once
// the pipeline fixes them, a compiler unrolls those loops and keeps both rows in
// registers. A row indexed at run time stays in memory on software adapters, which made
// this kernel 1.6× slower on lavapipe (Whisper's encoder). Head sizes up to 64 (MiniLM's
// 32, DINOv2's and Whisper's 64) that are multiples of 4, so the two rows are at most the
// 128 floats the per-row kernel's output row was; attention_rows.wgsl takes the rest.
// Knob (override constant): WG, invocations per workgroup.
//
// p: AttentionParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 64u;
override QD4: u32 = 16u;
override VD4: u32 = 16u;
// The score of a key a row does not see: below any real score, and finite (WGSL lets an
// implementation assume no infinities).
const UNSEEN: f32 = -3.0e38;

@group(0) @binding(0) var<storage, read> p: AttentionParams;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read> offset: array<i32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let t = gid.x + gid.y * groups.x * WG;
    let sq = p.sq;
    if t >= p.bh * sq { return; }
    let bh = t / sq;
    let i = t % sq;
    let b = bh / p.heads;
    let sk = p.sk;
    let d = p.d;
    let dv = p.dv;
    let qo = (bh * sq + i) * d;
    // The query row, pre-scaled.
    var qv: array<vec4<f32>, 16>;
    for (var f = 0u; f < QD4; f++) {
        let o = qo + 4u * f;
        qv[f] = vec4<f32>(q[o], q[o + 1u], q[o + 2u], q[o + 3u]) * p.scale;
    }
    var acc: array<vec4<f32>, 16>;
    var m = UNSEEN;
    var l = 0.0;
    let first = attention_first();
    for (var j = 0u; j < sk; j++) {
        if !attention_sees(b, i, j, first) { continue; }
        let ko = (bh * sk + j) * d;
        var s4 = vec4<f32>(0.0);
        for (var f = 0u; f < QD4; f++) {
            let o = ko + 4u * f;
            s4 += qv[f] * vec4<f32>(k[o], k[o + 1u], k[o + 2u], k[o + 3u]);
        }
        let s = s4.x + s4.y + s4.z + s4.w;
        let m2 = max(m, s);
        let corr = exp(m - m2);
        let w = exp(s - m2);
        l = l * corr + w;
        let vo = (bh * sk + j) * dv;
        for (var f = 0u; f < VD4; f++) {
            let o = vo + 4u * f;
            acc[f] = acc[f] * corr + w * vec4<f32>(v[o], v[o + 1u], v[o + 2u], v[o + 3u]);
        }
        m = m2;
    }
    let oo = (bh * sq + i) * dv;
    for (var f = 0u; f < VD4; f++) {
        let r = select(vec4<f32>(0.0), acc[f] / l, l > 0.0);
        out[oo + 4u * f] = r.x;
        out[oo + 4u * f + 1u] = r.y;
        out[oo + 4u * f + 2u] = r.z;
        out[oo + 4u * f + 3u] = r.w;
    }
}
