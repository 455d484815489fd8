//! Bad input becomes a clear error naming the op and shapes, and the backend keeps working.

use ipfs_accelerate::backend::cpu::CpuBackend;
use ipfs_accelerate::graph::{ConvParams, GraphBuilder};
use ipfs_accelerate::tensor::{DType, Tensor};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn shape_errors_name_op_and_shapes() {
    let mut g = GraphBuilder::new();
    let a = g.input("a", &[2, 3], DType::F32);
    let b = g.input("b", &[4, 5], DType::F32);
    let e = g.matmul(a, b).unwrap_err();
    assert_eq!(e.code(), "shape_mismatch");
    let msg = e.to_string();
    assert!(msg.starts_with("matmul:") && msg.contains("[2, 3]") && msg.contains("[4, 5]"), "{msg}");

    let e = g.add(a, b).unwrap_err();
    assert!(e.to_string().starts_with("add:"), "{e}");
    let c = g.input("c", &[2, 3, 8], DType::F32);
    let w = g.input("w", &[4, 2, 3], DType::F32);
    let e = g.conv1d(c, w, None, ConvParams::uniform(1, 1, 0, 1, 1)).unwrap_err();
    assert!(e.to_string().contains("conv1d") && e.to_string().contains("[2, 3, 8]"), "{e}");
    let e = g.softmax(a, Some(b)).unwrap_err();
    assert_eq!(e.code(), "shape_mismatch");
    let gm = g.input("g", &[4], DType::F32);
    assert!(g.layer_norm(a, gm, gm, 1e-5).unwrap_err().to_string().contains("layer_norm"));
    assert_eq!(g.reshape(a, &[7]).unwrap_err().code(), "shape_mismatch");
    assert_eq!(g.slice(a, 1, 2, 9).unwrap_err().code(), "shape_mismatch");
    assert_eq!(g.slice(a, 5, 0, 1).unwrap_err().code(), "invalid_argument");
    assert_eq!(g.permute(a, &[0, 0]).unwrap_err().code(), "shape_mismatch");
    let ids = g.input("ids", &[3], DType::F32);
    assert_eq!(g.gather(a, ids).unwrap_err().code(), "dtype_mismatch");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn runtime_errors_leave_the_backend_usable() {
    let cpu = CpuBackend::new();
    let mut g = GraphBuilder::new();
    let table = g.input("table", &[4, 2], DType::F32);
    let ids = g.input("ids", &[2], DType::I32);
    let o = g.gather(table, ids).unwrap();
    let graph = g.build(&[o]).unwrap();
    let t = Tensor::from_f32(vec![4, 2], (0..8).map(|x| x as f32).collect()).unwrap();

    let e = cpu.run(&graph, &[t.clone(), Tensor::from_i32(vec![2], vec![1, 9]).unwrap()]).unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
    assert!(e.to_string().contains("index 9") && e.to_string().contains("4 rows"), "{e}");

    let e = cpu.run(&graph, std::slice::from_ref(&t)).unwrap_err();
    assert!(e.to_string().contains("2 inputs"), "{e}");
    let e = cpu.run(&graph, &[t.clone(), Tensor::from_i32(vec![3], vec![0, 1, 2]).unwrap()]).unwrap_err();
    assert!(e.to_string().contains("ids"), "{e}");

    let ok = cpu.run(&graph, &[t, Tensor::from_i32(vec![2], vec![3, 0]).unwrap()]).unwrap();
    assert_eq!(ok[0].to_f32_vec(), vec![6., 7., 0., 1.]);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn tensor_construction_checks_lengths() {
    let e = Tensor::from_f32(vec![2, 2], vec![1.0; 3]).unwrap_err();
    assert_eq!(e.code(), "shape_mismatch");
    assert!(e.to_string().contains("3 values"), "{e}");
}

/// A multi-node graph recycles buffers between nodes and still matches the reference
/// chain computed op by op.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn chained_graph_with_buffer_reuse_matches_single_ops() {
    let cpu = CpuBackend::new();
    let x: Vec<f32> = (0..48).map(|i| (i as f32 * 0.37).sin()).collect();
    let w: Vec<f32> = (0..48).map(|i| (i as f32 * 0.11).cos()).collect();
    let mut g = GraphBuilder::new();
    let xi = g.input("x", &[4, 12], DType::F32);
    let wi = g.input("w", &[12, 4], DType::F32);
    let m = g.matmul(xi, wi).unwrap();
    let a = g.gelu(m).unwrap();
    let s = g.softmax(a, None).unwrap();
    let r = g.add(s, m).unwrap();
    let graph = g.build(&[r]).unwrap();
    let inputs = [Tensor::from_f32(vec![4, 12], x).unwrap(), Tensor::from_f32(vec![12, 4], w).unwrap()];
    let first = cpu.run(&graph, &inputs).unwrap()[0].to_f32_vec();
    let again = cpu.run(&graph, &inputs).unwrap()[0].to_f32_vec();
    assert_eq!(first, again, "a second run over recycled buffers gives the same result");

    let one = |f: &dyn Fn(&mut GraphBuilder, Vec<ipfs_accelerate::graph::NodeId>) -> ipfs_accelerate::graph::NodeId,
               ins: &[Tensor]| {
        let mut g = GraphBuilder::new();
        let ids = ins.iter().enumerate().map(|(i, t)| g.input(&format!("{i}"), t.dims(), DType::F32)).collect();
        let o = f(&mut g, ids);
        cpu.run(&g.build(&[o]).unwrap(), ins).unwrap().remove(0)
    };
    let m1 = one(&|g, i| g.matmul(i[0], i[1]).unwrap(), &inputs);
    let a1 = one(&|g, i| g.gelu(i[0]).unwrap(), std::slice::from_ref(&m1));
    let s1 = one(&|g, i| g.softmax(i[0], None).unwrap(), &[a1]);
    let r1 = one(&|g, i| g.add(i[0], i[1]).unwrap(), &[s1, m1]);
    assert_eq!(first, r1.to_f32_vec());
}

/// Shapes whose element count overflows (wasm32's usize wraps at 2^32) or passes what one
/// tensor may hold are `invalid_argument` wherever they first appear: a tensor, a graph
/// input, an inferred output (the broadcast of [32768, 1] and [1, 65536]) or a reshape.
/// Nothing is allocated for them, and the backend keeps working.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn oversized_shapes_are_errors_before_any_allocation() {
    use ipfs_accelerate::tensor::MAX_ELEMENTS;
    let too_big = |e: ipfs_accelerate::error::Error, op: &str| {
        assert_eq!(e.code(), "invalid_argument", "{e}");
        assert!(e.to_string().starts_with(&format!("{op}:")) && e.to_string().contains("more elements"), "{e}");
    };
    too_big(Tensor::from_f32(vec![65536, 65536], vec![]).unwrap_err(), "tensor");
    too_big(Tensor::from_f32(vec![65536, 65536, 0], vec![]).unwrap_err(), "tensor");
    too_big(Tensor::from_i32(vec![MAX_ELEMENTS + 1], vec![]).unwrap_err(), "tensor");
    assert!(Tensor::from_f32(vec![0, 65536], vec![]).is_ok(), "an empty tensor with a sane shape is fine");

    let mut g = GraphBuilder::new();
    let a = g.input("a", &[32768, 1], DType::F32);
    let b = g.input("b", &[1, 65536], DType::F32);
    too_big(g.add(a, b).unwrap_err(), "add");
    too_big(g.reshape(a, &[usize::MAX / 2, 4]).unwrap_err(), "reshape");
    let huge = g.input("huge", &[1 << 20, 1 << 20], DType::F32);
    too_big(g.gelu(huge).unwrap_err(), "input");
    let mut only_input = GraphBuilder::new();
    let huge_out = only_input.input("huge", &[1 << 20, 1 << 20], DType::F32);
    too_big(only_input.build(&[huge_out]).unwrap_err(), "input");

    assert!(g.add(a, a).is_ok(), "the builder still takes sane nodes");
    let mut g = GraphBuilder::new();
    let a = g.input("a", &[32768, 1], DType::F32);
    let s = g.add(a, a).unwrap();
    let graph = g.build(&[s]).unwrap();
    let x = Tensor::from_f32(vec![32768, 1], vec![1.5; 32768]).unwrap();
    let out = CpuBackend::new().run(&graph, &[x]).unwrap().remove(0);
    assert_eq!(out.to_f32_vec()[32767], 3.0, "and the backend runs");
}
