//! Whisper, the speech family: its configs, the audio front end (checks, downmix,
//! resampling, the log-mel spectrogram), the encoder and decoder graphs, the greedy
//! decoding rules and long-form segmentation. `SpeechRecognizer` runs them.

pub mod audio;
pub mod config;
pub mod mel;
pub mod model;
pub mod rules;
pub mod segments;
pub mod transcript;

pub use config::{Generation, WhisperConfig};
