//! Shape and dtype inference: every op checks its inputs here, once, at build time, so
//! kernels can trust the shapes they are given.

use super::op::{ConvParams, Op};
use crate::error::{Error, Result};
use crate::tensor::{broadcast_shapes, DType, Shape};

/// The output shape and dtype of `op` applied to inputs of the given shapes and dtypes.
pub fn infer(op: &Op, inputs: &[(&Shape, DType)]) -> Result<(Shape, DType)> {
    let name = op.name();
    let arity = |lo: usize, hi: usize| -> Result<()> {
        if inputs.len() < lo || inputs.len() > hi {
            return Err(Error::arg(name, format!("takes {lo}..={hi} inputs, got {}", inputs.len())));
        }
        Ok(())
    };
    let dims = |i: usize| inputs[i].0.dims();
    let all = || inputs.iter().map(|(s, _)| s.dims()).collect::<Vec<_>>();
    // Every op but gather reads f32 only; gather reads i32 indices as its second input.
    let want_f32 = |idx: &[usize]| -> Result<()> {
        for &i in idx {
            if inputs[i].1 != DType::F32 {
                return Err(Error::DTypeMismatch { op: name, expected: "f32".into(), found: inputs[i].1.to_string() });
            }
        }
        Ok(())
    };
    let out = match op {
        Op::Input { .. } | Op::Constant(_) => leaf_error(name)?,
        Op::MatMul { transpose_a, transpose_b } => {
            arity(2, 2)?;
            want_f32(&[0])?;
            // A weight in a stored form (f16, int8, int4) is read as its `[out, in]` rows.
            if inputs[1].1.is_stored() && (!*transpose_b || *transpose_a || dims(1).len() != 2) {
                return Err(Error::DTypeMismatch {
                    op: name,
                    expected: "f32, or a 2-D [out, in] weight multiplied transposed".into(),
                    found: inputs[1].1.to_string(),
                });
            } else if !inputs[1].1.is_stored() {
                want_f32(&[1])?;
            }
            let (a, b) = (dims(0), dims(1));
            if a.len() < 2 || b.len() < 2 {
                return Err(Error::shapes(name, &[a, b], "both operands need at least 2 dimensions"));
            }
            let (m, ka) = last_two(a, *transpose_a);
            let (kb, n) = last_two(b, *transpose_b);
            if ka != kb {
                return Err(Error::shapes(name, &[a, b], format!("inner dimensions differ ({ka} vs {kb})")));
            }
            let mut batch = broadcast_shapes(name, &a[..a.len() - 2], &b[..b.len() - 2])?;
            batch.extend([m, n]);
            batch
        }
        Op::Binary(_) => {
            arity(2, 2)?;
            want_f32(&[0, 1])?;
            broadcast_shapes(name, dims(0), dims(1))?
        }
        Op::Unary(_) => {
            arity(1, 1)?;
            want_f32(&[0])?;
            dims(0).to_vec()
        }
        Op::Softmax => {
            arity(1, 2)?;
            want_f32(&(0..inputs.len()).collect::<Vec<_>>())?;
            if dims(0).is_empty() {
                return Err(Error::shapes(name, &[dims(0)], "needs at least one dimension"));
            }
            if inputs.len() == 2 {
                let b = broadcast_shapes(name, dims(0), dims(1))?;
                if b != dims(0) {
                    return Err(Error::shapes(name, &all(), "the mask must broadcast to the input"));
                }
            }
            dims(0).to_vec()
        }
        Op::LayerNorm { eps } => {
            arity(3, 3)?;
            want_f32(&[0, 1, 2])?;
            let x = dims(0);
            let n = x.last().copied().unwrap_or(0);
            if x.is_empty() || dims(1) != [n] || dims(2) != [n] {
                return Err(Error::shapes(name, &all(), format!("gamma and beta must be [{n}]")));
            }
            if !(eps.is_finite() && *eps >= 0.0) {
                return Err(Error::arg(name, format!("eps must be finite and non-negative, got {eps}")));
            }
            x.to_vec()
        }
        Op::Gather => {
            arity(2, 2)?;
            // A table in a stored form (a quantized embedding) is read a row at a time.
            if !(inputs[0].1.is_stored() && dims(0).len() == 2) {
                want_f32(&[0])?;
            }
            if inputs[1].1 != DType::I32 {
                return Err(Error::DTypeMismatch {
                    op: name,
                    expected: "i32 indices".into(),
                    found: inputs[1].1.to_string(),
                });
            }
            if dims(0).len() != 2 {
                return Err(Error::shapes(name, &all(), "the table must be [rows, width]"));
            }
            let mut out = dims(1).to_vec();
            out.push(dims(0)[1]);
            out
        }
        Op::Reshape(to) => {
            arity(1, 1)?;
            Shape::new(to.clone()).check(name)?;
            if to.iter().product::<usize>() != inputs[0].0.numel() {
                return Err(Error::shapes(name, &[dims(0), to], "element counts differ"));
            }
            return Ok((Shape::new(to.clone()), inputs[0].1));
        }
        Op::Permute(perm) => {
            arity(1, 1)?;
            let x = dims(0);
            let mut seen = vec![false; x.len()];
            if perm.len() != x.len() || perm.iter().any(|&p| p >= x.len() || std::mem::replace(&mut seen[p], true)) {
                return Err(Error::shapes(name, &[x, perm], "the permutation must list each axis once"));
            }
            return Ok((Shape::new(perm.iter().map(|&p| x[p]).collect::<Vec<usize>>()), inputs[0].1));
        }
        Op::Slice { axis, start, end } => {
            arity(1, 1)?;
            let x = dims(0);
            if *axis >= x.len() || start > end || *end > x[*axis] {
                return Err(Error::shapes(name, &[x], format!("range {start}..{end} on axis {axis} is out of bounds")));
            }
            let mut out = x.to_vec();
            out[*axis] = end - start;
            return Ok((Shape::new(out), inputs[0].1));
        }
        Op::Concat { axis } => {
            if inputs.is_empty() {
                return Err(Error::arg(name, "needs at least one input"));
            }
            let first = dims(0);
            if *axis >= first.len() {
                return Err(Error::shapes(name, &all(), format!("axis {axis} is out of range")));
            }
            let dt = inputs[0].1;
            let mut total = 0;
            for (s, d) in inputs {
                let s = s.dims();
                let same_rest =
                    s.len() == first.len() && s.iter().zip(first).enumerate().all(|(i, (a, b))| i == *axis || a == b);
                if !same_rest || *d != dt {
                    return Err(Error::shapes(name, &all(), format!("inputs differ off axis {axis} or in dtype")));
                }
                total += s[*axis];
            }
            let mut out = first.to_vec();
            out[*axis] = total;
            return Ok((Shape::new(out), dt));
        }
        Op::Reduce { axes, keep_dims, .. } => {
            arity(1, 1)?;
            want_f32(&[0])?;
            let x = dims(0);
            if axes.iter().any(|&a| a >= x.len()) {
                return Err(Error::shapes(name, &[x, axes], "an axis is out of range"));
            }
            let mut out = Vec::new();
            for (i, &d) in x.iter().enumerate() {
                if !axes.contains(&i) {
                    out.push(d);
                } else if *keep_dims {
                    out.push(1);
                }
            }
            out
        }
        Op::Argmax => {
            arity(1, 1)?;
            want_f32(&[0])?;
            let x = dims(0);
            if x.last().is_none_or(|&n| n == 0) {
                return Err(Error::shapes(name, &[x], "needs a non-empty last axis"));
            }
            return Ok((Shape::new(x[..x.len() - 1].to_vec()), DType::I32));
        }
        Op::WriteAt { axis } => {
            arity(3, 3)?;
            // The kernels write f32 caches; an i32 base would reach them as an empty slice.
            want_f32(&[0, 1])?;
            want_offset(inputs[2])?;
            let (base, update) = (dims(0), dims(1));
            let same_rest = base.len() == update.len()
                && base.iter().zip(update).enumerate().all(|(i, (a, b))| i == *axis || a == b);
            if *axis >= base.len() || !same_rest || update[*axis] > base[*axis] || inputs[0].1 != inputs[1].1 {
                return Err(Error::shapes(
                    name,
                    &all(),
                    format!("the update must match the base off axis {axis}, in dtype, and fit along it"),
                ));
            }
            return Ok((inputs[0].0.clone(), inputs[0].1));
        }
        Op::Conv1d(p) => conv_shape(name, 1, p, &all(), inputs)?,
        Op::Conv2d(p) => conv_shape(name, 2, p, &all(), inputs)?,
        Op::ConvTranspose2d(p) => conv_transpose_shape(name, p, &all(), inputs)?,
        Op::Attention { scale, offset, .. } => {
            let extra = *offset as usize;
            arity(3 + extra, 4 + extra)?;
            let floats = inputs.len() - extra;
            want_f32(&(0..floats).collect::<Vec<_>>())?;
            if *offset {
                want_offset(inputs[floats])?;
            }
            let (q, k, v) = (dims(0), dims(1), dims(2));
            let ok = q.len() == 4
                && k.len() == 4
                && v.len() == 4
                && q[0] == k[0]
                && q[1] == k[1]
                && k[..3] == v[..3]
                && q[3] == k[3];
            if !ok {
                return Err(Error::shapes(
                    name,
                    &all(),
                    "q, k, v must be [B, H, Sq, D], [B, H, Sk, D], [B, H, Sk, Dv]",
                ));
            }
            if floats == 4 && dims(3) != [q[0], k[2]] {
                return Err(Error::shapes(name, &all(), format!("the key mask must be [{}, {}]", q[0], k[2])));
            }
            if !scale.is_finite() {
                return Err(Error::arg(name, "scale must be finite"));
            }
            vec![q[0], q[1], q[2], v[3]]
        }
    };
    Ok((Shape::new(out), DType::F32))
}

