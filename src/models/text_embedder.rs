//! `TextEmbedder`: texts in, one vector per text out. Tokenizes, batches texts of similar
//! length, runs the BERT graph (cached per batch and length bucket) and pools.

use super::bert::{Bert, BertConfig, FILES, MODULES, POOLING, SENTENCE_BERT, TOKENIZER};
use super::common::dimension;
use super::core::{finite, load_model, model_id, ModelCore};
use super::files::{parse_json, FileSpec, ModelFiles, CONFIG};
use super::pooling::{Pooling, PoolingConfig};
use super::tokenizer::{Encoded, TextTokenizer};
use super::weight_dtype::WeightDtype;
use crate::backend::webgpu::WebGpuBackend;
use crate::backend::{Backend, BackendKind};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::runtime::{digest_bytes, Digest, Session};
use crate::tensor::Tensor;
use std::sync::Arc;

/// Texts per forward pass: enough to amortise weight packing, small enough for memory.
const MAX_BATCH: usize = 8;

/// What happens to a text longer than the model's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Truncation {
    /// Cut it to the limit, as sentence-transformers does.
    #[default]
    Truncate,
    /// Fail with `input_too_long`.
    Error,
}

impl Truncation {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "truncate" => Ok(Truncation::Truncate),
            "error" => Ok(Truncation::Error),
            other => Err(Error::arg("truncation", format!("'{other}' is not one of truncate, error"))),
        }
    }
}

/// Overrides of what the model's files say.
#[derive(Debug, Clone, Default)]
pub struct EmbedderOptions {
    pub pooling: Option<Pooling>,
    pub normalize: Option<bool>,
    pub truncation: Truncation,
    /// The form the linear layers' weights are held in (f32 by default).
    pub dtype: WeightDtype,
}

pub struct TextEmbedder {
    bert: Bert,
    tokenizer: TextTokenizer,
    pooling: Pooling,
    normalize: bool,
    truncation: Truncation,
    dtype: WeightDtype,
    core: ModelCore<(usize, usize)>,
}

/// One forward pass's inputs: the graph, its three input tensors and the padded length.
struct Prepared {
    graph: Arc<Graph>,
    inputs: [Tensor; 3],
    seq: usize,
}

impl TextEmbedder {
    /// The files a text embedder is loaded from.
    pub const FILES: &'static [FileSpec] = FILES;

    /// Builds an embedder from a model's files; every check (config, weights, tokenizer)
    /// happens here, so `embed` only fails on bad texts. It runs on a CPU backend of its
    /// own and shares nothing.
    pub fn from_files(files: ModelFiles, opts: &EmbedderOptions) -> Result<Self> {
        Self::build(files, opts, None)
    }

    /// Builds an embedder in `session`: its weights shared with every model of the
    /// session holding the same tensors (not read at all when the session holds the
    /// whole file), run on the session's CPU backend until `set_backend`.
    pub fn from_files_in(files: ModelFiles, opts: &EmbedderOptions, session: &Session) -> Result<Self> {
        Self::build(files, opts, Some(session))
    }

    /// The configs and tokenizer are checked before the weights are read, so a broken
    /// config is reported as such, whatever the weights file holds.
    fn build(mut files: ModelFiles, opts: &EmbedderOptions, session: Option<&Session>) -> Result<Self> {
        let config = BertConfig::from_json(&parse_json(CONFIG, files.require(CONFIG)?)?)?;
        let pc = PoolingConfig::from_files(files.get(POOLING), files.get(MODULES))?;
        let max_seq = match files.get(SENTENCE_BERT) {
            Some(b) => parse_json(SENTENCE_BERT, b)?
                .get("max_seq_length")
                // At least 2: the [CLS] and [SEP] tokens every text gets.
                .map(|m| {
                    m.as_u64().and_then(dimension).filter(|&n| n >= 2).ok_or_else(|| {
                        Error::config(SENTENCE_BERT, format!("max_seq_length {m} is not an integer of at least 2"))
                    })
                })
                .transpose()?,
            None => None,
        }
        .unwrap_or(config.max_position_embeddings)
        .min(config.max_position_embeddings);
        let tokenizer = TextTokenizer::from_bytes(files.require(TOKENIZER)?, max_seq)?;
        let (bert, weights, held) =
            load_model(&mut files, session, &opts.dtype, |root| Bert::new(config.clone(), root))?;
        let (pooling, normalize) = (opts.pooling.unwrap_or(pc.pooling), opts.normalize.unwrap_or(pc.normalize));
        let id = model_id(
            &[
                files.require(CONFIG)?,
                files.require(TOKENIZER)?,
                pooling.name().as_bytes(),
                &[normalize as u8, max_seq as u8, (max_seq >> 8) as u8],
                opts.dtype.id().as_bytes(),
            ],
            &weights,
        );
        Ok(TextEmbedder {
            bert,
            tokenizer,
            pooling,
            normalize,
            truncation: opts.truncation,
            dtype: opts.dtype.clone(),
            core: ModelCore::new(held, id, &weights),
        })
    }

