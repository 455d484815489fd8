//! Reading safetensors files. The `safetensors` crate validates the header (its length
//! within the file, offsets inside the data without gaps or overlaps, dtype × shape =
//! byte length); here each failure becomes `invalid_weights` naming the tensor, and f32
//! tensors that sit 4-byte aligned become views of the file buffer rather than copies.

use super::aligned::AlignedBuf;
use super::convert::widen_to_f32;
use super::digest::{digest, Digest};
use super::int8::{int8_weight, scale_name};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Named tensors of one weight file: as read, or as a model holds them (`WeightScope::held`,
/// which names the file's other tensors in `unheld`).
#[derive(Debug, Default, Clone)]
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    unheld: Vec<String>,
    /// Digests already computed (a streamed file's, hashed as it arrived), by name;
    /// shared, as the tensors are, by every clone.
    digests: Arc<HashMap<String, Digest>>,
}

impl Weights {
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.tensors.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Weights from named tensors (a session's shared copies).
    pub fn from_map(tensors: HashMap<String, Tensor>) -> Weights {
        Weights { tensors, unheld: vec![], digests: Arc::default() }
    }

    /// These weights, with the digests of (some of) their tensors already known.
    pub fn with_digests(mut self, digests: HashMap<String, Digest>) -> Weights {
        self.digests = Arc::new(digests);
        self
    }

    /// The tensor `name`'s digest: the known one, else computed.
    pub fn digest_of(&self, name: &str) -> Option<Digest> {
        self.digests.get(name).copied().or_else(|| self.tensors.get(name).map(digest))
    }

    /// These weights, naming `unheld` as the file's tensors not among them.
    pub fn with_unheld(mut self, unheld: Vec<String>) -> Weights {
        self.unheld = unheld;
        self
    }

    /// The file's tensors a model made from it does not hold (its unused ones).
    pub fn unheld(&self) -> &[String] {
        &self.unheld
    }

    /// Bytes of the buffers these tensors live in, each buffer once: the whole file for
    /// tensors read in place, so this says what holding them keeps in memory.
    pub fn buffer_bytes(&self) -> u64 {
        let mut seen = std::collections::HashSet::new();
        self.tensors.values().filter(|t| seen.insert(t.storage_id().0)).map(Tensor::buffer_bytes).sum()
    }
}

/// The first tensor whose dtype × shape disagrees with its byte range, found by reading
/// the header ourselves: the crate reports that error without the tensor's name.
fn mismatched_tensor(bytes: &[u8]) -> Option<String> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let header: serde_json::Value = serde_json::from_slice(bytes.get(8..8usize.checked_add(n)?)?).ok()?;
    header.as_object()?.iter().find_map(|(name, info)| {
        let size = match info.get("dtype")?.as_str()? {
            "F64" | "I64" | "U64" => 8,
            "F32" | "I32" | "U32" => 4,
            "F16" | "BF16" | "I16" | "U16" => 2,
            _ => 1,
        };
        let count = info.get("shape")?.as_array()?.iter().try_fold(1u64, |acc, d| acc.checked_mul(d.as_u64()?))?;
        let offs = info.get("data_offsets")?.as_array()?;
        let len = offs.get(1)?.as_u64()?.checked_sub(offs.first()?.as_u64()?)?;
        (count.checked_mul(size) != Some(len)).then(|| name.clone())
    })
}

fn describe(e: SafeTensorError, bytes: &[u8]) -> Error {
    match e {
        SafeTensorError::TensorInvalidInfo => Error::weights(
            mismatched_tensor(bytes).unwrap_or_else(|| "?".into()),
            "dtype × shape does not match its byte length",
        ),
        SafeTensorError::InvalidOffset(name) => {
            Error::weights(name, "its data offsets overlap, leave gaps or run past the file")
        }
        SafeTensorError::HeaderTooSmall => {
            Error::weights("(header)", "the file is shorter than its 8-byte header length")
        }
        SafeTensorError::HeaderTooLarge => Error::weights("(header)", "the header length is implausibly large"),
        SafeTensorError::InvalidHeaderLength => {
            Error::weights("(header)", "the header length runs past the end of the file")
        }
        SafeTensorError::InvalidHeader(_) => Error::weights("(header)", "the header is not valid UTF-8"),
        SafeTensorError::InvalidHeaderDeserialization(m) => {
            Error::weights("(header)", format!("the header JSON is malformed: {m}"))
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            Error::weights("(data)", "the data section is shorter than the header says (truncated file?)")
        }
        SafeTensorError::ValidationOverflow => Error::weights("?", "a shape or offset overflows"),
        SafeTensorError::MisalignedSlice => Error::weights("?", "a sub-byte dtype does not end on a byte"),
        other => Error::weights("?", other.to_string()),
    }
}

/// Checks a safetensors file's header (lengths, offsets, dtype × shape) without reading
/// any tensor; the number of tensors.
pub fn check_header(bytes: &[u8]) -> Result<usize> {
    SafeTensors::deserialize(bytes).map(|st| st.len()).map_err(|e| describe(e, bytes))
}

