//! `recommend`: the backend (and its variant) to run a task on, with a reason for every
//! backend considered, so an app can show users why.

use super::caps::Caps;
use crate::backend::BackendKind;
use crate::error::{Error, Result};
use serde::Serialize;

/// The tasks this version has models for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    TextEmbedding,
    ImageEmbedding,
    SpeechRecognition,
}

impl Task {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "text-embedding" => Ok(Task::TextEmbedding),
            "image-embedding" => Ok(Task::ImageEmbedding),
            "speech-recognition" => Ok(Task::SpeechRecognition),
            other => Err(Error::arg(
                "recommend",
                format!("task '{other}' is not one of: text-embedding, image-embedding, speech-recognition"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Task::TextEmbedding => "text-embedding",
            Task::ImageEmbedding => "image-embedding",
            Task::SpeechRecognition => "speech-recognition",
        }
    }

    /// The work in words, for the reasons.
    fn describe(self, work: Workload) -> String {
        match self {
            Task::TextEmbedding => format!("{} input(s) of {} tokens", work.batch, work.input_tokens),
            Task::ImageEmbedding => format!("{} image(s)", work.batch),
            Task::SpeechRecognition => format!("{} audio clip(s)", work.batch),
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

/// Adapter names that mean the GPU is emulated on the CPU.
const SOFTWARE: [&str; 4] = ["swiftshader", "llvmpipe", "lavapipe", "software"];

/// The variant table's name for a browser engine.
fn engine_of(engine: &str) -> &'static str {
    match engine {
        "blink" => "chromium",
        "gecko" => "firefox",
        "webkit" => "safari",
        _ => "browser",
    }
}

/// Picks a backend for `task` on a platform with `caps`: WebNN where the browser gives an
/// accelerated context, else WebGPU on an adapter that names itself as hardware, else the
/// WASM SIMD CPU backend, in the relaxed-simd build where
/// the engine validates it (the loader makes the same choice). A software adapter runs
/// WebGPU on the same CPU as wasm, with more overhead, so it is passed over; an adapter
/// that does not say what it is (Firefox hides adapter details) is passed over too.
pub fn recommend(caps: &Caps, task: Task, work: Workload) -> Result<Recommendation> {
    let mut reasons = Vec::new();
    let gpu = &caps.webgpu;
    let mut webgpu_variant = None;
    if gpu.available {
        let a = gpu.adapter.clone().unwrap_or_default();
        let parts: Vec<&str> = [a.vendor.as_str(), a.architecture.as_str(), a.description.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let name = parts.join(" ");
        let software = a.is_fallback_adapter || SOFTWARE.iter().any(|s| name.to_lowercase().contains(s));
        if software {
            reasons.push(format!(
                "webgpu: adapter '{name}' is a software adapter (the GPU emulated on the CPU), where the WASM SIMD \
                 backend is faster, so it is not used (pass backend: 'webgpu' to use it anyway)"
            ));
        } else if parts.is_empty() {
            reasons.push(
                "webgpu: the adapter does not name itself (as Firefox hides adapter details), so it may be a software \
                 adapter and is not used (pass backend: 'webgpu' to use it)"
                    .into(),
            );
        } else {
            let granted: Vec<&str> = gpu.features.iter().map(String::as_str).collect();
            let engine = engine_of(&caps.browser.engine);
            let v = crate::backend::webgpu::variants::select(engine, &granted, None)?;
            reasons
                .push(format!("webgpu: chosen: hardware adapter '{name}', shader variant '{}' for {engine}", v.name));
            webgpu_variant = Some(v.name);
        }
    } else {
        let why = gpu.reason.as_deref().unwrap_or("no adapter");
        reasons.push(format!("webgpu: unavailable: {why}"));
    }
    let nn = &caps.webnn;
    let accelerated = nn.contexts.get("accelerated").filter(|c| c.available);
    if !nn.present {
        reasons.push("webnn: unavailable: navigator.ml is absent".into());
    } else if accelerated.is_some_and(|c| c.accelerated == Some(true)) {
        reasons.push(format!(
            "webnn: chosen: the browser gives an accelerated context (a GPU or NPU behind its ML stack) for {} ({})",
            task.describe(work),
            task.name()
        ));
        if webgpu_variant.is_some() {
            reasons.push("webgpu: not chosen: WebNN's accelerated context is preferred".into());
        }
        reasons.push("wasm: not chosen: the work runs on WebNN's accelerator".into());
        return Ok(Recommendation {
            backend: BackendKind::WebNn.name().into(),
            variant: "accelerated".into(),
            reasons,
        });
    } else if let Some(c) = accelerated.or_else(|| nn.contexts.values().find(|c| c.available)) {
        let how = match c.accelerated {
            Some(false) => "it runs on the CPU, where the WASM SIMD backend serves as well",
            _ => "it does not say it is accelerated",
        };
        reasons.push(format!(
            "webnn: a context can be created, but {how}, so it is not used (pass backend: 'webnn' to use it)"
        ));
    } else {
        let why = nn.contexts.values().find_map(|c| c.reason.clone()).unwrap_or_else(|| "no context".into());
        reasons.push(format!("webnn: navigator.ml is present but no context can be created ({why})"));
    }
    if let Some(v) = webgpu_variant {
        reasons.push(format!("wasm: not chosen: {} ({}) run on the GPU", task.describe(work), task.name()));
        return Ok(Recommendation { backend: BackendKind::WebGpu.name().into(), variant: v, reasons });
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
        "wasm: chosen for {} ({}): WebAssembly SIMD is available; {why}",
        task.describe(work),
        task.name()
    ));
    Ok(Recommendation { backend: BackendKind::Cpu.name().into(), variant: variant.into(), reasons })
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
                "webnn":{"present":true,"contexts":{"accelerated":{"available":false,"reason":"not supported on this platform"}}},
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
        assert!(r.reasons[0].contains("'google swiftshader' is a software adapter"), "{:?}", r.reasons);
        assert!(r.reasons[1].contains("navigator.ml is absent"));
        assert!(r.reasons[2].contains("8 input(s) of 158 tokens"));
    }

    #[test]
    fn each_task_is_named_in_its_reasons() {
        let c = caps(r#"{"webgpu":{"available":false},"wasm":{"simd":true,"relaxedSimd":true}}"#);
        let r = recommend(&c, Task::parse("image-embedding").unwrap(), Workload { input_tokens: 0, batch: 8 }).unwrap();
        assert_eq!(r.backend, "wasm");
        assert!(r.reasons[2].contains("8 image(s) (image-embedding)"), "{:?}", r.reasons);
        let e = Task::parse("speech").unwrap_err();
        assert!(e.to_string().contains("text-embedding, image-embedding"), "{e}");
    }

    #[test]
    fn a_hardware_adapter_gets_webgpu_and_its_table_variant() {
        let c = caps(
            r#"{"browser":{"engine":"gecko"},"webgpu":{"available":true,"features":["shader-f16"],
                "adapter":{"vendor":"nvidia","architecture":"ampere"}},"wasm":{"simd":true,"relaxedSimd":true}}"#,
        );
        let r = recommend(&c, Task::TextEmbedding, Workload::default()).unwrap();
        assert_eq!((r.backend.as_str(), r.variant.as_str()), ("webgpu", "f16"), "{:?}", r.reasons);
        assert!(r.reasons[0].starts_with("webgpu: chosen: hardware adapter 'nvidia ampere'"), "{:?}", r.reasons);
        let unnamed = caps(r#"{"webgpu":{"available":true,"adapter":{}},"wasm":{"simd":true}}"#);
        let r = recommend(&unnamed, Task::TextEmbedding, Workload::default()).unwrap();
        assert_eq!(r.backend, "wasm");
        assert!(r.reasons[0].contains("does not name itself"), "{:?}", r.reasons);
    }

    #[test]
    fn an_accelerated_webnn_context_is_chosen_and_a_cpu_one_is_not() {
        let with = |accelerated: &str| {
            caps(&format!(
                r#"{{"webgpu":{{"available":true,"adapter":{{"vendor":"nvidia","architecture":"ampere"}}}},
                    "webnn":{{"present":true,"contexts":{{"accelerated":{{"available":true,"accelerated":{accelerated}}},
                    "cpu":{{"available":true,"accelerated":false}}}}}},"wasm":{{"simd":true}}}}"#
            ))
        };
        let r = recommend(&with("true"), Task::SpeechRecognition, Workload::default()).unwrap();
        assert_eq!((r.backend.as_str(), r.variant.as_str()), ("webnn", "accelerated"), "{:?}", r.reasons);
        assert!(
            r.reasons[1].starts_with("webnn: chosen") && r.reasons[1].contains("speech-recognition"),
            "{:?}",
            r.reasons
        );
        assert!(r.reasons[2].contains("webgpu: not chosen"), "{:?}", r.reasons);
        for (flag, why) in [("false", "runs on the CPU"), ("null", "does not say it is accelerated")] {
            let r = recommend(&with(flag), Task::TextEmbedding, Workload::default()).unwrap();
            assert_eq!(r.backend, "webgpu", "{:?}", r.reasons);
            assert!(r.reasons[1].contains(why) && r.reasons[1].contains("backend: 'webnn'"), "{:?}", r.reasons);
        }
    }

    #[test]
    fn no_simd_and_unknown_tasks_are_errors() {
        let e = recommend(&Caps::default(), Task::TextEmbedding, Workload::default()).unwrap_err();
        assert_eq!(e.code(), "backend_unavailable");
        assert_eq!(Task::parse("asr").unwrap_err().code(), "invalid_argument");
    }
}
