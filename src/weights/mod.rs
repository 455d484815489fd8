//! Model weights: aligned byte buffers, safetensors parsing and dtype conversion.

mod aligned;
mod convert;
mod digest;
mod held;
mod int8;
mod safetensors;
mod sink;
mod stream;

pub use aligned::{AlignedBuf, MAX_BUFFER_BYTES};
pub use convert::widen_to_f32;
pub use digest::{digest, Digest, TensorDigest};
pub use held::{read_held, write_held, HELD_FORMAT};
pub use safetensors::{check_header, read_safetensors, Weights};
pub use sink::{Discard, Sink, TensorSink};
pub use stream::{Lookup, Parking, Streamed, TensorStream};
