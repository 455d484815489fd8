//! The JS `Session`: `Session.create({ budget, gateways })`, passed to `load` as
//! `{ session }`; loads without one share the page's implicit session (`Session.page()`).
//! Sessions live in a registry by id, so an options object can name one by its handle.
//! A session's `gateways` are the IPFS gateways its loads use unless they name their own.

use super::error::to_js;
use super::options::{check_known, check_options, field, plain, u64_field};
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
    /// The IPFS gateways a session's loads default to, by session id, where set.
    static GATEWAYS: RefCell<HashMap<u32, Vec<String>>> = RefCell::new(HashMap::new());
}

/// The id of the session `v` names (0, the page's, when absent).
fn id_of(v: &JsValue) -> Option<u32> {
    if v.is_undefined() || v.is_null() {
        return Some(0);
    }
    let id = js_sys::Reflect::get(v, &"id".into()).ok()?.as_f64()?;
    (id.fract() == 0.0 && id >= 0.0).then_some(id as u32)
}

/// The gateways of the session `v` names, where it has some.
pub fn gateways_of(v: &JsValue) -> Option<Vec<String>> {
    let id = id_of(v)?;
    GATEWAYS.with(|g| g.borrow().get(&id).cloned())
}

/// Reads a `gateways` value: an array of absolute http(s) URLs, at least one.
fn read_gateways(op: &'static str, v: &JsValue) -> Result<Vec<String>> {
    let list: Vec<String> = serde_wasm_bindgen::from_value(v.clone())
        .map_err(|_| Error::arg(op, "gateways must be an array of gateway URLs"))?;
    crate::source::check_gateways(op, list)
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
    webnn: WebNn,
}

#[derive(Serialize)]
struct Bytes {
    wasm: u64,
    webgpu: u64,
    webnn: u64,
}

/// The WebNN backends' work: graphs built, dispatches, and nodes run on the CPU instead
/// (`fallback`: why, one line per reason).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebNn {
    builds: u64,
    dispatches: u64,
    fallback_nodes: u64,
    fallback: Vec<String>,
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
    /// 16 MiB; 0 turns the cache off), and `{ gateways }`, the IPFS gateways its loads use
    /// unless they name their own.
    pub fn create(opts: JsValue) -> std::result::Result<JsSession, JsValue> {
        const OP: &str = "Session.create";
        check_options(OP, &opts).map_err(to_js)?;
        check_known(OP, &opts, &["budget", "gateways"]).map_err(to_js)?;
        let budget = u64_field(OP, &opts, "budget").map_err(to_js)?;
        let gateways = match field(&opts, "gateways") {
            v if v.is_undefined() || v.is_null() => None,
            v => Some(read_gateways(OP, &v).map_err(to_js)?),
        };
        let id = NEXT.with(|n| n.replace(n.get() + 1));
        SESSIONS.with(|s| s.borrow_mut().insert(id, Session::new(budget)));
        if let Some(g) = gateways {
            GATEWAYS.with(|m| m.borrow_mut().insert(id, g));
        }
        Ok(JsSession { id })
    }

    /// The IPFS gateways the session's loads default to (null: the SDK's defaults).
    #[wasm_bindgen(getter)]
    pub fn gateways(&self) -> JsValue {
        match GATEWAYS.with(|g| g.borrow().get(&self.id).cloned()) {
            Some(list) => list.into_iter().map(JsValue::from).collect::<js_sys::Array>().into(),
            None => JsValue::NULL,
        }
    }

    /// Sets them (null: back to the SDK's defaults); on `Session.page()`, for every load
    /// that names no session.
    #[wasm_bindgen(setter)]
    pub fn set_gateways(&self, v: JsValue) -> std::result::Result<(), JsValue> {
        get(self.id).map_err(to_js)?;
        let list = match v.is_undefined() || v.is_null() {
            true => None,
            false => Some(read_gateways("Session.gateways", &v).map_err(to_js)?),
        };
        GATEWAYS.with(|g| match list {
            Some(l) => g.borrow_mut().insert(self.id, l),
            None => g.borrow_mut().remove(&self.id),
        });
        Ok(())
    }

    /// The page's implicit session, which loads naming no session share.
    pub fn page() -> JsSession {
        JsSession { id: 0 }
    }

    #[wasm_bindgen(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// `{ models, bytes: { wasm, webgpu, webnn }, tensors: { count, shared, maxSharing },
    /// plans: { hits, misses }, outputs: { hits, misses }, queue: { wasm, webgpu, webnn },
    /// webnn: { builds, dispatches, fallbackNodes, fallback } }`.
    pub fn stats(&self) -> std::result::Result<JsValue, JsValue> {
        let s = get(self.id).map_err(to_js)?.stats();
        plain(&Stats {
            models: s.models,
            bytes: Bytes { wasm: s.tensor_bytes, webgpu: s.gpu_bytes, webnn: s.webnn.constant_bytes },
            tensors: Tensors { count: s.tensors, shared: s.shared_tensors, max_sharing: s.max_sharing },
            plans: Cache { hits: s.plan_hits, misses: s.plan_misses },
            outputs: Cache { hits: s.outputs.hits, misses: s.outputs.misses },
            queue: Queue { wasm: s.queue[0], webgpu: s.queue[1], webnn: s.queue[2] },
            webnn: WebNn {
                builds: s.webnn.builds,
                dispatches: s.webnn.dispatches,
                fallback_nodes: s.webnn.fallback_nodes,
                fallback: s.webnn.fallback,
            },
        })
    }
}

impl Drop for JsSession {
    /// The handle goes; models loaded in the session keep what they share until they go.
    fn drop(&mut self) {
        let _ = SESSIONS.try_with(|s| s.borrow_mut().remove(&self.id));
        if self.id != 0 {
            let _ = GATEWAYS.try_with(|g| g.borrow_mut().remove(&self.id));
        }
    }
}
