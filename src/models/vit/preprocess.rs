//! Image preprocessing as a Hugging Face `preprocessor_config.json` describes it (ViT's and
//! DINOv2's `BitImageProcessor`): to RGB, resize through Pillow's resampler, center crop,
//! rescale, normalise, laid out `[3, H, W]`.

use super::resize::{resize_u8, Filter};
use crate::error::{Error, Result};
use crate::models::common::{dimension, Config};
use crate::tensor::MAX_ELEMENTS;
use serde_json::Value;

pub use crate::models::files::PREPROCESSOR;

/// Decoded pixels: `channels` interleaved u8 samples per pixel (1 gray, 2 gray + alpha,
/// 3 RGB, 4 RGBA), row by row.
#[derive(Debug, Clone, Copy)]
pub struct Pixels<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

impl Pixels<'_> {
    /// Checks the sizes agree; every error is `invalid_image` naming what is wrong.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidImage(m));
        if self.width == 0 || self.height == 0 {
            return bad(format!("the image is {} × {} pixels; it needs at least one", self.width, self.height));
        }
        if !(1..=4).contains(&self.channels) {
            return bad(format!(
                "channels is {}; it must be 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGBA)",
                self.channels
            ));
        }
        let need = self.width.checked_mul(self.height).and_then(|n| n.checked_mul(self.channels));
        if need != Some(self.data.len()) {
            return bad(format!(
                "{} bytes of data for {} × {} pixels of {} channels (needs {})",
                self.data.len(),
                self.width,
                self.height,
                self.channels,
                need.map_or("more than memory holds".into(), |n| n.to_string())
            ));
        }
        Ok(())
    }

    /// RGB, as Pillow's `convert("RGB")`: gray is repeated, alpha is dropped.
    pub fn to_rgb(&self) -> Vec<u8> {
        let c = self.channels;
        self.data
            .chunks_exact(c)
            .flat_map(|p| match c {
                1 | 2 => [p[0], p[0], p[0]],
                _ => [p[0], p[1], p[2]],
            })
            .collect()
    }
}

/// How the shorter side (or both) is resized before the crop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resize {
    /// `{"shortest_edge": n}`: the shorter side to `n`, the other scaled (rounded down).
    ShortestEdge(usize),
    /// `{"height": h, "width": w}`: exactly that.
    Exact(usize, usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    pub resize: Option<Resize>,
    pub filter: Filter,
    /// Center crop `(height, width)`.
    pub crop: Option<(usize, usize)>,
    pub rescale: Option<f64>,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub normalize: bool,
}

impl Default for Preprocessor {
    /// `facebook/dinov2-small`'s.
    fn default() -> Self {
        Preprocessor {
            resize: Some(Resize::ShortestEdge(256)),
            filter: Filter::Bicubic,
            crop: Some((224, 224)),
            rescale: Some(1.0 / 255.0),
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            normalize: true,
        }
    }
}

fn size_field(c: &Config, key: &str) -> Result<Option<Resize>> {
    let bad = || Error::config(c.file, format!("{key} is not {{shortest_edge}} or {{height, width}}"));
    let dim = |v: &Value| v.as_u64().and_then(dimension).ok_or_else(bad);
    match c.v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(n @ Value::Number(_)) => Ok(Some(Resize::Exact(dim(n)?, dim(n)?))),
        Some(o) => match (o.get("shortest_edge"), o.get("height"), o.get("width")) {
            (Some(s), _, _) => Ok(Some(Resize::ShortestEdge(dim(s)?))),
            (None, Some(h), Some(w)) => Ok(Some(Resize::Exact(dim(h)?, dim(w)?))),
            _ => Err(bad()),
        },
    }
}

impl Preprocessor {
    pub fn from_json(v: &Value) -> Result<Self> {
        let c = Config::new(PREPROCESSOR, v);
        let d = Preprocessor::default();
        let resize = if c.bool_or("do_resize", true)? { size_field(&c, "size")? } else { None };
        let filter = match v.get("resample") {
            None | Some(Value::Null) => d.filter,
            Some(r) => r.as_u64().and_then(Filter::from_pil).ok_or_else(|| {
                Error::UnsupportedModel(format!("{PREPROCESSOR}: resample {r} (only 2, bilinear, and 3, bicubic)"))
            })?,
        };
        let crop = if c.bool_or("do_center_crop", false)? {
            match size_field(&c, "crop_size")? {
                Some(Resize::Exact(h, w)) => Some((h, w)),
                Some(Resize::ShortestEdge(n)) => Some((n, n)),
                None => d.crop,
            }
        } else {
            None
        };
        let rescale =
            if c.bool_or("do_rescale", true)? { Some(c.num_or("rescale_factor", 1.0 / 255.0)?) } else { None };
        let three = |key: &str, dflt: [f32; 3]| -> Result<[f32; 3]> {
            let v = c.floats_or(key, 3, &dflt.map(f64::from))?;
            Ok([v[0] as f32, v[1] as f32, v[2] as f32])
        };
        let std = three("image_std", d.std)?;
        if std.contains(&0.0) {
            return Err(Error::config(PREPROCESSOR, "image_std has a zero entry"));
        }
        Ok(Preprocessor {
            resize,
            filter,
            crop,
            rescale,
            mean: three("image_mean", d.mean)?,
            std,
            normalize: c.bool_or("do_normalize", true)?,
        })
    }

