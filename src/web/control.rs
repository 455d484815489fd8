//! Cancelling, timing out and pacing async work: the caller's `AbortSignal`, a stall timer
//! for downloads, and a yield to the event loop between batches of a long computation.

use crate::error::{Error, Result};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    // The global timer functions: window, worker and Node all have them (Node's return
    // an object, hence `JsValue`).
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// How long a download may go without receiving a byte before it fails, unless a load's
/// `stallTimeoutMs` option says otherwise.
pub const DEFAULT_STALL_MS: f64 = 30_000.0;

/// A one-shot timer whose promise resolves to `mark`; dropping it clears the timer.
struct Timer {
    id: JsValue,
    promise: js_sys::Promise,
    _callback: Closure<dyn FnMut()>,
}

/// A promise and the callback that resolves it to `mark`; the callback must live as long
/// as whatever may call it (a timer, an event listener).
fn resolved_by_callback(mark: &JsValue) -> (js_sys::Promise, Closure<dyn FnMut()>) {
    let mut resolve = None;
    let promise = js_sys::Promise::new(&mut |ok, _| resolve = Some(ok));
    let mark = mark.clone();
    let callback = Closure::<dyn FnMut()>::new(move || {
        if let Some(ok) = &resolve {
            let _ = ok.call1(&JsValue::NULL, &mark);
        }
    });
    (promise, callback)
}

impl Timer {
    fn new(ms: f64, mark: &JsValue) -> Self {
        let (promise, callback) = resolved_by_callback(mark);
        let id = set_timeout(callback.as_ref().unchecked_ref(), ms);
        Timer { id, promise, _callback: callback }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

/// Resolves to the event loop's next turn (a macrotask), so timers, input and rendering
/// run between batches of a long call.
pub async fn yield_now() {
    let t = Timer::new(0.0, &JsValue::UNDEFINED);
    let _ = JsFuture::from(t.promise.clone()).await;
}

/// The abort side of a `Control`: a promise that resolves to a mark when the signal fires.
struct Abort {
    signal: web_sys::AbortSignal,
    fired: js_sys::Promise,
    listener: Closure<dyn FnMut()>,
}

impl Drop for Abort {
    fn drop(&mut self) {
        let _ = self.signal.remove_event_listener_with_callback("abort", self.listener.as_ref().unchecked_ref());
    }
}

struct Inner {
    /// What is being controlled, for messages: "TextEmbedder.load", "embed".
    what: &'static str,
    abort: Option<Abort>,
    /// Milliseconds without progress before `wait_progress` gives up; `None` for never.
    stall_ms: Option<f64>,
    abort_mark: JsValue,
    stall_mark: JsValue,
}

/// One call's signal and stall limit, shared by everything the call awaits.
#[derive(Clone)]
pub struct Control(Rc<Inner>);

/// Why a wait ended without the awaited promise's value.
pub enum Interrupted {
    /// The awaited promise rejected with this.
    Rejected(JsValue),
    /// The stall timer ran out.
    Stalled,
    /// The caller's signal fired.
    Aborted(Error),
}

impl Control {
    /// A control for `what` from the caller's `signal` (an `AbortSignal` or nothing) and
    /// stall limit.
    pub fn new(what: &'static str, signal: Option<web_sys::AbortSignal>, stall_ms: Option<f64>) -> Self {
        let abort_mark: JsValue = js_sys::Symbol::for_("ipfs-accelerate.aborted").into();
        let abort = signal.map(|signal| {
            let (fired, listener) = resolved_by_callback(&abort_mark);
            let _ = signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
            Abort { signal, fired, listener }
        });
        let stall_mark: JsValue = js_sys::Symbol::for_("ipfs-accelerate.stalled").into();
        Control(Rc::new(Inner { what, abort, stall_ms, abort_mark, stall_mark }))
    }

    /// A control that never aborts or stalls.
    pub fn none(what: &'static str) -> Self {
        Control::new(what, None, None)
    }

    /// The signal, to hand to `fetch` so the request itself is cancelled.
    pub fn signal(&self) -> Option<&web_sys::AbortSignal> {
        self.0.abort.as_ref().map(|a| &a.signal)
    }

    pub fn stall_ms(&self) -> Option<f64> {
        self.0.stall_ms
    }

    fn aborted_error(&self) -> Error {
        let reason = self.signal().map(|s| s.reason()).filter(|r| !r.is_undefined());
        let why = reason
            .and_then(|r| r.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| r.as_string()))
            .filter(|m| !m.is_empty());
        Error::Aborted(match why {
            Some(w) => format!("{} (signal: {w})", self.0.what),
            None => format!("{} (by its signal)", self.0.what),
        })
    }

    /// `aborted` when the signal has fired.
    pub fn check(&self) -> Result<()> {
        match self.signal() {
            Some(s) if s.aborted() => Err(self.aborted_error()),
            _ => Ok(()),
        }
    }

    /// Awaits `p` until it settles or the signal fires.
    pub async fn wait(&self, p: js_sys::Promise) -> std::result::Result<JsValue, Interrupted> {
        self.race(p, None).await
    }

    /// Awaits `p`, which should show progress, until it settles, the signal fires, or the
    /// stall limit passes first.
    pub async fn wait_progress(&self, p: js_sys::Promise) -> std::result::Result<JsValue, Interrupted> {
        let timer = self.0.stall_ms.map(|ms| Timer::new(ms, &self.0.stall_mark));
        self.race(p, timer.as_ref()).await
    }

    async fn race(&self, p: js_sys::Promise, timer: Option<&Timer>) -> std::result::Result<JsValue, Interrupted> {
        self.check().map_err(Interrupted::Aborted)?;
        let racers = js_sys::Array::of1(&p);
        if let Some(a) = &self.0.abort {
            racers.push(&a.fired);
        }
        if let Some(t) = timer {
            racers.push(&t.promise);
        }
        let v = JsFuture::from(js_sys::Promise::race(&racers)).await.map_err(Interrupted::Rejected)?;
        if v == self.0.abort_mark {
            Err(Interrupted::Aborted(self.aborted_error()))
        } else if v == self.0.stall_mark {
            Err(Interrupted::Stalled)
        } else {
            Ok(v)
        }
    }
}

/// The `signal` option: an `AbortSignal`, or absent.
pub fn signal_field(op: &'static str, opts: &JsValue) -> Result<Option<web_sys::AbortSignal>> {
    let v = super::options::field(opts, "signal");
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_into().map(Some).map_err(|_| Error::arg(op, "option signal must be an AbortSignal"))
}
