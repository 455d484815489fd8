//! Model families (config + weights → graph) and what surrounds them: tokenization,
//! pooling, and the user-facing runners.

mod bert;
pub mod files;
mod pooling;
mod text_embedder;
mod tokenizer;

pub use bert::{Activation, Bert, BertConfig};
pub use files::ModelFiles;
pub use pooling::{Pooling, PoolingConfig};
pub use text_embedder::{EmbedderOptions, TextEmbedder, Truncation};
pub use tokenizer::{Encoded, TextTokenizer};
