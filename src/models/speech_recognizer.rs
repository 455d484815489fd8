//! `SpeechRecognizer`: audio in, text with timestamped segments out. Whisper, greedy, with
//! openai/whisper's rules and long-form seeking over 30 s windows, so audio of any length
//! is transcribed with memory that does not grow with it: each window's mel is computed
//! when it is decoded, the cross keys and values are made once per window and replace the
//! last window's, and the self-attention caches are allocated once per call and reused.

use super::core::{load_model, model_id, ModelCore};
use super::files::{parse_json, FileSpec, ModelFiles, CONFIG, PREPROCESSOR, TOKENIZER, WEIGHTS};
use super::tokenizer::TextTokenizer;
use super::weight_dtype::WeightDtype;
use super::whisper::audio;
use super::whisper::config::{Generation, WhisperConfig, GENERATION};
use super::whisper::mel::{LogMel, MelFilters, N_FRAMES, SAMPLE_RATE};
use super::whisper::model::WhisperModel;
use super::whisper::rules::{pick, probability};
use super::whisper::segments::split;
pub use super::whisper::transcript::{Listener, Quiet, Segment, SpeechOptions, Task, TranscribeOptions, Transcript};
use crate::backend::webgpu::WebGpuBackend;
use crate::backend::{Backend, BackendKind, Value};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::runtime::Session;
use crate::tensor::Tensor;
use std::sync::Arc;

/// The files of a Whisper checkpoint in the Hugging Face layout.
pub const FILES: &[FileSpec] = &[
    FileSpec::required(CONFIG),
    FileSpec::required(WEIGHTS),
    FileSpec::required(TOKENIZER),
    FileSpec::optional(GENERATION),
    FileSpec::optional(PREPROCESSOR),
];

/// openai's thresholds: a window whose no-speech probability is above 0.6 and whose
/// average log-probability is at most -1 is silence, and skipped.
const NO_SPEECH_THRESHOLD: f64 = 0.6;
const LOGPROB_THRESHOLD: f64 = -1.0;

/// Graphs: the encoder's, and the decoder's for `n` tokens.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum GraphKey {
    Encode,
    Decode(usize),
}

pub struct SpeechRecognizer {
    model: WhisperModel,
    gen: Generation,
    tokenizer: TextTokenizer,
    filters: MelFilters,
    dtype: WeightDtype,
    core: ModelCore<GraphKey>,
}

/// One window's decoding: the sampled tokens, their average log-probability and the
/// no-speech probability.
struct Decoded {
    tokens: Vec<u32>,
    avg_logprob: f64,
    no_speech: f64,
}

impl SpeechRecognizer {
    pub const FILES: &'static [FileSpec] = FILES;

    pub fn from_files(files: ModelFiles, opts: &SpeechOptions) -> Result<Self> {
        Self::build(files, opts, None)
    }

    pub fn from_files_in(files: ModelFiles, opts: &SpeechOptions, session: &Session) -> Result<Self> {
        Self::build(files, opts, Some(session))
    }

