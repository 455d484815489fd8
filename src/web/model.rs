//! The core every JS model class wraps (`JsModel<R>`): loading through the weight store
//! with the backend chosen, the session joined, progress, signal and stall limits; the
//! backend, where the files came from, GPU info and profiling, device-loss testing and
//! dispose. A class (`TextEmbedder`, `ImageEmbedder`) adds only its own methods.

use super::error::to_js;
use super::load_options::{FamilyOptions, LoadOptions};
use super::model_source::{load_model, Reuse};
use super::weight_store::store_for;
use crate::backend::webgpu::{GpuOptions, WebGpuBackend};
use crate::backend::webnn::NnOptions;
use crate::backend::{Backend, BackendKind};
use crate::error::{Error, Result};
use crate::models::core::share_key;
use crate::models::{FileSpec, ModelFiles, WeightDtype};
use crate::runtime::Session;
use std::rc::Rc;
use std::sync::Arc;
use wasm_bindgen::JsValue;

/// A model family as the facade sees it: its JS class name, its files, its own load
/// options, how it is built in a session and moved to another backend.
pub trait Runner: Sized + 'static {
    const CLASS: &'static str;
    const FILES: &'static [FileSpec];
    type Options: FamilyOptions;
    fn build(files: ModelFiles, opts: &Self::Options, session: &Session) -> Result<Self>;
    fn set_backend(&mut self, backend: Arc<dyn Backend>);
    fn webgpu(&self) -> Option<&WebGpuBackend>;
}

pub struct JsModel<R> {
    /// Shared with in-flight WebGPU runs, which outlive the call that started them.
    inner: Option<Rc<R>>,
    backend: BackendKind,
    loaded_from: &'static str,
}

/// The backend a load asks for. "auto" reaches here only without the JS facade, which
/// resolves it first: the CPU (wasm SIMD) backend then.
fn choose_backend(requested: Option<BackendKind>) -> BackendKind {
    requested.unwrap_or(BackendKind::Cpu)
}

impl<R: Runner> JsModel<R> {
    /// Loads the model's files (`R::FILES`) from `base_url` through the weight store: from
    /// IndexedDB when it holds them, else downloaded into it, and builds the model on the
    /// backend asked for. Nothing is stored for a model that does not build.
    pub async fn load(op: &'static str, base_url: JsValue, opts: JsValue) -> std::result::Result<Self, JsValue> {
        if !base_url.is_string() {
            return Err(to_js(Error::arg(op, "baseUrl must be a string")));
        }
        let lo = LoadOptions::<R::Options>::from_js(op, &opts, &[]).map_err(to_js)?;
        let remote = lo.remote(op, &base_url).map_err(to_js)?;
        let backend = choose_backend(lo.backend);
        // The device first (the session's): without one there is no point downloading.
        let session = lo.session.clone();
        let device: Option<Arc<dyn Backend>> = match backend {
            BackendKind::WebGpu => Some(
                session
                    .webgpu(GpuOptions { variant: lo.shader_variant.clone(), ..Default::default() })
                    .await
                    .map_err(to_js)?,
            ),
            BackendKind::WebNn => Some(session.webnn(NnOptions::default()).await.map_err(to_js)?),
            BackendKind::Cpu => None,
        };
        lo.control.check().map_err(to_js)?;
        let store = store_for(&lo.store).await.map_err(to_js)?;
        let mut build = |files| R::build(files, &lo.family, &session);
        let f32 = WeightDtype::default();
        let dtype = lo.family.dtype().unwrap_or(&f32);
        let held = |sha: &str| session.has_file(&share_key(sha, dtype));
        let tensor = |d: &crate::weights::Digest| session.tensor(d);
        let reuse = Reuse { session: &held, form: (!dtype.is_f32()).then(|| dtype.id()), tensor: Some(&tensor) };
        let (mut inner, origin) =
            load_model(&remote, R::FILES, store.as_deref(), lo.progress.as_ref(), &lo.control, &reuse, &mut build)
                .await
                .map_err(to_js)?;
        if let Some(device) = device {
            inner.set_backend(device);
        }
        Ok(JsModel { inner: Some(Rc::new(inner)), backend, loaded_from: origin.name() })
    }

    /// The model, or `disposed`.
    pub fn get(&self) -> Result<&Rc<R>> {
        self.inner.as_ref().ok_or(Error::Disposed(R::CLASS))
    }

    pub fn inner(&self) -> Option<&R> {
        self.inner.as_deref()
    }

