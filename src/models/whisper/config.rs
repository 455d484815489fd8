//! A Whisper checkpoint's shape (`config.json`) and its decoding ids and rules
//! (`generation_config.json`), read as Hugging Face writes them, so every size (tiny to
//! large, `.en` or multilingual) loads from its own files.

use crate::error::{Error, Result};
use crate::models::common::{divisible, Activation, Config};
use serde_json::Value;

pub const GENERATION: &str = "generation_config.json";

#[derive(Debug, Clone)]
pub struct WhisperConfig {
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_heads: usize,
    pub decoder_heads: usize,
    pub encoder_ffn: usize,
    pub decoder_ffn: usize,
    pub n_mels: usize,
    /// Encoder positions: 1500 frames after the stride-2 convolution (30 s).
    pub max_source_positions: usize,
    /// Decoder positions: the text context, and the self-attention caches' capacity.
    pub max_target_positions: usize,
    pub vocab_size: usize,
    pub activation: Activation,
    pub scale_embedding: bool,
}

impl WhisperConfig {
    pub fn from_json(v: &Value) -> Result<Self> {
        let c = Config::new("config.json", v);
        c.model_type(&["whisper"], "speech recognizers")?;
        let cfg = WhisperConfig {
            d_model: c.dim("d_model")?,
            encoder_layers: c.dim("encoder_layers")?,
            decoder_layers: c.dim("decoder_layers")?,
            encoder_heads: c.dim("encoder_attention_heads")?,
            decoder_heads: c.dim("decoder_attention_heads")?,
            encoder_ffn: c.dim("encoder_ffn_dim")?,
            decoder_ffn: c.dim("decoder_ffn_dim")?,
            n_mels: c.dim_or("num_mel_bins", 80)?,
            max_source_positions: c.dim_or("max_source_positions", 1500)?,
            max_target_positions: c.dim_or("max_target_positions", 448)?,
            vocab_size: c.dim("vocab_size")?,
            activation: c.activation("activation_function", "gelu")?,
            scale_embedding: c.bool_or("scale_embedding", false)?,
        };
        divisible(c.file, ("d_model", cfg.d_model), ("encoder_attention_heads", cfg.encoder_heads))?;
        divisible(c.file, ("d_model", cfg.d_model), ("decoder_attention_heads", cfg.decoder_heads))?;
        if cfg.max_source_positions != super::mel::N_FRAMES / 2 {
            return Err(Error::UnsupportedModel(format!(
                "config.json has max_source_positions {}; Whisper's 30 s windows need {}",
                cfg.max_source_positions,
                super::mel::N_FRAMES / 2
            )));
        }
        if cfg.max_target_positions < 8 {
            return Err(Error::config(c.file, "max_target_positions is below 8"));
        }
        Ok(cfg)
    }
}

/// The special ids and decoding options. Whisper's vocabulary lays them out in one order:
/// the end of text, the start of transcript, the languages, translate, transcribe, start of
/// LM, start of previous, no speech, no timestamps, then one timestamp per 20 ms.
#[derive(Debug, Clone)]
pub struct Generation {
    pub eot: u32,
    pub sot: u32,
    pub no_timestamps: u32,
    /// `<|nospeech|>` (`<|nocaptions|>` in older vocabularies): the id before no-timestamps.
    pub no_speech: u32,
    /// `<|0.00|>`; every id from here is a timestamp.
    pub timestamp_begin: u32,
    pub suppress: Vec<u32>,
    pub begin_suppress: Vec<u32>,
    /// The first timestamp may be at most this many 20 ms steps in (openai: 1 s).
    pub max_initial_timestamp: u32,
    pub multilingual: bool,
    /// `("en", id)` for each `<|en|>`.
    pub languages: Vec<(String, u32)>,
    pub transcribe: Option<u32>,
    pub translate: Option<u32>,
}

impl Generation {
    /// From `generation_config.json`, falling back to `config.json`'s ids where the
    /// checkpoint has no generation config.
    pub fn from_json(gen: Option<&Value>, config: &Value, vocab: usize) -> Result<Self> {
        let empty = Value::Object(Default::default());
        let g = Config::new(GENERATION, gen.unwrap_or(&empty));
        let c = Config::new("config.json", config);
        let eot = g.id_or("eos_token_id", vocab, Some(c.id_or("eos_token_id", vocab, None)?))?;
        let sot = g.id_or("decoder_start_token_id", vocab, Some(c.id_or("decoder_start_token_id", vocab, None)?))?;
        let no_timestamps = match g.id_or("no_timestamps_token_id", vocab, None) {
            Ok(id) => id,
            // Without a generation config the layout fixes it: the timestamps fill the end
            // of the vocabulary, 1501 of them (0.00 to 30.00 s).
            Err(e) if gen.is_none() => vocab.checked_sub(1502).map(|x| x as u32).ok_or(e)?,
            Err(e) => return Err(e),
        };
        let timestamp_begin = no_timestamps + 1;
        if no_timestamps == 0 || (timestamp_begin as usize) >= vocab || eot >= no_timestamps || sot >= no_timestamps {
            return Err(Error::config(GENERATION, format!("no_timestamps_token_id {no_timestamps} does not fit a vocabulary of {vocab} with eos {eot} and start {sot} before it")));
        }
        let suppress = g.ids_or("suppress_tokens", vocab, &c.ids_or("suppress_tokens", vocab, &[])?)?;
        let begin_suppress =
            g.ids_or("begin_suppress_tokens", vocab, &c.ids_or("begin_suppress_tokens", vocab, &[])?)?;
        let multilingual = g.bool_or("is_multilingual", vocab >= 51865)?;
        let languages: Vec<(String, u32)> = g
            .id_map("lang_to_id", vocab)?
            .into_iter()
            .map(|(k, id)| (k.trim_start_matches("<|").trim_end_matches("|>").to_string(), id))
            .collect();
        let tasks = g.id_map("task_to_id", vocab)?;
        let task = |name: &str| tasks.iter().find(|(k, _)| k == name).map(|(_, id)| *id);
        if multilingual && (languages.is_empty() || task("transcribe").is_none()) {
            return Err(Error::config(GENERATION, "a multilingual checkpoint needs lang_to_id and task_to_id"));
        }
        Ok(Generation {
            eot,
            sot,
            no_timestamps,
            no_speech: no_timestamps - 1,
            timestamp_begin,
            suppress,
            begin_suppress,
            max_initial_timestamp: g.num_or("max_initial_timestamp_index", 50.0)?.clamp(0.0, 1500.0) as u32,
            multilingual,
            languages,
            transcribe: task("transcribe"),
            translate: task("translate"),
        })
    }

    /// The id of language `code` ("en"), or `invalid_argument` naming the choices.
    pub fn language(&self, code: &str) -> Result<u32> {
        self.languages.iter().find(|(k, _)| k == code).map(|(_, id)| *id).ok_or_else(|| {
            let mut all: Vec<&str> = self.languages.iter().map(|(k, _)| k.as_str()).collect();
            all.sort_unstable();
            Error::arg("transcribe", format!("language '{code}' is not one of the model's: {}", all.join(", ")))
        })
    }

    /// The code of a language token.
    pub fn language_code(&self, id: u32) -> Option<&str> {
        self.languages.iter().find(|(_, i)| *i == id).map(|(k, _)| k.as_str())
    }
}
