//! Downloading with the global `fetch` (window, worker or Node): a `Download` streams a
//! response body piece by piece, optionally resuming at a byte offset with a Range request,
//! under the caller's abort signal and stall limit.

use super::control::{Control, Interrupted};
use super::ipfs_fetch::IpfsDir;
use super::remote::Remote;
use super::sink::{FileSink, JsSink};
use crate::error::{Error, Result};
use crate::models::{FileSpec, ModelFiles};
use crate::weights::{AlignedBuf, Lookup, Sink, MAX_BUFFER_BYTES};
use std::collections::HashMap;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(url: &str, init: &JsValue) -> std::result::Result<js_sys::Promise, JsValue>;
}

pub fn failed(url: &str, reason: impl Into<String>) -> Error {
    Error::FetchFailed { url: url.to_string(), reason: reason.into() }
}

fn js_reason(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "network error".into())
}

/// Lets `p` settle unobserved: a cancel of a stream the signal already errored rejects
/// with the abort reason, which must not surface as an unhandled rejection.
fn quietly(p: js_sys::Promise) {
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(p).await;
    });
}

/// Reports `{ file, loaded, total }` to the caller's callback; a callback that throws
/// does not stop the download.
pub fn report(progress: Option<&js_sys::Function>, file: &str, loaded: u64, total: Option<u64>) {
    if let Some(f) = progress {
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &"file".into(), &file.into());
        let _ = js_sys::Reflect::set(&o, &"loaded".into(), &(loaded as f64).into());
        let total = total.map_or(JsValue::UNDEFINED, |t| (t as f64).into());
        let _ = js_sys::Reflect::set(&o, &"total".into(), &total);
        let _ = f.call1(&JsValue::NULL, &o);
    }
}

/// A response being read: where its body starts in the file, the file's full size and
/// its validators.
pub struct Download {
    pub url: String,
    /// The byte offset of the body within the file (non-zero for a 206 answer).
    pub start: u64,
    /// The whole file's size, when the server says.
    pub total: Option<u64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    received: u64,
    reader: web_sys::ReadableStreamDefaultReader,
    control: Control,
}

/// The error for a wait on `url` that ended early: aborted, stalled, or the promise's own
/// rejection described by `rejected`.
fn interrupted(url: &str, control: &Control, i: Interrupted, rejected: impl FnOnce(&JsValue) -> String) -> Error {
    match i {
        Interrupted::Aborted(e) => e,
        // The signal also cancels the fetch itself, which may reject first.
        Interrupted::Rejected(e) => match control.check() {
            Err(aborted) => aborted,
            Ok(()) => failed(url, rejected(&e)),
        },
        Interrupted::Stalled => {
            let ms = control.stall_ms().unwrap_or(0.0);
            failed(url, format!("no bytes arrived for {ms} ms (the stallTimeoutMs option)"))
        }
    }
}

/// Starts `GET url`. With `resume = (offset, validator)` it asks for the bytes from
/// `offset` on, only if the file still matches `validator` (If-Range); the server may
/// answer with the whole file instead, which `start == 0` shows. `None` for a 404. A file
/// larger than one buffer can hold is `out_of_memory` before any of its body is read.
pub async fn open(url: &str, resume: Option<(u64, &str)>, control: &Control) -> Result<Option<Download>> {
    match resume {
        Some((offset, validator)) => {
            open_with(url, &[("Range", &format!("bytes={offset}-")), ("If-Range", validator)], false, control).await
        }
        None => open_with(url, &[], false, control).await,
    }
}

/// `open` with the request headers `headers`; `no_store` keeps the answer out of the
/// browser's HTTP cache (for content the caller verifies and stores itself, where a cached
/// broken answer would only be served again).
pub async fn open_with(
    url: &str,
    headers: &[(&str, &str)],
    no_store: bool,
    control: &Control,
) -> Result<Option<Download>> {
    let init = js_sys::Object::new();
    if no_store {
        let _ = js_sys::Reflect::set(&init, &"cache".into(), &"no-store".into());
    }
    if let Some(signal) = control.signal() {
        let _ = js_sys::Reflect::set(&init, &"signal".into(), signal);
    }
    if !headers.is_empty() {
        let h = js_sys::Object::new();
        for (k, v) in headers {
            let _ = js_sys::Reflect::set(&h, &(*k).into(), &(*v).into());
        }
        let _ = js_sys::Reflect::set(&init, &"headers".into(), &h);
    }
    let promise = global_fetch(url, &init).map_err(|e| failed(url, js_reason(&e)))?;
    let resp: web_sys::Response = control
        .wait_progress(promise)
        .await
        .map_err(|i| interrupted(url, control, i, js_reason))?
        .dyn_into()
        .map_err(|_| failed(url, "fetch did not return a Response"))?;
    if resp.status() == 404 {
        return Ok(None);
    }
    if !resp.ok() {
        return Err(failed(url, format!("HTTP {} {}", resp.status(), resp.status_text())));
    }
    let header = |name: &str| resp.headers().get(name).ok().flatten();
    let length = header("content-length").and_then(|v| v.parse::<u64>().ok());
    let (start, total) = if resp.status() == 206 {
        // "bytes 100-199/200"
        let range = header("content-range").unwrap_or_default();
        let parsed = range.strip_prefix("bytes ").and_then(|r| {
            let (span, total) = r.split_once('/')?;
            Some((span.split_once('-')?.0.parse::<u64>().ok()?, total.parse::<u64>().ok()))
        });
        parsed.ok_or_else(|| failed(url, format!("a 206 answer with an unreadable Content-Range '{range}'")))?
    } else {
        (0, length)
    };
    let body = resp.body().ok_or_else(|| failed(url, "the response has no body"))?;
    if let Some(t) = total.filter(|&t| t > MAX_BUFFER_BYTES) {
        quietly(body.cancel());
        return Err(Error::OutOfMemory(format!(
            "{url} is {t} bytes, over the {MAX_BUFFER_BYTES} bytes one buffer can hold here"
        )));
    }
    let reader = body.get_reader().dyn_into().map_err(|_| failed(url, "the body cannot be read as a stream"))?;
    Ok(Some(Download {
        url: url.into(),
        start,
        total,
        etag: header("etag"),
        last_modified: header("last-modified"),
        received: 0,
        reader,
        control: control.clone(),
    }))
}

