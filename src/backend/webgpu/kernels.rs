//! The WGSL kernels in `shaders/`, built into the binary, and compute pipelines cached by
//! (kernel file, entry point, override constants).

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The WGSL text of a kernel file in `shaders/`.
pub fn source(file: &str) -> Option<&'static str> {
    Some(match file {
        "matmul.wgsl" => include_str!("../../../shaders/matmul.wgsl"),
        "matmul_subgroup.wgsl" => include_str!("../../../shaders/matmul_subgroup.wgsl"),
        "activation.wgsl" => include_str!("../../../shaders/activation.wgsl"),
        "workgroup_reduce.wgsl" => include_str!("../../../shaders/workgroup_reduce.wgsl"),
        "matmul_batch.wgsl" => include_str!("../../../shaders/matmul_batch.wgsl"),
        "elementwise.wgsl" => include_str!("../../../shaders/elementwise.wgsl"),
        "copy.wgsl" => include_str!("../../../shaders/copy.wgsl"),
        "softmax.wgsl" => include_str!("../../../shaders/softmax.wgsl"),
        "layer_norm.wgsl" => include_str!("../../../shaders/layer_norm.wgsl"),
        "gather.wgsl" => include_str!("../../../shaders/gather.wgsl"),
        "reduce.wgsl" => include_str!("../../../shaders/reduce.wgsl"),
        "attention.wgsl" => include_str!("../../../shaders/attention.wgsl"),
        "attention_rows.wgsl" => include_str!("../../../shaders/attention_rows.wgsl"),
        "attention_keys.wgsl" => include_str!("../../../shaders/attention_keys.wgsl"),
        "conv.wgsl" => include_str!("../../../shaders/conv.wgsl"),
        "conv_gemm.wgsl" => include_str!("../../../shaders/conv_gemm.wgsl"),
        "argmax.wgsl" => include_str!("../../../shaders/argmax.wgsl"),
        "write_at.wgsl" => include_str!("../../../shaders/write_at.wgsl"),
        "gemv.wgsl" => include_str!("../../../shaders/gemv.wgsl"),
        "attention_score.wgsl" => include_str!("../../../shaders/attention_score.wgsl"),
        "matmul_stored.wgsl" => include_str!("../../../shaders/matmul_stored.wgsl"),
        "gather_stored.wgsl" => include_str!("../../../shaders/gather_stored.wgsl"),
        "stored_weights.wgsl" => include_str!("../../../shaders/stored_weights.wgsl"),
        _ => return None,
    })
}

/// Shared WGSL appended to the kernels that call it: (a call it defines, its file).
const PRELUDES: [(&str, &str); 5] = [
    ("attention_sees(", "attention_score.wgsl"),
    ("stored_quad(", "stored_weights.wgsl"),
    ("activate(", "activation.wgsl"),
    ("reduce_wg(", "workgroup_reduce.wgsl"),
    ("batch_offsets(", "matmul_batch.wgsl"),
];

/// The full text of a kernel: kernels get the preludes they call and the declaration of
/// their parameter struct (params.rs) appended;
/// `f16` makes B's element type (`alias WT`) f16 and enables the extension. Naga (native
/// wgpu, and Firefox) has the subgroup builtins but rejects the `enable subgroups;`
/// directive that Tint (Chromium) requires, so natively the directive is dropped.
pub fn assemble(file: &str, f16: bool) -> Option<String> {
    let mut text = source(file)?.to_string();
    for (call, prelude) in PRELUDES {
        if file != prelude && source(file)?.contains(call) {
            text.push('\n');
            text.push_str(source(prelude)?);
        }
    }
    // Module-scope declarations may follow their use; directives (`enable`) must lead.
    if let Some(decl) = super::params::declaration(file) {
        text.push('\n');
        text.push_str(&decl);
    }
    if f16 {
        text = format!("enable f16;\n{}", text.replace("alias WT = f32;", "alias WT = f16;"));
    }
    if !cfg!(target_arch = "wasm32") {
        text = text.lines().filter(|l| l.trim() != "enable subgroups;").collect::<Vec<_>>().join("\n");
    }
    Some(text)
}

/// Override constants, as WGSL names and values.
pub type Knobs = Vec<(String, f64)>;

type Key = (String, bool, &'static str, Vec<(String, u64)>);

/// Shader modules and pipelines made on one device.
#[derive(Default)]
pub struct Pipelines {
    modules: Mutex<HashMap<(String, bool), wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<Key, Arc<wgpu::ComputePipeline>>>,
}

impl Pipelines {
    pub fn get(
        &self,
        device: &wgpu::Device,
        file: &str,
        f16: bool,
        entry: &'static str,
        knobs: &Knobs,
    ) -> Result<Arc<wgpu::ComputePipeline>> {
        let key: Key = (file.to_string(), f16, entry, knobs.iter().map(|(n, v)| (n.clone(), v.to_bits())).collect());
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pipelines.get(&key) {
            return Ok(p.clone());
        }
        let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        let module = match modules.get(&(file.to_string(), f16)) {
            Some(m) => m.clone(),
            None => {
                let text = assemble(file, f16).ok_or_else(|| Error::GpuError(format!("no kernel named {file}")))?;
                let m = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(file),
                    source: wgpu::ShaderSource::Wgsl(text.into()),
                });
                modules.insert((file.to_string(), f16), m.clone());
                m
            }
        };
        let constants: Vec<(&str, f64)> = knobs.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        let pipeline = Arc::new(device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(file),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                zero_initialize_workgroup_memory: true,
            },
            cache: None,
        }));
        pipelines.insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// How many pipelines were made (a test checks that a second run makes none).
    pub fn count(&self) -> usize {
        self.pipelines.lock().map(|p| p.len()).unwrap_or(0)
    }
}
