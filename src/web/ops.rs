//! `ops`: eager operations for JS. Each call runs a one-op graph on the CPU backend, so
//! it goes through the same shape checks and kernels as a model does.

use super::error::to_js;
use super::options::{bool_field, f32_field, field, int, isizes, usize_of, usizes};
use super::tensor::JsTensor;
use crate::backend::cpu::CpuBackend;
use crate::error::{Error, Result};
use crate::graph::{ConvParams, GraphBuilder, NodeId};
use crate::tensor::Tensor;
use wasm_bindgen::prelude::*;

thread_local! {
    // One backend per module instance keeps its buffer pool warm between calls.
    static CPU: CpuBackend = CpuBackend::new();
}

/// Builds a graph over `inputs` with `f`, runs it, and wraps the single output.
fn run1(
    inputs: &[&JsTensor],
    f: impl FnOnce(&mut GraphBuilder, &[NodeId]) -> Result<NodeId>,
) -> Result<JsTensor, JsValue> {
    let mut g = GraphBuilder::new();
    let ids: Vec<NodeId> =
        inputs.iter().enumerate().map(|(i, t)| g.input(&format!("arg{i}"), t.inner.dims(), t.inner.dtype())).collect();
    let run = || -> Result<Tensor> {
        let out = f(&mut g, &ids)?;
        let graph = g.build(&[out])?;
        let values: Vec<Tensor> = inputs.iter().map(|t| t.inner.clone()).collect();
        let mut outs = CPU.with(|cpu| cpu.run(&graph, &values))?;
        outs.pop().ok_or_else(|| Error::InvalidGraph("no output".into()))
    };
    run().map(|inner| JsTensor { inner }).map_err(to_js)
}

fn conv_params(op: &'static str, spatial: usize, opts: &JsValue) -> Result<ConvParams> {
    let get = |key: &str, default: usize| -> Result<Vec<usize>> {
        let v = field(opts, key);
        if v.is_undefined() {
            Ok(vec![default; spatial])
        } else if v.as_f64().is_some() {
            Ok(vec![usize_of(op, key, &v)?; spatial])
        } else {
            usizes(op, key, &v)
        }
    };
    let groups = field(opts, "groups");
    let groups = if groups.is_undefined() { 1 } else { int(op, "groups", &groups)?.max(0) as usize };
    Ok(ConvParams { stride: get("stride", 1)?, padding: get("padding", 0)?, dilation: get("dilation", 1)?, groups })
}

/// The eager op namespace behind `ops` in `pkg-template/index.js`. Tensors passed by
/// value (optional and array arguments) are consumed, so that facade passes clones,
/// which share storage and cost nothing.
#[wasm_bindgen(js_name = RawOps)]
pub struct Ops {
    _private: (),
}

#[wasm_bindgen(js_class = RawOps)]
impl Ops {
    /// `a @ b`; `opts.transposeA` / `opts.transposeB` swap the last two axes first.
    pub fn matmul(a: &JsTensor, b: &JsTensor, opts: JsValue) -> Result<JsTensor, JsValue> {
        let ta = bool_field("matmul", &opts, "transposeA", false).map_err(to_js)?;
        let tb = bool_field("matmul", &opts, "transposeB", false).map_err(to_js)?;
        run1(&[a, b], |g, x| g.matmul_t(x[0], x[1], ta, tb))
    }

