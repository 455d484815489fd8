// Scaled dot-product attention for head sizes attention.wgsl does not take (over 64, or
// not a multiple of 4): one invocation per (batch·head, query row), with an online
// softmax, its output row in a private array.
// A key mask [B, Sk] (0 = ignore) and causal masking skip keys (attention_score.wgsl); a
// query with no key left gives zeros, as on the CPU backend.
// Knob (override constant): WG, invocations per workgroup.
//
// p: AttentionParams, declared in src/backend/webgpu/params.rs, which adds its WGSL
// declaration to this source.

override WG: u32 = 64u;

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
    var acc: array<f32, 128>;
    var m = -0x1.fffffep+127f;
    var l = 0.0;
    let first = attention_first();
    for (var j = 0u; j < sk; j++) {
        if !attention_sees(b, i, j, first) { continue; }
        let s = attention_score(qo, (bh * sk + j) * d);
        let m2 = max(m, s);
        let corr = exp(m - m2);
        let w = exp(s - m2);
        l = l * corr + w;
        let vo = (bh * sk + j) * dv;
        var f = 0u;
        for (; f + 4u <= dv; f += 4u) {
            acc[f] = acc[f] * corr + w * v[vo + f];
            acc[f + 1u] = acc[f + 1u] * corr + w * v[vo + f + 1u];
            acc[f + 2u] = acc[f + 2u] * corr + w * v[vo + f + 2u];
            acc[f + 3u] = acc[f + 3u] * corr + w * v[vo + f + 3u];
        }
        for (; f < dv; f++) { acc[f] = acc[f] * corr + w * v[vo + f]; }
        m = m2;
    }
    let oo = (bh * sq + i) * dv;
    for (var e = 0u; e < dv; e++) { out[oo + e] = select(0.0, acc[e] / l, l > 0.0); }
}
