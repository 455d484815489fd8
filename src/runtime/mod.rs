//! The runtime around the backends: sessions (shared weights, backends, run queues and
//! the output cache), the LRU every cache uses, and driving a backend future from
//! synchronous code when it cannot wait (the CPU backend's never does).

mod lru;
mod queue;
mod session;

pub use lru::{Lru, LruStats};
pub use queue::{Queue, Turn};
pub use session::{digest_bytes, Digest, Lease, Session, SessionStats, WebNnStats, DEFAULT_OUTPUT_BUDGET};

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The output of `f` if it completes without waiting, else `None`. The CPU backend's
/// futures complete at once, which lets synchronous callers (native code, benches) use
/// the async backend contract without an executor.
pub fn now<F: Future>(f: F) -> Option<F::Output> {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_ready_future_gives_its_value_and_a_waiting_one_none() {
        assert_eq!(super::now(async { 7 }), Some(7));
        assert_eq!(super::now(std::future::pending::<u8>()), None);
    }
}