/// A run-time position: one i32.
fn want_offset((shape, dtype): (&Shape, DType)) -> Result<()> {
    if dtype != DType::I32 || shape.dims() != [1] {
        return Err(Error::shapes("offset", &[shape.dims()], format!("an offset must be i32 [1], not {dtype}")));
    }
    Ok(())
}

fn leaf_error(name: &'static str) -> Result<Vec<usize>> {
    Err(Error::InvalidGraph(format!("{name} nodes take no inputs and are not inferred")))
}

/// (rows, cols) of the last two axes after an optional transpose.
fn last_two(d: &[usize], t: bool) -> (usize, usize) {
    let (r, c) = (d[d.len() - 2], d[d.len() - 1]);
    if t {
        (c, r)
    } else {
        (r, c)
    }
}

fn conv_transpose_shape(
    name: &'static str,
    p: &ConvParams,
    all: &[&[usize]],
    inputs: &[(&Shape, DType)],
) -> Result<Vec<usize>> {
    if inputs.len() < 2 || inputs.len() > 3 || inputs.iter().any(|(_, d)| *d != DType::F32) {
        return Err(Error::arg(name, "takes f32 input, weight and an optional bias"));
    }
    let (x, w) = (inputs[0].0.dims(), inputs[1].0.dims());
    if x.len() != 4 || w.len() != 4 {
        return Err(Error::shapes(name, all, "input and weight must have rank 4"));
    }
    if p.stride.len() != 2 || p.padding.len() != 2 || p.dilation.len() != 2 {
        return Err(Error::arg(name, "stride, padding and dilation need 2 values"));
    }
    if p.groups != 1 || p.stride.contains(&0) || p.dilation.contains(&0) {
        return Err(Error::arg(name, "needs one group and positive stride and dilation"));
    }
    if x[1] != w[0] {
        return Err(Error::shapes(name, all, format!("{} input channels but the weight takes {}", x[1], w[0])));
    }
    let o = w[1];
    if inputs.len() == 3 && inputs[2].0.dims() != [o] {
        return Err(Error::shapes(name, all, format!("the bias must be [{o}]")));
    }
    let mut out = vec![x[0], o];
    for i in 0..2 {
        let full = (x[2 + i] - 1)
            .checked_mul(p.stride[i])
            .and_then(|v| v.checked_add(p.dilation[i].checked_mul(w[2 + i].saturating_sub(1))?))
            .and_then(|v| v.checked_add(1))
            .filter(|_| w[2 + i] > 0 && x[2 + i] > 0);
        match full.and_then(|f| f.checked_sub(2 * p.padding[i])).filter(|&v| v > 0) {
            Some(v) => out.push(v),
            None => return Err(Error::shapes(name, all, "the padding leaves no output")),
        }
    }
    Ok(out)
}