    /// Where the files came from: "cache" (the weight store) or "network".
    pub fn loaded_from(&self) -> String {
        self.loaded_from.to_string()
    }

    /// The backend running the model: "wasm" (the CPU SIMD backend), "webgpu" or "webnn".
    pub fn backend(&self) -> String {
        self.backend.name().to_string()
    }

    /// The WebGPU shader variant in use and what the device granted; null on the CPU.
    pub fn gpu_info(&self) -> JsValue {
        let Some(g) = self.inner().and_then(R::webgpu) else { return JsValue::NULL };
        let o = js_sys::Object::new();
        let granted: js_sys::Array = g.granted().iter().map(|f| JsValue::from_str(f)).collect();
        let s = g.stats();
        for (k, v) in [
            ("adapter", JsValue::from_str(&g.adapter())),
            ("shaderVariant", JsValue::from_str(&g.variant())),
            ("granted", granted.into()),
            ("submissions", JsValue::from_f64(s.submissions as f64)),
            ("readbacks", JsValue::from_f64(s.readbacks as f64)),
            ("devices", JsValue::from_f64(s.devices as f64)),
            // Device memory: uploaded weights, the buffers of cached plans, and values
            // kept on the device (a decoder's caches).
            ("weightBytes", JsValue::from_f64(s.weight_bytes as f64)),
            ("planBytes", JsValue::from_f64(s.plan_bytes as f64)),
            ("valueBytes", JsValue::from_f64(s.value_bytes as f64)),
            // GPU time of the last profiled forward pass (timestamp queries), if any.
            ("lastGpuMs", {
                let p = g.last_profile();
                if p.is_empty() {
                    JsValue::NULL
                } else {
                    JsValue::from_f64(p.iter().map(|(_, ms)| ms).sum())
                }
            }),
        ] {
            let _ = js_sys::Reflect::set(&o, &k.into(), &v);
        }
        o.into()
    }

    /// Turns per-dispatch GPU timing on or off for later runs; whether it is on.
    pub fn set_gpu_profiling(&self, on: bool) -> bool {
        self.inner().and_then(R::webgpu).is_some_and(|g| g.set_profiling(on))
    }

    /// Destroys the GPU device, as a driver reset would; the next run makes a new one.
    pub fn lose_device_for_testing(&self) {
        if let Some(g) = self.inner().and_then(R::webgpu) {
            g.destroy_device();
        }
    }

    /// Releases the model's memory; later calls fail with `disposed`.
    pub fn dispose(&mut self) {
        self.inner = None;
    }
}

/// The members every JS model class forwards to its `JsModel` (the class's field 0):
/// `backend`, `loadedFrom`, `gpuInfo`, `setGpuProfiling`, `loseDeviceForTesting` and
/// `dispose`, written once.
macro_rules! model_members {
    ($class:ident, $js:ident) => {
        #[wasm_bindgen::prelude::wasm_bindgen(js_class = $js)]
        impl $class {
            /// The backend running the model: "wasm" (the CPU SIMD backend), "webgpu" or "webnn".
            #[wasm_bindgen(getter)]
            pub fn backend(&self) -> String {
                self.0.backend()
            }

            /// Where the files came from: "cache" (the weight store) or "network".
            #[wasm_bindgen(getter, js_name = loadedFrom)]
            pub fn loaded_from(&self) -> String {
                self.0.loaded_from()
            }

            /// The WebGPU shader variant in use, what the device granted and its memory;
            /// null on the CPU.
            #[wasm_bindgen(getter, js_name = gpuInfo)]
            pub fn gpu_info(&self) -> wasm_bindgen::JsValue {
                self.0.gpu_info()
            }

            /// Turns per-dispatch GPU timing (timestamp queries) on or off for later runs;
            /// returns whether it is on (false on the CPU or without `timestamp-query`).
            #[wasm_bindgen(js_name = setGpuProfiling)]
            pub fn set_gpu_profiling(&self, on: bool) -> bool {
                self.0.set_gpu_profiling(on)
            }

            /// Destroys the GPU device, as a driver reset would; the next run makes a new
            /// one. For tests of device loss.
            #[wasm_bindgen(js_name = loseDeviceForTesting)]
            pub fn lose_device_for_testing(&self) {
                self.0.lose_device_for_testing()
            }

            /// Releases the model's memory; later calls fail with `disposed`.
            pub fn dispose(&mut self) {
                self.0.dispose()
            }
        }
    };
}
pub(crate) use model_members;