impl Download {
    /// The next piece of the body, `None` at its end. A connection that breaks, a body
    /// shorter than announced, or no bytes within the stall limit is `fetch_failed`; the
    /// signal firing is `aborted`.
    pub async fn next(&mut self) -> Result<Option<js_sys::Uint8Array>> {
        let at = self.start + self.received;
        let chunk = match self.control.wait_progress(self.reader.read()).await {
            Ok(c) => c,
            Err(i) => {
                // Stop the transfer rather than let it run on unread.
                quietly(self.reader.cancel());
                return Err(interrupted(&self.url, &self.control, i, |e| {
                    format!("the download broke off at byte {at}: {}", js_reason(e))
                }));
            }
        };
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        if done {
            if let Some(t) = self.total {
                if self.start + self.received != t {
                    let got = self.start + self.received;
                    return Err(failed(&self.url, format!("the body ended at byte {got} of {t}")));
                }
            }
            return Ok(None);
        }
        let value: js_sys::Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())
            .ok()
            .and_then(|v| v.dyn_into().ok())
            .ok_or_else(|| failed(&self.url, "the body stream yielded something other than bytes"))?;
        self.received += value.length() as u64;
        Ok(Some(value))
    }
}

/// The body of `url` in one aligned buffer, or `None` for a 404 when `optional`.
pub async fn fetch_bytes(
    url: &str,
    file: &str,
    progress: Option<&js_sys::Function>,
    optional: bool,
    control: &Control,
) -> Result<Option<AlignedBuf>> {
    let mut buf = AlignedBuf::default();
    Ok(fetch_into(url, file, progress, optional, control, &mut buf).await?.then_some(buf))
}

/// The body of `url` into `sink`; `false` for a 404 when `optional`.
async fn fetch_into(
    url: &str,
    file: &str,
    progress: Option<&js_sys::Function>,
    optional: bool,
    control: &Control,
    sink: &mut dyn JsSink,
) -> Result<bool> {
    let Some(mut d) = open(url, None, control).await? else {
        return if optional { Ok(false) } else { Err(failed(url, "HTTP 404 Not Found")) };
    };
    sink.sized(d.total.unwrap_or(0))?;
    report(progress, file, 0, d.total);
    while let Some(piece) = d.next().await? {
        sink.put_js(&piece)?;
        report(progress, file, sink.received(), d.total);
    }
    Ok(true)
}

/// Fetches a model laid out in Hugging Face form under the URL `base`, without the store.
pub async fn fetch_model_files(
    base: &str,
    spec: &[FileSpec],
    progress: Option<&js_sys::Function>,
    control: &Control,
) -> Result<ModelFiles> {
    let remote = Remote::Http { base: crate::source::normalize_base(base) };
    fetch_files(&remote, spec, progress, control, None).await
}

/// Fetches a model's files from `remote`, without the store. With `held` (what the
/// session holds, by content), the weights file is read tensor by tensor and a tensor the
/// session has is taken from it rather than allocated again.
pub async fn fetch_files(
    remote: &Remote,
    spec: &[FileSpec],
    progress: Option<&js_sys::Function>,
    control: &Control,
    held: Option<Lookup<'_>>,
) -> Result<ModelFiles> {
    let ipfs = remote.ipfs(progress, control);
    let mut got = HashMap::new();
    for f in spec {
        let url = format!("{}{}", remote.key(), f.name);
        let optional = !f.required;
        let mut sink = FileSink::for_file(f.name, held);
        let read = read_into(ipfs.as_ref(), &url, f.name, progress, optional, control, &mut sink)
            .await?
            .then(|| sink.finish());
        if let Some(s) = read.transpose()? {
            got.insert(f.name, s);
        }
    }
    ModelFiles::from_streamed(spec, got)
}

/// One file into `sink`: from the directory's gateways when there is one, else from `url`;
/// `false` for an optional file that is absent.
async fn read_into(
    dir: Option<&IpfsDir<'_>>,
    url: &str,
    file: &str,
    progress: Option<&js_sys::Function>,
    optional: bool,
    control: &Control,
    sink: &mut dyn JsSink,
) -> Result<bool> {
    match dir {
        Some(dir) => dir.read_into(file, optional, sink).await,
        None => fetch_into(url, file, progress, optional, control, sink).await,
    }
}
