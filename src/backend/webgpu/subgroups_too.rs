//! Asks the browser for `subgroups`, which wgpu 30 cannot: its browser backend has no entry
//! for the feature in its mapping (`FEATURES_MAPPING` in `wgpu/src/backend/webgpu.rs`), so
//! Chromium's subgroups would never reach a device. `GPUAdapter.prototype.requestDevice`
//! is wrapped once in a Proxy that, only while `set(true)` is in force (the synchronous
//! moment our own request is made), adds `subgroups` to the required features where the
//! adapter has it. Every other caller on the page passes straight through. WGSL reaches the
//! browser unparsed, so kernels with `enable subgroups;` compile on such a device.

use js_sys::{Array, Function, Object, Promise, Proxy, Reflect};
use std::cell::Cell;
use wasm_bindgen::{prelude::*, JsCast};

thread_local! {
    static WANT: Cell<bool> = const { Cell::new(false) };
    static INSTALLED: Cell<bool> = const { Cell::new(false) };
}

/// Turns the wrapper on for the next request (installing it the first time), or off.
pub fn set(on: bool) {
    if on && !INSTALLED.with(Cell::get) {
        INSTALLED.with(|i| i.set(install().is_some()));
    }
    WANT.with(|w| w.set(on));
}

/// Whether a GPUAdapter or GPUDevice lists the feature `name`.
pub fn has_feature(owner: &JsValue, name: &str) -> bool {
    let Ok(features) = Reflect::get(owner, &"features".into()) else { return false };
    Reflect::get(&features, &"has".into())
        .ok()
        .and_then(|has| has.dyn_into::<Function>().ok())
        .and_then(|has| has.call1(&features, &name.into()).ok())
        .is_some_and(|v| v.is_truthy())
}

fn install() -> Option<()> {
    let class = Reflect::get(&js_sys::global(), &"GPUAdapter".into()).ok()?;
    let proto = Reflect::get(&class, &"prototype".into()).ok().filter(|p| p.is_object())?;
    let original = Reflect::get(&proto, &"requestDevice".into()).ok()?.dyn_into::<Function>().ok()?;
    // A Proxy's apply trap receives `this`, which a wasm-bindgen closure alone cannot.
    let trap = Closure::<dyn FnMut(JsValue, JsValue, Array) -> JsValue>::new(
        |target: JsValue, adapter: JsValue, args: Array| {
            if WANT.with(Cell::get) && has_feature(&adapter, "subgroups") {
                add_subgroups(&args.get(0));
            }
            let target: Function = target.unchecked_into();
            Reflect::apply(&target, &adapter, &args).unwrap_or_else(|e| Promise::reject(&e).into())
        },
    );
    let handler = Object::new();
    Reflect::set(&handler, &"apply".into(), trap.as_ref()).ok()?;
    // The wrapper lives as long as the page's GPUAdapter prototype does.
    trap.forget();
    Reflect::set(&proto, &"requestDevice".into(), &Proxy::new(&original, &handler)).ok()?;
    Some(())
}

fn add_subgroups(descriptor: &JsValue) {
    let Ok(list) = Reflect::get(descriptor, &"requiredFeatures".into()) else { return };
    if let Some(list) = list.dyn_ref::<Array>() {
        if !list.includes(&"subgroups".into(), 0) {
            list.push(&"subgroups".into());
        }
    }
}
