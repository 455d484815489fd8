//! Hand-written bindings to WebNN as the W3C editor's draft has it (2026): web-sys has
//! none. `navigator.ml.createContext`, `MLContext` (tensors, `dispatch`, `readTensor`,
//! `opSupportLimits`, `lost`), `MLGraphBuilder` with the ops the lowering uses, and
//! `MLOperand`'s `shape`/`dataType`. Everything that can throw is `catch`, so a
//! rejection becomes an error, never a trap.

use js_sys::{Array, Object, Promise};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `navigator.ml`.
    #[wasm_bindgen(js_name = ML)]
    pub type Ml;
    #[wasm_bindgen(method, catch, js_name = createContext)]
    pub fn create_context(this: &Ml, options: &Object) -> Result<Promise, JsValue>;

    #[wasm_bindgen(js_name = MLContext)]
    #[derive(Clone, Debug)]
    pub type MlContext;
    #[wasm_bindgen(method, catch, js_name = createTensor)]
    pub fn create_tensor(this: &MlContext, descriptor: &Object) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = createConstantTensor)]
    pub fn create_constant_tensor(this: &MlContext, descriptor: &Object, data: &[u8]) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = writeTensor)]
    pub fn write_tensor(this: &MlContext, tensor: &MlTensor, data: &[u8]) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = readTensor)]
    pub fn read_tensor(this: &MlContext, tensor: &MlTensor) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn dispatch(this: &MlContext, graph: &MlGraph, inputs: &Object, outputs: &Object) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = opSupportLimits)]
    pub fn op_support_limits(this: &MlContext) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method)]
    pub fn destroy(this: &MlContext);
    /// A promise that resolves with `{ message }` when the context is lost.
    #[wasm_bindgen(method, getter)]
    pub fn lost(this: &MlContext) -> JsValue;

    #[wasm_bindgen(js_name = MLTensor)]
    #[derive(Clone, Debug)]
    pub type MlTensor;
    #[wasm_bindgen(method)]
    pub fn destroy(this: &MlTensor);

    #[wasm_bindgen(js_name = MLGraph)]
    #[derive(Clone, Debug)]
    pub type MlGraph;
    #[wasm_bindgen(method)]
    pub fn destroy(this: &MlGraph);

    #[wasm_bindgen(js_name = MLOperand)]
    #[derive(Clone, Debug)]
    pub type MlOperand;
    #[wasm_bindgen(method, getter)]
    pub fn shape(this: &MlOperand) -> Vec<u32>;
    #[wasm_bindgen(method, getter, js_name = dataType)]
    pub fn data_type(this: &MlOperand) -> String;

    #[wasm_bindgen(js_name = MLGraphBuilder)]
    pub type MlGraphBuilder;
    #[wasm_bindgen(constructor, catch, js_class = "MLGraphBuilder")]
    pub fn new(context: &MlContext) -> Result<MlGraphBuilder, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn input(this: &MlGraphBuilder, name: &str, descriptor: &Object) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = constant)]
    pub fn constant_bytes(this: &MlGraphBuilder, descriptor: &Object, data: &[u8]) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = constant)]
    pub fn constant_tensor(this: &MlGraphBuilder, tensor: &MlTensor) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = constant)]
    pub fn scalar(this: &MlGraphBuilder, data_type: &str, value: f64) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn build(this: &MlGraphBuilder, outputs: &Object) -> Result<Promise, JsValue>;

    // Element-wise: two operands, broadcast bidirectionally.
    #[wasm_bindgen(method, catch)]
    pub fn add(this: &MlGraphBuilder, a: &MlOperand, b: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn sub(this: &MlGraphBuilder, a: &MlOperand, b: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn mul(this: &MlGraphBuilder, a: &MlOperand, b: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn div(this: &MlGraphBuilder, a: &MlOperand, b: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn equal(this: &MlGraphBuilder, a: &MlOperand, b: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn greater(this: &MlGraphBuilder, a: &MlOperand, b: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = lesserOrEqual)]
    pub fn lesser_or_equal(this: &MlGraphBuilder, a: &MlOperand, b: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn matmul(this: &MlGraphBuilder, a: &MlOperand, b: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = "where")]
    pub fn where_(
        this: &MlGraphBuilder,
        condition: &MlOperand,
        yes: &MlOperand,
        no: &MlOperand,
    ) -> Result<MlOperand, JsValue>;

    // One operand.
    #[wasm_bindgen(method, catch)]
    pub fn gelu(this: &MlGraphBuilder, x: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn tanh(this: &MlGraphBuilder, x: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn relu(this: &MlGraphBuilder, x: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn sigmoid(this: &MlGraphBuilder, x: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn identity(this: &MlGraphBuilder, x: &MlOperand) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn softmax(this: &MlGraphBuilder, x: &MlOperand, axis: u32) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = layerNormalization)]
    pub fn layer_normalization(this: &MlGraphBuilder, x: &MlOperand, options: &Object) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = reduceSum)]
    pub fn reduce_sum(this: &MlGraphBuilder, x: &MlOperand, options: &Object) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = reduceMean)]
    pub fn reduce_mean(this: &MlGraphBuilder, x: &MlOperand, options: &Object) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = reduceMax)]
    pub fn reduce_max(this: &MlGraphBuilder, x: &MlOperand, options: &Object) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = argMax)]
    pub fn arg_max(this: &MlGraphBuilder, x: &MlOperand, axis: u32, options: &Object) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn clamp(this: &MlGraphBuilder, x: &MlOperand, options: &Object) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn cast(this: &MlGraphBuilder, x: &MlOperand, data_type: &str) -> Result<MlOperand, JsValue>;

    // Movement.
    #[wasm_bindgen(method, catch)]
    pub fn reshape(this: &MlGraphBuilder, x: &MlOperand, shape: &Array) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn transpose(this: &MlGraphBuilder, x: &MlOperand, options: &Object) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn slice(this: &MlGraphBuilder, x: &MlOperand, starts: &Array, sizes: &Array) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn concat(this: &MlGraphBuilder, inputs: &Array, axis: u32) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn gather(
        this: &MlGraphBuilder,
        x: &MlOperand,
        indices: &MlOperand,
        options: &Object,
    ) -> Result<MlOperand, JsValue>;

    // Products.
    #[wasm_bindgen(method, catch)]
    pub fn gemm(this: &MlGraphBuilder, a: &MlOperand, b: &MlOperand, options: &Object) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn conv2d(
        this: &MlGraphBuilder,
        x: &MlOperand,
        filter: &MlOperand,
        options: &Object,
    ) -> Result<MlOperand, JsValue>;
    #[wasm_bindgen(method, catch, js_name = convTranspose2d)]
    pub fn conv_transpose2d(
        this: &MlGraphBuilder,
        x: &MlOperand,
        filter: &MlOperand,
        options: &Object,
    ) -> Result<MlOperand, JsValue>;
}

