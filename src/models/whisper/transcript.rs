//! What a transcription is asked for and what it gives: the load and call options, the
//! timestamped segments and transcript, and the `Listener` that hears tokens and segments
//! as they are decoded.

use crate::error::Result;
use crate::models::weight_dtype::WeightDtype;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Task {
    #[default]
    Transcribe,
    /// Into English (multilingual checkpoints).
    Translate,
}

#[derive(Debug, Clone)]
pub struct TranscribeOptions {
    /// Segments with start and end times (default); off, one segment per 30 s window.
    pub timestamps: bool,
    /// A language code ("en", "de"); detected from the first window when absent.
    pub language: Option<String>,
    pub task: Task,
}

/// How a recognizer is loaded.
#[derive(Debug, Clone, Default)]
pub struct SpeechOptions {
    /// The form the linear layers' weights and the token table are held in (f32 by
    /// default).
    pub dtype: WeightDtype,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        TranscribeOptions { timestamps: true, language: None, task: Task::Transcribe }
    }
}

/// A stretch of speech: seconds from the start of the audio, text, and token ids
/// (timestamps included).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub tokens: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub text: String,
    pub segments: Vec<Segment>,
    pub language: String,
}

/// What a caller hears while a transcription runs. `step` is awaited before each decoding
/// step and window (an `Err`, such as `aborted`, ends the call there); `token` follows each
/// sampled token, `segment` each finished segment. (Its futures need not be `Send`: the
/// SDK's handles live on one thread.)
#[allow(async_fn_in_trait)]
pub trait Listener {
    async fn step(&mut self) -> Result<()>;
    fn token(&mut self, _id: u32, _text: &str) -> Result<()> {
        Ok(())
    }
    fn segment(&mut self, _s: &Segment) -> Result<()> {
        Ok(())
    }
}

/// A listener that hears nothing.
pub struct Quiet;

impl Listener for Quiet {
    async fn step(&mut self) -> Result<()> {
        Ok(())
    }
}
