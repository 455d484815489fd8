//! ViT-family image encoders (ViT, DINOv2): preprocessing, the encoder graph, pooling and
//! DINOv2's saliency head.

pub mod preprocess;
pub mod resize;

pub use preprocess::{Pixels, Preprocessor};
pub mod config;
pub mod encoder;
pub mod position;

pub use config::{Family, VitConfig};
pub use encoder::VitEncoder;
pub mod decode;
pub mod saliency;

pub use decode::{decode, Decoded};
