//! `GraphBuilder`: the small API models use to describe a forward pass, inferring and
//! checking every shape as nodes are added.

use super::infer::infer;
use super::op::{BinaryOp, ConvParams, Op, ReduceOp, UnaryOp};
use crate::error::{Error, Result};
use crate::tensor::{normalize_axis, DType, Shape, Tensor};

/// A node's index in its graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub(crate) usize);

impl NodeId {
    pub fn index(self) -> usize {
        self.0
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<NodeId>,
    pub shape: Shape,
    pub dtype: DType,
}

/// A finished graph. Nodes are in topological order: each node's inputs come before it.
#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub outputs: Vec<NodeId>,
    /// The content key (see `graph::key`): equal for graphs a plan can serve alike.
    key: u64,
}

impl Graph {
    /// Checks that `inputs` match the declared input nodes in number, dims and dtype, as
    /// every backend's `run` needs.
    pub fn check_inputs(&self, inputs: &[Tensor]) -> Result<()> {
        self.check_values(inputs.iter().map(|t| (t.dims(), t.dtype())))
    }

    /// `check_inputs` for values given as (dims, dtype), wherever they are held.
    pub fn check_values<'a>(&self, given: impl ExactSizeIterator<Item = (&'a [usize], DType)>) -> Result<()> {
        let declared: Vec<_> = self.inputs().collect();
        if declared.len() != given.len() {
            return Err(Error::arg("run", format!("the graph takes {} inputs, {} given", declared.len(), given.len())));
        }
        for ((_, node), (dims, dtype)) in declared.iter().zip(given) {
            if let Op::Input { name, .. } = &node.op {
                if dims != node.shape.dims() || dtype != node.dtype {
                    return Err(Error::ShapeMismatch {
                        op: "run",
                        shapes: format!("{:?} {} and {:?} {}", dims, dtype, node.shape.dims(), node.dtype),
                        reason: format!("input '{name}' was declared with the second"),
                    });
                }
            }
        }
        Ok(())
    }

    /// The input nodes, in the order `run` expects their values.
    pub fn inputs(&self) -> impl Iterator<Item = (NodeId, &Node)> {
        self.nodes.iter().enumerate().filter(|(_, n)| matches!(n.op, Op::Input { .. })).map(|(i, n)| (NodeId(i), n))
    }

    /// What backends key plans by: graphs with equal keys have equal content.
    pub fn key(&self) -> u64 {
        self.key
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }
}

