//! What a context can run, from its `opSupportLimits()`: for each IR node, the WebNN ops
//! its lowering calls, each checked for the node's data type and rank. A node that fails
//! any is refused with the reason, and runs on the CPU (`partition.rs`).

use super::bindings::MlContext;
use super::lower::{data_type, reached, weight_product};
use crate::graph::{Graph, Node, Op, UnaryOp};
use wasm_bindgen::JsValue;

pub struct Support {
    limits: JsValue,
}

impl Support {
    pub fn of(context: &MlContext) -> Self {
        Support { limits: context.op_support_limits().unwrap_or(JsValue::UNDEFINED) }
    }

    /// Why each node cannot run on this context (`None`: it can; leaves and unreached
    /// nodes always can).
    pub fn refusals(&self, graph: &Graph) -> Vec<Option<String>> {
        let reach = reached(graph);
        graph.nodes.iter().zip(reach).map(|(n, r)| if r { self.refuses(graph, n) } else { None }).collect()
    }

    fn refuses(&self, graph: &Graph, node: &Node) -> Option<String> {
        // The data type the node computes in: its inputs' (an argmax reads floats).
        let dtype = node.inputs.first().map(|i| graph.node(*i).dtype).unwrap_or(node.dtype);
        let t = data_type(dtype);
        let rank =
            node.inputs.iter().map(|i| graph.node(*i).shape.rank()).chain([node.shape.rank()]).max().unwrap_or(0);
        for u in uses(graph, node) {
            let ty = if u.positions { "int32" } else { t };
            if let Some(why) = self.check(u.op, ty, u.rank.unwrap_or(rank)) {
                let op = u.op;
                return Some(format!("{} needs {op}, but {why}", node.op.name()));
            }
        }
        None
    }

    /// Why `op` at `data_type` and `rank` is outside the limits, if it is.
    fn check(&self, op: &str, data_type: &str, rank: usize) -> Option<String> {
        let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
        let limits = get(&self.limits, op);
        if limits.is_undefined() {
            return Some(format!("the context's opSupportLimits() has no {op}"));
        }
        // The operand limits: `input` for one-operand ops, `a` for two, `inputs` for concat.
        let operand = ["input", "a", "inputs"].iter().map(|k| get(&limits, k)).find(|v| v.is_object());
        let operand = operand?;
        let types = js_sys::Array::from(&get(&operand, "dataTypes"));
        if !types.iter().any(|v| v.as_string().as_deref() == Some(data_type)) {
            return Some(format!("its opSupportLimits() allow no {data_type} there"));
        }
        let max = get(&get(&operand, "rankRange"), "max").as_f64();
        match max {
            Some(m) if (rank as f64) > m => Some(format!("its opSupportLimits() allow rank {m}, not {rank}")),
            _ => None,
        }
    }
}

/// A WebNN op a node's lowering calls: on int32 positions rather than the node's data
/// (`positions`), at a rank of its own where it is not the node's.
struct Use {
    op: &'static str,
    positions: bool,
    rank: Option<usize>,
}

/// The WebNN ops `node`'s lowering calls (lower.rs, decompose.rs), each with what it is
/// called on.
fn uses(graph: &Graph, node: &Node) -> Vec<Use> {
    let data = |op| Use { op, positions: false, rank: None };
    let at = |op, rank| Use { op, positions: false, rank: Some(rank) };
    let pos = |op, rank| Use { op, positions: true, rank: Some(rank) };
    let f = |ops: &[&'static str]| ops.iter().map(|o| data(*o)).collect::<Vec<_>>();
    match &node.op {
        Op::Input { .. } | Op::Constant(_) => vec![],
        Op::MatMul { .. } if weight_product(graph, node) => vec![data("reshape"), at("gemm", 2)],
        Op::MatMul { transpose_a, transpose_b } if *transpose_a || *transpose_b => f(&["transpose", "matmul"]),
        Op::MatMul { .. } => f(&["matmul"]),
        Op::Binary(b) => f(&[match b {
            crate::graph::BinaryOp::Add => "add",
            crate::graph::BinaryOp::Sub => "sub",
            crate::graph::BinaryOp::Mul => "mul",
            crate::graph::BinaryOp::Div => "div",
        }]),
        Op::Unary(UnaryOp::Gelu) => f(&["gelu"]),
        Op::Unary(UnaryOp::GeluTanh) => f(&["mul", "add", "tanh"]),
        Op::Unary(UnaryOp::Relu) => f(&["relu"]),
        Op::Unary(UnaryOp::Silu) => f(&["sigmoid", "mul"]),
        Op::Unary(UnaryOp::Tanh) => f(&["tanh"]),
        Op::Softmax if node.inputs.len() == 2 => f(&["add", "softmax", "reduceMax", "greater", "where"]),
        Op::Softmax => f(&["softmax"]),
        Op::LayerNorm { .. } => f(&["layerNormalization"]),
        Op::Gather => f(&["gather"]),
        Op::Reshape(_) => f(&["reshape"]),
        Op::Permute(_) => f(&["transpose"]),
        Op::Slice { .. } => f(&["slice"]),
        Op::Concat { .. } => f(&["concat"]),
        Op::Reduce { op: crate::graph::ReduceOp::Sum, .. } => f(&["reduceSum"]),
        Op::Reduce { op: crate::graph::ReduceOp::Mean, .. } => f(&["reduceMean"]),
        Op::Conv1d(_) => vec![data("reshape"), at("conv2d", 4)],
        Op::Conv2d(_) => f(&["conv2d"]),
        Op::ConvTranspose2d(_) => f(&["convTranspose2d"]),
        Op::Attention { .. } => {
            let mut u =
                f(&["transpose", "mul", "matmul", "equal", "where", "softmax", "reduceMax", "greater", "reshape"]);
            u.extend([pos("add", 2), pos("greater", 2)]);
            u
        }
        Op::Argmax => f(&["argMax"]),
        Op::WriteAt { .. } => {
            vec![pos("sub", 1), pos("clamp", 1), pos("equal", 1), data("gather"), data("reshape"), data("where")]
        }
    }
}
