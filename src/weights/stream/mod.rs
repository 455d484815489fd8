//! A safetensors file read as it arrives, one tensor at a time: the header first, then each
//! tensor's bytes hashed (its session digest) while they wait outside the heap that holds
//! tensors (`Parking`: JS memory in the browser). A tensor the caller already holds by
//! content is taken from the caller and its bytes dropped; only the others get storage,
//! each its own. So a load of weights a session already has never allocates them again,
//! and wasm memory (which never shrinks) grows by the new tensors plus one piece.
//!
//! Files this does not take apart — int8 weights with their scales, 8-bit floats, a header
//! that does not parse or does not add up — are gathered whole instead (`Streamed::Whole`)
//! for `read_safetensors`, which reads them or says what is wrong, as for any file.

use super::aligned::AlignedBuf;
use super::convert::widen_to_f32;
use super::digest::{Digest, TensorDigest};
use super::safetensors::Weights;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};
use safetensors::Dtype;
use std::collections::HashMap;

/// The safetensors crate's limit on a header, which `read_safetensors` applies.
const MAX_HEADER: u64 = 100_000_000;

/// Where a tensor's bytes wait until its digest is known.
pub trait Parking {
    fn park(&mut self, bytes: &[u8]);
    /// Copies every parked byte into `out` (exactly as long) and forgets them.
    fn drain_into(&mut self, out: &mut [u8]);
    fn clear(&mut self);
}

/// Natively the bytes wait in memory (tests; native loads read files whole anyway).
impl Parking for Vec<u8> {
    fn park(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn drain_into(&mut self, out: &mut [u8]) {
        out.copy_from_slice(self);
        self.clear();
    }

    fn clear(&mut self) {
        Vec::clear(self);
    }
}

/// What a stream gave.
pub enum Streamed {
    /// The tensors (some of them the caller's own), their digests known.
    Tensors { weights: Weights, reused: usize },
    /// The whole file, for `read_safetensors`.
    Whole(AlignedBuf),
}

/// One tensor of the header.
struct Spec {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    start: u64,
    end: u64,
}

impl Spec {
    /// Whether the tensor is read (as f32) or skipped, as `read_safetensors` does.
    fn read(&self) -> bool {
        matches!(self.dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16)
    }
}

enum State {
    Header(Vec<u8>),
    Tensors { specs: Vec<Spec>, data_start: u64 },
    Whole(AlignedBuf),
}

/// A safetensors file fed in pieces (`push`), read tensor by tensor.
pub struct TensorStream<P: Parking> {
    state: State,
    /// Bytes fed so far.
    at: u64,
    /// The tensor being read, by index into the specs (in file order).
    cur: usize,
    hash: Option<TensorDigest>,
    /// The odd byte of a half-precision value split between pieces.
    odd: Option<u8>,
    parking: P,
    tensors: HashMap<String, Tensor>,
    digests: HashMap<String, Digest>,
    reused: usize,
    /// The file's size when known: a file gathered whole gets its room at once.
    size: u64,
}

/// A tensor the caller holds with this digest, if any.
pub type Lookup<'a> = &'a dyn Fn(&Digest) -> Option<Tensor>;

impl<P: Parking> TensorStream<P> {
    pub fn new(parking: P) -> Self {
        TensorStream {
            state: State::Header(Vec::new()),
            at: 0,
            cur: 0,
            hash: None,
            odd: None,
            parking,
            tensors: HashMap::new(),
            digests: HashMap::new(),
            reused: 0,
            size: 0,
        }
    }

    /// The file's size, when known before its bytes.
    pub fn sized(&mut self, size: u64) {
        self.size = size;
    }

    /// Feeds the next bytes of the file.
    pub fn push(&mut self, mut bytes: &[u8], held: Lookup<'_>) -> Result<()> {
        while let State::Header(buf) = &mut self.state {
            let want = match header_end(buf) {
                Some(end) => end - buf.len() as u64,
                None if buf.len() < 8 => 8 - buf.len() as u64,
                // A length past the crate's limit: the whole file says so.
                None => {
                    self.state = State::Whole(whole(std::mem::take(buf), self.size)?);
                    break;
                }
            };
            if want == 0 {
                let header = std::mem::take(buf);
                self.state = match specs(&header[8..]) {
                    Some(specs) => State::Tensors { specs, data_start: header.len() as u64 },
                    None => State::Whole(whole(header, self.size)?),
                };
                self.complete_empty(held)?;
                break;
            }
            if bytes.is_empty() {
                return Ok(());
            }
            let take = want.min(bytes.len() as u64) as usize;
            buf.extend_from_slice(&bytes[..take]);
            self.at += take as u64;
            bytes = &bytes[take..];
        }
        match &mut self.state {
            State::Whole(buf) => {
                self.at += bytes.len() as u64;
                buf.extend_from_slice(bytes)
            }
            State::Tensors { .. } => self.tensor_bytes(bytes, held),
            State::Header(_) => Ok(()),
        }
    }

