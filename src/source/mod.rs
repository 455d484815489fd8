//! Where a model comes from: what a user passes to `load` (a URL, or the Hugging Face
//! hub shorthand `hf:org/name@revision`) parsed once into a typed `ModelSource`, which
//! says where each of the model's files is fetched from.

mod model_source;

pub use model_source::{check_gateways, check_hub, normalize_base, ModelSource, DEFAULT_GATEWAYS, DEFAULT_HUB};