    pub fn add(a: &JsTensor, b: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[a, b], |g, x| g.add(x[0], x[1]))
    }

    pub fn sub(a: &JsTensor, b: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[a, b], |g, x| g.sub(x[0], x[1]))
    }

    pub fn mul(a: &JsTensor, b: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[a, b], |g, x| g.mul(x[0], x[1]))
    }

    pub fn div(a: &JsTensor, b: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[a, b], |g, x| g.div(x[0], x[1]))
    }

    pub fn gelu(x: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[x], |g, i| g.gelu(i[0]))
    }

    #[wasm_bindgen(js_name = geluTanh)]
    pub fn gelu_tanh(x: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[x], |g, i| g.gelu_tanh(i[0]))
    }

    pub fn relu(x: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[x], |g, i| g.relu(i[0]))
    }

    pub fn silu(x: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[x], |g, i| g.silu(i[0]))
    }

    pub fn tanh(x: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[x], |g, i| g.tanh(i[0]))
    }

    /// Softmax over the last axis, after adding an optional broadcast `mask`.
    pub fn softmax(x: &JsTensor, mask: Option<JsTensor>) -> Result<JsTensor, JsValue> {
        match &mask {
            Some(m) => run1(&[x, m], |g, i| g.softmax(i[0], Some(i[1]))),
            None => run1(&[x], |g, i| g.softmax(i[0], None)),
        }
    }

    /// Layer norm over the last axis; `eps` defaults to 1e-5.
    #[wasm_bindgen(js_name = layerNorm)]
    pub fn layer_norm(x: &JsTensor, gamma: &JsTensor, beta: &JsTensor, eps: Option<f32>) -> Result<JsTensor, JsValue> {
        run1(&[x, gamma, beta], |g, i| g.layer_norm(i[0], i[1], i[2], eps.unwrap_or(1e-5)))
    }

    /// Rows of `table` (`[rows, width]`) picked by an i32 `ids` tensor.
    pub fn gather(table: &JsTensor, ids: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[table, ids], |g, i| g.gather(i[0], i[1]))
    }

    pub fn reshape(x: &JsTensor, dims: JsValue) -> Result<JsTensor, JsValue> {
        let dims = usizes("reshape", "dims", &dims).map_err(to_js)?;
        run1(&[x], |g, i| g.reshape(i[0], &dims))
    }

    /// Swaps the last two axes.
    pub fn transpose(x: &JsTensor) -> Result<JsTensor, JsValue> {
        run1(&[x], |g, i| g.transpose(i[0]))
    }

    pub fn permute(x: &JsTensor, perm: JsValue) -> Result<JsTensor, JsValue> {
        let perm = usizes("permute", "perm", &perm).map_err(to_js)?;
        run1(&[x], |g, i| g.permute(i[0], &perm))
    }

    pub fn slice(x: &JsTensor, axis: i32, start: u32, end: u32) -> Result<JsTensor, JsValue> {
        run1(&[x], |g, i| g.slice(i[0], axis as isize, start as usize, end as usize))
    }

    pub fn concat(xs: Vec<JsTensor>, axis: i32) -> Result<JsTensor, JsValue> {
        let refs: Vec<&JsTensor> = xs.iter().collect();
        run1(&refs, |g, i| g.concat(i, axis as isize))
    }

    pub fn mean(x: &JsTensor, axes: JsValue, keep_dims: Option<bool>) -> Result<JsTensor, JsValue> {
        let axes = isizes("mean", "axes", &axes).map_err(to_js)?;
        run1(&[x], |g, i| g.mean(i[0], &axes, keep_dims.unwrap_or(false)))
    }

    pub fn sum(x: &JsTensor, axes: JsValue, keep_dims: Option<bool>) -> Result<JsTensor, JsValue> {
        let axes = isizes("sum", "axes", &axes).map_err(to_js)?;
        run1(&[x], |g, i| g.sum(i[0], &axes, keep_dims.unwrap_or(false)))
    }

    /// `opts`: `{ stride, padding, dilation, groups }`, numbers or per-axis arrays.
    pub fn conv1d(x: &JsTensor, w: &JsTensor, bias: Option<JsTensor>, opts: JsValue) -> Result<JsTensor, JsValue> {
        let p = conv_params("conv1d", 1, &opts).map_err(to_js)?;
        match &bias {
            Some(b) => run1(&[x, w, b], |g, i| g.conv1d(i[0], i[1], Some(i[2]), p)),
            None => run1(&[x, w], |g, i| g.conv1d(i[0], i[1], None, p)),
        }
    }

    pub fn conv2d(x: &JsTensor, w: &JsTensor, bias: Option<JsTensor>, opts: JsValue) -> Result<JsTensor, JsValue> {
        let p = conv_params("conv2d", 2, &opts).map_err(to_js)?;
        match &bias {
            Some(b) => run1(&[x, w, b], |g, i| g.conv2d(i[0], i[1], Some(i[2]), p)),
            None => run1(&[x, w], |g, i| g.conv2d(i[0], i[1], None, p)),
        }
    }

    /// Scaled dot-product attention over `[B, H, S, D]`; `key_mask` is `[B, Sk]` (1 keeps
    /// a key, 0 ignores it); `opts`: `{ causal, scale }`, scale defaulting to 1/sqrt(D).
    pub fn attention(
        q: &JsTensor,
        k: &JsTensor,
        v: &JsTensor,
        key_mask: Option<JsTensor>,
        opts: JsValue,
    ) -> Result<JsTensor, JsValue> {
        let causal = bool_field("attention", &opts, "causal", false).map_err(to_js)?;
        let d = q.inner.dims().last().copied().unwrap_or(1).max(1);
        let scale = f32_field("attention", &opts, "scale", 1.0 / (d as f32).sqrt()).map_err(to_js)?;
        match &key_mask {
            Some(m) => run1(&[q, k, v, m], |g, i| g.attention(i[0], i[1], i[2], Some(i[3]), causal, scale)),
            None => run1(&[q, k, v], |g, i| g.attention(i[0], i[1], i[2], None, causal, scale)),
        }
    }
}
