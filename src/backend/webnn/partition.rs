//! A graph with nodes the context refuses, split into parts that alternate between WebNN
//! and the CPU backend, in topological order. Each part is a graph of its own: values it
//! reads from earlier parts (or the graph's inputs) become its inputs, the weights it
//! reads are copied in (shared storage, no bytes), and what later parts or the caller
//! read become its outputs. Values cross between parts as host tensors.

use super::backend::{NnGraph, WebNnBackend};
use super::lower::reached;
use crate::backend::Value;
use crate::error::{Error, Result};
use crate::graph::{Graph, GraphBuilder, NodeId, Op};
use std::collections::HashMap;
use std::sync::Arc;

pub struct Part {
    pub graph: Arc<Graph>,
    pub on_cpu: bool,
    /// Built when the part runs on WebNN.
    pub nn: Option<NnGraph>,
    /// Where each input of the part comes from: a node of the whole graph, or (for the
    /// graph's own inputs) its declared index.
    sources: Vec<Source>,
    /// The whole graph's node behind each output of the part.
    ends: Vec<usize>,
}

#[derive(Clone, Copy)]
enum Source {
    Input(usize),
    Node(usize),
}

/// The parts of `graph`, `refused[i]` saying whether node i must run on the CPU.
pub fn split(graph: &Graph, refused: &[Option<String>]) -> Result<Vec<Part>> {
    let reach = reached(graph);
    let leaf = |i: usize| matches!(graph.nodes[i].op, Op::Input { .. } | Op::Constant(_));
    let declared: HashMap<usize, usize> = graph.inputs().enumerate().map(|(k, (id, _))| (id.index(), k)).collect();
    // Runs of consecutive compute nodes on one side.
    let mut runs: Vec<(bool, Vec<usize>)> = vec![];
    for i in (0..graph.nodes.len()).filter(|&i| reach[i] && !leaf(i)) {
        let cpu = refused[i].is_some();
        match runs.last_mut() {
            Some((side, nodes)) if *side == cpu => nodes.push(i),
            _ => runs.push((cpu, vec![i])),
        }
    }
    let outputs: Vec<usize> = graph.outputs.iter().map(|o| o.index()).collect();
    let mut parts = vec![];
    for (r, (on_cpu, nodes)) in runs.iter().enumerate() {
        let mut b = GraphBuilder::new();
        let mut map: HashMap<usize, NodeId> = HashMap::new();
        let mut sources = vec![];
        for &i in nodes {
            let mut ins = vec![];
            for x in graph.nodes[i].inputs.iter().map(|x| x.index()) {
                if let Some(id) = map.get(&x) {
                    ins.push(*id);
                    continue;
                }
                let n = &graph.nodes[x];
                let id = match &n.op {
                    Op::Constant(t) => b.constant(t.clone()),
                    Op::Input { resident: true, .. } => b.state(&format!("v{x}"), n.shape.dims(), n.dtype),
                    _ => b.input(&format!("v{x}"), n.shape.dims(), n.dtype),
                };
                if !matches!(n.op, Op::Constant(_)) {
                    sources.push(declared.get(&x).map_or(Source::Node(x), |k| Source::Input(*k)));
                }
                map.insert(x, id);
                ins.push(id);
            }
            map.insert(i, b.push(graph.nodes[i].op.clone(), &ins)?);
        }
        // Outputs: what the caller or a later run reads.
        let later: Vec<usize> = runs[r + 1..].iter().flat_map(|(_, n)| n.iter().copied()).collect();
        let ends: Vec<usize> = nodes
            .iter()
            .copied()
            .filter(|i| {
                outputs.contains(i) || later.iter().any(|&j| graph.nodes[j].inputs.iter().any(|x| x.index() == *i))
            })
            .collect();
        let outs: Vec<NodeId> = ends.iter().map(|i| map[i]).collect();
        parts.push(Part { graph: Arc::new(b.build(&outs)?), on_cpu: *on_cpu, nn: None, sources, ends });
    }
    Ok(parts)
}

/// Runs the parts in turn; outputs asked for on the device are uploaded at the end.
pub async fn run(
    nn: &WebNnBackend,
    parts: &[Part],
    graph: &Graph,
    inputs: Vec<Value>,
    on_device: &[bool],
) -> Result<Vec<Value>> {
    let mut values: HashMap<usize, Value> = HashMap::new();
    for p in parts {
        let mut ins = Vec::with_capacity(p.sources.len());
        for s in &p.sources {
            let v = match *s {
                Source::Input(k) => &inputs[k],
                Source::Node(x) => {
                    values.get(&x).ok_or_else(|| Error::InvalidGraph(format!("node {x} was not computed")))?
                }
            };
            ins.push(Value::Host(nn.read(v).await?));
        }
        let outs = match &p.nn {
            Some(g) => nn.dispatch(g, &p.graph, ins, &[]).await?,
            None => nn.cpu.run_values(&p.graph, ins, &[])?,
        };
        values.extend(p.ends.iter().copied().zip(outs));
    }
    let declared: HashMap<usize, usize> = graph.inputs().enumerate().map(|(k, (id, _))| (id.index(), k)).collect();
    let mut out = vec![];
    for (k, o) in graph.outputs.iter().enumerate() {
        let v = match (&graph.node(*o).op, declared.get(&o.index())) {
            (Op::Constant(t), _) => Value::Host(t.clone()),
            (_, Some(d)) => inputs[*d].clone(),
            _ => values
                .get(&o.index())
                .cloned()
                .ok_or_else(|| Error::InvalidGraph("an output was not computed".into()))?,
        };
        out.push(match (on_device.get(k).copied().unwrap_or(false), v) {
            (true, Value::Host(t)) => nn.upload(&t).await?,
            (_, v) => v,
        });
    }
    Ok(out)
}
