//! The ViT-family encoder (ViT, DINOv2): patch embedding, a class token, position
//! embeddings interpolated to the input's patch grid, pre-LN blocks (with DINOv2's layer
//! scale), a final LayerNorm. Weights are fetched once through a `WeightScope`.

use super::config::{Family, VitConfig};
use super::position::interpolate;
use crate::error::{Error, Result};
use crate::graph::{ConvParams, Graph, GraphBuilder, NodeId};
use crate::models::scope::{Conv, LayerNorm, Linear, WeightScope};
use crate::tensor::{DType, Tensor};
use std::collections::HashMap;
use std::sync::Mutex;

/// Weights an encoder does not run: DINOv2's mask token (masked pre-training only),
/// ViT's pooler, classification heads.
const IGNORED: &[&str] =
    &["embeddings.mask_token", "pooler.", "classifier.", "dinov2.embeddings.mask_token", "vit.pooler."];

struct Layer {
    norm1: LayerNorm,
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    scale1: Option<Tensor>,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    scale2: Option<Tensor>,
}

/// Position constants for one input: the class row (class token plus its position,
/// repeated per image of a batch) and the grid's positions.
type Positions = (Tensor, Tensor);

pub struct VitEncoder {
    pub config: VitConfig,
    patch: Conv,
    cls: Vec<f32>,
    pos_cls: Vec<f32>,
    pos_grid: Vec<f32>,
    layers: Vec<Layer>,
    norm: LayerNorm,
    /// Weights in the file that the encoder does not use.
    pub unused: Vec<String>,
    /// Interpolated positions by (batch, grid height, grid width): made once per input
    /// size, and the same tensors each time, so plans keyed by constants are reused.
    positions: Mutex<HashMap<(usize, usize, usize), Positions>>,
}

