//! Every backend this place has, as the reference tests run on them: the CPU backend on
//! each kernel path, always, and the WebGPU backend on each variant the device grants,
//! where there is a device. `on_every_backend!` makes a test that runs its body on each,
//! through the `Backend` contract, natively and in the browsers alike.

use ipfs_accelerate::backend::cpu::{CpuBackend, Path};
use ipfs_accelerate::backend::webgpu::{variants, GpuOptions, WebGpuBackend};
use ipfs_accelerate::backend::{Backend, BackendKind};
use std::sync::Arc;

/// One backend to run the references on, and how far its arithmetic may stray.
#[derive(Clone)]
pub struct Place {
    /// "cpu/portable", "webgpu/tiled", ...: for failure messages and the summary.
    pub name: String,
    pub backend: Arc<dyn Backend>,
    /// The WebGPU variant stores constant weights as f16 (11 significant bits).
    pub f16_weights: bool,
    /// The backend a `load` would pick: the best CPU path, the device's default variant.
    /// The heaviest references run whole on these and in part elsewhere.
    pub default: bool,
}

impl Place {
    pub fn is_gpu(&self) -> bool {
        self.backend.kind() == BackendKind::WebGpu
    }

    /// WebNN, on the test double in the browsers.
    pub fn is_webnn(&self) -> bool {
        self.backend.kind() == BackendKind::WebNn
    }

    /// The tolerance on top of a reference's own, for a result that read constant
    /// weights (`weights`) or not: CPU paths add none; WebGPU's f32 kernels and WebNN sum
    /// in another order (1e-4); f16-stored weights round to 11 bits (2e-2).
    pub fn slack(&self, weights: bool) -> f64 {
        let float_order = self.is_gpu() || self.is_webnn();
        match (float_order, self.f16_weights && weights) {
            (false, _) => 0.0,
            (true, false) => 1e-4,
            (true, true) => 2e-2,
        }
    }
}

/// Whether WebGPU places are wanted here. The relaxed-simd build reruns the CPU suites
/// only (relaxed SIMD changes no WebGPU code), so it leaves them out.
fn gpu_wanted() -> bool {
    option_env!("IPFS_ACCELERATE_RELAXED_SIMD") != Some("1")
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    // The browser runs every test of a file in one instance, one after another: one set
    // of devices serves them all.
    static PLACES: std::cell::RefCell<Option<Vec<Place>>> = const { std::cell::RefCell::new(None) };
}

/// Every place, CPU paths first. Without a WebGPU adapter (Node) there are no GPU places,
/// and the summary line says so; natively CI has lavapipe, so a missing adapter there
/// is a failure, not a quiet skip.
pub async fn every_backend() -> Vec<Place> {
    #[cfg(target_arch = "wasm32")]
    if let Some(p) = PLACES.with(|p| p.borrow().clone()) {
        return p;
    }
    #[allow(clippy::arc_with_non_send_sync)] // wasm's GPU handles are single-threaded
    let mut places: Vec<Place> = Path::available()
        .into_iter()
        .map(|p| Place {
            name: format!("cpu/{}", p.name()),
            backend: Arc::new(CpuBackend::with_path(p)),
            f16_weights: false,
            default: p == Path::best(),
        })
        .collect();
    if gpu_wanted() {
        match WebGpuBackend::new(GpuOptions::default()).await {
            Ok(gpu) => {
                for v in variants::available(&gpu.granted()) {
                    let opts = GpuOptions { variant: Some(v.clone()), ..Default::default() };
                    let b = WebGpuBackend::new(opts).await.unwrap_or_else(|e| panic!("variant {v}: {e}"));
                    #[allow(clippy::arc_with_non_send_sync)]
                    let backend: Arc<dyn Backend> = Arc::new(b);
                    let (f16_weights, default) = (v == "f16", v == gpu.variant());
                    places.push(Place { name: format!("webgpu/{v}"), backend, f16_weights, default });
                }
            }
            Err(e) if cfg!(target_arch = "wasm32") => log(&format!("place-count: no WebGPU here ({e})")),
            Err(e) => panic!("no WebGPU adapter (natively lavapipe: mesa-vulkan-drivers): {e}"),
        }
    }
    #[cfg(target_arch = "wasm32")]
    if gpu_wanted() {
        places.push(webnn_place().await);
    }
    #[cfg(target_arch = "wasm32")]
    PLACES.with(|p| *p.borrow_mut() = Some(places.clone()));
    places
}

/// WebNN in the browsers, on the test double (this machine's browsers have no WebNN).
/// It computes in f32 with f64 sums, in its own order: WebGPU's slack. Not a default
/// place: the heaviest references run in part on it.
#[cfg(target_arch = "wasm32")]
async fn webnn_place() -> Place {
    use ipfs_accelerate::backend::webnn::{NnOptions, WebNnBackend};
    super::webnn_double::install();
    let b = WebNnBackend::new(NnOptions::default()).await.unwrap_or_else(|e| panic!("webnn on the double: {e}"));
    #[allow(clippy::arc_with_non_send_sync)]
    let backend: Arc<dyn Backend> = Arc::new(b);
    Place { name: "webnn/double".into(), backend, f16_weights: false, default: false }
}

/// Runs `check` on every place; each returns how many comparisons it made. Panics after
/// the last place with every place's failure, so one bad backend hides no other.
pub async fn each(test: &str, check: impl AsyncFn(&Place) -> Result<usize, String>) {
    let mut failures = vec![];
    let mut lines = vec![];
    for p in every_backend().await {
        #[cfg(target_arch = "wasm32")]
        log(&format!("{test} on {}", p.name)); // a hung place is then named in the log
        match check(&p).await {
            Ok(n) => lines.push(format!("place-count: {} {n} {test}", p.name)),
            Err(e) => failures.push(format!("[{}] {e}", p.name)),
        }
    }
    record(test, &lines);
    assert!(failures.is_empty(), "{test}:\n{}", failures.join("\n"));
}

/// Leaves the per-place counts for the summary in scripts/test.sh: the browsers' suite
/// logs (printed), natively a file per test (cargo test hides a passing test's output).
fn record(test: &str, lines: &[String]) {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = test;
        lines.iter().for_each(|l| log(l));
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-logs/places");
        std::fs::create_dir_all(&dir).unwrap();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.join(format!("{test}.txt")), text).unwrap();
    }
}

pub fn log(line: &str) {
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::console_log!("{line}");
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{line}");
}

/// `on_every_backend!(name(place) { body })`: a test named `name` that runs `body` (an
/// async block returning `Result<usize, String>`: comparisons made, or what differed) once
/// per place, natively on a trivial executor and in the browsers as an async test.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident($place:ident) $body:block)*) => {$(
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            pollster::block_on(common::backends::each(concat!(module_path!(), "::", stringify!($name)), async |$place: &common::backends::Place| $body));
        }
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() {
            common::backends::each(concat!(module_path!(), "::", stringify!($name)), async |$place: &common::backends::Place| $body).await;
        }
    )*};
}
