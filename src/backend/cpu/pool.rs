//! A pool of f32 buffers, so a graph run reuses the memory of values nothing reads again,
//! and fallible allocation for every buffer a kernel needs.

use crate::error::{Error, Result};

/// An empty vector with room for `n` values, or `out_of_memory` naming the size when the
/// memory cannot be had (instead of the abort that `Vec` gives, which in wasm is an
/// `unreachable` trap that leaves the instance unusable).
pub fn with_room<T>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        let bytes = n as u128 * std::mem::size_of::<T>() as u128;
        Error::OutOfMemory(format!("{what}: {n} elements ({bytes} bytes) could not be allocated"))
    })?;
    Ok(v)
}

/// `n` default values, allocated as `with_room` does.
pub fn zeroed<T: Clone + Default>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = with_room(n, what)?;
    v.resize(n, T::default());
    Ok(v)
}

#[derive(Default)]
pub struct BufferPool {
    free: Vec<Vec<f32>>,
}

impl BufferPool {
    /// A zeroed buffer of `n` floats, recycled when one large enough is free.
    pub fn take(&mut self, n: usize) -> Result<Vec<f32>> {
        let best = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= n)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        let mut buf = match best {
            Some(i) => self.free.swap_remove(i),
            None => {
                // Free buffers too small to reuse are dropped first, to make room.
                self.free.clear();
                return zeroed(n, "a tensor");
            }
        };
        buf.clear();
        buf.resize(n, 0.0);
        Ok(buf)
    }

    pub fn put(&mut self, buf: Vec<f32>) {
        // A handful of buffers covers a transformer layer; more would only hold memory.
        if self.free.len() < 32 {
            self.free.push(buf);
        }
    }
}
