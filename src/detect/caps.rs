//! The capability report, as `detect()` builds it in JS; fields `recommend` does not read
//! are left out, and missing ones default, so an older or partial report still parses.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Caps {
    pub browser: Browser,
    pub webgpu: WebGpuCaps,
    pub webnn: WebNnCaps,
    pub wasm: WasmCaps,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Browser {
    /// "blink", "gecko", "webkit", or empty where unknown.
    pub engine: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WebGpuCaps {
    pub available: bool,
    pub reason: Option<String>,
    pub adapter: Option<Adapter>,
    pub features: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Adapter {
    pub vendor: String,
    pub architecture: String,
    pub description: String,
    pub is_fallback_adapter: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WebNnCaps {
    pub present: bool,
    /// "accelerated" and "cpu": the contexts asked for with `accelerated: true` and false.
    pub contexts: BTreeMap<String, Context>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Context {
    pub available: bool,
    pub reason: Option<String>,
    /// What the context says of itself (`MLContext.accelerated`); None where it does not.
    pub accelerated: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WasmCaps {
    pub simd: bool,
    pub relaxed_simd: bool,
}
