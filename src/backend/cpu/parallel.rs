//! Work split over CPU threads: helper threads that wait for a job, and `for_each`, which
//! hands a job's tasks to them and to the calling thread and returns when all are done.
//!
//! The helpers are whatever threads call `help()`: in the threaded wasm build, Web Workers
//! sharing the module's memory (pkg-template/thread.js); natively, threads that
//! `start_native` spawns (tests and benches run the split paths that way). With no
//! helpers, or inside a task, or while another caller holds them, the tasks run in turn on
//! the calling thread, so callers need not know whether threads exist.
//!
//! Waiting is `std::sync::Condvar`, which in the threaded wasm build is
//! `memory.atomic.wait32`: allowed in workers only, so that build never runs on a page's
//! main thread (the SDK's worker hosts it).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

/// A job: `tasks` calls of the closure, by index. The closure is borrowed for the length
/// of one `for_each` call, which does not return before every helper has let go of it.
#[derive(Clone, Copy)]
struct Job {
    f: *const (dyn Fn(usize) + Sync),
    tasks: usize,
}

// SAFETY: the closure is `Sync`, and `for_each` keeps it alive while any helper holds it.
unsafe impl Send for Job {}

#[derive(Default)]
struct State {
    /// Helpers waiting for jobs.
    helpers: usize,
    /// Bumped once per job, so a helper knows a job is new.
    epoch: u64,
    job: Option<Job>,
    /// Helpers still inside the current job.
    busy: usize,
    /// A task panicked (natively; the wasm builds abort on panic).
    panicked: bool,
}

#[derive(Default)]
struct Pool {
    state: Mutex<State>,
    start: Condvar,
    done: Condvar,
    /// The next task index to take.
    next: AtomicUsize,
    /// Held by the thread whose job the helpers are on.
    caller: Mutex<()>,
    /// `State::helpers`, readable without the lock: every element-wise pass asks it.
    helper_count: AtomicUsize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::default)
}

fn lock(p: &Pool) -> MutexGuard<'_, State> {
    p.state.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// Whether this thread is running a task (a nested `for_each` runs in turn).
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Threads a job can use: the helpers and the caller.
pub fn threads() -> usize {
    pool().helper_count.load(Ordering::Relaxed) + 1
}

/// Multiply-adds below which a product is not split: waking a helper costs tens of
/// microseconds in the browsers, about what a 384 × 384 GEMV takes (measured: Whisper's
/// decoder, all small GEMVs, gained nothing from a second thread in Firefox when every
/// one was split).
static MIN_SPLIT_WORK: AtomicUsize = AtomicUsize::new(1 << 20);

/// Splits every product from now on, however small: tests call it so that their small
/// shapes take the split paths.
pub fn split_everything() {
    MIN_SPLIT_WORK.store(0, Ordering::Relaxed);
}

/// Threads worth using for a product of `work` multiply-adds: 1 below the threshold.
pub fn threads_for(work: usize) -> usize {
    if work < MIN_SPLIT_WORK.load(Ordering::Relaxed) {
        1
    } else {
        threads()
    }
}

/// Runs `f(i)` for every `i < tasks`, spread over the helpers and this thread.
pub fn for_each(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    let p = pool();
    let serial = || (0..tasks).for_each(f);
    if tasks <= 1 || IN_TASK.get() {
        return serial();
    }
    let Ok(_caller) = p.caller.try_lock() else { return serial() };
    // SAFETY: only the lifetime is erased; this function waits below until `busy` is 0,
    // that is until no helper can reach the closure, before `f` goes out of scope.
    let job =
        Job { f: unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(f) }, tasks };
    {
        let mut s = lock(p);
        if s.helpers == 0 {
            return serial();
        }
        s.job = Some(job);
        s.busy = s.helpers;
        s.epoch += 1;
        p.next.store(0, Ordering::SeqCst);
        p.start.notify_all();
    }
    work(p, job);
    let mut s = lock(p);
    while s.busy > 0 {
        s = p.done.wait(s).unwrap_or_else(PoisonError::into_inner);
    }
    s.job = None;
    if std::mem::take(&mut s.panicked) {
        drop(s);
        panic!("a parallel task panicked");
    }
}

/// Runs `f` with every `for_each` inside it in turn on this thread (tests compare a split
/// kernel with its one-thread self this way).
pub fn serially<R>(f: impl FnOnce() -> R) -> R {
    let was = IN_TASK.replace(true);
    let r = f();
    IN_TASK.set(was);
    r
}

