//! `recommend`: the backend (and its variant) to run a task on, with a reason for every
//! backend considered, so an app can show users why.

use super::caps::Caps;
use crate::error::{Error, Result};
use serde::Serialize;

/// The tasks this version has models for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    TextEmbedding,
}

impl Task {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "text-embedding" => Ok(Task::TextEmbedding),
            other => Err(Error::arg("recommend", format!("task '{other}' is not one of: text-embedding"))),
        }
    }
}

/// The size of the work: tokens per input and inputs per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    pub input_tokens: usize,
    pub batch: usize,
}

impl Default for Workload {
    fn default() -> Self {
        // One sentence-length input: the common case for search boxes and chat UIs.
        Workload { input_tokens: 32, batch: 1 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    pub backend: String,
    pub variant: String,
    pub reasons: Vec<String>,
}

/// Picks a backend for `task` on a platform with `caps`. Only backends this build has
/// can be picked: today that is the WASM SIMD CPU backend, in the relaxed-simd build
/// where the engine validates it (the loader makes the same choice).
pub fn recommend(caps: &Caps, task: Task, work: Workload) -> Result<Recommendation> {
    let Task::TextEmbedding = task;
    let mut reasons = Vec::new();
    let gpu = &caps.webgpu;
    if gpu.available {
        let a = gpu.adapter.clone().unwrap_or_default();
        let parts: Vec<&str> = [a.vendor.as_str(), a.architecture.as_str(), a.description.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let name = if parts.is_empty() { "unnamed adapter".to_string() } else { parts.join(" ") };
        let fallback = if a.is_fallback_adapter { " (a fallback, software adapter)" } else { "" };
        reasons.push(format!(
            "webgpu: adapter '{name}'{fallback} is available, but this version has no WebGPU backend yet, so it is not used"
        ));
    } else {
        let why = gpu.reason.as_deref().unwrap_or("no adapter");
        reasons.push(format!("webgpu: unavailable: {why}"));
    }
    let nn = &caps.webnn;
    if !nn.present {
        reasons.push("webnn: unavailable: navigator.ml is absent".into());
    } else if let Some((device, _)) = nn.contexts.iter().find(|(_, c)| c.available) {
        reasons.push(format!(
            "webnn: a {device} context can be created, but this version has no WebNN backend yet, so it is not used"
        ));
    } else {
        let why = nn.contexts.values().find_map(|c| c.reason.clone()).unwrap_or_else(|| "no context".into());
        reasons.push(format!("webnn: navigator.ml is present but no context can be created ({why})"));
    }
    if !caps.wasm.simd {
        return Err(Error::BackendUnavailable(
            "wasm: this engine does not validate WebAssembly SIMD (simd128), which every build of the SDK needs".into(),
        ));
    }
    let variant = if caps.wasm.relaxed_simd { "simd128+relaxed" } else { "simd128" };
    let why = if caps.wasm.relaxed_simd {
        "relaxed SIMD validates, so the build whose GEMM uses fused multiply-add"
    } else {
        "no relaxed SIMD, so the plain simd128 build"
    };
    reasons.push(format!(
        "wasm: chosen for {} input(s) of {} tokens: WebAssembly SIMD is available; {why}",
        work.batch, work.input_tokens
    ));
    Ok(Recommendation { backend: "wasm".into(), variant: variant.into(), reasons })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(json: &str) -> Caps {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn picks_wasm_and_says_why_webgpu_is_unused() {
        let c = caps(
            r#"{"webgpu":{"available":false,"reason":"navigator.gpu is absent"},
                "webnn":{"present":true,"contexts":{"cpu":{"available":false,"reason":"not supported on this platform"}}},
                "wasm":{"simd":true,"relaxedSimd":true}}"#,
        );
        let r = recommend(&c, Task::TextEmbedding, Workload::default()).unwrap();
        assert_eq!((r.backend.as_str(), r.variant.as_str()), ("wasm", "simd128+relaxed"));
        assert!(r.reasons[0].contains("webgpu: unavailable: navigator.gpu is absent"), "{:?}", r.reasons);
        assert!(r.reasons[1].contains("present but no context") && r.reasons[1].contains("not supported"));
        assert!(r.reasons[2].starts_with("wasm: chosen"));
    }

    #[test]
    fn names_the_adapter_and_the_plain_simd_build() {
        let c = caps(
            r#"{"webgpu":{"available":true,"adapter":{"vendor":"google","architecture":"swiftshader","isFallbackAdapter":true}},
                "webnn":{"present":false},"wasm":{"simd":true,"relaxedSimd":false}}"#,
        );
        let r = recommend(&c, Task::TextEmbedding, Workload { input_tokens: 158, batch: 8 }).unwrap();
        assert_eq!(r.variant, "simd128");
        assert!(r.reasons[0].contains("'google swiftshader' (a fallback, software adapter)"), "{:?}", r.reasons);
        assert!(r.reasons[1].contains("navigator.ml is absent"));
        assert!(r.reasons[2].contains("8 input(s) of 158 tokens"));
    }

    #[test]
    fn no_simd_and_unknown_tasks_are_errors() {
        let e = recommend(&Caps::default(), Task::TextEmbedding, Workload::default()).unwrap_err();
        assert_eq!(e.code(), "backend_unavailable");
        assert_eq!(Task::parse("asr").unwrap_err().code(), "invalid_argument");
    }
}
