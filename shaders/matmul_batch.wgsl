// Where batch z of a matmul starts in A and in B, shared by the matmul kernels (the
// tiled/f16 and subgroup forms); appended to their source when they are loaded. Batch
// dims broadcast through per-operand strides (0 where broadcast): p.rank batch dims
// (≤ 4) of sizes p.batch, with A's strides p.a_batch and B's p.b_batch (MatmulParams).

fn batch_offsets(z: u32) -> vec2<u32> {
    var rem = z;
    var off = vec2<u32>(0u, 0u);
    for (var i = 0u; i < p.rank; i++) {
        let d = p.rank - 1u - i;
        let idx = rem % p.batch[d];
        rem = rem / p.batch[d];
        off += idx * vec2<u32>(p.a_batch[d], p.b_batch[d]);
    }
    return off;
}