/// Takes tasks until none are left.
fn work(p: &Pool, job: Job) {
    IN_TASK.set(true);
    loop {
        let i = p.next.fetch_add(1, Ordering::SeqCst);
        if i >= job.tasks {
            break;
        }
        // SAFETY: see `Job`: the closure outlives every helper's use of it.
        unsafe { (*job.f)(i) };
    }
    IN_TASK.set(false);
}

/// Serves jobs for ever: the body of a helper thread.
pub fn help() -> ! {
    let p = pool();
    let mut seen = {
        let mut s = lock(p);
        s.helpers += 1;
        p.helper_count.store(s.helpers, Ordering::Relaxed);
        s.epoch
    };
    loop {
        let job = {
            let mut s = lock(p);
            while s.epoch == seen {
                s = p.start.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            seen = s.epoch;
            s.job
        };
        let ok = match job {
            Some(job) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(p, job))).is_ok(),
            None => true,
        };
        let mut s = lock(p);
        s.panicked |= !ok;
        s.busy -= 1;
        if s.busy == 0 {
            p.done.notify_all();
        }
    }
}

/// Splits `out` into chunks of `chunk` elements (the last may be shorter) and runs
/// `f(index, chunk)` for each, in parallel.
pub fn for_each_chunk<T: Send>(out: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let chunk = chunk.max(1);
    let (len, base) = (out.len(), SendPtr(out.as_mut_ptr()));
    for_each(len.div_ceil(chunk), &|i| {
        let start = i * chunk;
        let end = (start + chunk).min(len);
        // SAFETY: the chunks are disjoint ranges of `out`, each handed to one task, and
        // `out` stays mutably borrowed until `for_each` returns.
        let part = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), end - start) };
        f(i, part)
    });
}

/// Runs `f` over `out` in parts of whole rows of `width`, in parallel when `out` is large
/// enough to repay handing it out (an element-wise pass over a batch's activations).
pub fn rows<T: Send>(out: &mut [T], width: usize, f: impl Fn(&mut [T]) + Sync) {
    const SMALL: usize = 1 << 15;
    let width = width.max(1);
    let threads = threads();
    if threads == 1 || out.len() < SMALL || IN_TASK.get() {
        return f(out);
    }
    let per = (out.len() / width).div_ceil(2 * threads).max(1) * width;
    for_each_chunk(out, per, |_, part| f(part));
}

/// A pointer tasks may share; each task touches its own part of what it points to.
struct SendPtr<T>(*mut T);

impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SendPtr<T> {}

impl<T> SendPtr<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

// SAFETY: used only by `for_each_chunk`, whose tasks write disjoint ranges.
unsafe impl<T: Send> Send for SendPtr<T> {}
unsafe impl<T: Send> Sync for SendPtr<T> {}

/// Starts helper threads natively until `total` threads (helpers and caller) are there.
#[cfg(not(target_arch = "wasm32"))]
pub fn start_native(total: usize) {
    static STARTED: Mutex<usize> = Mutex::new(0);
    let mut started = STARTED.lock().unwrap_or_else(PoisonError::into_inner);
    while *started + 1 < total {
        std::thread::spawn(|| help());
        *started += 1;
    }
    drop(started);
    // Wait until they have registered, so the next job is split.
    while threads() < total {
        std::thread::yield_now();
    }
}

// Natively only: a wasm test has no threads to start.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// Every task runs exactly once, split or not, nested or not, with callers racing.
    #[test]
    fn every_task_runs_once() {
        start_native(3);
        let callers: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(|| {
                    for tasks in [0, 1, 2, 7, 64] {
                        let hits: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
                        for_each(tasks, &|i| {
                            hits[i].fetch_add(1, Ordering::SeqCst);
                            // A nested job runs in turn on this thread.
                            let inner = AtomicUsize::new(0);
                            for_each(3, &|_| {
                                inner.fetch_add(1, Ordering::SeqCst);
                            });
                            assert_eq!(inner.load(Ordering::SeqCst), 3);
                        });
                        assert!(hits.iter().all(|h| h.load(Ordering::SeqCst) == 1), "{tasks} tasks");
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
        let mut v = vec![0usize; 10];
        for_each_chunk(&mut v, 3, |i, part| part.iter_mut().for_each(|x| *x = i));
        assert_eq!(v, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);
    }
}
