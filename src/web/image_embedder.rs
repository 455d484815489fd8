//! The JS `ImageEmbedder`: `await ImageEmbedder.load(baseUrl, opts)`, then
//! `embed(images, { pooling, normalize })` and `saliency(image)`. The package's JS turns
//! every kind of image (ImageData, bitmaps, elements, canvases, video frames, Blobs, URLs)
//! into `{ data, width, height, channels }` pixels before they reach here.

use super::control::{signal_field, yield_now, Control};
use super::error::to_js;
use super::model::{model_members, JsModel, Runner};
use super::options::{check_known, check_options, field, string_field};
use crate::backend::webgpu::WebGpuBackend;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::models::vit::Pixels;
use crate::models::{FileSpec, ImageEmbedder, ImageOptions, ModelFiles, Pooling};
use crate::runtime::Session;
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(js_name = ImageEmbedder)]
pub struct JsImageEmbedder(JsModel<ImageEmbedder>);

impl Runner for ImageEmbedder {
    const CLASS: &'static str = "ImageEmbedder";
    const FILES: &'static [FileSpec] = ImageEmbedder::FILES;
    type Options = ImageOptions;
    fn build(files: ModelFiles, opts: &ImageOptions, session: &Session) -> Result<Self> {
        ImageEmbedder::from_files_in(files, opts, session)
    }
    fn set_backend(&mut self, backend: Arc<dyn Backend>) {
        ImageEmbedder::set_backend(self, backend)
    }
    fn webgpu(&self) -> Option<&WebGpuBackend> {
        ImageEmbedder::webgpu(self)
    }
}

/// Owned pixels read from one `{ data, width, height, channels }` object.
struct Owned {
    data: Vec<u8>,
    width: usize,
    height: usize,
    channels: usize,
}

impl Owned {
    fn pixels(&self) -> Pixels<'_> {
        Pixels { data: &self.data, width: self.width, height: self.height, channels: self.channels }
    }
}

/// A positive whole number field of an image object.
fn count(what: &str, v: &JsValue, key: &str) -> Result<usize> {
    let x = field(v, key);
    match x.as_f64() {
        Some(n) if n.fract() == 0.0 && n >= 0.0 && n <= u32::MAX as f64 => Ok(n as usize),
        _ => Err(Error::InvalidImage(format!("{what}: {key} must be a whole number, got {x:?}"))),
    }
}

/// `v` as pixels; every problem is `invalid_image` naming `what`.
fn pixels_of(what: &str, v: &JsValue) -> Result<Owned> {
    if !v.is_object() {
        return Err(Error::InvalidImage(format!("{what} is not an image")));
    }
    let (width, height, channels) = (count(what, v, "width")?, count(what, v, "height")?, count(what, v, "channels")?);
    let data = field(v, "data");
    let bytes: js_sys::Uint8Array = if let Some(a) = data.dyn_ref::<js_sys::Uint8Array>() {
        a.clone()
    } else if let Some(c) = data.dyn_ref::<js_sys::Uint8ClampedArray>() {
        js_sys::Uint8Array::new_with_byte_offset_and_length(&c.buffer(), c.byte_offset(), c.length())
    } else {
        return Err(Error::InvalidImage(format!("{what}: data must be a Uint8Array or Uint8ClampedArray")));
    };
    // Sizes are checked (Pixels::check) before anything is copied.
    let probe = Pixels { data: &[], width, height, channels };
    let need = width.checked_mul(height).and_then(|n| n.checked_mul(channels));
    if need != Some(bytes.length() as usize) {
        return probe.check().and_then(|_| {
            Err(Error::InvalidImage(format!(
                "{what}: {} bytes of data for {width} × {height} pixels of {channels} channels",
                bytes.length()
            )))
        });
    }
    let mut data: Vec<u8> = crate::backend::cpu::zeroed(bytes.length() as usize, "an image's pixels")?;
    bytes.copy_to(&mut data);
    let owned = Owned { data, width, height, channels };
    owned.pixels().check().map_err(|e| match e {
        Error::InvalidImage(m) => Error::InvalidImage(format!("{what}: {m}")),
        other => other,
    })?;
    Ok(owned)
}

#[wasm_bindgen(js_class = ImageEmbedder)]
impl JsImageEmbedder {
    /// Loads `config.json`, `model.safetensors` and, when present,
    /// `preprocessor_config.json` and the saliency head (`saliency_head_config.json`,
    /// `saliency_head.safetensors`) from `baseUrl`, through the weight store. Options: a
    /// load's (`backend`, `shaderVariant`, `onProgress`, `cache`, `store`, `session`,
    /// `signal`, `stallTimeoutMs`) and `size` (a square input of that many pixels, the
    /// position embeddings interpolated to it).
    pub async fn load(base_url: JsValue, opts: JsValue) -> std::result::Result<JsImageEmbedder, JsValue> {
        JsModel::load("ImageEmbedder.load", base_url, opts).await.map(JsImageEmbedder)
    }