/// Parses a safetensors file held in `buf`. Float tensors (f32, f16, bf16) are returned
/// as f32, int8 weights with their scales as `Q8` (`int8`); other integer dtypes (position
/// ids, say) are skipped, since models build those, and 8-bit and smaller float or
/// unsigned forms are refused naming the tensor.
pub fn read_safetensors(buf: AlignedBuf) -> Result<Weights> {
    let specs = {
        let st = SafeTensors::deserialize(buf.as_bytes()).map_err(|e| describe(e, buf.as_bytes()))?;
        let specs: Vec<(String, Dtype, Vec<usize>, usize, usize)> = st
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                let data = view.data();
                let start = data.as_ptr() as usize - buf.as_bytes().as_ptr() as usize;
                (name, view.dtype(), view.shape().to_vec(), start, data.len())
            })
            .collect();
        specs
    };
    let (shared, _) = buf.into_shared();
    let bytes: &[u8] = bytemuck::cast_slice(&shared);
    // The scales of int8 weights are part of those weights, not tensors of their own.
    let by_name: HashMap<&str, (Dtype, &[usize], &[u8])> =
        specs.iter().map(|(n, d, s, at, len)| (n.as_str(), (*d, s.as_slice(), &bytes[*at..at + len]))).collect();
    let scales: HashSet<String> = specs
        .iter()
        .filter(|s| s.1 == Dtype::I8)
        .map(|s| scale_name(&s.0))
        .filter(|n| by_name.contains_key(n.as_str()))
        .collect();
    let mut tensors = HashMap::new();
    for (name, dtype, shape, start, len) in specs.iter().cloned() {
        if scales.contains(&name) {
            continue;
        }
        let tensor = match dtype {
            Dtype::F32 if start % 4 == 0 => Tensor::view_f32(shared.clone(), start / 4, shape)?,
            Dtype::F32 | Dtype::F16 | Dtype::BF16 => {
                Tensor::from_f32(shape, widen_to_f32(&name, dtype, &bytes[start..start + len])?)?
            }
            Dtype::I8 => int8_weight(
                &name,
                &shape,
                &bytes[start..start + len],
                by_name.get(scale_name(&name).as_str()).copied(),
            )?,
            Dtype::U8 | Dtype::F8_E4M3 | Dtype::F8_E5M2 | Dtype::F4 | Dtype::F6_E2M3 | Dtype::F6_E3M2 => {
                return Err(Error::weights(
                    name,
                    format!("dtype {dtype:?} is not a weight form this SDK reads (int8 with a '_scale' tensor is)"),
                ))
            }
            _ => continue,
        };
        // A NaN or infinity in one weight poisons every output it reaches, differently per
        // backend; checking costs little next to the download.
        if let Some(i) = tensor.as_f32_slice().and_then(|v| v.iter().position(|x| !x.is_finite())) {
            return Err(Error::weights(name, format!("element {i} is not finite (NaN or ±Inf)")));
        }
        tensors.insert(name, tensor);
    }
    Ok(Weights::from_map(tensors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> AlignedBuf {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        AlignedBuf::from(v.as_slice())
    }

    #[test]
    fn reads_f32_in_place_and_widens_halves() {
        // 8 + 88 = 96 bytes of header: the f32 data starts 4-byte aligned.
        let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[1],"data_offsets":[8,10]}}"#;
        let h = format!("{h:<88}");
        let mut data = Vec::new();
        data.extend_from_slice(&1.5f32.to_le_bytes());
        data.extend_from_slice(&(-2.0f32).to_le_bytes());
        data.extend_from_slice(&half::f16::from_f32(0.25).to_le_bytes());
        let w = read_safetensors(file(&h, &data)).unwrap();
        assert_eq!(w.get("a").unwrap().to_f32_vec(), vec![1.5, -2.0]);
        assert_eq!(w.get("b").unwrap().to_f32_vec(), vec![0.25]);
    }

    #[test]
    fn rejects_non_finite_weights_naming_the_tensor() {
        let h = r#"{"ok":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#;
        let h = format!("{h:<120}");
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let data: Vec<u8> = [1.0f32, 0.5, bad].iter().flat_map(|x| x.to_le_bytes()).collect();
            let e = read_safetensors(file(&h, &data)).unwrap_err();
            assert_eq!(e.code(), "invalid_weights", "{e}");
            assert!(e.to_string().contains("'w'") && e.to_string().contains("element 1"), "{e}");
        }
        // f16 infinities too (widened to f32 on load).
        let h = format!("{:<120}", r#"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#);
        let e = read_safetensors(file(&h, &half::f16::INFINITY.to_le_bytes())).unwrap_err();
        assert!(e.to_string().contains("'h'"), "{e}");
    }

    #[test]
    fn rejects_malformed_files_with_invalid_weights() {
        let bad = [
            file(r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, &[0; 8]),
            file(r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, &[0; 4]),
            file(
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#,
                &[0; 6],
            ),
            file("not json", &[]),
            AlignedBuf::from(&[1u8, 2, 3][..]),
            AlignedBuf::from(&[255u8, 255, 255, 255, 0, 0, 0, 0, 1][..]),
        ];
        for b in bad {
            let e = read_safetensors(b).unwrap_err();
            assert_eq!(e.code(), "invalid_weights", "{e}");
        }
    }
}
