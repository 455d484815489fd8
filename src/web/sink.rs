//! Where a download's bytes go: one aligned buffer (most files), or, for a weights file a
//! session may already hold in part, a `TensorStream` that hashes each tensor as it
//! arrives and parks its bytes in JS memory until it knows whether the session has it.
//! Wasm memory never shrinks, so bytes that turn out to be held must never enter it.

use super::ipfs_file::SLICE;
use crate::error::Result;
use crate::weights::{AlignedBuf, Lookup, Parking, Streamed, TensorStream};

pub trait Sink {
    /// The file's size, when known before its bytes: room is made once.
    fn sized(&mut self, total: u64) -> Result<()>;
    fn put(&mut self, bytes: &[u8]) -> Result<()>;
    fn put_js(&mut self, piece: &js_sys::Uint8Array) -> Result<()>;
    /// Bytes put so far.
    fn received(&self) -> u64;
}

impl Sink for AlignedBuf {
    fn sized(&mut self, total: u64) -> Result<()> {
        if self.is_empty() {
            *self = AlignedBuf::with_capacity(total)?;
        }
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.extend_from_slice(bytes)
    }

    fn put_js(&mut self, piece: &js_sys::Uint8Array) -> Result<()> {
        piece.copy_to(self.grow(piece.length() as usize)?);
        Ok(())
    }

    fn received(&self) -> u64 {
        self.len() as u64
    }
}

/// Bytes waiting in JS memory, as copies of the pieces they came in.
#[derive(Default)]
pub struct JsParking(Vec<js_sys::Uint8Array>);

impl Parking for JsParking {
    fn park(&mut self, bytes: &[u8]) {
        self.0.push(js_sys::Uint8Array::from(bytes));
    }

    fn drain_into(&mut self, out: &mut [u8]) {
        let mut at = 0;
        for p in self.0.drain(..) {
            let n = p.length() as usize;
            p.copy_to(&mut out[at..at + n]);
            at += n;
        }
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// A weights file read tensor by tensor, taking from `held` what the session has.
pub struct TensorSink<'a> {
    stream: TensorStream<JsParking>,
    held: Lookup<'a>,
    /// The piece being read, in wasm memory only while it is hashed (reused).
    scratch: Vec<u8>,
}

impl<'a> TensorSink<'a> {
    pub fn new(held: Lookup<'a>) -> Self {
        TensorSink { stream: TensorStream::new(JsParking::default()), held, scratch: Vec::new() }
    }

    pub fn finish(self) -> Result<Streamed> {
        self.stream.finish(self.held)
    }
}

impl Sink for TensorSink<'_> {
    fn sized(&mut self, total: u64) -> Result<()> {
        self.stream.sized(total);
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.push(bytes, self.held)
    }

    fn put_js(&mut self, piece: &js_sys::Uint8Array) -> Result<()> {
        // A slice at a time: a browser may hand over many megabytes in one piece.
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut r = Ok(());
        let mut at = 0;
        while at < piece.length() && r.is_ok() {
            let end = piece.length().min(at + SLICE);
            scratch.resize((end - at) as usize, 0);
            piece.subarray(at, end).copy_to(&mut scratch);
            r = self.put(&scratch);
            at = end;
        }
        self.scratch = scratch;
        r
    }

    fn received(&self) -> u64 {
        self.stream.received()
    }
}
