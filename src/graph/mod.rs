//! The graph IR: models describe their forward pass once as a graph, and every backend
//! compiles or interprets that graph.

mod builder;
mod infer;
mod key;
mod op;
mod passes;

pub use builder::{Graph, GraphBuilder, Node, NodeId};
pub use infer::infer;
pub use op::{BinaryOp, ConvParams, Op, ReduceOp, UnaryOp};
pub use passes::{absorbed, epilogues, last_uses, readers, Epilogue};