impl VitEncoder {
    /// The encoder over `weights`, its linear layers in the form `dtype` gives them.
    pub fn new(config: VitConfig, root: WeightScope) -> Result<Self> {
        let s = ["dinov2", "vit"]
            .into_iter()
            .find(|p| root.contains(&format!("{p}.embeddings.cls_token")))
            .map_or_else(|| root.clone(), |p| root.pp(p));
        let c = &config;
        let (d, i, eps, p) = (c.hidden_size, c.intermediate_size, c.layer_norm_eps, c.patch_size);
        let e = s.pp("embeddings");
        let cls = e.get("cls_token", &[1, 1, d])?.to_f32_vec();
        let g = c.grid();
        let pos = e.get("position_embeddings", &[1, 1 + g * g, d])?.to_f32_vec();
        let patch = e.pp("patch_embeddings.projection").conv2d(
            c.num_channels,
            d,
            p,
            ConvParams::uniform(2, p, 0, 1, 1),
            true,
        )?;
        let dino = c.family == Family::Dinov2;
        let layers = (0..c.num_hidden_layers)
            .map(|l| {
                let s = s.pp(format!("encoder.layer.{l}"));
                let a = s.pp("attention");
                let scale = |name: &str| dino.then(|| s.pp(name).get("lambda1", &[d])).transpose();
                let (norm1, norm2, fc1, fc2) = if dino {
                    (
                        s.pp("norm1").layer_norm(d, eps)?,
                        s.pp("norm2").layer_norm(d, eps)?,
                        s.pp("mlp.fc1").sensitive().linear(d, i, true)?,
                        s.pp("mlp.fc2").sensitive().linear(i, d, true)?,
                    )
                } else {
                    (
                        s.pp("layernorm_before").layer_norm(d, eps)?,
                        s.pp("layernorm_after").layer_norm(d, eps)?,
                        s.pp("intermediate.dense").sensitive().linear(d, i, true)?,
                        s.pp("output.dense").sensitive().linear(i, d, true)?,
                    )
                };
                Ok(Layer {
                    norm1,
                    query: a.pp("attention.query").linear(d, d, c.qkv_bias)?,
                    key: a.pp("attention.key").linear(d, d, c.qkv_bias)?,
                    value: a.pp("attention.value").sensitive().linear(d, d, c.qkv_bias)?,
                    out: a.pp("output.dense").sensitive().linear(d, d, true)?,
                    scale1: scale("layer_scale1")?,
                    norm2,
                    fc1,
                    fc2,
                    scale2: scale("layer_scale2")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let norm = s.pp("layernorm").layer_norm(d, eps)?;
        let unused = root.unused(IGNORED);
        Ok(VitEncoder {
            cls,
            pos_cls: pos[..d].to_vec(),
            pos_grid: pos[d..].to_vec(),
            patch,
            layers,
            norm,
            unused,
            positions: Mutex::default(),
            config,
        })
    }

    /// The patch grid of an `h × w` pixel input; the input must be a whole number of
    /// patches on each side.
    pub fn grid_of(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        let p = self.config.patch_size;
        if h < p || w < p || h % p != 0 || w % p != 0 {
            return Err(Error::arg(
                "image embedder",
                format!("an input of {h} × {w} pixels is not a whole number of {p}-pixel patches"),
            ));
        }
        Ok((h / p, w / p))
    }

    fn positions(&self, batch: usize, gh: usize, gw: usize) -> Result<Positions> {
        let mut map = self.positions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = map.get(&(batch, gh, gw)) {
            return Ok(p.clone());
        }
        let d = self.config.hidden_size;
        let g = self.config.grid();
        let first: Vec<f32> = self.cls.iter().zip(&self.pos_cls).map(|(a, b)| a + b).collect();
        let rows = Tensor::from_f32(vec![batch, 1, d], first.repeat(batch))?;
        // The same grid shape (not only the same patch count: 16 × 32 is not 32 × 16).
        let grid = match map.iter().find(|(&(_, h, w), _)| (h, w) == (gh, gw)) {
            Some((_, (_, grid))) => grid.clone(),
            None => Tensor::from_f32(vec![1, gh * gw, d], interpolate(&self.pos_grid, (g, g), d, (gh, gw)))?,
        };
        map.insert((batch, gh, gw), (rows.clone(), grid.clone()));
        Ok((rows, grid))
    }

    /// The encoder for `batch` images of `h × w` pixels. Input `pixel_values`
    /// `[B, 3, H, W]`; output the last hidden state `[B, 1 + patches, D]` (after the final
    /// LayerNorm; token 0 is the class token).
    pub fn graph(&self, batch: usize, h: usize, w: usize) -> Result<Graph> {
        let c = &self.config;
        let (gh, gw) = self.grid_of(h, w)?;
        let (d, heads) = (c.hidden_size, c.num_attention_heads);
        let (n, hd) = (gh * gw, d / heads);
        let t = n + 1;
        let (first, grid) = self.positions(batch, gh, gw)?;
        let mut g = GraphBuilder::new();
        let px = g.input("pixel_values", &[batch, c.num_channels, h, w], DType::F32);
        let x = self.patch.forward(&mut g, px)?;
        let x = g.reshape(x, &[batch, d, n])?;
        let x = g.permute(x, &[0, 2, 1])?;
        let grid = g.constant(grid);
        let x = g.add(x, grid)?;
        let first = g.constant(first);
        let x = g.concat(&[first, x], 1)?;
        let mut x = g.reshape(x, &[batch * t, d])?;
        let split = |g: &mut GraphBuilder, y: NodeId| -> Result<NodeId> {
            let y = g.reshape(y, &[batch, t, heads, hd])?;
            g.permute(y, &[0, 2, 1, 3])
        };
        let scaled = |g: &mut GraphBuilder, y: NodeId, s: &Option<Tensor>| -> Result<NodeId> {
            match s {
                Some(s) => {
                    let s = g.constant(s.clone());
                    g.mul(y, s)
                }
                None => Ok(y),
            }
        };
        for l in &self.layers {
            let y = l.norm1.forward(&mut g, x)?;
            let q = l.query.forward(&mut g, y)?;
            let k = l.key.forward(&mut g, y)?;
            let v = l.value.forward(&mut g, y)?;
            let (q, k, v) = (split(&mut g, q)?, split(&mut g, k)?, split(&mut g, v)?);
            let a = g.attention(q, k, v, None, false, 1.0 / (hd as f32).sqrt())?;
            let a = g.permute(a, &[0, 2, 1, 3])?;
            let a = g.reshape(a, &[batch * t, d])?;
            let a = l.out.forward(&mut g, a)?;
            let a = scaled(&mut g, a, &l.scale1)?;
            x = g.add(x, a)?;
            let y = l.norm2.forward(&mut g, x)?;
            let y = l.fc1.forward(&mut g, y)?;
            let y = g.unary(c.hidden_act.op(), y)?;
            let y = l.fc2.forward(&mut g, y)?;
            let y = scaled(&mut g, y, &l.scale2)?;
            x = g.add(x, y)?;
        }
        let x = self.norm.forward(&mut g, x)?;
        let out = g.reshape(x, &[batch, t, d])?;
        g.build(&[out])
    }
}
