//! `JsSink`: a `Sink` that also takes a download's JS pieces, and `JsParking`, where a
//! streamed weights file's bytes wait in JS memory until the session is asked for their
//! tensor. Bytes that turn out to be held must never enter wasm memory, which never
//! shrinks.

use super::ipfs_file::SLICE;
use crate::error::Result;
use crate::models::files::WEIGHTS;
use crate::weights::{AlignedBuf, Lookup, Parking, Sink, Streamed, TensorSink};

pub trait JsSink: Sink {
    fn put_js(&mut self, piece: &js_sys::Uint8Array) -> Result<()>;
}

impl JsSink for AlignedBuf {
    fn put_js(&mut self, piece: &js_sys::Uint8Array) -> Result<()> {
        piece.copy_to(self.grow(piece.length() as usize)?);
        Ok(())
    }
}

/// A weights file streamed in the browser.
pub type WebTensorSink<'a> = TensorSink<'a, JsParking>;

impl JsSink for WebTensorSink<'_> {
    fn put_js(&mut self, piece: &js_sys::Uint8Array) -> Result<()> {
        // A slice at a time: a browser may hand over many megabytes in one piece.
        let mut scratch = vec![0; piece.length().min(SLICE) as usize];
        let mut at = 0;
        while at < piece.length() {
            let end = piece.length().min(at + SLICE);
            let part = &mut scratch[..(end - at) as usize];
            piece.subarray(at, end).copy_to(part);
            self.put(part)?;
            at = end;
        }
        Ok(())
    }
}

/// Where one file of a load goes in the browser. The one sink type the web code uses, so
/// that the generic readers and writers (`FileWriter`, `read_model_sharing`) are
/// instantiated once: each instantiation of their async code costs wasm size.
pub enum FileSink<'a> {
    Whole(AlignedBuf),
    Tensors(Box<WebTensorSink<'a>>),
}

impl<'a> FileSink<'a> {
    /// The weights file read tensor by tensor when the load has a session (`held`); any
    /// other file whole.
    pub fn for_file(name: &str, held: Option<Lookup<'a>>) -> Self {
        match held.filter(|_| name == WEIGHTS) {
            Some(held) => FileSink::Tensors(Box::new(WebTensorSink::new(held))),
            None => FileSink::Whole(AlignedBuf::default()),
        }
    }
}

impl Sink for FileSink<'_> {
    fn sized(&mut self, total: u64) -> Result<()> {
        match self {
            FileSink::Whole(b) => b.sized(total),
            FileSink::Tensors(t) => t.sized(total),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        match self {
            FileSink::Whole(b) => b.put(bytes),
            FileSink::Tensors(t) => t.put(bytes),
        }
    }

    fn received(&self) -> u64 {
        match self {
            FileSink::Whole(b) => b.received(),
            FileSink::Tensors(t) => t.received(),
        }
    }

    fn finish(self) -> Result<Streamed> {
        match self {
            FileSink::Whole(b) => b.finish(),
            FileSink::Tensors(t) => (*t).finish(),
        }
    }
}

impl JsSink for FileSink<'_> {
    fn put_js(&mut self, piece: &js_sys::Uint8Array) -> Result<()> {
        match self {
            FileSink::Whole(b) => b.put_js(piece),
            FileSink::Tensors(t) => t.put_js(piece),
        }
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