    /// `embed(images, { pooling, normalize, signal }) → Promise<Float32Array[]>`, images as
    /// `{ data, width, height, channels }` (the package's wrapper converts every other
    /// kind). `pooling`: 'cls' (default), 'mean' (of the patch tokens) or 'none' (every
    /// token). Images run in batches of 8; between them the call yields and checks
    /// `signal`.
    pub fn embed(&self, images: JsValue, opts: JsValue) -> js_sys::Promise {
        const OP: &str = "ImageEmbedder.embed";
        let parsed = self.0.get().cloned().and_then(|e| {
            check_options(OP, &opts)?;
            check_known(OP, &opts, &["pooling", "normalize", "signal"])?;
            let pooling =
                string_field(OP, &opts, "pooling")?.map(|p| Pooling::parse(&p)).transpose()?.unwrap_or(Pooling::Cls);
            let normalize = super::options::bool_field(OP, &opts, "normalize", false)?;
            let arr =
                images.dyn_ref::<js_sys::Array>().ok_or_else(|| Error::arg(OP, "images must be an array of images"))?;
            let owned = arr
                .iter()
                .enumerate()
                .map(|(i, v)| pixels_of(&format!("images[{i}]"), &v))
                .collect::<Result<Vec<_>>>()?;
            Ok((e, owned, pooling, normalize, Control::new(OP, signal_field(OP, &opts)?, None)))
        });
        let (e, owned, pooling, normalize, control) = match parsed {
            Ok(v) => v,
            Err(err) => return js_sys::Promise::reject(&to_js(err)),
        };
        wasm_bindgen_futures::future_to_promise(async move {
            control.check().map_err(to_js)?;
            let px: Vec<Pixels> = owned.iter().map(Owned::pixels).collect();
            let between = async || {
                yield_now().await;
                control.check()
            };
            let vs = e.embed_paced(&px, pooling, normalize, between).await.map_err(to_js)?;
            let out = js_sys::Array::new();
            for v in vs {
                out.push(&js_sys::Float32Array::from(v.as_slice()));
            }
            Ok(out.into())
        })
    }

    /// `saliency(image, { signal }) → Promise<{ data: Float32Array, width, height }>`: the
    /// saliency head's map over the model input (the center crop), values in [0, 1]. It
    /// shares the encoder run with `embed` of the same image (the session's output cache).
    pub fn saliency(&self, image: JsValue, opts: JsValue) -> js_sys::Promise {
        const OP: &str = "ImageEmbedder.saliency";
        let parsed = self.0.get().cloned().and_then(|e| {
            check_options(OP, &opts)?;
            check_known(OP, &opts, &["signal"])?;
            Ok((e, pixels_of("image", &image)?, Control::new(OP, signal_field(OP, &opts)?, None)))
        });
        let (e, owned, control) = match parsed {
            Ok(v) => v,
            Err(err) => return js_sys::Promise::reject(&to_js(err)),
        };
        wasm_bindgen_futures::future_to_promise(async move {
            control.check().map_err(to_js)?;
            let s = e.saliency_async(&owned.pixels()).await.map_err(to_js)?;
            let o = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&o, &"data".into(), &js_sys::Float32Array::from(s.data.as_slice()));
            let _ = js_sys::Reflect::set(&o, &"width".into(), &(s.width as f64).into());
            let _ = js_sys::Reflect::set(&o, &"height".into(), &(s.height as f64).into());
            Ok(o.into())
        })
    }

    /// Length of each pooled vector.
    #[wasm_bindgen(getter)]
    pub fn dims(&self) -> usize {
        self.0.inner().map_or(0, |e| e.dims())
    }

    /// The form the encoder's linear layers' weights are held in.
    #[wasm_bindgen(getter)]
    pub fn dtype(&self) -> String {
        self.0.inner().map_or("", |e| e.dtype()).to_string()
    }

    /// Bytes of wasm memory the model's weights hold (the f32 file, read in place; for
    /// another dtype, its quantized tensors and copies of the rest, the file freed).
    #[wasm_bindgen(getter, js_name = weightBytes)]
    pub fn weight_bytes(&self) -> f64 {
        self.0.inner().map_or(0.0, |e| e.weight_bytes() as f64)
    }

    /// Whether the model has a saliency head.
    #[wasm_bindgen(getter, js_name = hasSaliency)]
    pub fn has_saliency(&self) -> bool {
        self.0.inner().is_some_and(|e| e.has_saliency())
    }

    /// Weights in the files that the model does not use.
    #[wasm_bindgen(getter, js_name = unusedWeights)]
    pub fn unused_weights(&self) -> Vec<String> {
        self.0.inner().map(|e| e.unused_weights()).unwrap_or_default()
    }
}

model_members!(JsImageEmbedder, ImageEmbedder);