#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<Node>,
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn shape(&self, id: NodeId) -> &[usize] {
        self.nodes[id.0].shape.dims()
    }

    pub fn build(self, outputs: &[NodeId]) -> Result<Graph> {
        self.check(outputs)?;
        let key = super::key::content_key(&self.nodes, &outputs.iter().map(|o| o.0).collect::<Vec<_>>());
        Ok(Graph { nodes: self.nodes, outputs: outputs.to_vec(), key })
    }

    /// Every id is a node of this graph, and its shape is one a tensor may have (inputs are
    /// declared without a check, so an oversized one fails where it is first used).
    fn check(&self, ids: &[NodeId]) -> Result<()> {
        for id in ids {
            let node = self
                .nodes
                .get(id.0)
                .ok_or_else(|| Error::InvalidGraph(format!("node {} is not in this graph", id.0)))?;
            node.shape.check(node.op.name())?;
        }
        Ok(())
    }

    fn leaf(&mut self, op: Op, shape: Shape, dtype: DType) -> NodeId {
        self.nodes.push(Node { op, inputs: vec![], shape, dtype });
        NodeId(self.nodes.len() - 1)
    }

    /// Adds `op` over `inputs` after inferring (and so checking) its output shape.
    pub fn push(&mut self, op: Op, inputs: &[NodeId]) -> Result<NodeId> {
        self.check(inputs)?;
        let shapes: Vec<(&Shape, DType)> =
            inputs.iter().map(|i| (&self.nodes[i.0].shape, self.nodes[i.0].dtype)).collect();
        let (shape, dtype) = infer(&op, &shapes)?;
        shape.check(op.name())?;
        self.nodes.push(Node { op, inputs: inputs.to_vec(), shape, dtype });
        Ok(NodeId(self.nodes.len() - 1))
    }

    pub fn input(&mut self, name: &str, shape: &[usize], dtype: DType) -> NodeId {
        let op = Op::Input { name: name.to_string(), dtype, resident: false };
        self.leaf(op, Shape::new(shape.to_vec()), dtype)
    }

    /// A resident input: state given as a device value each run (see `Op::Input`). A host
    /// value is still accepted, and uploaded for that run alone.
    pub fn state(&mut self, name: &str, shape: &[usize], dtype: DType) -> NodeId {
        let op = Op::Input { name: name.to_string(), dtype, resident: true };
        self.leaf(op, Shape::new(shape.to_vec()), dtype)
    }

    pub fn constant(&mut self, t: Tensor) -> NodeId {
        let (shape, dtype) = (t.shape().clone(), t.dtype());
        self.leaf(Op::Constant(t), shape, dtype)
    }

    pub fn matmul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.matmul_t(a, b, false, false)
    }

    pub fn matmul_t(&mut self, a: NodeId, b: NodeId, transpose_a: bool, transpose_b: bool) -> Result<NodeId> {
        self.push(Op::MatMul { transpose_a, transpose_b }, &[a, b])
    }

    pub fn binary(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.push(Op::Binary(op), &[a, b])
    }

    pub fn add(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Add, a, b)
    }

    pub fn sub(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Sub, a, b)
    }

    pub fn mul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Mul, a, b)
    }

    pub fn div(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Div, a, b)
    }

    pub fn unary(&mut self, op: UnaryOp, x: NodeId) -> Result<NodeId> {
        self.push(Op::Unary(op), &[x])
    }

    pub fn gelu(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(UnaryOp::Gelu, x)
    }

    pub fn gelu_tanh(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(UnaryOp::GeluTanh, x)
    }

    pub fn relu(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(UnaryOp::Relu, x)
    }

    pub fn silu(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(UnaryOp::Silu, x)
    }

    pub fn tanh(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(UnaryOp::Tanh, x)
    }

    /// Softmax over the last axis, after adding `mask` (broadcast) when given.
    pub fn softmax(&mut self, x: NodeId, mask: Option<NodeId>) -> Result<NodeId> {
        match mask {
            Some(m) => self.push(Op::Softmax, &[x, m]),
            None => self.push(Op::Softmax, &[x]),
        }
    }

    pub fn layer_norm(&mut self, x: NodeId, gamma: NodeId, beta: NodeId, eps: f32) -> Result<NodeId> {
        self.push(Op::LayerNorm { eps }, &[x, gamma, beta])
    }

    pub fn gather(&mut self, table: NodeId, ids: NodeId) -> Result<NodeId> {
        self.push(Op::Gather, &[table, ids])
    }

    pub fn reshape(&mut self, x: NodeId, dims: &[usize]) -> Result<NodeId> {
        self.push(Op::Reshape(dims.to_vec()), &[x])
    }

    pub fn permute(&mut self, x: NodeId, perm: &[usize]) -> Result<NodeId> {
        self.push(Op::Permute(perm.to_vec()), &[x])
    }

    /// Swaps the last two axes.
    pub fn transpose(&mut self, x: NodeId) -> Result<NodeId> {
        let rank = self.shape(x).len();
        if rank < 2 {
            return Err(Error::shapes("transpose", &[self.shape(x)], "needs at least 2 dimensions"));
        }
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(rank - 1, rank - 2);
        self.permute(x, &perm)
    }

    /// Elements `start..end` of `axis` (negative axes count from the end).
    pub fn slice(&mut self, x: NodeId, axis: isize, start: usize, end: usize) -> Result<NodeId> {
        let axis = normalize_axis("slice", axis, self.shape(x).len())?;
        self.push(Op::Slice { axis, start, end }, &[x])
    }

    pub fn concat(&mut self, xs: &[NodeId], axis: isize) -> Result<NodeId> {
        self.check(xs)?;
        let rank = xs.first().map(|x| self.shape(*x).len()).unwrap_or(0);
        let axis = normalize_axis("concat", axis, rank)?;
        self.push(Op::Concat { axis }, xs)
    }

    pub fn reduce(&mut self, op: ReduceOp, x: NodeId, axes: &[isize], keep_dims: bool) -> Result<NodeId> {
        let rank = self.shape(x).len();
        let name = if op == ReduceOp::Sum { "sum" } else { "mean" };
        let mut axes = axes.iter().map(|&a| normalize_axis(name, a, rank)).collect::<Result<Vec<_>>>()?;
        axes.sort_unstable();
        axes.dedup();
        self.push(Op::Reduce { op, axes, keep_dims }, &[x])
    }

    pub fn mean(&mut self, x: NodeId, axes: &[isize], keep_dims: bool) -> Result<NodeId> {
        self.reduce(ReduceOp::Mean, x, axes, keep_dims)
    }

    pub fn sum(&mut self, x: NodeId, axes: &[isize], keep_dims: bool) -> Result<NodeId> {
        self.reduce(ReduceOp::Sum, x, axes, keep_dims)
    }

    pub fn conv1d(&mut self, x: NodeId, w: NodeId, bias: Option<NodeId>, p: ConvParams) -> Result<NodeId> {
        let ins: Vec<NodeId> = [x, w].into_iter().chain(bias).collect();
        self.push(Op::Conv1d(p), &ins)
    }

    pub fn conv2d(&mut self, x: NodeId, w: NodeId, bias: Option<NodeId>, p: ConvParams) -> Result<NodeId> {
        let ins: Vec<NodeId> = [x, w].into_iter().chain(bias).collect();
        self.push(Op::Conv2d(p), &ins)
    }

    pub fn conv_transpose2d(&mut self, x: NodeId, w: NodeId, bias: Option<NodeId>, p: ConvParams) -> Result<NodeId> {
        let ins: Vec<NodeId> = [x, w].into_iter().chain(bias).collect();
        self.push(Op::ConvTranspose2d(p), &ins)
    }

    /// Scaled dot-product attention; `key_mask` is `[B, Sk]` with 1 for keys to keep.
    pub fn attention(
        &mut self,
        q: NodeId,
        k: NodeId,
        v: NodeId,
        key_mask: Option<NodeId>,
        causal: bool,
        scale: f32,
    ) -> Result<NodeId> {
        let ins: Vec<NodeId> = [q, k, v].into_iter().chain(key_mask).collect();
        self.push(Op::Attention { causal, scale, offset: false }, &ins)
    }

    /// Causal attention whose first query sits at position `offset` (i32 `[1]`, a run-time
    /// value) of a fixed-capacity `k`/`v`: keys past each query's position are ignored,
    /// whatever the cache holds there.
    pub fn attention_at(&mut self, q: NodeId, k: NodeId, v: NodeId, offset: NodeId, scale: f32) -> Result<NodeId> {
        self.push(Op::Attention { causal: true, scale, offset: true }, &[q, k, v, offset])
    }

    /// The index of the largest value along the last axis, as i32.
    pub fn argmax(&mut self, x: NodeId) -> Result<NodeId> {
        self.push(Op::Argmax, &[x])
    }

    /// `base` with `update` written at the run-time `offset` (i32 `[1]`) along `axis`.
    pub fn write_at(&mut self, base: NodeId, update: NodeId, offset: NodeId, axis: isize) -> Result<NodeId> {
        let axis = normalize_axis("write_at", axis, self.shape(base).len())?;
        self.push(Op::WriteAt { axis }, &[base, update, offset])
    }
}
