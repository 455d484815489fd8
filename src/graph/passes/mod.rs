//! Graph passes every backend shares: buffer liveness (which node reads a value last, and
//! how many read it) and fusion (a matmul with the bias add and activation after it).

mod fusion;
mod liveness;

pub use fusion::{absorbed, epilogues, Epilogue};
pub use liveness::{last_uses, readers};
