//! The JS `Session`: `Session.create({ budget })`, passed to `load` as `{ session }`;
//! loads without one share the page's implicit session (`Session.page()`). Sessions
//! live in a registry by id, so an options object can name one by its handle.

use super::error::to_js;
use super::options::{check_known, check_options, plain, u64_field};
use crate::error::{Error, Result};
use crate::runtime::Session;
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use wasm_bindgen::prelude::*;

thread_local! {
    static SESSIONS: RefCell<HashMap<u32, Session>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u32> = const { Cell::new(1) };
    /// The session of loads that name none (id 0).
    static PAGE: Session = Session::default();
}

#[wasm_bindgen(js_name = Session)]
pub struct JsSession {
    id: u32,
}

/// The session `v` (an options object's `session`) names: the page's when absent.
pub fn session_of(op: &'static str, v: &JsValue) -> Result<Session> {
    if v.is_undefined() || v.is_null() {
        return Ok(PAGE.with(Session::clone));
    }
    let bad = || Error::arg(op, "option session must be a Session (from Session.create)");
    let id = js_sys::Reflect::get(v, &"id".into()).map_err(|_| Error::Disposed("Session"))?;
    get(id.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).ok_or_else(bad)? as u32)
}

/// The session with handle `id` (0: the page's); a freed handle's is `disposed`.
fn get(id: u32) -> Result<Session> {
    match id {
        0 => Ok(PAGE.with(Session::clone)),
        id => SESSIONS.with(|s| s.borrow().get(&id).cloned()).ok_or(Error::Disposed("Session")),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    models: usize,
    /// Bytes per device: the weights on the CPU side (wasm memory), and WebGPU's weights
    /// and plan buffers.
    bytes: Bytes,
    tensors: Tensors,
    plans: Cache,
    outputs: Cache,
    queue: Queue,
}

#[derive(Serialize)]
struct Bytes {
    wasm: u64,
    webgpu: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tensors {
    count: usize,
    /// Tensors used by more than one model, and the most models sharing one.
    shared: usize,
    max_sharing: usize,
}

#[derive(Serialize)]
struct Cache {
    hits: u64,
    misses: u64,
}

#[derive(Serialize)]
struct Queue {
    wasm: usize,
    webgpu: usize,
    webnn: usize,
}

#[wasm_bindgen(js_class = Session)]
impl JsSession {
    /// Options: `{ budget }`, the bytes of outputs the session's cache keeps (default
    /// 16 MiB; 0 turns the cache off).
    pub fn create(opts: JsValue) -> std::result::Result<JsSession, JsValue> {
        const OP: &str = "Session.create";
        check_options(OP, &opts).map_err(to_js)?;
        check_known(OP, &opts, &["budget"]).map_err(to_js)?;
        let budget = u64_field(OP, &opts, "budget").map_err(to_js)?;
        let id = NEXT.with(|n| n.replace(n.get() + 1));
        SESSIONS.with(|s| s.borrow_mut().insert(id, Session::new(budget)));
        Ok(JsSession { id })
    }

    /// The page's implicit session, which loads naming no session share.
    pub fn page() -> JsSession {
        JsSession { id: 0 }
    }

    #[wasm_bindgen(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// `{ models, bytes: { wasm, webgpu }, tensors: { count, shared, maxSharing },
    /// plans: { hits, misses }, outputs: { hits, misses }, queue: { wasm, webgpu, webnn } }`.
    pub fn stats(&self) -> std::result::Result<JsValue, JsValue> {
        let s = get(self.id).map_err(to_js)?.stats();
        plain(&Stats {
            models: s.models,
            bytes: Bytes { wasm: s.tensor_bytes, webgpu: s.gpu_bytes },
            tensors: Tensors { count: s.tensors, shared: s.shared_tensors, max_sharing: s.max_sharing },
            plans: Cache { hits: s.plan_hits, misses: s.plan_misses },
            outputs: Cache { hits: s.outputs.hits, misses: s.outputs.misses },
            queue: Queue { wasm: s.queue[0], webgpu: s.queue[1], webnn: s.queue[2] },
        })
    }
}

impl Drop for JsSession {
    /// The handle goes; models loaded in the session keep what they share until they go.
    fn drop(&mut self) {
        let _ = SESSIONS.try_with(|s| s.borrow_mut().remove(&self.id));
    }
}
