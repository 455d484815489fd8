// A workgroup-wide sum or max, shared by the one-workgroup-per-row kernels (softmax,
// layer_norm); appended to those kernels' source when they are loaded. The kernel
// declares WG, its workgroup size (a power of two ≤ 256). Every invocation of the
// workgroup must call it: it holds barriers.

var<workgroup> red: array<f32, 256>;

fn reduce_wg(lid: u32, v: f32, is_max: bool) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if lid < s {
            if is_max { red[lid] = max(red[lid], red[lid + s]); } else { red[lid] = red[lid] + red[lid + s]; }
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}
