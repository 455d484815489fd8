//! `WeightDtype`: the form a model holds its layer weights in, chosen at load (`dtype`):
//! f32 as stored, or f16, int8 or int4 made from the file's weights, for every layer but
//! those named in `keep`.

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// The forms a load can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Form {
    #[default]
    F32,
    F16,
    /// int8 in groups of `Q8_GROUP` along the input (an f32 scale each; per output channel
    /// when the input is not a multiple of it).
    Q8,
    /// int4 in blocks of 32 along the input (an f16 scale each) for token tables and the
    /// layers a model does not mark sensitive (queries and keys), int8 for the rest, as
    /// llama.cpp's Q4_K_M mixes its forms; a layer whose input is not a multiple of 32
    /// takes int8 too. MiniLM against float64, least cosine over the fixture texts:
    /// 4-bit everywhere 0.905 (13.5 MB); values and feed-forward in int8 0.987 (18.0 MB);
    /// attention outputs too 0.993 (18.5 MB).
    Q4,
}

/// The version of the rules that choose and make each layer's form (the forms above,
/// `linear`, `quant::quantize`): raise it when they change, since held weights made under
/// the old rules (kept in the weight store) must not be read as made under the new.
pub const RULES: u32 = 3;

/// int4 block length: ggml's, XNNPACK's and ONNX's common choice.
pub const Q4_BLOCK: usize = 32;

/// int8 group length. Each group ends in a horizontal sum and a scale multiply in the CPU
/// kernel, so longer groups run faster; MiniLM against float64 (least cosine over the
/// fixture texts): 32 gave 0.99951, 64 gives 0.99936, 128 0.99916, one scale per output
/// channel 0.99836 (under the 0.999 asked).
pub const Q8_GROUP: usize = 64;

impl Form {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "f32" => Form::F32,
            "f16" => Form::F16,
            "q8" => Form::Q8,
            "q4" => Form::Q4,
            other => return Err(Error::arg("dtype", format!("'{other}' is not one of f32, f16, q8, q4"))),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Form::F32 => "f32",
            Form::F16 => "f16",
            Form::Q8 => "q8",
            Form::Q4 => "q4",
        }
    }
}

/// The load option: a form for every linear layer's weight, except those whose name
/// contains one of `keep` (e.g. `["embeddings", "lm_head"]`), which stay f32.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeightDtype {
    pub default: Form,
    pub keep: Vec<String>,
}

impl WeightDtype {
    pub fn new(default: Form) -> Self {
        WeightDtype { default, keep: vec![] }
    }

    /// Whether every layer keeps the file's f32 weights.
    pub fn is_f32(&self) -> bool {
        self.default == Form::F32
    }

    /// What a linear layer's `[out, in]` weight named `name` is held as; `sensitive`
    /// where the model marks the layer so (`WeightScope::sensitive`).
    pub fn linear(&self, name: &str, input: usize, sensitive: bool) -> DType {
        if self.keep.iter().any(|k| name.contains(k.as_str())) {
            return DType::F32;
        }
        match self.default {
            Form::F32 => DType::F32,
            Form::F16 => DType::F16,
            Form::Q4 if input % Q4_BLOCK == 0 && !sensitive => DType::Q4 { block: Q4_BLOCK },
            Form::Q8 | Form::Q4 => DType::Q8 { group: if input % Q8_GROUP == 0 { Q8_GROUP } else { input.max(1) } },
        }
    }

    /// `w` (a linear layer's weight named `name`) in its form: itself when f32, else a
    /// quantized copy.
    pub fn apply(&self, name: &str, w: Tensor, sensitive: bool) -> Result<Tensor> {
        let input = w.dims().last().copied().unwrap_or(1);
        match self.linear(name, input, sensitive) {
            // A weight in a stored form already (held weights; a checkpoint that ships
            // int8) is kept as it is: quantizing it again would only lose precision.
            _ if w.dtype().is_stored() => Ok(w),
            DType::F32 => Ok(w),
            dtype => w.to_dtype(dtype),
        }
    }

    /// A stable description for model identities (the output cache keeps a q8 model's
    /// answers apart from the f32 one's) and the store's held weights: it names the rules
    /// (`RULES`) too, so weights made under older rules are never taken for these.
    pub fn id(&self) -> String {
        let keep: String = self.keep.iter().map(|k| format!(";keep={k}")).collect();
        format!("{}{keep};rules={RULES}", self.default.name())
    }

    /// The least precise form any layer is in, as `embedder.dtype` reports it.
    pub fn name(&self) -> &'static str {
        self.default.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_by_layer() {
        let d = WeightDtype { default: Form::Q4, keep: vec!["embeddings".into(), "lm_head".into()] };
        assert_eq!(d.linear("encoder.layer.0.attention.self.query.weight", 384, false), DType::Q4 { block: 32 });
        assert_eq!(d.linear("encoder.layer.0.attention.self.value.weight", 384, true), DType::Q8 { group: 64 });
        assert_eq!(d.linear("encoder.layer.0.output.dense.weight", 100, false), DType::Q8 { group: 100 });
        assert_eq!(WeightDtype::new(Form::Q8).linear("x", 96, false), DType::Q8 { group: 96 });
        assert_eq!(d.linear("embeddings.projection.weight", 384, true), DType::F32);
        assert_eq!(WeightDtype::new(Form::Q8).linear("x", 100, true), DType::Q8 { group: 100 });
        assert_eq!(WeightDtype::new(Form::F16).linear("x", 64, true), DType::F16);
        assert_eq!(WeightDtype::default().linear("x", 384, true), DType::F32);
        assert_eq!(Form::parse("q5").unwrap_err().code(), "invalid_argument");
        assert_eq!(d.id(), "q4;keep=embeddings;keep=lm_head;rules=3");
        // A weight in a stored form already is kept as it is, whatever the load asks.
        let q4 = Tensor::from_f32(vec![1, 32], vec![0.5; 32]).unwrap().to_dtype(DType::Q4 { block: 32 }).unwrap();
        for d in [Form::F32, Form::Q8, Form::Q4] {
            assert_eq!(WeightDtype::new(d).apply("v.weight", q4.clone(), true).unwrap().storage_id(), q4.storage_id());
        }
    }
}
