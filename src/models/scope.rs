//! `WeightScope`: a model's weights fetched by name under a prefix, as candle's
//! `VarBuilder` does. Each weight is named once, where a layer is made; `get` checks the
//! shape when it fetches, so a wrong file fails at load naming the tensor; and the
//! weights a model never asked for are reported, since a checkpoint whose names do not
//! match would otherwise load with half its layers silently missing.

use super::weight_dtype::WeightDtype;
use crate::error::{Error, Result};
use crate::graph::{ConvParams, GraphBuilder, NodeId};
use crate::tensor::Tensor;
use crate::weights::Weights;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

struct Inner {
    weights: Weights,
    /// The file the weights came from, for error messages.
    file: String,
    used: RefCell<BTreeSet<String>>,
    /// The form linear layers' weights are held in.
    dtype: WeightDtype,
}

/// A view of one weight file under a name prefix (`encoder.layer.3.`).
#[derive(Clone)]
pub struct WeightScope {
    inner: Rc<Inner>,
    prefix: String,
}

impl WeightScope {
    pub fn new(weights: Weights, file: &str) -> Self {
        Self::with_dtype(weights, file, WeightDtype::default())
    }

    /// A scope whose `linear` layers hold their weights in the form `dtype` gives them.
    pub fn with_dtype(weights: Weights, file: &str, dtype: WeightDtype) -> Self {
        WeightScope {
            inner: Rc::new(Inner { weights, file: file.into(), used: RefCell::default(), dtype }),
            prefix: String::new(),
        }
    }

    /// The scope one level down: `pp("encoder").pp("layer.3")` names `encoder.layer.3.*`.
    pub fn pp(&self, name: impl AsRef<str>) -> WeightScope {
        WeightScope { inner: self.inner.clone(), prefix: format!("{}{}.", self.prefix, name.as_ref()) }
    }

    /// The full name of `name` in this scope.
    pub fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.inner.weights.contains(&self.path(name))
    }

    /// The weight `name`, which must have exactly `dims`.
    pub fn get(&self, name: &str, dims: &[usize]) -> Result<Tensor> {
        let t = self.fetch(name)?;
        if t.dims() != dims {
            return Err(Error::weights(
                self.path(name),
                format!("shape {:?}, but the config implies {dims:?}", t.dims()),
            ));
        }
        Ok(t)
    }

    /// A 2-D table of any number of rows of `cols` (an embedding whose vocabulary size
    /// only the file knows).
    pub fn get_rows(&self, name: &str, cols: usize) -> Result<Tensor> {
        let t = self.fetch(name)?;
        match t.dims() {
            [rows, c] if *c == cols && *rows > 0 => Ok(t),
            d => Err(Error::weights(self.path(name), format!("shape {d:?}, but the config implies [rows, {cols}]"))),
        }
    }

    /// A token table (`[rows, cols]`; `rows` as the file has it where `None`), held in
    /// the scope's form as linear weights are: a model gathers its rows, or multiplies by
    /// it as a tied output projection.
    pub fn embedding(&self, name: &str, rows: Option<usize>, cols: usize) -> Result<Tensor> {
        let t = match rows {
            Some(r) => self.get(name, &[r, cols])?,
            None => self.get_rows(name, cols)?,
        };
        self.inner.dtype.apply(&self.path(name), t)
    }

    fn fetch(&self, name: &str) -> Result<Tensor> {
        let full = self.path(name);
        let t = self
            .inner
            .weights
            .get(&full)
            .cloned()
            .ok_or_else(|| Error::weights(&full, format!("missing from {}", self.inner.file)))?;
        self.inner.used.borrow_mut().insert(full);
        Ok(t)
    }

    /// `in → out`, PyTorch's `Linear` (weight `[out, in]`, optional bias `[out]`), the
    /// weight in the scope's form (f32, or quantized here from the file's).
    pub fn linear(&self, input: usize, out: usize, bias: bool) -> Result<Linear> {
        let w = self.inner.dtype.apply(&self.path("weight"), self.get("weight", &[out, input])?)?;
        Ok(Linear { w, b: bias.then(|| self.get("bias", &[out])).transpose()? })
    }

    /// LayerNorm over `dim` (`weight`, `bias`).
    pub fn layer_norm(&self, dim: usize, eps: f32) -> Result<LayerNorm> {
        Ok(LayerNorm { gamma: self.get("weight", &[dim])?, beta: self.get("bias", &[dim])?, eps })
    }

    /// A square-kernel Conv2d (`weight [out, in/groups, k, k]`, optional `bias [out]`).
    pub fn conv2d(&self, input: usize, out: usize, k: usize, params: ConvParams, bias: bool) -> Result<Conv> {
        let groups = params.groups.max(1);
        let w = self.get("weight", &[out, input / groups, k, k])?;
        Ok(Conv { w, b: bias.then(|| self.get("bias", &[out])).transpose()?, params })
    }

    /// A Conv1d (`weight [out, in/groups, k]`, optional `bias [out]`).
    pub fn conv1d(&self, input: usize, out: usize, k: usize, params: ConvParams, bias: bool) -> Result<Conv> {
        let groups = params.groups.max(1);
        let w = self.get("weight", &[out, input / groups, k])?;
        Ok(Conv { w, b: bias.then(|| self.get("bias", &[out])).transpose()?, params })
    }

    /// Weights in the file that no `get` asked for, leaving out those under any of
    /// `ignored`'s prefixes (a pooler head an encoder does not run, say), sorted.
    pub fn unused(&self, ignored: &[&str]) -> Vec<String> {
        let used = self.inner.used.borrow();
        let mut v: Vec<String> = self
            .inner
            .weights
            .names()
            .filter(|n| !used.contains(*n) && !ignored.iter().any(|p| n.starts_with(p)))
            .map(str::to_string)
            .collect();
        v.sort_unstable();
        v
    }
}

