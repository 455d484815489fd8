//! A first-come, first-served queue per device: concurrent runs on any number of models
//! take turns in the order they asked, instead of failing or overtaking each other.

use futures_channel::oneshot;
use std::collections::VecDeque;
use std::sync::Mutex;

#[derive(Default)]
pub struct Queue {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    busy: bool,
    waiting: VecDeque<oneshot::Sender<()>>,
}

/// The queue's turn, held while a run uses the device; the next waiter goes when it drops.
pub struct Turn<'a> {
    queue: &'a Queue,
}

impl Queue {
    /// Waits for this caller's turn. A caller that stops waiting (an aborted call) gives
    /// its place up.
    pub async fn turn(&self) -> Turn<'_> {
        let wait = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if s.busy {
                let (tx, rx) = oneshot::channel();
                s.waiting.push_back(tx);
                Some(rx)
            } else {
                s.busy = true;
                None
            }
        };
        if let Some(rx) = wait {
            // Handed over by the previous turn, which leaves `busy` set; a dropped sender
            // (the queue gone) also ends the wait.
            let _ = rx.await;
        }
        Turn { queue: self }
    }

    /// Runs under way or waiting.
    pub fn depth(&self) -> usize {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.waiting.len() + s.busy as usize
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut s = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(next) = s.waiting.pop_front() {
            if next.send(()).is_ok() {
                return;
            }
        }
        s.busy = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn poll<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn turns_go_in_order_and_a_dropped_waiter_is_skipped() {
        let q = Queue::default();
        let log = RefCell::new(vec![]);
        let first = crate::runtime::now(q.turn()).expect("a free queue gives a turn at once");
        let mut second = pin!(async {
            let _t = q.turn().await;
            log.borrow_mut().push(2);
        });
        let third = Box::pin(async {
            let _t = q.turn().await;
        });
        let mut fourth = pin!(async {
            let _t = q.turn().await;
            log.borrow_mut().push(4);
        });
        assert!(poll(second.as_mut()).is_pending());
        let mut third = third;
        assert!(poll(third.as_mut()).is_pending());
        assert!(poll(fourth.as_mut()).is_pending());
        assert_eq!(q.depth(), 4);
        drop(third); // gives its place up
        drop(first);
        assert!(poll(fourth.as_mut()).is_pending(), "the second goes before the fourth");
        assert!(poll(second.as_mut()).is_ready());
        assert!(poll(fourth.as_mut()).is_ready());
        assert_eq!(*log.borrow(), vec![2, 4]);
        assert_eq!(q.depth(), 0);
    }
}
