//! Shared by the reference tests: loads the numpy fixtures and runs one case as a one-op
//! graph on a backend (see backends.rs for every backend a place has).
// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

#[macro_use]
pub mod backends;
pub mod decoder;
pub mod dinov2;
pub mod minilm;
#[cfg(target_arch = "wasm32")]
pub mod webnn_double;
pub mod whisper;

use backends::Place;
use ipfs_accelerate::graph::{ConvParams, GraphBuilder, NodeId};
use ipfs_accelerate::tensor::{DType, Tensor};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct Fixture {
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
pub struct Case {
    pub name: String,
    pub op: String,
    pub attrs: serde_json::Map<String, Value>,
    pub inputs: Vec<FTensor>,
    pub expected: FTensor,
    pub atol: f64,
    pub rtol: f64,
}

#[derive(Deserialize)]
pub struct FTensor {
    pub shape: Vec<usize>,
    pub dtype: String,
    pub data: Vec<Value>,
}

impl FTensor {
    pub fn values(&self) -> Vec<f64> {
        self.data
            .iter()
            .map(|v| match v {
                Value::Number(n) => n.as_f64().expect("finite number"),
                Value::String(s) if s == "inf" => f64::INFINITY,
                Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
                other => panic!("fixture value {other} is not a number"),
            })
            .collect()
    }

    pub fn tensor(&self) -> Tensor {
        let v = self.values();
        match self.dtype.as_str() {
            "i32" => Tensor::from_i32(self.shape.clone(), v.iter().map(|&x| x as i32).collect()),
            _ => Tensor::from_f32(self.shape.clone(), v.iter().map(|&x| x as f32).collect()),
        }
        .expect("fixture tensor matches its shape")
    }
}

pub fn fixture() -> Fixture {
    serde_json::from_str(include_str!("../fixtures/ops/ops.json")).expect("ops.json parses")
}

fn attr_usizes(c: &Case, k: &str) -> Vec<usize> {
    c.attrs[k].as_array().expect(k).iter().map(|v| v.as_u64().expect(k) as usize).collect()
}

fn attr_isizes(c: &Case, k: &str) -> Vec<isize> {
    c.attrs[k].as_array().expect(k).iter().map(|v| v.as_i64().expect(k) as isize).collect()
}

/// Builds the one-op graph a case describes; inputs listed in `constants` become graph
/// constants (as weights are), the rest graph inputs.
pub fn build(c: &Case, constants: &[usize]) -> ipfs_accelerate::Result<ipfs_accelerate::graph::Graph> {
    let mut g = GraphBuilder::new();
    let ins: Vec<NodeId> = c
        .inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let dt = if t.dtype == "i32" { DType::I32 } else { DType::F32 };
            if constants.contains(&i) {
                g.constant(t.tensor())
            } else {
                g.input(&format!("in{i}"), &t.shape, dt)
            }
        })
        .collect();
    let flag = |k: &str| c.attrs.get(k).and_then(Value::as_bool).unwrap_or(false);
    let num = |k: &str| c.attrs[k].as_f64().expect(k);
    let conv = || ConvParams {
        stride: attr_usizes(c, "stride"),
        padding: attr_usizes(c, "padding"),
        dilation: attr_usizes(c, "dilation"),
        groups: c.attrs["groups"].as_u64().expect("groups") as usize,
    };
    let out = match c.op.as_str() {
        "matmul" => g.matmul_t(ins[0], ins[1], flag("transpose_a"), flag("transpose_b"))?,
        "add" => g.add(ins[0], ins[1])?,
        "sub" => g.sub(ins[0], ins[1])?,
        "mul" => g.mul(ins[0], ins[1])?,
        "div" => g.div(ins[0], ins[1])?,
        "gelu" => g.gelu(ins[0])?,
        "gelu_tanh" => g.gelu_tanh(ins[0])?,
        "relu" => g.relu(ins[0])?,
        "silu" => g.silu(ins[0])?,
        "tanh" => g.tanh(ins[0])?,
        "softmax" => g.softmax(ins[0], ins.get(1).copied())?,
        "layer_norm" => g.layer_norm(ins[0], ins[1], ins[2], num("eps") as f32)?,
        "gather" => g.gather(ins[0], ins[1])?,
        "reshape" => g.reshape(ins[0], &attr_usizes(c, "dims"))?,
        "transpose" => g.transpose(ins[0])?,
        "permute" => g.permute(ins[0], &attr_usizes(c, "perm"))?,
        "slice" => g.slice(
            ins[0],
            c.attrs["axis"].as_i64().expect("axis") as isize,
            c.attrs["start"].as_u64().expect("start") as usize,
            c.attrs["end"].as_u64().expect("end") as usize,
        )?,
        "concat" => g.concat(&ins, c.attrs["axis"].as_i64().expect("axis") as isize)?,
        "mean" => g.mean(ins[0], &attr_isizes(c, "axes"), flag("keep_dims"))?,
        "sum" => g.sum(ins[0], &attr_isizes(c, "axes"), flag("keep_dims"))?,
        "conv1d" => g.conv1d(ins[0], ins[1], ins.get(2).copied(), conv())?,
        "conv2d" => g.conv2d(ins[0], ins[1], ins.get(2).copied(), conv())?,
        "conv_transpose2d" => g.conv_transpose2d(ins[0], ins[1], ins.get(2).copied(), conv())?,
        "attention" => g.attention(ins[0], ins[1], ins[2], ins.get(3).copied(), flag("causal"), num("scale") as f32)?,
        "attention_at" => g.attention_at(ins[0], ins[1], ins[2], ins[3], num("scale") as f32)?,
        "argmax" => g.argmax(ins[0])?,
        "write_at" => g.write_at(ins[0], ins[1], ins[2], c.attrs["axis"].as_i64().expect("axis") as isize)?,
        other => panic!("fixture op {other} has no builder mapping"),
    };
    g.build(&[out])
}