    /// The same steps for a square input of `size` pixels: the crop becomes `size` and the
    /// resize keeps its ratio to the crop (DINOv2's 256/224), so 448 resizes to 512.
    pub fn at_size(&self, size: usize) -> Preprocessor {
        let mut p = self.clone();
        let base = self.crop.map_or(size, |(h, _)| h);
        p.resize = match self.resize {
            Some(Resize::ShortestEdge(n)) => {
                let n = n.checked_mul(size).map_or(size, |m| m.div_ceil(base)).clamp(size, MAX_ELEMENTS);
                Some(Resize::ShortestEdge(n))
            }
            Some(Resize::Exact(..)) | None => Some(Resize::Exact(size, size)),
        };
        // Square, whatever the preprocessor did without a crop.
        p.crop = Some((size, size));
        p
    }

    /// The size `(height, width)` of the model input for an image of `(w, h)` pixels.
    pub fn output_size(&self, w: usize, h: usize) -> (usize, usize) {
        let (rw, rh) = self.resized(w, h);
        self.crop.map_or((rh, rw), |c| c)
    }

    fn resized(&self, w: usize, h: usize) -> (usize, usize) {
        match self.resize {
            None => (w, h),
            Some(Resize::Exact(rh, rw)) => (rw, rh),
            // Hugging Face's get_resize_output_image_size: int(size * long / short).
            Some(Resize::ShortestEdge(s)) if w <= h => (s, ((s as u128 * h as u128) / w as u128).max(1) as usize),
            Some(Resize::ShortestEdge(s)) => (((s as u128 * w as u128) / h as u128).max(1) as usize, s),
        }
    }

    /// The image resized and cropped, as 8-bit RGB `[H, W, 3]`, and its size: what the
    /// normalisation reads (tests compare it with Pillow's to the bit).
    pub fn resize_crop(&self, px: &Pixels) -> Result<(Vec<u8>, (usize, usize))> {
        px.check()?;
        let rgb = px.to_rgb();
        let (rw, rh) = self.resized(px.width, px.height);
        // The horizontal pass makes `rw × height` first, then the vertical one `rw × rh`.
        let fits =
            |w: usize, h: usize| w.checked_mul(h).and_then(|n| n.checked_mul(3)).is_some_and(|n| n <= MAX_ELEMENTS);
        if !fits(rw, rh) || !fits(rw, px.height) {
            return Err(Error::InvalidImage(format!(
                "resizing {} × {} to {rw} × {rh} is larger than memory allows",
                px.width, px.height
            )));
        }
        let resized = resize_u8(&rgb, (px.width, px.height), 3, (rw, rh), self.filter);
        let (ch, cw) = self.crop.unwrap_or((rh, rw));
        if (ch, cw) == (rh, rw) {
            return Ok((resized, (rh, rw)));
        }
        // Hugging Face's center_crop: offsets (size - crop) // 2, rounded down (negative,
        // so zero padding, where the crop is larger than the image).
        let top = (rh as i64 - ch as i64).div_euclid(2);
        let left = (rw as i64 - cw as i64).div_euclid(2);
        let mut out = vec![0u8; ch * cw * 3];
        for y in 0..ch {
            let sy = y as i64 + top;
            if sy < 0 || sy as usize >= rh {
                continue;
            }
            for x in 0..cw {
                let sx = x as i64 + left;
                if sx >= 0 && (sx as usize) < rw {
                    let src = ((sy as usize) * rw + sx as usize) * 3;
                    out[(y * cw + x) * 3..][..3].copy_from_slice(&resized[src..src + 3]);
                }
            }
        }
        Ok((out, (ch, cw)))
    }

    /// The model input for one image, `[3, H, W]` row-major, and its size.
    pub fn run(&self, px: &Pixels) -> Result<(Vec<f32>, (usize, usize))> {
        let (rgb, (h, w)) = self.resize_crop(px)?;
        let mut out = vec![0f32; 3 * h * w];
        for (i, p) in rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                // Rescaled in f64 then stored as f32, normalised in f32: HF's order.
                let mut f = match self.rescale {
                    Some(s) => (p[c] as f64 * s) as f32,
                    None => p[c] as f32,
                };
                if self.normalize {
                    f = (f - self.mean[c]) / self.std[c];
                }
                out[c * h * w + i] = f;
            }
        }
        Ok((out, (h, w)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A very tall image is refused before the first resize pass allocates `224 × height`.
    #[test]
    fn an_intermediate_larger_than_memory_is_an_error() {
        let p = Preprocessor { resize: Some(Resize::Exact(224, 224)), crop: None, ..Preprocessor::default() };
        let data = vec![0u8; 4_000_000];
        let px = Pixels { data: &data, width: 1, height: 4_000_000, channels: 1 };
        let e = p.run(&px).unwrap_err();
        assert_eq!(e.code(), "invalid_image", "{e}");
    }

    #[test]
    fn at_size_is_square_with_or_without_a_crop() {
        let no_crop = Preprocessor { crop: None, ..Preprocessor::default() };
        for p in [Preprocessor::default(), no_crop] {
            let q = p.at_size(448);
            assert_eq!(q.output_size(640, 427), (448, 448));
        }
    }
}
