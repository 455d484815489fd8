//! Device acquisition: an adapter, then a device with `shader-f16`, `subgroups` and
//! `timestamp-query` where the adapter has them, retrying with fewer features when device
//! creation fails. It records what was granted, and watches for a lost device and for
//! GPU errors nobody captured.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};

/// Which browser engine (or native wgpu) runs the device: the variant table's key.
/// Firefox's user agent names Firefox; Chromium's names Chrome (and Safari); Safari's
/// names only Safari.
pub fn engine() -> &'static str {
    #[cfg(target_arch = "wasm32")]
    {
        let ua = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
            .and_then(|n| js_sys::Reflect::get(&n, &"userAgent".into()))
            .ok()
            .and_then(|u| u.as_string())
            .unwrap_or_default();
        if ua.contains("Firefox") {
            "firefox"
        } else if ua.contains("Chrome") {
            "chromium"
        } else if ua.contains("Safari") {
            "safari"
        } else {
            "browser"
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        "native"
    }
}

/// A device and what it was granted.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// The WebGPU names of the optional features granted: "shader-f16", "subgroups",
    /// "timestamp-query".
    pub granted: Vec<&'static str>,
    pub limits: wgpu::Limits,
    pub adapter: String,
    /// Set by the device-lost callback; every later run fails with `gpu_device_lost`
    /// until the backend makes a new device.
    pub lost: Arc<Mutex<Option<String>>>,
    /// The first uncaptured GPU error since the last run looked.
    pub uncaptured: Arc<Mutex<Option<Error>>>,
}

const OPTIONAL: [(wgpu::Features, &str); 3] = [
    (wgpu::Features::SHADER_F16, "shader-f16"),
    (wgpu::Features::SUBGROUP, "subgroups"),
    (wgpu::Features::TIMESTAMP_QUERY, "timestamp-query"),
];

/// Acquires a device. `without` lists optional features not to ask for (tests use it to
/// run the fallback paths).
pub async fn acquire(without: &[&str]) -> Result<Gpu> {
    // wgpu panics (a trap in wasm) where navigator.gpu is missing: Node, old browsers,
    // WebGPU switched off. Ask first, so that is an error instead.
    #[cfg(target_arch = "wasm32")]
    {
        let gpu = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
            .ok()
            .filter(|n| n.is_object())
            .and_then(|n| js_sys::Reflect::get(&n, &"gpu".into()).ok())
            .filter(|g| g.is_object());
        if gpu.is_none() {
            return Err(Error::BackendUnavailable("webgpu (navigator.gpu is absent here)".into()));
        }
    }
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            apply_limit_buckets: false,
        })
        .await
        .map_err(|e| Error::BackendUnavailable(format!("webgpu (no adapter: {e})")))?;
    let has = adapter.features();
    // In a browser wgpu never lists `subgroups` (see `subgroups_too`): ask anyway, and the
    // request adds it only where the adapter has it.
    let offered =
        |f: wgpu::Features, name: &str| has.contains(f) || (cfg!(target_arch = "wasm32") && name == "subgroups");
    let wanted: Vec<(wgpu::Features, &'static str)> =
        OPTIONAL.iter().copied().filter(|(f, name)| offered(*f, name) && !without.contains(name)).collect();
    // Ask for everything first, then drop optional features one at a time: some drivers
    // list a feature and still fail to create a device with it.
    let mut last_err = String::new();
    for drop_n in 0..=wanted.len() {
        let ask = &wanted[..wanted.len() - drop_n];
        let features = ask.iter().fold(wgpu::Features::empty(), |acc, (f, _)| acc | *f);
        let desc = wgpu::DeviceDescriptor {
            label: Some("ipfs-accelerate"),
            required_features: features,
            // The adapter's own limits: Firefox gives 128 MiB storage bindings, Chromium 1 GiB.
            required_limits: adapter.limits(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        #[cfg(target_arch = "wasm32")]
        let request = {
            // The browser's requestDevice runs inside this call, not when the future is
            // polled, so the flag covers only this request.
            let subgroups = ask.iter().any(|(_, n)| *n == "subgroups");
            super::subgroups_too::set(subgroups);
            let request = adapter.request_device(&desc);
            super::subgroups_too::set(false);
            request
        };
        #[cfg(not(target_arch = "wasm32"))]
        let request = adapter.request_device(&desc);
        match request.await {
            Ok((device, queue)) => {
                let lost = Arc::new(Mutex::new(None));
                let flag = lost.clone();
                device.set_device_lost_callback(move |reason, msg| {
                    if let Ok(mut l) = flag.lock() {
                        *l = Some(format!("{reason:?}: {msg}"));
                    }
                });
                let uncaptured = Arc::new(Mutex::new(None));
                let sink = uncaptured.clone();
                device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                    if let Ok(mut u) = sink.lock() {
                        u.get_or_insert_with(|| match e {
                            wgpu::Error::OutOfMemory { .. } => Error::GpuOutOfMemory(e.to_string()),
                            _ => Error::GpuError(e.to_string()),
                        });
                    }
                }));
                let info = adapter.get_info();
                let granted = granted(&device, ask);
                return Ok(Gpu {
                    limits: device.limits(),
                    device,
                    queue,
                    granted,
                    // Firefox gives no adapter name.
                    adapter: format!(
                        "{} ({:?})",
                        if info.name.is_empty() { "unnamed adapter" } else { &info.name },
                        info.backend
                    ),
                    lost,
                    uncaptured,
                });
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    Err(Error::BackendUnavailable(format!("webgpu (device creation failed: {last_err})")))
}

/// The optional features the device has. In a browser the device itself says, since
/// `subgroups` is asked for past wgpu and the adapter may not have it.
fn granted(device: &wgpu::Device, ask: &[(wgpu::Features, &'static str)]) -> Vec<&'static str> {
    #[cfg(target_arch = "wasm32")]
    if let Some(js) = device.as_webgpu() {
        let js: &wasm_bindgen::JsValue = js.as_ref();
        return ask.iter().map(|(_, n)| *n).filter(|n| super::subgroups_too::has_feature(js, n)).collect();
    }
    let _ = device;
    ask.iter().map(|(_, n)| *n).collect()
}

impl Gpu {
    /// The device-lost or uncaptured error recorded since the last call, as an `Error`.
    pub fn take_error(&self) -> Option<Error> {
        if let Some(m) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Some(Error::GpuDeviceLost(m));
        }
        self.uncaptured.lock().ok().and_then(|mut u| u.take())
    }

    pub fn is_lost(&self) -> bool {
        self.lost.lock().map(|l| l.is_some()).unwrap_or(true)
    }
}
