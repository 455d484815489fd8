//! The JS `TextEmbedder`: `await TextEmbedder.load(baseUrl, opts)`, then `embed(texts)`.

use super::error::to_js;
use super::model_source::load_model_files;
use super::options::{bool_field, check_options, field, function_field, string_field};
use super::weight_store::store_for;
use crate::error::{Error, Result};
use crate::models::{EmbedderOptions, Pooling, TextEmbedder, Truncation};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(js_name = TextEmbedder)]
pub struct JsTextEmbedder {
    inner: Option<TextEmbedder>,
    backend: String,
    loaded_from: &'static str,
}

/// The backend a load asks for; only the CPU (wasm SIMD) backend is built so far.
fn choose_backend(requested: Option<String>) -> Result<String> {
    match requested.as_deref().unwrap_or("auto") {
        "auto" | "wasm" | "cpu" => Ok("wasm".into()),
        b @ ("webgpu" | "webnn") => {
            Err(Error::BackendUnavailable(format!("{b} (not built yet; use 'wasm' or 'auto')")))
        }
        other => {
            Err(Error::arg("TextEmbedder.load", format!("backend '{other}' is not one of auto, wasm, webgpu, webnn")))
        }
    }
}

fn parse_options(opts: &JsValue) -> Result<(EmbedderOptions, String, Option<js_sys::Function>)> {
    const OP: &str = "TextEmbedder.load";
    check_options(OP, opts)?;
    let backend = choose_backend(string_field(OP, opts, "backend")?)?;
    let progress = function_field(OP, opts, "onProgress")?;
    let normalize =
        if field(opts, "normalize").is_undefined() { None } else { Some(bool_field(OP, opts, "normalize", true)?) };
    let o = EmbedderOptions {
        pooling: string_field(OP, opts, "pooling")?.map(|p| Pooling::parse(&p)).transpose()?,
        normalize,
        truncation: string_field(OP, opts, "truncation")?
            .map(|t| Truncation::parse(&t))
            .transpose()?
            .unwrap_or_default(),
    };
    Ok((o, backend, progress))
}

#[wasm_bindgen(js_class = TextEmbedder)]
impl JsTextEmbedder {
    /// Loads `config.json`, `tokenizer.json`, `model.safetensors` (and the
    /// sentence-transformers pooling configs when present) from `baseUrl`, through the
    /// weight store: from IndexedDB when it holds the model, else downloaded into it.
    /// Options: `{ backend, onProgress({file, loaded, total}), pooling, normalize,
    /// truncation, cache = true, store }`.
    pub async fn load(base_url: JsValue, opts: JsValue) -> std::result::Result<JsTextEmbedder, JsValue> {
        let base =
            base_url.as_string().ok_or_else(|| to_js(Error::arg("TextEmbedder.load", "baseUrl must be a string")))?;
        let (o, backend, progress) = parse_options(&opts).map_err(to_js)?;
        let store = store_for("TextEmbedder.load", &opts).await.map_err(to_js)?;
        let (files, origin) = load_model_files(&base, store.as_deref(), progress.as_ref()).await.map_err(to_js)?;
        let inner = TextEmbedder::from_files(files, &o).map_err(to_js)?;
        Ok(JsTextEmbedder { inner: Some(inner), backend, loaded_from: origin.name() })
    }

    /// Where the files came from: "cache" (the weight store) or "network".
    #[wasm_bindgen(getter, js_name = loadedFrom)]
    pub fn loaded_from(&self) -> String {
        self.loaded_from.to_string()
    }

    fn get(&self) -> Result<&TextEmbedder> {
        self.inner.as_ref().ok_or(Error::Disposed("TextEmbedder"))
    }

    /// `embed(texts: string[]) → Promise<Float32Array[]>`; options `{}` reserved.
    pub fn embed(&self, texts: JsValue) -> js_sys::Promise {
        match self.embed_now(&texts) {
            Ok(v) => js_sys::Promise::resolve(&v),
            Err(e) => js_sys::Promise::reject(&to_js(e)),
        }
    }

    fn embed_now(&self, texts: &JsValue) -> Result<JsValue> {
        let e = self.get()?;
        let arr =
            texts.dyn_ref::<js_sys::Array>().ok_or_else(|| Error::arg("embed", "texts must be an array of strings"))?;
        let owned: Vec<String> = arr
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_string().ok_or_else(|| {
                    let kind = v.js_typeof().as_string().unwrap_or_default();
                    let kind = if v.is_null() { "null".into() } else { kind };
                    Error::arg("embed", format!("texts[{i}] is a {kind}, not a string"))
                })
            })
            .collect::<Result<_>>()?;
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let out = js_sys::Array::new();
        for v in e.embed(&refs)? {
            out.push(&js_sys::Float32Array::from(v.as_slice()));
        }
        Ok(out.into())
    }

    /// Tokens `text` takes after truncation, special tokens included.
    #[wasm_bindgen(js_name = tokenCount)]
    pub fn token_count(&self, text: JsValue) -> std::result::Result<usize, JsValue> {
        let t = text.as_string().ok_or_else(|| to_js(Error::arg("tokenCount", "text must be a string")))?;
        self.get().and_then(|e| e.token_count(&t)).map_err(to_js)
    }

    #[wasm_bindgen(getter)]
    pub fn dims(&self) -> usize {
        self.inner.as_ref().map_or(0, TextEmbedder::dims)
    }

    /// The backend running the model: "wasm" (the CPU SIMD backend).
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    #[wasm_bindgen(getter, js_name = maxTokens)]
    pub fn max_tokens(&self) -> usize {
        self.inner.as_ref().map_or(0, TextEmbedder::max_tokens)
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
