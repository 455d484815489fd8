//! A pool of f32 buffers, so a graph run reuses the memory of values nothing reads again.

#[derive(Default)]
pub struct BufferPool {
    free: Vec<Vec<f32>>,
}

impl BufferPool {
    /// A zeroed buffer of `n` floats, recycled when one large enough is free.
    pub fn take(&mut self, n: usize) -> Vec<f32> {
        let best = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= n)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        let mut buf = match best {
            Some(i) => self.free.swap_remove(i),
            None => Vec::with_capacity(n),
        };
        buf.clear();
        buf.resize(n, 0.0);
        buf
    }

    pub fn put(&mut self, buf: Vec<f32>) {
        // A handful of buffers covers a transformer layer; more would only hold memory.
        if self.free.len() < 32 {
            self.free.push(buf);
        }
    }
}
