//! Turns SDK errors into JS `Error`s that carry a stable `code` property.

use crate::error::Error;
use wasm_bindgen::JsValue;

/// A JS `Error` whose message is the SDK error's and whose `code` is `Error::code`.
pub fn to_js(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("IpfsAccelerateError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().into());
    if let Error::QuotaExceeded { needed, available, .. } = e {
        let _ = js_sys::Reflect::set(&err, &"needed".into(), &(needed as f64).into());
        let _ = js_sys::Reflect::set(&err, &"available".into(), &(available as f64).into());
    }
    err.into()
}
