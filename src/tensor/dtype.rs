//! Element types a tensor can hold on the host.

use std::fmt;

/// Host element types. Activations are f32; `I32` holds token ids and other indices.
/// f16 weights are widened to f32 when they are read (see the weights module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    I32,
}

impl DType {
    pub fn size_of(self) -> usize {
        4
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::I32 => "i32",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
