// Where batch z of a matmul starts in A and in B, shared by the matmul kernels (the
// tiled/f16 and subgroup forms); appended to their source when they are loaded. Batch
// dims broadcast through per-operand strides (0 where broadcast): p 7 is the batch rank
// (≤ 4), 8..12 the output's batch dims, 12..16 A's and 16..20 B's batch strides.

fn batch_offsets(z: u32) -> vec2<u32> {
    var rem = z;
    var off = vec2<u32>(0u, 0u);
    for (var i = 0u; i < p[7]; i++) {
        let d = p[7] - 1u - i;
        let idx = rem % p[8u + d];
        rem = rem / p[8u + d];
        off += idx * vec2<u32>(p[12u + d], p[16u + d]);
    }
    return off;
}
