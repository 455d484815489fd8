//! Host tensors: shapes, dtypes and strided views over shared buffers.

mod dtype;
mod shape;
mod tensor;

pub use dtype::DType;
pub use shape::{broadcast_shapes, normalize_axis, Shape};
pub use tensor::{Storage, Tensor};
