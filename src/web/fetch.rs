//! Downloading model files with the global `fetch` (window, worker or Node), streaming
//! the body into an aligned buffer and reporting byte progress.

use crate::error::{Error, Result};
use crate::models::files as names;
use crate::models::ModelFiles;
use crate::weights::AlignedBuf;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(url: &str) -> std::result::Result<js_sys::Promise, JsValue>;
}

fn failed(url: &str, reason: impl Into<String>) -> Error {
    Error::FetchFailed { url: url.to_string(), reason: reason.into() }
}

fn js_reason(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "network error".into())
}

/// Reports `{ file, loaded, total }` to the caller's callback; a callback that throws
/// does not stop the download.
fn report(progress: Option<&js_sys::Function>, file: &str, loaded: usize, total: Option<usize>) {
    if let Some(f) = progress {
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &"file".into(), &file.into());
        let _ = js_sys::Reflect::set(&o, &"loaded".into(), &(loaded as f64).into());
        let total = total.map_or(JsValue::UNDEFINED, |t| (t as f64).into());
        let _ = js_sys::Reflect::set(&o, &"total".into(), &total);
        let _ = f.call1(&JsValue::NULL, &o);
    }
}

/// The body of `url`, or `None` for a 404 when `optional`.
pub async fn fetch_bytes(
    url: &str,
    file: &str,
    progress: Option<&js_sys::Function>,
    optional: bool,
) -> Result<Option<AlignedBuf>> {
    let promise = global_fetch(url).map_err(|e| failed(url, js_reason(&e)))?;
    let resp: web_sys::Response = JsFuture::from(promise)
        .await
        .map_err(|e| failed(url, js_reason(&e)))?
        .dyn_into()
        .map_err(|_| failed(url, "fetch did not return a Response"))?;
    if resp.status() == 404 && optional {
        return Ok(None);
    }
    if !resp.ok() {
        return Err(failed(url, format!("HTTP {} {}", resp.status(), resp.status_text())));
    }
    let total = resp.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<usize>().ok());
    let mut buf = AlignedBuf::with_capacity(total.unwrap_or(0));
    report(progress, file, 0, total);
    let body = resp.body().ok_or_else(|| failed(url, "the response has no body"))?;
    let reader: web_sys::ReadableStreamDefaultReader =
        body.get_reader().dyn_into().map_err(|_| failed(url, "the body cannot be read as a stream"))?;
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| failed(url, format!("the download broke off: {}", js_reason(&e))))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        if done {
            break;
        }
        let value: js_sys::Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())
            .ok()
            .and_then(|v| v.dyn_into().ok())
            .ok_or_else(|| failed(url, "the body stream yielded something other than bytes"))?;
        value.copy_to(buf.grow(value.length() as usize));
        report(progress, file, buf.len(), total);
    }
    if let Some(t) = total {
        if buf.len() != t {
            return Err(failed(url, format!("received {} of {t} bytes", buf.len())));
        }
    }
    Ok(Some(buf))
}

/// Fetches a model laid out in Hugging Face form under `base` (a URL ending in `/` or not).
pub async fn fetch_model_files(base: &str, progress: Option<&js_sys::Function>) -> Result<ModelFiles> {
    let base = if base.ends_with('/') { base.to_string() } else { format!("{base}/") };
    let get = |file: &'static str, optional: bool| {
        let url = format!("{base}{file}");
        async move { fetch_bytes(&url, file, progress, optional).await.map(|b| b.map(|b| b.as_bytes().to_vec())) }
    };
    let config = get(names::CONFIG, false).await?.unwrap_or_default();
    let tokenizer = get(names::TOKENIZER, false).await?.unwrap_or_default();
    let pooling = get(names::POOLING, true).await?;
    let sentence_bert = get(names::SENTENCE_BERT, true).await?;
    let modules = get(names::MODULES, true).await?;
    let weights_url = format!("{base}{}", names::WEIGHTS);
    let weights = fetch_bytes(&weights_url, names::WEIGHTS, progress, false).await?.unwrap_or_default();
    Ok(ModelFiles { config, tokenizer, weights, pooling, sentence_bert, modules })
}
