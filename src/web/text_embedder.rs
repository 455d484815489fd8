//! The JS `TextEmbedder`: `await TextEmbedder.load(baseUrl, opts)`, then `embed(texts)`.

use super::control::{signal_field, yield_now, Control};
use super::error::to_js;
use super::load_options::LoadOptions;
use super::model_source::load_model;
use super::options::check_options;
use super::weight_store::store_for;
use crate::backend::webgpu::GpuOptions;
use crate::backend::BackendKind;
use crate::error::{Error, Result};
use crate::models::TextEmbedder;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(js_name = TextEmbedder)]
pub struct JsTextEmbedder {
    /// Shared with in-flight WebGPU embeds, which outlive the call that started them.
    inner: Option<Rc<TextEmbedder>>,
    backend: BackendKind,
    loaded_from: &'static str,
}

/// The backend a load asks for: the CPU (wasm SIMD) backend or WebGPU; WebNN is not
/// built yet. "auto" reaches here only without the JS facade, which resolves it first.
fn choose_backend(requested: Option<BackendKind>) -> Result<BackendKind> {
    match requested {
        None | Some(BackendKind::Cpu) => Ok(BackendKind::Cpu),
        Some(BackendKind::WebGpu) => Ok(BackendKind::WebGpu),
        Some(BackendKind::WebNn) => {
            Err(Error::BackendUnavailable("webnn (not built yet; use 'wasm', 'webgpu' or 'auto')".into()))
        }
    }
}

#[wasm_bindgen(js_class = TextEmbedder)]
impl JsTextEmbedder {
    /// Loads `config.json`, `tokenizer.json`, `model.safetensors` (and the
    /// sentence-transformers pooling configs when present) from `baseUrl`, through the
    /// weight store: from IndexedDB when it holds the model, else downloaded into it.
    /// Options: `{ backend ('auto' | 'wasm' | 'webgpu'), shaderVariant, onProgress({file,
    /// loaded, total}), pooling, normalize, truncation, cache = true, store, signal,
    /// stallTimeoutMs (default 30000) }`. Nothing is stored for a model that does not
    /// build; an aborted or stalled download keeps its finished chunks for the next load.
    pub async fn load(base_url: JsValue, opts: JsValue) -> std::result::Result<JsTextEmbedder, JsValue> {
        let base =
            base_url.as_string().ok_or_else(|| to_js(Error::arg("TextEmbedder.load", "baseUrl must be a string")))?;
        const OP: &str = "TextEmbedder.load";
        let lo = LoadOptions::from_js(OP, &opts).map_err(to_js)?;
        let backend = choose_backend(lo.backend).map_err(to_js)?;
        // The device first (the session's): without one there is no point downloading.
        let session = lo.session.clone();
        let gpu = match backend {
            BackendKind::WebGpu => Some(
                session
                    .webgpu(GpuOptions { variant: lo.shader_variant.clone(), ..Default::default() })
                    .await
                    .map_err(to_js)?,
            ),
            _ => None,
        };
        lo.control.check().map_err(to_js)?;
        let store = store_for(&lo.store).await.map_err(to_js)?;
        let mut build = |files| TextEmbedder::from_files_in(files, &lo.embedder, &session);
        let held = |sha: &str| session.has_file(sha);
        let (mut inner, origin) = load_model(
            &base,
            TextEmbedder::FILES,
            store.as_deref(),
            lo.progress.as_ref(),
            &lo.control,
            &held,
            &mut build,
        )
        .await
        .map_err(to_js)?;
        if let Some(gpu) = gpu {
            inner.set_backend(gpu);
        }
        Ok(JsTextEmbedder { inner: Some(Rc::new(inner)), backend, loaded_from: origin.name() })
    }

    /// Where the files came from: "cache" (the weight store) or "network".
    #[wasm_bindgen(getter, js_name = loadedFrom)]
    pub fn loaded_from(&self) -> String {
        self.loaded_from.to_string()
    }

    fn get(&self) -> Result<&Rc<TextEmbedder>> {
        self.inner.as_ref().ok_or(Error::Disposed("TextEmbedder"))
    }

    /// `embed(texts: string[], { signal }) → Promise<Float32Array[]>`. Texts run in
    /// batches; between batches the call yields to the event loop (so timers and input
    /// run during a long call on the CPU) and stops with `aborted` if `signal` fired.
    pub fn embed(&self, texts: JsValue, opts: JsValue) -> js_sys::Promise {
        const OP: &str = "embed";
        let parsed = self.get().cloned().and_then(|e| {
            check_options(OP, &opts)?;
            Ok((e, texts_of(&texts)?, Control::new(OP, signal_field(OP, &opts)?, None)))
        });
        let (e, owned, control) = match parsed {
            Ok(v) => v,
            Err(err) => return js_sys::Promise::reject(&to_js(err)),
        };
        wasm_bindgen_futures::future_to_promise(async move {
            control.check().map_err(to_js)?;
            let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
            let between = async || {
                yield_now().await;
                control.check()
            };
            e.embed_paced(&refs, between).await.map(to_arrays).map_err(to_js)
        })
    }

