//! Reading plain JS values (arrays of dims, option objects) with errors instead of traps.

use crate::error::{Error, Result};
use wasm_bindgen::{JsCast, JsValue};

/// A JS array of non-negative integers, e.g. dims or a permutation.
pub fn usizes(op: &'static str, what: &str, v: &JsValue) -> Result<Vec<usize>> {
    let arr =
        v.dyn_ref::<js_sys::Array>().ok_or_else(|| Error::arg(op, format!("{what} must be an array of integers")))?;
    arr.iter().map(|x| usize_of(op, what, &x)).collect()
}

/// One non-negative integer.
pub fn usize_of(op: &'static str, what: &str, x: &JsValue) -> Result<usize> {
    match x.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u32::MAX as f64 => Ok(f as usize),
        _ => Err(Error::arg(op, format!("{what} must hold non-negative integers, found {x:?}"))),
    }
}

/// A JS array of integers that may be negative (axes counted from the end).
pub fn isizes(op: &'static str, what: &str, v: &JsValue) -> Result<Vec<isize>> {
    let arr =
        v.dyn_ref::<js_sys::Array>().ok_or_else(|| Error::arg(op, format!("{what} must be an array of integers")))?;
    arr.iter().map(|x| int(op, what, &x)).collect()
}

pub fn int(op: &'static str, what: &str, x: &JsValue) -> Result<isize> {
    match x.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() <= i32::MAX as f64 => Ok(f as isize),
        _ => Err(Error::arg(op, format!("{what} must be an integer, found {x:?}"))),
    }
}

/// Field `key` of an options object; `undefined` when the object or the field is absent.
pub fn field(opts: &JsValue, key: &str) -> JsValue {
    if opts.is_object() {
        js_sys::Reflect::get(opts, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

pub fn bool_field(op: &'static str, opts: &JsValue, key: &str, default: bool) -> Result<bool> {
    let v = field(opts, key);
    if v.is_undefined() {
        return Ok(default);
    }
    v.as_bool().ok_or_else(|| Error::arg(op, format!("option {key} must be a boolean")))
}

pub fn f32_field(op: &'static str, opts: &JsValue, key: &str, default: f32) -> Result<f32> {
    let v = field(opts, key);
    if v.is_undefined() {
        return Ok(default);
    }
    match v.as_f64() {
        Some(f) if f.is_finite() => Ok(f as f32),
        _ => Err(Error::arg(op, format!("option {key} must be a finite number"))),
    }
}

/// An optional string option; `undefined` and `null` mean absent.
pub fn string_field(op: &'static str, opts: &JsValue, key: &str) -> Result<Option<String>> {
    let v = field(opts, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string().map(Some).ok_or_else(|| Error::arg(op, format!("option {key} must be a string")))
}

/// An optional non-negative whole number option (a byte count, say).
pub fn u64_field(op: &'static str, opts: &JsValue, key: &str) -> Result<Option<u64>> {
    let v = field(opts, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= 2f64.powi(53) => Ok(Some(f as u64)),
        _ => Err(Error::arg(op, format!("option {key} must be a non-negative integer"))),
    }
}

/// Checks that every key of the options object `opts` is one of `known` (an unknown
/// option, a typo say, is `invalid_argument` naming it and the known ones).
pub fn check_known(op: &'static str, opts: &JsValue, known: &[&str]) -> Result<()> {
    if !opts.is_object() {
        return Ok(());
    }
    let keys = js_sys::Object::keys(opts.unchecked_ref::<js_sys::Object>());
    match keys.iter().filter_map(|k| k.as_string()).find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(Error::arg(op, format!("unknown option '{key}' (known: {})", known.join(", ")))),
        None => Ok(()),
    }
}

/// Checks that `opts` is an options object (or absent).
pub fn check_options(op: &'static str, opts: &JsValue) -> Result<()> {
    if opts.is_undefined() || opts.is_null() || opts.is_object() {
        Ok(())
    } else {
        Err(Error::arg(op, "options must be an object"))
    }
}

/// A plain JS object (numbers, strings, arrays, `null`) from a Rust result struct.
pub fn plain<T: serde::Serialize>(v: &T) -> std::result::Result<JsValue, JsValue> {
    // Result structs hold strings, numbers and lists only, which always convert.
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| super::error::to_js(Error::arg("result", format!("cannot convert to JS: {e}"))))
}