    /// Loads a checkpoint laid out in Hugging Face form under `dir`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: impl AsRef<std::path::Path>, opts: &SpeechOptions) -> Result<Self> {
        Self::from_files(ModelFiles::from_dir(dir, FILES)?, opts)
    }

    fn build(mut files: ModelFiles, opts: &SpeechOptions, session: Option<&Session>) -> Result<Self> {
        let config_json = parse_json(CONFIG, files.require(CONFIG)?)?;
        let config = WhisperConfig::from_json(&config_json)?;
        let gen_json = files.get(GENERATION).map(|b| parse_json(GENERATION, b)).transpose()?;
        let gen = Generation::from_json(gen_json.as_ref(), &config_json, config.vocab_size)?;
        if let Some(b) = files.get(PREPROCESSOR) {
            let p = parse_json(PREPROCESSOR, b)?;
            let c = crate::models::common::Config::new(PREPROCESSOR, &p);
            let (bins, rate) = (c.dim_or("feature_size", config.n_mels)?, c.dim_or("sampling_rate", SAMPLE_RATE)?);
            if bins != config.n_mels || rate != SAMPLE_RATE {
                return Err(Error::config(
                    PREPROCESSOR,
                    format!("feature_size {bins} at {rate} Hz; the model takes {} mel bins at 16000 Hz", config.n_mels),
                ));
            }
        }
        let tokenizer = TextTokenizer::from_bytes(files.require(TOKENIZER)?, config.max_target_positions)?;
        let (model, weights, held) =
            load_model(&mut files, session, &opts.dtype, |root| WhisperModel::new(config.clone(), root))?;
        let id = model_id(
            &[files.require(CONFIG)?, files.get(GENERATION).unwrap_or_default(), opts.dtype.id().as_bytes()],
            &weights,
        );
        let filters = MelFilters::new(config.n_mels);
        let dtype = opts.dtype.clone();
        Ok(SpeechRecognizer { model, gen, tokenizer, filters, dtype, core: ModelCore::new(held, id, &weights) })
    }

    pub fn set_backend(&mut self, backend: Arc<dyn Backend>) {
        self.core.set_backend(backend);
    }

    /// The form the linear layers' weights and the token table are held in.
    pub fn dtype(&self) -> &'static str {
        self.dtype.name()
    }

    /// Bytes of the host memory the model's weights hold: the whole file for f32 weights
    /// (read in place), the quantized tensors and copies of the rest for another dtype.
    pub fn weight_bytes(&self) -> u64 {
        self.core.weight_bytes
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

    pub fn config(&self) -> &WhisperConfig {
        &self.model.config
    }

    pub fn is_multilingual(&self) -> bool {
        self.gen.multilingual
    }

    /// Weights in the file that the model does not use (reported at load).
    pub fn unused_weights(&self) -> Vec<String> {
        self.model.unused.clone()
    }

    /// On WebGPU, bytes of the single-token decode plan's own buffers: its activations
    /// only, since the caches and cross keys and values are resident inputs bound each
    /// step (so they exist once, as the values the steps pass along).
    pub fn decode_plan_bytes(&self) -> Result<Option<u64>> {
        match self.webgpu() {
            Some(g) => g.plan_bytes(&self.graph(GraphKey::Decode(1))?).map(Some),
            None => Ok(None),
        }
    }

    /// Bytes of one window's decoding state: the self-attention caches and the cross keys
    /// and values of every layer, in f32.
    pub fn state_bytes(&self) -> u64 {
        let c = &self.model.config;
        (2 * c.decoder_layers * (c.max_target_positions + c.max_source_positions) * c.d_model * 4) as u64
    }

    /// Transcribes on the CPU, synchronously (native code, tests); other backends use
    /// `transcribe_with`.
    pub fn transcribe(&self, samples: &[f32], sample_rate: f64, opts: &TranscribeOptions) -> Result<Transcript> {
        crate::runtime::now(self.transcribe_with(samples, sample_rate, opts, &mut Quiet))
            .unwrap_or_else(|| Err(self.core.must_wait("transcribe")))
    }

    /// Transcribes mono `samples` at `sample_rate` Hz (resampled to 16 kHz), telling
    /// `listener` of each token and segment.
    pub async fn transcribe_with(
        &self,
        samples: &[f32],
        sample_rate: f64,
        opts: &TranscribeOptions,
        listener: &mut impl Listener,
    ) -> Result<Transcript> {
        let audio = audio::to_16k(samples, sample_rate)?;
        self.transcribe_16k(&audio, opts, listener).await
    }

    async fn transcribe_16k(
        &self,
        audio: &[f32],
        opts: &TranscribeOptions,
        listener: &mut impl Listener,
    ) -> Result<Transcript> {
        let g = &self.gen;
        let mut prompt = vec![g.sot];
        let language = self.language_option(opts)?;
        let mel = LogMel::new(audio, &self.filters);
        let mut caches = self.fresh_caches().await?;
        let mut seek = 0;
        let mut language = language;
        let mut segments: Vec<Segment> = vec![];
        let mut all_tokens = vec![];
        while seek < mel.content_frames {
            listener.step().await?;
            let (window, size) = mel.window(seek);
            let cross = self.encode(window).await?;
            if g.multilingual && prompt.len() == 1 {
                let lang = match language {
                    Some(id) => id,
                    None => self.detect_language(&cross, &mut caches).await?,
                };
                language = Some(lang);
                let task = match opts.task {
                    Task::Transcribe => g.transcribe,
                    Task::Translate => g.translate,
                };
                prompt.extend([lang, task.ok_or_else(|| Error::arg("transcribe", "the model has no such task"))?]);
            }
            if !opts.timestamps && prompt.last() != Some(&g.no_timestamps) {
                prompt.push(g.no_timestamps);
            }
            let d = self.decode_window(&prompt, &cross, &mut caches, opts.timestamps, listener).await?;
            if d.no_speech > NO_SPEECH_THRESHOLD && d.avg_logprob <= LOGPROB_THRESHOLD {
                seek += size;
                continue;
            }
            let (spans, advance) = split(&d.tokens, g.timestamp_begin, seek, size);
            for s in spans {
                let seg = Segment { start: s.start, end: s.end, text: self.text(&s.tokens)?, tokens: s.tokens };
                listener.segment(&seg)?;
                all_tokens.extend(seg.tokens.iter().copied());
                segments.push(seg);
            }
            seek += advance;
        }
        let language = match language {
            Some(id) => g.language_code(id).unwrap_or("en").to_string(),
            None => "en".to_string(),
        };
        Ok(Transcript { text: self.text(&all_tokens)?, segments, language })
    }

    /// The `language` option as a token id: checked against the model's languages; an
    /// English-only model takes "en" or nothing.
    fn language_option(&self, opts: &TranscribeOptions) -> Result<Option<u32>> {
        let g = &self.gen;
        if !g.multilingual {
            if opts.language.as_deref().is_some_and(|l| l != "en") || opts.task == Task::Translate {
                return Err(Error::arg(
                    "transcribe",
                    "this checkpoint is English-only: it takes language 'en' and the task 'transcribe'",
                ));
            }
            return Ok(None);
        }
        opts.language.as_deref().map(|l| g.language(l)).transpose()
    }

    /// The text of `tokens`, timestamps and special tokens left out, trimmed.
    fn text(&self, tokens: &[u32]) -> Result<String> {
        let words: Vec<u32> = tokens.iter().copied().filter(|&t| t < self.gen.eot).collect();
        Ok(self.tokenizer.decode(&words)?.trim().to_string())
    }

    fn graph(&self, key: GraphKey) -> Result<Arc<Graph>> {
        self.core.graph(key, || match key {
            GraphKey::Encode => self.model.encode_graph(),
            GraphKey::Decode(n) => self.model.decode_graph(n),
        })
    }

    /// Zeroed self-attention caches on the device: allocated once per call. A window
    /// reuses the last one's; attention never reads past the position being decoded.
    async fn fresh_caches(&self) -> Result<Vec<Value>> {
        let zeros = Tensor::zeros(self.model.cache_dims());
        let mut caches = Vec::new();
        for _ in 0..2 * self.model.config.decoder_layers {
            caches.push(self.core.upload(&zeros).await?);
        }
        Ok(caches)
    }

    /// One window's cross keys and values, left on the device.
    async fn encode(&self, window: Vec<f32>) -> Result<Vec<Value>> {
        let graph = self.graph(GraphKey::Encode)?;
        let mel = Tensor::from_f32(vec![1, self.model.config.n_mels, N_FRAMES], window)?;
        let keep = vec![true; 2 * self.model.config.decoder_layers];
        self.core.run_values(&graph, vec![Value::Host(mel)], &keep).await
    }

    /// Runs `tokens` at `offset`: their logits `[n, vocab]` on the host, the caches updated.
    async fn step(&self, tokens: &[u32], offset: usize, cross: &[Value], caches: &mut Vec<Value>) -> Result<Tensor> {
        let n = tokens.len();
        let graph = self.graph(GraphKey::Decode(n))?;
        let ids = Tensor::from_i32(vec![1, n], tokens.iter().map(|&t| t as i32).collect())?;
        let pos = Tensor::from_i32(vec![1, n], (offset..offset + n).map(|p| p as i32).collect())?;
        let off = Tensor::from_i32(vec![1], vec![offset as i32])?;
        let mut inputs = vec![Value::Host(ids), Value::Host(pos), Value::Host(off)];
        inputs.append(caches);
        inputs.extend(cross.iter().cloned());
        let mut keep = vec![true; 1 + 2 * self.model.config.decoder_layers];
        keep[0] = false;
        let mut outs = self.core.run_values(&graph, inputs, &keep).await?;
        let logits = outs.remove(0);
        *caches = outs;
        self.core.read(&logits).await
    }

    /// The most likely language token after the start of transcript.
    async fn detect_language(&self, cross: &[Value], caches: &mut Vec<Value>) -> Result<u32> {
        let logits = self.step(&[self.gen.sot], 0, cross, caches).await?.to_f32_vec();
        let (mut best, mut best_logit) = (self.gen.languages[0].1, f32::NEG_INFINITY);
        for &(_, id) in &self.gen.languages {
            if logits[id as usize] > best_logit {
                (best, best_logit) = (id, logits[id as usize]);
            }
        }
        Ok(best)
    }

    /// Greedy decoding of one window after `prompt`, at most half the text context.
    async fn decode_window(
        &self,
        prompt: &[u32],
        cross: &[Value],
        caches: &mut Vec<Value>,
        timestamps: bool,
        listener: &mut impl Listener,
    ) -> Result<Decoded> {
        let vocab = self.model.config.vocab_size;
        let logits = self.step(prompt, 0, cross, caches).await?.to_f32_vec();
        let sot_row = prompt.iter().position(|&t| t == self.gen.sot).unwrap_or(0);
        let no_speech = probability(&logits[sot_row * vocab..(sot_row + 1) * vocab], self.gen.no_speech);
        let mut row = logits[(prompt.len() - 1) * vocab..].to_vec();
        let (mut sampled, mut sum) = (vec![], 0.0);
        for _ in 0..self.model.config.max_target_positions / 2 {
            let p = pick(&mut row, &sampled, &self.gen, timestamps);
            sum += p.logprob;
            if p.token == self.gen.eot {
                break;
            }
            sampled.push(p.token);
            let text = if p.token < self.gen.eot { self.tokenizer.decode(&[p.token])? } else { String::new() };
            listener.token(p.token, &text)?;
            listener.step().await?;
            row = self.step(&[p.token], prompt.len() + sampled.len() - 1, cross, caches).await?.to_f32_vec();
            if let Some(j) = row.iter().position(|x| !x.is_finite()) {
                return Err(Error::NonFiniteOutput(format!(
                    "logit {j} of decoding step {} is {}",
                    sampled.len(),
                    row[j]
                )));
            }
        }
        Ok(Decoded { avg_logprob: sum / (sampled.len() + 1) as f64, tokens: sampled, no_speech })
    }
}
