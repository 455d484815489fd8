//! Backend choice: the capabilities `detect()` reports (probed in JS, where the platform
//! APIs are) as plain structs, and `recommend`, which picks a backend and says why.

mod caps;
mod recommend;

pub use caps::{Adapter, Caps, Context, WasmCaps, WebGpuCaps, WebNnCaps};
pub use recommend::{recommend, Recommendation, Task, Workload};
