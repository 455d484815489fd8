//! Tokenization through the `tokenizers` crate, from a model's `tokenizer.json`, with the
//! file's own padding removed (we pad per batch) and truncation set to the model's limit.

use super::bert::TOKENIZER;
use crate::error::{Error, Result};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

pub struct TextTokenizer {
    inner: Tokenizer,
    max_len: usize,
}

/// One text's tokens.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub ids: Vec<i32>,
    pub type_ids: Vec<i32>,
    /// Whether the text was longer than the limit and was cut.
    pub truncated: bool,
}

impl TextTokenizer {
    pub fn from_bytes(bytes: &[u8], max_len: usize) -> Result<Self> {
        let mut inner = Tokenizer::from_bytes(bytes).map_err(|e| Error::config(TOKENIZER, e.to_string()))?;
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::config(TOKENIZER, e.to_string()))?;
        Ok(TextTokenizer { inner, max_len })
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The tokenizer as `tokenizer.json` text (padding off, truncation at the limit): what
    /// a worker-backed model sends the page so that it counts tokens without a round trip.
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(false).map_err(|e| Error::config(TOKENIZER, e.to_string()))
    }

    /// The text of `ids`, special tokens left out (ids past the vocabulary too: Whisper's
    /// timestamps have no entries).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, true).map_err(|e| Error::arg("decode", format!("could not decode tokens: {e}")))
    }

    /// Tokens of `text`, special tokens included, cut to the limit.
    pub fn encode(&self, text: &str) -> Result<Encoded> {
        let enc =
            self.inner.encode(text, true).map_err(|e| Error::arg("tokenize", format!("could not tokenize: {e}")))?;
        Ok(Encoded {
            ids: enc.get_ids().iter().map(|&i| i as i32).collect(),
            type_ids: enc.get_type_ids().iter().map(|&i| i as i32).collect(),
            truncated: !enc.get_overflowing().is_empty(),
        })
    }
}
