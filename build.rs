//! Build script: the `relaxed_simd` cfg of the second wasm build, whose GEMM micro-kernel
//! uses relaxed-simd fused multiply-add (scripts/build.sh, the relaxed test suites), and
//! the linker arguments of the threaded build.
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
    // The threaded build (wasm32 with atomics, scripts/build.sh): one shared memory that
    // the page's workers import, and the exports wasm-bindgen uses to give each thread its
    // own stack and thread-locals. Here rather than in RUSTFLAGS, which would rebuild
    // every dependency when they change.
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    if wasm && features.split(',').any(|f| f == "atomics") {
        for arg in [
            "--shared-memory",
            "--import-memory",
            "--max-memory=4294967296",
            "--export=__wasm_init_tls",
            "--export=__tls_size",
            "--export=__tls_align",
            "--export=__tls_base",
        ] {
            println!("cargo::rustc-link-arg-cdylib={arg}");
        }
    }
}
