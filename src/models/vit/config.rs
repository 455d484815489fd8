//! `config.json` of a ViT-family encoder: Hugging Face's `ViTConfig` ("vit") and
//! `Dinov2Config` ("dinov2"), which differ in layer names, layer scale and the MLP width.

use crate::error::{Error, Result};
use crate::models::common::{divisible, Activation, Config};
use crate::models::files::CONFIG;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Vit,
    Dinov2,
}

#[derive(Debug, Clone)]
pub struct VitConfig {
    pub family: Family,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f32,
    /// The image size the position embeddings were trained at.
    pub image_size: usize,
    pub patch_size: usize,
    pub num_channels: usize,
    pub qkv_bias: bool,
}

impl VitConfig {
    pub fn from_json(v: &Value) -> Result<Self> {
        let c = Config::new(CONFIG, v);
        let family = match c.model_type(&["dinov2", "vit"], "image embedders")? {
            "dinov2" => Family::Dinov2,
            _ => Family::Vit,
        };
        let hidden = c.dim("hidden_size")?;
        let intermediate = match family {
            Family::Dinov2 => {
                if c.bool_or("use_swiglu_ffn", false)? {
                    return Err(Error::UnsupportedModel("dinov2 with use_swiglu_ffn (the giant model)".into()));
                }
                let ratio = c.num_or("mlp_ratio", 4.0)?;
                let i = (hidden as f64 * ratio).round();
                if !(1.0..=crate::tensor::MAX_ELEMENTS as f64).contains(&i) {
                    return Err(Error::config(CONFIG, format!("mlp_ratio {ratio} gives no usable MLP width")));
                }
                i as usize
            }
            Family::Vit => c.dim("intermediate_size")?,
        };
        let cfg = VitConfig {
            family,
            hidden_size: hidden,
            num_hidden_layers: c.dim("num_hidden_layers")?,
            num_attention_heads: c.dim("num_attention_heads")?,
            intermediate_size: intermediate,
            hidden_act: c.activation("hidden_act", "gelu")?,
            layer_norm_eps: c.eps("layer_norm_eps", if family == Family::Dinov2 { 1e-6 } else { 1e-12 })?,
            image_size: c.dim_or("image_size", if family == Family::Dinov2 { 518 } else { 224 })?,
            patch_size: c.dim_or("patch_size", if family == Family::Dinov2 { 14 } else { 16 })?,
            num_channels: c.dim_or("num_channels", 3)?,
            qkv_bias: c.bool_or("qkv_bias", true)?,
        };
        divisible(CONFIG, ("hidden_size", cfg.hidden_size), ("num_attention_heads", cfg.num_attention_heads))?;
        if cfg.num_channels != 3 {
            return Err(Error::UnsupportedModel(format!("num_channels {} (images are RGB)", cfg.num_channels)));
        }
        if cfg.patch_size > cfg.image_size {
            return Err(Error::config(
                CONFIG,
                format!("patch_size {} exceeds image_size {}", cfg.patch_size, cfg.image_size),
            ));
        }
        Ok(cfg)
    }

    /// Patches per side of the trained position grid.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
}