    /// Bytes fed so far.
    pub fn received(&self) -> u64 {
        self.at
    }

    /// The file ended: its tensors, or the whole file.
    pub fn finish(mut self, held: Lookup<'_>) -> Result<Streamed> {
        self.complete_empty(held)?;
        match self.state {
            State::Header(buf) => Ok(Streamed::Whole(whole(buf, 0)?)),
            State::Whole(buf) => Ok(Streamed::Whole(buf)),
            State::Tensors { specs, .. } if self.cur < specs.len() => {
                Err(Error::weights("(data)", "the data section is shorter than the header says (truncated file?)"))
            }
            State::Tensors { .. } => Ok(Streamed::Tensors {
                weights: Weights::from_map(self.tensors).with_digests(self.digests),
                reused: self.reused,
            }),
        }
    }

    fn tensor_bytes(&mut self, mut bytes: &[u8], held: Lookup<'_>) -> Result<()> {
        while !bytes.is_empty() {
            let State::Tensors { specs, data_start } = &self.state else { return Ok(()) };
            let Some(spec) = specs.get(self.cur) else {
                return Err(Error::weights("(data)", "the file runs on past its last tensor"));
            };
            let pos = self.at - data_start;
            let take = (spec.end - pos).min(bytes.len() as u64) as usize;
            let (piece, rest) = bytes.split_at(take);
            if spec.read() {
                let hash = self.hash.get_or_insert_with(|| TensorDigest::new(DType::F32, &spec.shape));
                feed(hash, spec.dtype, piece, &mut self.odd);
                self.parking.park(piece);
            }
            self.at += take as u64;
            bytes = rest;
            if self.at - data_start == spec.end {
                self.complete(held)?;
                self.complete_empty(held)?;
            }
        }
        Ok(())
    }

    /// Completes the tensors of no bytes at the read position.
    fn complete_empty(&mut self, held: Lookup<'_>) -> Result<()> {
        while let State::Tensors { specs, data_start } = &self.state {
            match specs.get(self.cur) {
                Some(s) if s.start == s.end && self.at - data_start == s.end => self.complete(held)?,
                _ => break,
            }
        }
        Ok(())
    }

