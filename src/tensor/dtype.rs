//! Element types a tensor can hold: f32 activations, i32 indices, and the forms weights are
//! stored in (f16; int8 and int4 with their scales), each with its size in bytes.

use std::fmt;

/// Element types. Activations are f32; `I32` holds token ids and other indices. The
/// others hold weights as stored, in bytes (see `quant`):
/// - `F16`: IEEE half floats.
/// - `Q8 { group }`: symmetric int8 in groups of `group` elements along the last axis
///   (the whole row: one scale per output channel), `x ≈ q × scale`; each row is its int8
///   values, then one f32 scale per group.
/// - `Q4 { block }`: symmetric int4 (−8..=7) in blocks of `block` along the last axis, two
///   per byte as unsigned nibbles offset by 8 (the even element in the low nibble); each
///   row is its packed values, then one f16 scale per block.
///
/// A group or block never crosses a row: it divides the last dimension. Rows keep their
/// scales beside them, so a range of rows (a weight bound in parts, a slice) is one range
/// of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    I32,
    F16,
    Q8 { group: usize },
    Q4 { block: usize },
}

impl DType {
    /// Bytes that `numel` elements take (with their scales); for `Q8`/`Q4`, `numel` must
    /// be a whole number of groups (blocks), as a tensor of this dtype always is.
    pub fn bytes(self, numel: usize) -> usize {
        match self {
            DType::F32 | DType::I32 => numel * 4,
            DType::F16 => numel * 2,
            DType::Q8 { group } => numel + numel / group.max(1) * 4,
            DType::Q4 { block } => numel.div_ceil(2) + numel / block.max(1) * 2,
        }
    }

    /// Whether tensors of this dtype hold raw bytes (weights as stored) rather than
    /// elements that views can stride over.
    pub fn is_stored(self) -> bool {
        !matches!(self, DType::F32 | DType::I32)
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::I32 => "i32",
            DType::F16 => "f16",
            DType::Q8 { .. } => "q8",
            DType::Q4 { .. } => "q4",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::Q8 { group } => write!(f, "q8 (groups of {group})"),
            DType::Q4 { block } => write!(f, "q4 (blocks of {block})"),
            d => f.write_str(d.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_values_and_scales() {
        assert_eq!(DType::F32.bytes(6), 24);
        assert_eq!(DType::F16.bytes(6), 12);
        // 2 rows of 64: 128 int8 values and 2 f32 scales (per channel), or 4 (groups of 32).
        assert_eq!(DType::Q8 { group: 64 }.bytes(128), 128 + 8);
        assert_eq!(DType::Q8 { group: 32 }.bytes(128), 128 + 16);
        // 4 blocks of 32: 64 bytes of nibbles and 4 f16 scales.
        assert_eq!(DType::Q4 { block: 32 }.bytes(128), 64 + 8);
        assert_eq!(DType::Q8 { group: 32 }.to_string(), "q8 (groups of 32)");
    }
}