    /// The WebGPU shader variant in use and what the device granted; null on the CPU.
    #[wasm_bindgen(getter, js_name = gpuInfo)]
    pub fn gpu_info(&self) -> JsValue {
        let Some(g) = self.inner.as_ref().and_then(|e| e.webgpu()) else { return JsValue::NULL };
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

    /// Turns per-dispatch GPU timing (timestamp queries) on or off for later embeds;
    /// returns whether it is on (false on the CPU or without `timestamp-query`).
    #[wasm_bindgen(js_name = setGpuProfiling)]
    pub fn set_gpu_profiling(&self, on: bool) -> bool {
        self.inner.as_ref().and_then(|e| e.webgpu()).is_some_and(|g| g.set_profiling(on))
    }

    /// Destroys the GPU device, as a driver reset would; the next `embed` makes a new one.
    /// For tests of device loss.
    #[wasm_bindgen(js_name = loseDeviceForTesting)]
    pub fn lose_device_for_testing(&self) {
        if let Some(g) = self.inner.as_ref().and_then(|e| e.webgpu()) {
            g.destroy_device();
        }
    }
}

fn to_arrays(vs: Vec<Vec<f32>>) -> JsValue {
    let out = js_sys::Array::new();
    for v in vs {
        out.push(&js_sys::Float32Array::from(v.as_slice()));
    }
    out.into()
}

/// `texts` as owned strings, or an error naming the first entry that is not a string.
fn texts_of(texts: &JsValue) -> Result<Vec<String>> {
    let arr =
        texts.dyn_ref::<js_sys::Array>().ok_or_else(|| Error::arg("embed", "texts must be an array of strings"))?;
    arr.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_string().ok_or_else(|| {
                let kind = v.js_typeof().as_string().unwrap_or_default();
                let kind = if v.is_null() { "null".into() } else { kind };
                Error::arg("embed", format!("texts[{i}] is a {kind}, not a string"))
            })
        })
        .collect()
}

#[wasm_bindgen(js_class = TextEmbedder)]
impl JsTextEmbedder {
    /// Tokens `text` takes after truncation, special tokens included.
    #[wasm_bindgen(js_name = tokenCount)]
    pub fn token_count(&self, text: JsValue) -> std::result::Result<usize, JsValue> {
        let t = text.as_string().ok_or_else(|| to_js(Error::arg("tokenCount", "text must be a string")))?;
        self.get().and_then(|e| e.token_count(&t)).map_err(to_js)
    }

    #[wasm_bindgen(getter)]
    pub fn dims(&self) -> usize {
        self.inner.as_ref().map_or(0, |e| e.dims())
    }

    /// The backend running the model: "wasm" (the CPU SIMD backend) or "webgpu".
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.name().to_string()
    }

    #[wasm_bindgen(getter, js_name = maxTokens)]
    pub fn max_tokens(&self) -> usize {
        self.inner.as_ref().map_or(0, |e| e.max_tokens())
    }

    #[wasm_bindgen(getter)]
    pub fn pooling(&self) -> String {
        self.inner.as_ref().map_or("", |e| e.pooling().name()).to_string()
    }

    /// Releases the model's memory; later calls fail with `disposed`.
    pub fn dispose(&mut self) {
        self.inner = None;
    }
}

#[wasm_bindgen(js_class = TextEmbedder)]
impl JsTextEmbedder {
    /// The tokenizer as `tokenizer.json` text; a model in a worker sends it to the page.
    #[wasm_bindgen(js_name = tokenizerJson)]
    pub fn tokenizer_json(&self) -> std::result::Result<String, JsValue> {
        self.get().and_then(|e| e.tokenizer_json()).map_err(to_js)
    }
}

/// A tokenizer on its own: the page side of a model that runs in a worker counts tokens
/// with it, synchronously, as a model on the page does.
#[wasm_bindgen(js_name = Tokenizer)]
pub struct JsTokenizer(crate::models::TextTokenizer);

#[wasm_bindgen(js_class = Tokenizer)]
impl JsTokenizer {
    /// From `tokenizer.json` text, cut at `maxTokens`.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(json: &str, max_tokens: usize) -> std::result::Result<JsTokenizer, JsValue> {
        crate::models::TextTokenizer::from_bytes(json.as_bytes(), max_tokens).map(JsTokenizer).map_err(to_js)
    }

    /// Tokens `text` takes after truncation, special tokens included.
    #[wasm_bindgen(js_name = tokenCount)]
    pub fn token_count(&self, text: &str) -> std::result::Result<usize, JsValue> {
        self.0.encode(text).map(|e| e.ids.len()).map_err(to_js)
    }
}
