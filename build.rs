//! Build script: the `relaxed_simd` cfg of the second wasm build, whose GEMM micro-kernel
//! uses relaxed-simd fused multiply-add (scripts/build.sh, the relaxed test suites).
//!
//! A cfg from an environment variable rather than a cargo feature or RUSTFLAGS: RUSTFLAGS
//! would rebuild every dependency, and a feature changes this crate's symbol hashes, so the
//! two builds' wasm-bindgen glue would differ and one loader could not serve both.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(relaxed_simd)");
    println!("cargo::rerun-if-env-changed=IPFS_ACCELERATE_RELAXED_SIMD");
    if std::env::var("IPFS_ACCELERATE_RELAXED_SIMD").as_deref() == Ok("1") {
        println!("cargo::rustc-cfg=relaxed_simd");
    }
}
