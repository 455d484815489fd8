//! Host tensors: shapes, dtypes and strided views over shared buffers.

mod dtype;
mod host;
pub mod quant;
mod shape;
mod stored;

pub use dtype::DType;
pub use host::{Storage, StorageId, Tensor};
pub use shape::{broadcast_shapes, normalize_axis, Shape, MAX_ELEMENTS};
