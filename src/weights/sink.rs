//! `Sink`: where a file's bytes go as they arrive, from the network or from the weight
//! store. Most files land in one aligned buffer; a weights file that a session may hold
//! in part goes through a `TensorSink`, which takes it apart tensor by tensor and never
//! allocates what the session already has (wasm memory never shrinks).

use super::stream::{Lookup, Parking, Streamed, TensorStream};
use super::AlignedBuf;
use crate::error::Result;

pub trait Sink {
    /// The file's size, when known before its bytes: room is made once.
    fn sized(&mut self, total: u64) -> Result<()>;
    fn put(&mut self, bytes: &[u8]) -> Result<()>;
    /// Bytes put so far.
    fn received(&self) -> u64;
    /// The file ended: what it gave.
    fn finish(self) -> Result<Streamed>
    where
        Self: Sized;
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

    fn received(&self) -> u64 {
        self.len() as u64
    }

    fn finish(self) -> Result<Streamed> {
        Ok(Streamed::Whole(self))
    }
}

/// Keeps nothing but the count: for a writer whose caller already has the bytes.
#[derive(Default)]
pub struct Discard(u64);

impl Sink for Discard {
    fn sized(&mut self, _: u64) -> Result<()> {
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.0 += bytes.len() as u64;
        Ok(())
    }

    fn received(&self) -> u64 {
        self.0
    }

    fn finish(self) -> Result<Streamed> {
        Ok(Streamed::Whole(AlignedBuf::default()))
    }
}

/// A weights file read tensor by tensor, taking from `held` what the session has; the
/// bytes of the tensor being hashed wait in `P` (JS memory in the browser).
pub struct TensorSink<'a, P: Parking> {
    stream: TensorStream<P>,
    held: Lookup<'a>,
}

impl<'a, P: Parking + Default> TensorSink<'a, P> {
    pub fn new(held: Lookup<'a>) -> Self {
        TensorSink { stream: TensorStream::new(P::default()), held }
    }
}

impl<P: Parking> Sink for TensorSink<'_, P> {
    fn sized(&mut self, total: u64) -> Result<()> {
        self.stream.sized(total);
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.push(bytes, self.held)
    }

    fn received(&self) -> u64 {
        self.stream.received()
    }

    fn finish(self) -> Result<Streamed> {
        self.stream.finish(self.held)
    }
}
