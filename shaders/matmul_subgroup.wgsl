// Matmul, subgroup variant: a workgroup computes a 1×4 block of
// C = act(A·B + bias); its invocations split K, each subgroup sums its partials
// with subgroupAdd, and the subgroups' sums meet in workgroup memory. It suits the
// short, thin products of batch-1 inference, where a 4×4 tile per invocation
// leaves most of the device idle. Same parameters as matmul.wgsl.
// Knob (override constant): WG, the invocations per workgroup (≤ 256).

enable subgroups;

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

var<workgroup> partial: array<vec4<f32>, 256>;


fn a_at(base: u32, m: u32, k: u32) -> f32 {
    if p.transpose_a == 1u { return a[base + k * p.m + m]; }
    return a[base + m * p.k + k];
}

fn b_at(base: u32, k: u32, n: u32) -> f32 {
    if p.transpose_b == 1u { return b[base + n * p.k + k]; }
    return b[base + k * p.n + n];
}

@compute @workgroup_size(WG, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
    @builtin(subgroup_size) sg_size: u32,
) {
    let M = p.m;
    let N = p.n;
    let K = p.k;
    let row = wid.y;
    let col0 = wid.x * 4u;
    let offs = batch_offsets(wid.z);
    let aoff = offs.x;
    let boff = offs.y;
    var acc = vec4<f32>(0.0);
    for (var k = lid; k < K; k += WG) {
        var bv = vec4<f32>(0.0);
        for (var j = 0u; j < 4u; j++) {
            if col0 + j < N { bv[j] = b_at(boff, k, col0 + j); }
        }
        acc += a_at(aoff, row, k) * bv;
    }
    // Uniform control flow: every invocation reaches the subgroup op and barrier.
    let sum = subgroupAdd(acc);
    if sg_lane == 0u { partial[lid / sg_size] = sum; }
    workgroupBarrier();
    if lid == 0u {
        var total = vec4<f32>(0.0);
        for (var s = 0u; s < (WG + sg_size - 1u) / sg_size; s++) { total += partial[s]; }
        for (var j = 0u; j < 4u; j++) {
            if col0 + j < N {
                var v = total[j];
                if p.has_bias == 1u { v += bias[p.first + col0 + j]; }
                c[wid.z * M * p.row_len + row * p.row_len + p.first + col0 + j] = activate(v, p.act);
            }
        }
    }
}