    /// Runs the model on `backend` from now on.
    pub fn set_backend(&mut self, backend: Arc<dyn Backend>) {
        self.core.set_backend(backend);
    }

    /// Runs the model on `gpu` from now on (through `embed_async`).
    // In wasm wgpu's handles are not Send; the `Arc` is then single-threaded.
    #[allow(clippy::arc_with_non_send_sync)]
    pub fn set_webgpu(&mut self, gpu: WebGpuBackend) {
        self.set_backend(Arc::new(gpu));
    }

    /// The session the model was loaded in, if any.
    pub fn session(&self) -> Option<&Session> {
        self.core.session()
    }

    /// Which backend runs the model.
    pub fn backend_kind(&self) -> BackendKind {
        self.core.backend_kind()
    }

    /// The WebGPU backend running the model, if it is one.
    pub fn webgpu(&self) -> Option<&WebGpuBackend> {
        self.core.webgpu()
    }

    /// Loads a model laid out in Hugging Face form under `dir`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: impl AsRef<std::path::Path>, opts: &EmbedderOptions) -> Result<Self> {
        Self::from_files(ModelFiles::from_dir(dir, FILES)?, opts)
    }

    /// Weights in the file that the model does not use (reported at load).
    pub fn unused_weights(&self) -> &[String] {
        &self.bert.unused
    }

    /// Length of each output vector (for mean and cls pooling).
    pub fn dims(&self) -> usize {
        self.bert.config.hidden_size
    }

    pub fn max_tokens(&self) -> usize {
        self.tokenizer.max_len()
    }

    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// The form the linear layers' weights are held in ('f32', 'f16', 'q8' or 'q4').
    pub fn dtype(&self) -> &'static str {
        self.dtype.name()
    }

    /// Bytes of the host memory the model's weights hold: the whole file for f32 weights
    /// (read in place), the quantized tensors and copies of the rest for another dtype.
    pub fn weight_bytes(&self) -> u64 {
        self.core.weight_bytes
    }

    pub fn normalize(&self) -> bool {
        self.normalize
    }

    /// The tokenizer, as `tokenizer.json` text.
    pub fn tokenizer_json(&self) -> Result<String> {
        self.tokenizer.to_json()
    }

    /// Token count of `text` after truncation, special tokens included.
    pub fn token_count(&self, text: &str) -> Result<usize> {
        Ok(self.tokenizer.encode(text)?.ids.len())
    }

    /// One vector per text, in order, synchronously: for a backend that never waits (the
    /// CPU's); any other is `invalid_argument` pointing at `embed_async`. A text's vector
    /// does not depend on the other texts.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        crate::runtime::now(self.embed_async(texts)).unwrap_or_else(|| Err(self.core.must_wait("embed")))
    }

    /// One vector per text, in order, on the model's backend. On WebGPU each batch is one
    /// queue submission and one asynchronous readback.
    pub async fn embed_async(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_paced(texts, async || Ok(())).await
    }

    /// Like `embed_async`, awaiting `between()` between batches: the browser yields to its
    /// event loop there (so a long call on the CPU does not freeze the page) and checks
    /// the caller's abort signal, whose error ends the call.
    pub async fn embed_paced(
        &self,
        texts: &[&str],
        mut between: impl AsyncFnMut() -> Result<()>,
    ) -> Result<Vec<Vec<f32>>> {
        let encoded = self.encode(texts)?;
        let mut out = vec![Vec::new(); texts.len()];
        // Texts the session has seen with this model are answered from its output cache.
        let keys: Vec<Digest> =
            encoded.iter().map(|e| digest_bytes(&[bytemuck::cast_slice::<i32, u8>(&e.ids)])).collect();
        let mut todo = vec![];
        for (i, key) in keys.iter().enumerate() {
            match self.core.cached(key) {
                Some(v) => out[i] = v.to_vec(),
                None => todo.push(i),
            }
        }
        for (n, chunk) in self.batches(&encoded, todo).iter().enumerate() {
            if n > 0 {
                between().await?;
            }
            let batch: Vec<&Encoded> = chunk.iter().map(|&i| &encoded[i]).collect();
            let p = self.prepare(&batch)?;
            let hidden = self.core.run(&p.graph, &p.inputs).await?;
            self.collect(chunk, &batch, p.seq, hidden, &mut out)?;
            for &i in chunk {
                self.core.keep(keys[i], Arc::new(out[i].clone()));
            }
        }
        Ok(out)
    }

    /// Pools one batch's hidden states into `out`, at the texts' places.
    fn collect(
        &self,
        chunk: &[usize],
        batch: &[&Encoded],
        seq: usize,
        outputs: Vec<Tensor>,
        out: &mut [Vec<f32>],
    ) -> Result<()> {
        let hidden = outputs.into_iter().next().ok_or_else(|| Error::InvalidGraph("the model has no output".into()))?;
        for (&i, v) in chunk.iter().zip(self.pool(batch, seq, &hidden)) {
            out[i] = finite("text", i, v)?;
        }
        Ok(())
    }

    /// Tokenizes every text; a text over the limit is an error where truncation says so.
    fn encode(&self, texts: &[&str]) -> Result<Vec<Encoded>> {
        let mut encoded = Vec::with_capacity(texts.len());
        for (i, t) in texts.iter().enumerate() {
            let e = self.tokenizer.encode(t)?;
            if e.truncated && self.truncation == Truncation::Error {
                return Err(Error::InputTooLong { index: i, limit: self.tokenizer.max_len() });
            }
            encoded.push(e);
        }
        Ok(encoded)
    }

    /// Groups the texts `todo` (indices) into batches of similar length, so little
    /// compute goes to padding.
    fn batches(&self, encoded: &[Encoded], mut todo: Vec<usize>) -> Vec<Vec<usize>> {
        todo.sort_by_key(|&i| encoded[i].ids.len());
        todo.chunks(MAX_BATCH).map(<[usize]>::to_vec).collect()
    }

    fn graph(&self, batch: usize, seq: usize) -> Result<Arc<Graph>> {
        self.core.graph((batch, seq), || self.bert.graph(batch, seq))
    }

    fn prepare(&self, batch: &[&Encoded]) -> Result<Prepared> {
        let longest = batch.iter().map(|e| e.ids.len()).max().unwrap_or(1).max(1);
        let seq = self.core.shape_policy().bucket(longest);
        let seq = seq.min(self.bert.config.max_position_embeddings).max(longest);
        let b = batch.len();
        let mut ids = vec![0i32; b * seq];
        let mut types = vec![0i32; b * seq];
        let mut mask = vec![0f32; b * seq];
        for (r, e) in batch.iter().enumerate() {
            let n = e.ids.len();
            ids[r * seq..r * seq + n].copy_from_slice(&e.ids);
            types[r * seq..r * seq + n].copy_from_slice(&e.type_ids);
            mask[r * seq..r * seq + n].fill(1.0);
        }
        let vocab = self.bert.vocab_size() as i32;
        if let Some(bad) = ids.iter().find(|&&i| i >= vocab) {
            return Err(Error::UnsupportedModel(format!(
                "tokenizer.json produced token id {bad}, outside the model's vocabulary of {vocab}"
            )));
        }
        let inputs = [
            Tensor::from_i32(vec![b, seq], ids)?,
            Tensor::from_i32(vec![b, seq], types)?,
            Tensor::from_f32(vec![b, seq], mask)?,
        ];
        Ok(Prepared { graph: self.graph(b, seq)?, inputs, seq })
    }

    /// Pools each text's rows of the hidden states (padding left out).
    fn pool(&self, batch: &[&Encoded], seq: usize, hidden: &Tensor) -> Vec<Vec<f32>> {
        let h = self.dims();
        let states = hidden.to_f32_vec();
        batch
            .iter()
            .enumerate()
            .map(|(r, e)| {
                let rows = &states[r * seq * h..(r * seq + e.ids.len()) * h];
                self.pooling.apply(rows, h, self.normalize)
            })
            .collect()
    }
}