/// `x · Wᵀ + b`: a matmul and a constant bias, the shape the fusion pass folds.
pub struct Linear {
    pub w: Tensor,
    pub b: Option<Tensor>,
}

impl Linear {
    pub fn forward(&self, g: &mut GraphBuilder, x: NodeId) -> Result<NodeId> {
        let w = g.constant(self.w.clone());
        let y = g.matmul_t(x, w, false, true)?;
        match &self.b {
            Some(b) => {
                let b = g.constant(b.clone());
                g.add(y, b)
            }
            None => Ok(y),
        }
    }
}

pub struct LayerNorm {
    pub gamma: Tensor,
    pub beta: Tensor,
    pub eps: f32,
}

impl LayerNorm {
    pub fn forward(&self, g: &mut GraphBuilder, x: NodeId) -> Result<NodeId> {
        let gamma = g.constant(self.gamma.clone());
        let beta = g.constant(self.beta.clone());
        g.layer_norm(x, gamma, beta, self.eps)
    }
}

/// A convolution, 1-D or 2-D by its weight's rank.
pub struct Conv {
    pub w: Tensor,
    pub b: Option<Tensor>,
    pub params: ConvParams,
}

impl Conv {
    pub fn forward(&self, g: &mut GraphBuilder, x: NodeId) -> Result<NodeId> {
        let w = g.constant(self.w.clone());
        let b = self.b.clone().map(|b| g.constant(b));
        match self.w.dims().len() {
            3 => g.conv1d(x, w, b, self.params.clone()),
            _ => g.conv2d(x, w, b, self.params.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn scope() -> WeightScope {
        let t = |d: &[usize]| Tensor::zeros(d.to_vec());
        let m: HashMap<String, Tensor> = [
            ("enc.l.0.q.weight", t(&[4, 2])),
            ("enc.l.0.q.bias", t(&[4])),
            ("enc.extra", t(&[3])),
            ("pooler.dense.weight", t(&[2, 2])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        WeightScope::new(Weights::from_map(m), "model.safetensors")
    }

    #[test]
    fn names_are_prefixed_shapes_checked_and_unused_weights_reported() {
        let s = scope();
        let q = s.pp("enc").pp("l.0").pp("q");
        assert_eq!(q.path("weight"), "enc.l.0.q.weight");
        let l = q.linear(2, 4, true).unwrap();
        assert_eq!(l.w.dims(), &[4, 2]);
        let e = q.linear(3, 4, true).err().unwrap();
        assert_eq!(e.code(), "invalid_weights");
        assert!(e.to_string().contains("enc.l.0.q.weight") && e.to_string().contains("[4, 3]"), "{e}");
        let e = q.linear(2, 4, true).and_then(|_| q.get("gamma", &[4])).err().unwrap();
        assert!(e.to_string().contains("enc.l.0.q.gamma") && e.to_string().contains("missing"), "{e}");
        assert_eq!(s.unused(&[]), vec!["enc.extra".to_string(), "pooler.dense.weight".to_string()]);
        assert_eq!(s.unused(&["pooler."]), vec!["enc.extra".to_string()]);
    }

    #[test]
    fn a_linear_without_bias_fetches_none() {
        let s = scope();
        let l = s.pp("enc.l.0.q").linear(2, 4, false).unwrap();
        assert!(l.b.is_none());
        assert_eq!(s.unused(&[]).len(), 3, "the bias stays unused");
    }
}
