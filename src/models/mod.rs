//! Model families (config + weights → graph) and what surrounds them: the shared model
//! layer (file sets, `WeightScope`, config readers), tokenization, pooling, image
//! preprocessing, the audio front end, and the user-facing runners.

mod bert;
pub mod common;
pub(crate) mod core;
pub mod family;
pub mod files;
mod image_embedder;
mod pooling;
pub mod scope;
mod speech_recognizer;
mod text_embedder;
mod tokenizer;
pub mod vit;
pub mod weight_dtype;
pub mod whisper;

pub use bert::{Bert, BertConfig};
pub use common::Activation;
pub use family::Family;
pub use files::{FileSpec, ModelFiles};
pub use image_embedder::{ImageEmbedder, ImageOptions, Saliency};
pub use pooling::{Pooling, PoolingConfig};
pub use scope::WeightScope;
pub use speech_recognizer::{
    Listener, Quiet, Segment, SpeechOptions, SpeechRecognizer, Task, TranscribeOptions, Transcript,
};
pub use text_embedder::{EmbedderOptions, TextEmbedder, Truncation};
pub use tokenizer::{Encoded, TextTokenizer};
pub use weight_dtype::{Form, WeightDtype};
