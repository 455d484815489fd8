//! The JS `SpeechRecognizer`: `await SpeechRecognizer.load(baseUrl, opts)`, then
//! `transcribe(audio, { timestamps, language, task, onSegment, onToken, signal })`. The
//! package's JS decodes Blobs, ArrayBuffers and AudioBuffers (the browser's
//! `decodeAudioData`) into `{ data, sampleRate }` before they reach here; this side takes
//! a `Float32Array` of 16 kHz samples or `{ data: Float32Array | Float32Array[],
//! sampleRate }` (one array per channel), averages the channels and resamples.

use super::control::{signal_field, yield_now, Control};
use super::error::to_js;
use super::model::{model_members, JsModel, Runner};
use super::options::{bool_field, check_known, check_options, field, string_field};
use crate::backend::webgpu::WebGpuBackend;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::models::whisper::audio;
use crate::models::{
    FileSpec, Listener, ModelFiles, Segment, SpeechOptions, SpeechRecognizer, Task, TranscribeOptions,
};
use crate::runtime::Session;
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

const OP: &str = "SpeechRecognizer.transcribe";

/// How long a transcription computes before it yields to the event loop (so a signal's
/// abort and the page's input are heard); yielding after every token would cost a
/// timer's minimum delay each time.
const YIELD_MS: f64 = 50.0;

#[wasm_bindgen(js_name = SpeechRecognizer)]
pub struct JsSpeechRecognizer(JsModel<SpeechRecognizer>);

impl Runner for SpeechRecognizer {
    const CLASS: &'static str = "SpeechRecognizer";
    const FILES: &'static [FileSpec] = SpeechRecognizer::FILES;
    type Options = SpeechOptions;
    fn build(files: ModelFiles, opts: &SpeechOptions, session: &Session) -> Result<Self> {
        SpeechRecognizer::from_files_in(files, opts, session)
    }
    fn set_backend(&mut self, backend: Arc<dyn Backend>) {
        SpeechRecognizer::set_backend(self, backend)
    }
    fn webgpu(&self) -> Option<&WebGpuBackend> {
        SpeechRecognizer::webgpu(self)
    }
}

/// The samples of a `Float32Array`, copied out of JS memory.
fn floats(what: &str, v: &JsValue) -> Result<Vec<f32>> {
    let a = v
        .dyn_ref::<js_sys::Float32Array>()
        .ok_or_else(|| Error::InvalidAudio(format!("{what} must be a Float32Array of samples")))?;
    let mut out: Vec<f32> = crate::backend::cpu::zeroed(a.length() as usize, "audio samples")?;
    a.copy_to(&mut out);
    Ok(out)
}

/// `audio` as mono samples and their rate.
fn samples_of(audio: &JsValue) -> Result<(Vec<f32>, f64)> {
    if audio.is_instance_of::<js_sys::Float32Array>() {
        return Ok((floats("audio", audio)?, 16_000.0));
    }
    if !audio.is_object() {
        return Err(Error::InvalidAudio(
            "audio must be a Float32Array of 16 kHz samples or { data, sampleRate } (the package also takes Blobs, ArrayBuffers and AudioBuffers)".into(),
        ));
    }
    let rate = field(audio, "sampleRate");
    let rate =
        rate.as_f64().ok_or_else(|| Error::InvalidAudio(format!("audio.sampleRate must be a number, got {rate:?}")))?;
    let rate = audio::check_rate(rate)?;
    let data = field(audio, "data");
    let mono = match data.dyn_ref::<js_sys::Array>() {
        Some(channels) => {
            if channels.length() == 0 {
                return Err(Error::InvalidAudio("audio.data has no channels".into()));
            }
            let chans: Vec<Vec<f32>> = channels
                .iter()
                .enumerate()
                .map(|(i, c)| floats(&format!("audio.data[{i}]"), &c))
                .collect::<Result<_>>()?;
            let n = chans[0].len();
            if chans.iter().any(|c| c.len() != n) {
                return Err(Error::InvalidAudio("audio.data's channels differ in length".into()));
            }
            let k = chans.len() as f32;
            (0..n).map(|i| chans.iter().map(|c| c[i]).sum::<f32>() / k).collect()
        }
        None => floats("audio.data", &data)?,
    };
    Ok((mono, rate))
}

/// The page's side of a transcription: its signal, its callbacks, and when it last yielded.
struct JsListener {
    control: Control,
    on_segment: Option<js_sys::Function>,
    on_token: Option<js_sys::Function>,
    last_yield: f64,
}

