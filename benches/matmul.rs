//! Native f32 matmul throughput in GFLOP/s, at the shapes MiniLM's layers use.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ipfs_accelerate::backend::cpu::gemm::{gemm, GemmScratch, MatRef};
use ipfs_accelerate::backend::cpu::Path;

fn bench(c: &mut Criterion) {
    // Criterion reports elements/s; one "element" here is one floating-point op, so the
    // group is named for what its G-elem/s figure reads as.
    println!("matmul_f32_gflops: thrpt in Gelem/s is GFLOP/s (one element = one FLOP)");
    let mut g = c.benchmark_group("matmul_f32_gflops");
    for &(m, k, n) in &[(384usize, 384usize, 1536usize), (158, 384, 384)] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 17) as f32 * 0.01).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 13) as f32 * 0.01).collect();
        let mut out = vec![0f32; m * n];
        let mut s = GemmScratch::default();
        // Criterion reports elements/s; one "element" is one floating-point op, so
        // its G-elem/s figure reads directly as GFLOP/s.
        g.throughput(Throughput::Elements((2 * m * n * k) as u64));
        g.bench_function(BenchmarkId::from_parameter(format!("{m}x{k}x{n}")), |bch| {
            bch.iter(|| {
                let am = MatRef { data: &a, off: 0, rs: k, cs: 1 };
                let bm = MatRef { data: &b, off: 0, rs: n, cs: 1 };
                gemm(Path::Portable, [m, n, k], am, bm, &mut out, &mut s);
                std::hint::black_box(&out);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
