//! The JS `TextEmbedder`: `await TextEmbedder.load(baseUrl, opts)`, then `embed(texts)`.

use super::control::{signal_field, yield_now, Control};
use super::error::to_js;
use super::model::{model_members, JsModel, Runner};
use super::options::check_options;
use crate::backend::webgpu::WebGpuBackend;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::models::{EmbedderOptions, FileSpec, ModelFiles, TextEmbedder};
use crate::runtime::Session;
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(js_name = TextEmbedder)]
pub struct JsTextEmbedder(JsModel<TextEmbedder>);

impl Runner for TextEmbedder {
    const CLASS: &'static str = "TextEmbedder";
    const FILES: &'static [FileSpec] = TextEmbedder::FILES;
    type Options = EmbedderOptions;
    fn build(files: ModelFiles, opts: &EmbedderOptions, session: &Session) -> Result<Self> {
        TextEmbedder::from_files_in(files, opts, session)
    }
    fn set_backend(&mut self, backend: Arc<dyn Backend>) {
        TextEmbedder::set_backend(self, backend)
    }
    fn webgpu(&self) -> Option<&WebGpuBackend> {
        TextEmbedder::webgpu(self)
    }
}

#[wasm_bindgen(js_class = TextEmbedder)]
impl JsTextEmbedder {
    /// Loads `config.json`, `tokenizer.json`, `model.safetensors` (and the
    /// sentence-transformers pooling configs when present) from `baseUrl`, through the
    /// weight store. Options: `{ backend ('auto' | 'wasm' | 'webgpu'), shaderVariant,
    /// onProgress({file, loaded, total}), pooling, normalize, truncation, cache = true,
    /// store, session, signal, stallTimeoutMs (default 30000) }`.
    pub async fn load(base_url: JsValue, opts: JsValue) -> std::result::Result<JsTextEmbedder, JsValue> {
        JsModel::load("TextEmbedder.load", base_url, opts).await.map(JsTextEmbedder)
    }

    /// `embed(texts: string[], { signal }) → Promise<Float32Array[]>`. Texts run in
    /// batches; between batches the call yields to the event loop (so timers and input
    /// run during a long call on the CPU) and stops with `aborted` if `signal` fired.
    pub fn embed(&self, texts: JsValue, opts: JsValue) -> js_sys::Promise {
        const OP: &str = "embed";
        let parsed = self.0.get().cloned().and_then(|e| {
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
        self.0.get().and_then(|e| e.token_count(&t)).map_err(to_js)
    }

    #[wasm_bindgen(getter)]
    pub fn dims(&self) -> usize {
        self.0.inner().map_or(0, |e| e.dims())
    }

    #[wasm_bindgen(getter, js_name = maxTokens)]
    pub fn max_tokens(&self) -> usize {
        self.0.inner().map_or(0, |e| e.max_tokens())
    }

    #[wasm_bindgen(getter)]
    pub fn pooling(&self) -> String {
        self.0.inner().map_or("", |e| e.pooling().name()).to_string()
    }

    /// The form the linear layers' weights are held in: the `dtype` load option's.
    #[wasm_bindgen(getter)]
    pub fn dtype(&self) -> String {
        self.0.inner().map_or("", |e| e.dtype()).to_string()
    }

    /// Bytes of wasm memory the model's weights hold (the f32 file, read in place; for
    /// another dtype, its quantized tensors and copies of the rest, the file freed).
    #[wasm_bindgen(getter, js_name = weightBytes)]
    pub fn weight_bytes(&self) -> f64 {
        self.0.inner().map_or(0.0, |e| e.weight_bytes() as f64)
    }
}

#[wasm_bindgen(js_class = TextEmbedder)]
impl JsTextEmbedder {
    /// The tokenizer as `tokenizer.json` text; a model in a worker sends it to the page.
    #[wasm_bindgen(js_name = tokenizerJson)]
    pub fn tokenizer_json(&self) -> std::result::Result<String, JsValue> {
        self.0.get().and_then(|e| e.tokenizer_json()).map_err(to_js)
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

model_members!(JsTextEmbedder, TextEmbedder);
