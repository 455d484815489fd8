//! The JS `Tensor` class: a host tensor built from a Float32Array (or Int32Array) and dims.

use super::error::to_js;
use super::options::usizes;
use crate::backend::cpu::zeroed;
use crate::error::Error;
use crate::tensor::{DType, Tensor};
use wasm_bindgen::prelude::*;

/// The array's values in wasm memory, allocated fallibly: an array larger than the
/// memory left is `out_of_memory`, not the trap `to_vec` would give.
fn copy_f32(a: &js_sys::Float32Array) -> Result<Vec<f32>, JsValue> {
    let mut v = zeroed(a.length() as usize, "Tensor data").map_err(to_js)?;
    a.copy_to(&mut v);
    Ok(v)
}

fn copy_i32(a: &js_sys::Int32Array) -> Result<Vec<i32>, JsValue> {
    let mut v = zeroed(a.length() as usize, "Tensor data").map_err(to_js)?;
    a.copy_to(&mut v);
    Ok(v)
}

#[wasm_bindgen(js_name = Tensor)]
pub struct JsTensor {
    pub(crate) inner: Tensor,
}

#[wasm_bindgen(js_class = Tensor)]
impl JsTensor {
    /// `new Tensor(data: Float32Array | number[], dims: number[])`.
    #[wasm_bindgen(constructor)]
    pub fn new(data: &JsValue, dims: &JsValue) -> Result<JsTensor, JsValue> {
        let dims = usizes("Tensor", "dims", dims).map_err(to_js)?;
        let values = if let Some(f) = data.dyn_ref::<js_sys::Float32Array>() {
            copy_f32(f)?
        } else if js_sys::Array::is_array(data) {
            copy_f32(&js_sys::Float32Array::new(data))?
        } else {
            return Err(to_js(Error::arg("Tensor", "data must be a Float32Array or an array of numbers")));
        };
        let inner = Tensor::from_f32(dims, values).map_err(to_js)?;
        Ok(JsTensor { inner })
    }

    /// An i32 tensor, for token ids and gather indices.
    #[wasm_bindgen(js_name = fromInt32)]
    pub fn from_int32(data: &JsValue, dims: &JsValue) -> Result<JsTensor, JsValue> {
        let dims = usizes("Tensor.fromInt32", "dims", dims).map_err(to_js)?;
        let values = if let Some(i) = data.dyn_ref::<js_sys::Int32Array>() {
            copy_i32(i)?
        } else if js_sys::Array::is_array(data) {
            copy_i32(&js_sys::Int32Array::new(data))?
        } else {
            return Err(to_js(Error::arg("Tensor.fromInt32", "data must be an Int32Array or an array of integers")));
        };
        let inner = Tensor::from_i32(dims, values).map_err(to_js)?;
        Ok(JsTensor { inner })
    }

    /// A tensor sharing this one's storage (no copy); freeing one leaves the other valid.
    #[wasm_bindgen(js_name = clone)]
    pub fn clone_js(&self) -> JsTensor {
        JsTensor { inner: self.inner.clone() }
    }

    #[wasm_bindgen(getter)]
    pub fn dims(&self) -> Vec<u32> {
        self.inner.dims().iter().map(|&d| d as u32).collect()
    }

    #[wasm_bindgen(getter)]
    pub fn dtype(&self) -> String {
        self.inner.dtype().name().to_string()
    }

    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.numel()
    }

    /// The elements, row-major, as a new Float32Array (i32 tensors are converted).
    #[wasm_bindgen(js_name = toFloat32Array)]
    pub fn to_float32_array(&self) -> js_sys::Float32Array {
        js_sys::Float32Array::from(self.inner.to_f32_vec().as_slice())
    }

    /// The elements of an i32 tensor as a new Int32Array.
    #[wasm_bindgen(js_name = toInt32Array)]
    pub fn to_int32_array(&self) -> Result<js_sys::Int32Array, JsValue> {
        if self.inner.dtype() != DType::I32 {
            return Err(to_js(Error::DTypeMismatch {
                op: "toInt32Array",
                expected: "i32".into(),
                found: self.inner.dtype().to_string(),
            }));
        }
        let v = self.inner.to_i32_vec("toInt32Array").map_err(to_js)?;
        Ok(js_sys::Int32Array::from(v.as_slice()))
    }
}
