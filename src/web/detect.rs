//! `recommendFor(caps, task, opts)`: the facade's `recommend` passes it what `detect()`
//! found; the decision itself is plain Rust (`crate::detect`).

use super::error::to_js;
use super::options::{check_options, field, plain, usize_of};
use crate::detect::{recommend, Caps, Task, Workload};
use crate::error::{Error, Result};
use wasm_bindgen::prelude::*;

fn workload(opts: &JsValue) -> Result<Workload> {
    const OP: &str = "recommend";
    check_options(OP, opts)?;
    let mut w = Workload::default();
    for (key, slot) in [("inputTokens", &mut w.input_tokens), ("batch", &mut w.batch)] {
        let v = field(opts, key);
        if !(v.is_undefined() || v.is_null()) {
            *slot = usize_of(OP, key, &v)?;
            if *slot == 0 {
                return Err(Error::arg(OP, format!("{key} must be at least 1")));
            }
        }
    }
    Ok(w)
}

#[wasm_bindgen(js_name = recommendFor)]
pub fn recommend_for(caps: JsValue, task: JsValue, opts: JsValue) -> std::result::Result<JsValue, JsValue> {
    let run = || -> Result<_> {
        let caps: Caps = serde_wasm_bindgen::from_value(caps)
            .map_err(|e| Error::arg("recommend", format!("capabilities are not a detect() report: {e}")))?;
        let task = task.as_string().ok_or_else(|| Error::arg("recommend", "task must be a string"))?;
        recommend(&caps, Task::parse(&task)?, workload(&opts)?)
    };
    plain(&run().map_err(to_js)?)
}
