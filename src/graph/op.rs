//! The op set that BERT, ViT and Whisper need, with their attributes.

use crate::tensor::{DType, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// The exact form, x·Φ(x), with Φ through erf (BERT's "gelu").
    Gelu,
    /// The tanh approximation ("gelu_new", "gelu_pytorch_tanh").
    GeluTanh,
    Relu,
    Silu,
    Tanh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Mean,
}

/// Convolution attributes, one entry per spatial dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvParams {
    pub stride: Vec<usize>,
    pub padding: Vec<usize>,
    pub dilation: Vec<usize>,
    pub groups: usize,
}

impl ConvParams {
    /// Stride, padding and dilation shared by every spatial dimension.
    pub fn uniform(spatial: usize, stride: usize, padding: usize, dilation: usize, groups: usize) -> Self {
        ConvParams {
            stride: vec![stride; spatial],
            padding: vec![padding; spatial],
            dilation: vec![dilation; spatial],
            groups,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Op {
    /// A value supplied at run time, in declaration order. A `resident` input is state
    /// that lives on the device between runs (a decoder's KV caches, its cross keys and
    /// values): every run binds the value it is given, so a backend keeps no buffer of its
    /// own for it, and the state exists once, however many graphs read it.
    Input {
        name: String,
        dtype: DType,
        resident: bool,
    },
    /// A value fixed at build time (weights).
    Constant(Tensor),
    /// `[.., M, K] x [.., K, N]` with batch broadcasting; the flags transpose the last two axes.
    MatMul {
        transpose_a: bool,
        transpose_b: bool,
    },
    Binary(BinaryOp),
    Unary(UnaryOp),
    /// Softmax over the last axis; an optional second input is an additive mask
    /// broadcast to the first. Rows that are entirely -inf give zeros, not NaN.
    Softmax,
    /// Normalises the last axis; inputs x, gamma, beta.
    LayerNorm {
        eps: f32,
    },
    /// Rows of a `[V, D]` table picked by an i32 index tensor; output `ids.shape + [D]`.
    Gather,
    Reshape(Vec<usize>),
    Permute(Vec<usize>),
    Slice {
        axis: usize,
        start: usize,
        end: usize,
    },
    Concat {
        axis: usize,
    },
    Reduce {
        op: ReduceOp,
        axes: Vec<usize>,
        keep_dims: bool,
    },
    /// `[N, C, L]` by `[O, C/groups, K]`, optional bias `[O]`.
    Conv1d(ConvParams),
    /// `[N, C, H, W]` by `[O, C/groups, KH, KW]`, optional bias `[O]`.
    Conv2d(ConvParams),
    /// The transpose (gradient) of Conv2d, an upsampling: `[N, C, H, W]` by
    /// `[C, O, KH, KW]` (PyTorch's layout), optional bias `[O]`; out
    /// `(H - 1)·stride - 2·padding + dilation·(KH - 1) + 1`. One group only.
    ConvTranspose2d(ConvParams),
    /// Scaled dot-product attention over `[B, H, S, D]` q, k, v. An optional fourth input
    /// `[B, Sk]` marks keys to keep (1) or ignore (0). Causal masking aligns the query
    /// block with the end of the keys; with `offset`, the last input is an i32 `[1]`
    /// giving the first query's position instead, so one graph serves every step of a
    /// decoder whose fixed-capacity cache is filled up to that position.
    Attention {
        causal: bool,
        scale: f32,
        offset: bool,
    },
    /// The index of the largest element along the last axis (the first on ties), as i32;
    /// the axis is dropped. A greedy decoder's step then reads back 4 bytes.
    Argmax,
    /// Inputs base, update, offset (i32 `[1]`): `base` with `update` written at `offset`
    /// along `axis`, the other dims equal. The KV cache's append: backends write in place
    /// when nothing else reads the base. An update that would run past the end is an
    /// error on the CPU and skipped on the GPU, whose kernels cannot fail.
    WriteAt {
        axis: usize,
    },
}

impl Op {
    /// A short lower-case name, used in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Constant(_) => "constant",
            Op::MatMul { .. } => "matmul",
            Op::Binary(BinaryOp::Add) => "add",
            Op::Binary(BinaryOp::Sub) => "sub",
            Op::Binary(BinaryOp::Mul) => "mul",
            Op::Binary(BinaryOp::Div) => "div",
            Op::Unary(UnaryOp::Gelu) => "gelu",
            Op::Unary(UnaryOp::GeluTanh) => "gelu_tanh",
            Op::Unary(UnaryOp::Relu) => "relu",
            Op::Unary(UnaryOp::Silu) => "silu",
            Op::Unary(UnaryOp::Tanh) => "tanh",
            Op::Softmax => "softmax",
            Op::LayerNorm { .. } => "layer_norm",
            Op::Gather => "gather",
            Op::Reshape(_) => "reshape",
            Op::Permute(_) => "permute",
            Op::Slice { .. } => "slice",
            Op::Concat { .. } => "concat",
            Op::Reduce { op: ReduceOp::Sum, .. } => "sum",
            Op::Reduce { op: ReduceOp::Mean, .. } => "mean",
            Op::Conv1d(_) => "conv1d",
            Op::Conv2d(_) => "conv2d",
            Op::ConvTranspose2d(_) => "conv_transpose2d",
            Op::Attention { .. } => "attention",
            Op::Argmax => "argmax",
            Op::WriteAt { .. } => "write_at",
        }
    }
}