    /// The current tensor's bytes are all in: the caller's copy, or one of its own.
    fn complete(&mut self, held: Lookup<'_>) -> Result<()> {
        let State::Tensors { specs, .. } = &self.state else { return Ok(()) };
        let spec = &specs[self.cur];
        self.cur += 1;
        if !spec.read() {
            return Ok(());
        }
        let d = self.hash.take().unwrap_or_else(|| TensorDigest::new(DType::F32, &spec.shape)).finish();
        let tensor = match held(&d) {
            Some(t) => {
                self.parking.clear();
                self.reused += 1;
                t
            }
            None => own(spec, &mut self.parking)?,
        };
        self.digests.insert(spec.name.clone(), d);
        self.tensors.insert(spec.name.clone(), tensor);
        Ok(())
    }
}

/// Hashes `piece` of a tensor as the f32 values it is read as: f32 bytes as they are, a
/// half-precision value widened (a value split between pieces waits in `odd`).
fn feed(hash: &mut TensorDigest, dtype: Dtype, mut piece: &[u8], odd: &mut Option<u8>) {
    if dtype == Dtype::F32 {
        return hash.update(piece);
    }
    let mut widen = |bytes: &[u8]| {
        if let Ok(v) = widen_to_f32("", dtype, bytes) {
            hash.update(bytemuck::cast_slice(&v));
        }
    };
    if let (Some(first), Some((&second, rest))) = (*odd, piece.split_first()) {
        widen(&[first, second]);
        *odd = None;
        piece = rest;
    }
    let even = piece.len() & !1;
    *odd = piece.get(even).copied();
    // 512 values at a time, so the widened copy stays small.
    piece[..even].chunks(1024).for_each(widen);
}

/// A tensor of its own from the parked bytes, checked finite as `read_safetensors` does.
fn own(spec: &Spec, parking: &mut impl Parking) -> Result<Tensor> {
    let too_big =
        || Error::OutOfMemory(format!("tensor '{}' ({} bytes) cannot be held here", spec.name, spec.end - spec.start));
    let len = usize::try_from(spec.end - spec.start).map_err(|_| too_big())?;
    let values = if spec.dtype == Dtype::F32 {
        let mut v = Vec::new();
        v.try_reserve_exact(len / 4).map_err(|_| too_big())?;
        v.resize(len / 4, 0f32);
        parking.drain_into(bytemuck::cast_slice_mut(&mut v));
        v
    } else {
        let mut raw = Vec::new();
        raw.try_reserve_exact(len).map_err(|_| too_big())?;
        raw.resize(len, 0);
        parking.drain_into(&mut raw);
        widen_to_f32(&spec.name, spec.dtype, &raw)?
    };
    if let Some(i) = values.iter().position(|x| !x.is_finite()) {
        return Err(Error::weights(&spec.name, format!("element {i} is not finite (NaN or ±Inf)")));
    }
    Tensor::from_f32(spec.shape.clone(), values)
}

/// Where the header ends, once its length is known and within the crate's limit.
fn header_end(buf: &[u8]) -> Option<u64> {
    let n = u64::from_le_bytes(buf.get(..8)?.try_into().ok()?);
    (n <= MAX_HEADER).then_some(8 + n)
}

/// The file gathered whole from its first `bytes`, with room for `size` in all.
fn whole(bytes: Vec<u8>, size: u64) -> Result<AlignedBuf> {
    let mut buf = AlignedBuf::with_capacity(size.max(bytes.len() as u64))?;
    buf.extend_from_slice(&bytes)?;
    Ok(buf)
}

/// The tensors in file order when the header parses, adds up (dtype × shape = length,
/// offsets from 0 without gaps or overlaps) and names only dtypes read or skipped one by
/// one; else `None`, and the file is gathered whole.
fn specs(json: &[u8]) -> Option<Vec<Spec>> {
    let header: serde_json::Value = serde_json::from_slice(json).ok()?;
    let mut specs = Vec::new();
    let header = header.as_object()?;
    // The crate wants a map of strings there: anything else is its error to report.
    if let Some(meta) = header.get("__metadata__") {
        if !meta.as_object()?.values().all(serde_json::Value::is_string) {
            return None;
        }
    }
    for (name, info) in header.iter().filter(|(n, _)| *n != "__metadata__") {
        let (dtype, size) = match info.get("dtype")?.as_str()? {
            "F32" => (Dtype::F32, 4),
            "F16" => (Dtype::F16, 2),
            "BF16" => (Dtype::BF16, 2),
            // Skipped by `read_safetensors` (position ids and the like): only their sizes count.
            "F64" => (Dtype::F64, 8),
            "I64" => (Dtype::I64, 8),
            "U64" => (Dtype::U64, 8),
            "I32" => (Dtype::I32, 4),
            "U32" => (Dtype::U32, 4),
            "I16" => (Dtype::I16, 2),
            "U16" => (Dtype::U16, 2),
            "BOOL" => (Dtype::BOOL, 1),
            // int8 with its scales, or a form `read_safetensors` refuses: read whole.
            _ => return None,
        };
        let shape: Vec<usize> =
            info.get("shape")?.as_array()?.iter().map(|d| usize::try_from(d.as_u64()?).ok()).collect::<Option<_>>()?;
        let offsets = info.get("data_offsets")?.as_array()?;
        let (start, end) = (offsets.first()?.as_u64()?, offsets.get(1)?.as_u64()?);
        let count = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))?;
        if offsets.len() != 2 || end < start || count.checked_mul(size)? != end - start {
            return None;
        }
        specs.push(Spec { name: name.clone(), dtype, shape, start, end });
    }
    // File order, each tensor starting where the one before ends (empty ones first at an
    // offset). Picked rather than sorted: a header has hundreds of tensors, not millions,
    // and a sort of our own type would add its code to every wasm.
    let mut ordered = Vec::with_capacity(specs.len());
    let mut at = 0;
    while !specs.is_empty() {
        let i = specs
            .iter()
            .position(|s| s.start == at && s.end == at)
            .or_else(|| specs.iter().position(|s| s.start == at))?;
        let s = specs.swap_remove(i);
        at = s.end;
        ordered.push(s);
    }
    Some(ordered)
}

#[cfg(test)]
mod tests;
