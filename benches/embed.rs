//! Native MiniLM embedding latency on the CPU backend (needs models/ from `npm run setup`),
//! and the same long text answered by a session's output cache (the speed-up a
//! repeated input gets).

use criterion::{criterion_group, criterion_main, Criterion};
use ipfs_accelerate::models::{EmbedderOptions, ModelFiles, TextEmbedder};
use ipfs_accelerate::runtime::Session;

fn bench(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
    let e = TextEmbedder::from_dir(dir, &EmbedderOptions::default()).expect("run `npm run setup` first");
    let short = "The quick brown fox jumps over the lazy dog.";
    let mut long = String::new();
    while e.token_count(&long).unwrap() < 158 {
        long.push_str("weights are cached by content address ");
    }
    let mut g = c.benchmark_group("minilm_cpu");
    g.sample_size(10);
    for (name, text) in
        [("12_tokens", short.to_string()), (&*format!("{}_tokens", e.token_count(&long).unwrap()), long.clone())]
    {
        g.bench_function(name, |b| b.iter(|| e.embed(&[text.as_str()]).unwrap()));
    }
    let batch: Vec<&str> = vec![long.as_str(); 8];
    g.bench_function("batch_8", |b| b.iter(|| e.embed(&batch).unwrap()));
    let session = Session::default();
    let files = ModelFiles::from_dir(dir, TextEmbedder::FILES).expect("model files");
    let cached = TextEmbedder::from_files_in(files, &EmbedderOptions::default(), &session).expect("model loads");
    cached.embed(&[long.as_str()]).unwrap();
    let name = format!("{}_tokens_output_cache_hit", e.token_count(&long).unwrap());
    g.bench_function(&name, |b| b.iter(|| cached.embed(&[long.as_str()]).unwrap()));
    assert!(session.stats().outputs.hits > 0, "the repeated text was served from the cache");
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