fn conv_shape(
    name: &'static str,
    spatial: usize,
    p: &ConvParams,
    all: &[&[usize]],
    inputs: &[(&Shape, DType)],
) -> Result<Vec<usize>> {
    if inputs.len() < 2 || inputs.len() > 3 || inputs.iter().any(|(_, d)| *d != DType::F32) {
        return Err(Error::arg(name, "takes f32 input, weight and an optional bias"));
    }
    let (x, w) = (inputs[0].0.dims(), inputs[1].0.dims());
    let rank = spatial + 2;
    if x.len() != rank || w.len() != rank {
        return Err(Error::shapes(name, all, format!("input and weight must have rank {rank}")));
    }
    if p.stride.len() != spatial || p.padding.len() != spatial || p.dilation.len() != spatial {
        return Err(Error::arg(name, format!("stride, padding and dilation need {spatial} values")));
    }
    if p.groups == 0 || p.stride.contains(&0) || p.dilation.contains(&0) {
        return Err(Error::arg(name, "groups, stride and dilation must be positive"));
    }
    let (c, o) = (x[1], w[0]);
    if c % p.groups != 0 || o % p.groups != 0 || w[1] * p.groups != c {
        return Err(Error::shapes(
            name,
            all,
            format!("{c} input channels do not fit the weight with {} groups", p.groups),
        ));
    }
    if inputs.len() == 3 && inputs[2].0.dims() != [o] {
        return Err(Error::shapes(name, all, format!("the bias must be [{o}]")));
    }
    let mut out = vec![x[0], o];
    for i in 0..spatial {
        let span = p.dilation[i] * (w[2 + i] - 1) + 1;
        let padded = x[2 + i] + 2 * p.padding[i];
        if w[2 + i] == 0 || padded < span {
            return Err(Error::shapes(name, all, "the kernel is larger than the padded input"));
        }
        out.push((padded - span) / p.stride[i] + 1);
    }
    Ok(out)
}