/// Runs every fixture case of `op` on `place`; the error lists elements out of tolerance
/// (the fixture's own, plus the place's slack). Returns the number of cases checked.
pub async fn check_op(place: &Place, op: &str) -> Result<usize, String> {
    check_cases(place, op, |_| true, &[]).await
}

/// Like `check_op`, for the cases `keep` selects, with inputs `constants` as constants.
pub async fn check_cases(
    place: &Place,
    op: &str,
    keep: impl Fn(&Case) -> bool,
    constants: &[usize],
) -> Result<usize, String> {
    let fx = fixture();
    let cases: Vec<&Case> = fx.cases.iter().filter(|c| c.op == op && keep(c)).collect();
    if cases.is_empty() {
        return Err(format!("no fixture cases for op {op}"));
    }
    let slack = place.slack(!constants.is_empty());
    let mut failures = Vec::new();
    for c in &cases {
        let inputs: Vec<Tensor> =
            c.inputs.iter().enumerate().filter(|(i, _)| !constants.contains(i)).map(|(_, t)| t.tensor()).collect();
        let graph = build(c, constants).map_err(|e| format!("{}: building failed: {e}", c.name))?;
        let out =
            place.backend.run(&Arc::new(graph), &inputs).await.map_err(|e| format!("{}: run failed: {e}", c.name))?;
        let got = &out[0];
        if got.dims() != c.expected.shape.as_slice() {
            return Err(format!("{}: output shape {:?}, want {:?}", c.name, got.dims(), c.expected.shape));
        }
        let (atol, rtol) = (c.atol.max(slack), c.rtol.max(slack));
        for (i, (g, w)) in got.to_f32_vec().iter().zip(&c.expected.values()).enumerate() {
            let g = *g as f64;
            if (g - w).abs() > atol + rtol * w.abs() && failures.len() < 10 {
                failures.push(format!("{} element {i}: got {g}, want {w}", c.name));
            }
        }
    }
    match failures.is_empty() {
        true => Ok(cases.len()),
        false => Err(format!("{op} out of tolerance:\n{}", failures.join("\n"))),
    }
}