/// `navigator.ml` (in a window or a worker), or why there is none.
pub fn ml() -> Result<Ml, String> {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).map_err(|_| "no navigator")?;
    let ml = js_sys::Reflect::get(&navigator, &"ml".into()).unwrap_or(JsValue::UNDEFINED);
    if ml.is_undefined() || ml.is_null() {
        return Err("navigator.ml is absent (WebNN is off in this browser)".into());
    }
    Ok(ml.unchecked_into())
}

/// A dictionary from (key, value) pairs.
pub fn dict(entries: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in entries {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

/// A JS array of numbers.
pub fn numbers(values: impl IntoIterator<Item = usize>) -> Array {
    values.into_iter().map(|v| JsValue::from_f64(v as f64)).collect()
}

/// `{ dataType, shape }`, plus `readable`/`writable` for a tensor.
pub fn descriptor(data_type: &str, dims: &[usize], readable: bool, writable: bool) -> Object {
    dict(&[
        ("dataType", JsValue::from_str(data_type)),
        ("shape", numbers(dims.iter().copied()).into()),
        ("readable", JsValue::from_bool(readable)),
        ("writable", JsValue::from_bool(writable)),
    ])
}

/// A thrown value's message: an `Error`'s or `DOMException`'s name and message.
#[inline(never)]
pub fn message(e: &JsValue) -> String {
    let get = |k: &str| js_sys::Reflect::get(e, &JsValue::from_str(k)).ok().and_then(|v| v.as_string());
    match (get("name"), get("message")) {
        (Some(n), Some(m)) => format!("{n}: {m}"),
        _ => e.as_string().unwrap_or_else(|| format!("{e:?}")),
    }
}
