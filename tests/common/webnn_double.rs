//! The WebNN TEST DOUBLE (tests/webnn-double/, a JS implementation of the spec that
//! computes for real) installed as `navigator.ml` in the test's page, since this
//! machine's browsers cannot run WebNN. Never shipped: only tests import it.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/tests/webnn-double/index.js")]
extern "C" {
    #[wasm_bindgen(js_name = installWebnnDouble)]
    fn install_webnn_double() -> JsValue;
}

// wasm-bindgen copies a module only when something imports from it, and does not follow
// the double's own relative imports: these land ops.js and movement.js beside index.js.
#[wasm_bindgen(module = "/tests/webnn-double/ops.js")]
extern "C" {
    #[wasm_bindgen(js_name = count)]
    fn ops_count(shape: &js_sys::Array) -> f64;
}
#[wasm_bindgen(module = "/tests/webnn-double/movement.js")]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = MOVEMENT_OPS)]
    static MOVEMENT_OPS: bool;
}

thread_local! {
    static CONTROL: std::cell::OnceCell<JsValue> = const { std::cell::OnceCell::new() };
}

/// Installs the double once per page and returns its control object (`reject`,
/// `unsupported`, `counts`, `lose`).
pub fn install() -> JsValue {
    CONTROL.with(|c| {
        c.get_or_init(|| {
            // Touch the helper modules so they are part of the bundle.
            let _ = ops_count(&js_sys::Array::new());
            let _ = MOVEMENT_OPS.with(|m| *m);
            install_webnn_double()
        })
        .clone()
    })
}

/// One of the double's counters (`builds`, `dispatches`, `constants`, ...).
pub fn count(name: &str) -> f64 {
    let counts = js_sys::Reflect::get(&install(), &"counts".into()).unwrap();
    js_sys::Reflect::get(&counts, &name.into()).unwrap().as_f64().unwrap()
}

/// Makes the double's `opSupportLimits()` list no data type for `op` (or lists it again).
pub fn refuse(op: &str, refused: bool) {
    let set = js_sys::Reflect::get(&install(), &"unsupported".into()).unwrap();
    let method = if refused { "add" } else { "delete" };
    let f: js_sys::Function = js_sys::Reflect::get(&set, &method.into()).unwrap().into();
    f.call1(&set, &op.into()).unwrap();
}

/// Makes `createContext` reject with a DOMException of this name (or not, with None).
pub fn reject_contexts(name: Option<&str>) {
    let v = name.map(JsValue::from_str).unwrap_or(JsValue::NULL);
    js_sys::Reflect::set(&install(), &"reject".into(), &v).unwrap();
}

/// The double's milliseconds per op so far, as JSON (where a slow reference spends).
pub fn times() -> String {
    let t = js_sys::Reflect::get(&install(), &"times".into()).unwrap();
    js_sys::JSON::stringify(&t).map(String::from).unwrap_or_default()
}