fn callback(opts: &JsValue, key: &str) -> Result<Option<js_sys::Function>> {
    let v = field(opts, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_into().map(Some).map_err(|_| Error::arg(OP, format!("option {key} must be a function")))
}

/// A callback's exception ends the call with it named (the caller's code threw).
fn call(f: &js_sys::Function, key: &str, v: &JsValue) -> Result<()> {
    f.call1(&JsValue::NULL, v).map(|_| ()).map_err(|e| {
        let msg = e.dyn_ref::<js_sys::Error>().map_or_else(|| format!("{e:?}"), |e| String::from(e.message()));
        Error::arg(OP, format!("{key} threw: {msg}"))
    })
}

fn segment_js(s: &Segment) -> JsValue {
    let o = js_sys::Object::new();
    let tokens: js_sys::Array = s.tokens.iter().map(|&t| JsValue::from(t)).collect();
    for (k, v) in [
        ("start", JsValue::from(s.start)),
        ("end", JsValue::from(s.end)),
        ("text", JsValue::from_str(&s.text)),
        ("tokens", tokens.into()),
    ] {
        let _ = js_sys::Reflect::set(&o, &k.into(), &v);
    }
    o.into()
}

impl Listener for JsListener {
    async fn step(&mut self) -> Result<()> {
        if js_sys::Date::now() - self.last_yield >= YIELD_MS {
            yield_now().await;
            self.last_yield = js_sys::Date::now();
        }
        self.control.check()
    }

    fn token(&mut self, id: u32, text: &str) -> Result<()> {
        let Some(f) = &self.on_token else { return Ok(()) };
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &"id".into(), &JsValue::from(id));
        let _ = js_sys::Reflect::set(&o, &"text".into(), &JsValue::from_str(text));
        call(f, "onToken", &o.into())
    }

    fn segment(&mut self, s: &Segment) -> Result<()> {
        let Some(f) = &self.on_segment else { return Ok(()) };
        call(f, "onSegment", &segment_js(s))
    }
}

#[wasm_bindgen(js_class = SpeechRecognizer)]
impl JsSpeechRecognizer {
    /// Loads `config.json`, `model.safetensors`, `tokenizer.json` and, when present,
    /// `generation_config.json` and `preprocessor_config.json` from `baseUrl` (a Hugging
    /// Face Whisper checkpoint), through the weight store. Options: a load's (`backend`,
    /// `shaderVariant`, `onProgress`, `cache`, `store`, `session`, `signal`,
    /// `stallTimeoutMs`).
    pub async fn load(base_url: JsValue, opts: JsValue) -> std::result::Result<JsSpeechRecognizer, JsValue> {
        JsModel::load("SpeechRecognizer.load", base_url, opts).await.map(JsSpeechRecognizer)
    }

    /// `transcribe(audio, { timestamps, language, task, onSegment, onToken, signal }) →
    /// Promise<{ text, segments: [{ start, end, text, tokens }], language }>`.
    /// `timestamps` (default true): segments with times; `language`: a code such as 'en'
    /// (multilingual checkpoints detect it when absent); `task`: 'transcribe' (default) or
    /// 'translate'; `onSegment(segment)` as each segment is final; `onToken({ id, text })`
    /// per token; `signal` ends the call with `aborted`.
    pub fn transcribe(&self, audio: JsValue, opts: JsValue) -> js_sys::Promise {
        let parsed = self.0.get().cloned().and_then(|r| {
            check_options(OP, &opts)?;
            check_known(OP, &opts, &["timestamps", "language", "task", "onSegment", "onToken", "signal"])?;
            let task = match string_field(OP, &opts, "task")?.as_deref() {
                None | Some("transcribe") => Task::Transcribe,
                Some("translate") => Task::Translate,
                Some(t) => return Err(Error::arg(OP, format!("task '{t}' is not one of transcribe, translate"))),
            };
            let t = TranscribeOptions {
                timestamps: bool_field(OP, &opts, "timestamps", true)?,
                language: string_field(OP, &opts, "language")?,
                task,
            };
            let listener = JsListener {
                control: Control::new(OP, signal_field(OP, &opts)?, None),
                on_segment: callback(&opts, "onSegment")?,
                on_token: callback(&opts, "onToken")?,
                last_yield: js_sys::Date::now(),
            };
            Ok((r, samples_of(&audio)?, t, listener))
        });
        let (r, (samples, rate), t, mut listener) = match parsed {
            Ok(v) => v,
            Err(err) => return js_sys::Promise::reject(&to_js(err)),
        };
        wasm_bindgen_futures::future_to_promise(async move {
            listener.control.check().map_err(to_js)?;
            let out = r.transcribe_with(&samples, rate, &t, &mut listener).await.map_err(to_js)?;
            let o = js_sys::Object::new();
            let segments: js_sys::Array = out.segments.iter().map(segment_js).collect();
            let _ = js_sys::Reflect::set(&o, &"text".into(), &JsValue::from_str(&out.text));
            let _ = js_sys::Reflect::set(&o, &"segments".into(), &segments);
            let _ = js_sys::Reflect::set(&o, &"language".into(), &JsValue::from_str(&out.language));
            Ok(o.into())
        })
    }

    /// The form the linear layers' weights and the token table are held in.
    #[wasm_bindgen(getter)]
    pub fn dtype(&self) -> String {
        self.0.inner().map_or("", |r| r.dtype()).to_string()
    }

    /// Bytes of wasm memory the model's weights hold (the f32 file, read in place; for
    /// another dtype, its quantized tensors and copies of the rest, the file freed).
    #[wasm_bindgen(getter, js_name = weightBytes)]
    pub fn weight_bytes(&self) -> f64 {
        self.0.inner().map_or(0.0, |r| r.weight_bytes() as f64)
    }

    /// Whether the checkpoint is multilingual (detects languages, translates).
    #[wasm_bindgen(getter, js_name = isMultilingual)]
    pub fn is_multilingual(&self) -> bool {
        self.0.inner().is_some_and(|r| r.is_multilingual())
    }

    /// Weights in the files that the model does not use.
    #[wasm_bindgen(getter, js_name = unusedWeights)]
    pub fn unused_weights(&self) -> Vec<String> {
        self.0.inner().map(|r| r.unused_weights()).unwrap_or_default()
    }
}

model_members!(JsSpeechRecognizer, SpeechRecognizer);
