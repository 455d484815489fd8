//! Which model family a model directory holds, from a task name or its config's
//! `model_type`, and the check `prefetch` runs on its files: the configs parse and the
//! safetensors headers are sound, without building the model.

use super::files::{parse_json, FileSpec, ModelFiles, CONFIG, WEIGHTS};
use super::vit::saliency::HEAD_WEIGHTS;
use super::vit::VitConfig;
use super::whisper::WhisperConfig;
use super::{BertConfig, ImageEmbedder, SpeechRecognizer, TextEmbedder};
use crate::error::{Error, Result};
use crate::weights::check_header;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Text,
    Image,
    Speech,
}

impl Family {
    /// A task or class name; `None` for "auto" (read the config).
    pub fn parse(op: &'static str, s: &str) -> Result<Option<Family>> {
        match s {
            "auto" => Ok(None),
            "text-embedding" | "TextEmbedder" => Ok(Some(Family::Text)),
            "image-embedding" | "ImageEmbedder" => Ok(Some(Family::Image)),
            "speech-recognition" | "SpeechRecognizer" => Ok(Some(Family::Speech)),
            other => Err(Error::arg(
                op,
                format!(
                    "option model '{other}' is not one of auto, text-embedding, image-embedding, speech-recognition"
                ),
            )),
        }
    }

    /// The family of a `config.json`, by its `model_type`.
    pub fn of_config(bytes: &[u8]) -> Result<Family> {
        let v = parse_json(CONFIG, bytes)?;
        match v.get("model_type").and_then(serde_json::Value::as_str) {
            Some("bert") => Ok(Family::Text),
            Some("dinov2" | "vit") => Ok(Family::Image),
            Some("whisper") => Ok(Family::Speech),
            other => Err(Error::UnsupportedModel(format!(
                "config.json has model_type '{}'; supported: bert (text), dinov2 and vit (images), whisper (speech)",
                other.unwrap_or("(none)")
            ))),
        }
    }

    pub fn files(self) -> &'static [FileSpec] {
        match self {
            Family::Text => TextEmbedder::FILES,
            Family::Image => ImageEmbedder::FILES,
            Family::Speech => SpeechRecognizer::FILES,
        }
    }

    /// The config parses for this family and every safetensors file's header is sound.
    pub fn check(self, files: &ModelFiles) -> Result<()> {
        let config = parse_json(CONFIG, files.require(CONFIG)?)?;
        match self {
            Family::Text => BertConfig::from_json(&config).map(|_| ())?,
            Family::Image => VitConfig::from_json(&config).map(|_| ())?,
            Family::Speech => WhisperConfig::from_json(&config).map(|_| ())?,
        }
        for name in [WEIGHTS, HEAD_WEIGHTS] {
            if let Some(b) = files.get(name).filter(|b| !b.is_empty()) {
                check_header(b)?;
            }
        }
        Ok(())
    }
}
