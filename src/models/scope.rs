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
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

struct Inner {
    weights: Weights,
    /// The file the weights came from, for error messages.
    file: String,
    used: RefCell<BTreeSet<String>>,
    /// The form linear layers' weights are held in.
    dtype: WeightDtype,
    /// What the model was given, by name: the layers' weights in their form (`Some`), or
    /// `None` for a tensor also fetched as it is stored, which must then stay so.
    held: RefCell<HashMap<String, Option<Tensor>>>,
}

/// A view of one weight file under a name prefix (`encoder.layer.3.`).
#[derive(Clone)]
pub struct WeightScope {
    inner: Rc<Inner>,
    prefix: String,
    /// Whether linear layers made here lose the most to coarse quantization (see
    /// `sensitive`).
    sensitive: bool,
}

impl WeightScope {
    pub fn new(weights: Weights, file: &str) -> Self {
        Self::with_dtype(weights, file, WeightDtype::default())
    }

    /// A scope whose `linear` layers hold their weights in the form `dtype` gives them.
    pub fn with_dtype(weights: Weights, file: &str, dtype: WeightDtype) -> Self {
        WeightScope {
            inner: Rc::new(Inner {
                weights,
                file: file.into(),
                used: RefCell::default(),
                dtype,
                held: RefCell::default(),
            }),
            prefix: String::new(),
            sensitive: false,
        }
    }

    /// The scope one level down: `pp("encoder").pp("layer.3")` names `encoder.layer.3.*`.
    pub fn pp(&self, name: impl AsRef<str>) -> WeightScope {
        WeightScope {
            inner: self.inner.clone(),
            prefix: format!("{}{}.", self.prefix, name.as_ref()),
            sensitive: self.sensitive,
        }
    }

    /// This scope, its linear layers marked as the ones a coarse form hurts most: a
    /// model marks its value and attention-output projections and its feed-forward pair,
    /// which `q4` then holds in int8 (on MiniLM, 4-bit values and feed-forward weights
    /// cost the most cosine; see `Form::Q4`).
    pub fn sensitive(&self) -> WeightScope {
        WeightScope { sensitive: true, ..self.clone() }
    }

    /// The full name of `name` in this scope.
    pub fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn contains(&self, name: &str) -> bool {
        let full = self.path(name);
        self.inner.weights.contains(&full) || self.inner.weights.unheld().contains(&full)
    }

    /// The weight `name`, which must have exactly `dims`, as the file stores it.
    pub fn get(&self, name: &str, dims: &[usize]) -> Result<Tensor> {
        let t = self.sized(name, dims)?;
        self.as_stored(self.path(name));
        Ok(t)
    }

    /// A 2-D table of any number of rows of `cols` (an embedding whose vocabulary size
    /// only the file knows), as the file stores it.
    pub fn get_rows(&self, name: &str, cols: usize) -> Result<Tensor> {
        let t = self.rows(name, cols)?;
        self.as_stored(self.path(name));
        Ok(t)
    }

    /// A token table (`[rows, cols]`; `rows` as the file has it where `None`), held in
    /// the scope's form as linear weights are: a model gathers its rows, or multiplies by
    /// it as a tied output projection.
    pub fn embedding(&self, name: &str, rows: Option<usize>, cols: usize) -> Result<Tensor> {
        let t = match rows {
            Some(r) => self.sized(name, &[r, cols])?,
            None => self.rows(name, cols)?,
        };
        self.in_form(name, t)
    }

    fn sized(&self, name: &str, dims: &[usize]) -> Result<Tensor> {
        let t = self.fetch(name)?;
        if t.dims() != dims {
            return Err(Error::weights(
                self.path(name),
                format!("shape {:?}, but the config implies {dims:?}", t.dims()),
            ));
        }
        Ok(t)
    }

    fn rows(&self, name: &str, cols: usize) -> Result<Tensor> {
        let t = self.fetch(name)?;
        match t.dims() {
            [rows, c] if *c == cols && *rows > 0 => Ok(t),
            d => Err(Error::weights(self.path(name), format!("shape {d:?}, but the config implies [rows, {cols}]"))),
        }
    }

    /// `t`, the weight `name`, in the scope's form, remembered so for `held` (unless the
    /// model also takes it as stored: that copy is the one held, and the form made again).
    fn in_form(&self, name: &str, t: Tensor) -> Result<Tensor> {
        let full = self.path(name);
        let t = self.inner.dtype.apply(&full, t, self.sensitive)?;
        let mut held = self.inner.held.borrow_mut();
        if !matches!(held.get(&full), Some(None)) {
            held.insert(full, Some(t.clone()));
        }
        Ok(t)
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

    /// Remembers the weight `full` as stored (`get`, not a layer's form).
    fn as_stored(&self, full: String) {
        self.inner.held.borrow_mut().insert(full, None);
    }

    /// What a model made from this scope holds: each weight it was given, in the form it
    /// was given (quantized where the dtype says), in a buffer of its own (so the file's
    /// buffer is freed once the scope and the file's tensors go), and the file's other
    /// tensors named as unheld. A scope made from these gives the same model again without
    /// quantizing anything (`apply` keeps a weight already in its form).
    pub fn held(&self) -> Result<Weights> {
        let mut tensors = HashMap::new();
        for (name, t) in self.inner.held.borrow().iter() {
            let t = match t {
                Some(t) => t.clone(),
                None => self.inner.weights.get(name).cloned().ok_or_else(|| Error::weights(name, "vanished"))?,
            };
            tensors.insert(name.clone(), t.detached()?);
        }
        let mut unheld: Vec<String> =
            self.inner.weights.names().filter(|n| !tensors.contains_key(*n)).map(str::to_string).collect();
        unheld.extend(self.inner.weights.unheld().iter().cloned());
        Ok(Weights::from_map(tensors).with_unheld(unheld))
    }

    /// `in → out`, PyTorch's `Linear` (weight `[out, in]`, optional bias `[out]`), the
    /// weight in the scope's form (f32, or quantized here from the file's).
    pub fn linear(&self, input: usize, out: usize, bias: bool) -> Result<Linear> {
        let w = self.in_form("weight", self.sized("weight", &[out, input])?)?;
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
            .chain(self.inner.weights.unheld().iter().map(String::as_str))
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
    use crate::models::weight_dtype::Form;
    use crate::tensor::DType;
    use std::sync::Arc;

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
    fn held_weights_are_in_their_form_apart_from_the_file_and_give_the_same_model() {
        let file = Arc::new((0..64).map(|x| x as f32 / 8.0 - 4.0).collect::<Vec<f32>>());
        let view = |at: usize, d: &[usize]| Tensor::view_f32(file.clone(), at, d.to_vec()).unwrap();
        let m: HashMap<String, Tensor> = [
            ("q.weight", view(0, &[1, 32])),
            ("q.bias", view(32, &[1])),
            ("tied.weight", view(32, &[1, 32])),
            ("extra", view(40, &[2])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let s = WeightScope::with_dtype(Weights::from_map(m), "f", WeightDtype::new(Form::Q8));
        let build = |s: &WeightScope| {
            let l = s.pp("q").linear(32, 1, true).unwrap();
            // Taken in its form and as stored: the stored copy is held.
            let tied = s.pp("tied").embedding("weight", Some(1), 32).unwrap();
            let raw = s.pp("tied").get("weight", &[1, 32]).unwrap();
            (l, tied, raw)
        };
        let (l, tied, raw) = build(&s);
        assert_eq!(
            (l.w.dtype(), tied.dtype(), raw.dtype()),
            (DType::Q8 { group: 32 }, DType::Q8 { group: 32 }, DType::F32)
        );
        let held = s.held().unwrap();
        assert_eq!(held.get("q.weight").unwrap().storage_id(), l.w.storage_id(), "quantized once");
        assert_eq!(held.get("tied.weight").unwrap().dtype(), DType::F32);
        for (_, t) in held.iter() {
            assert_ne!(t.storage_id().0, Arc::as_ptr(&file) as usize, "nothing held is a view of the file");
        }
        assert_eq!(held.get("q.bias").unwrap().to_f32_vec(), vec![0.0]);
        assert_eq!(held.unheld(), ["extra".to_string()]);
        assert_eq!(held.buffer_bytes(), 4 * (1 + 32) + Tensor::byte_len(&l.w).next_multiple_of(4));
        // A scope over what was held gives the same weights, quantizing nothing again.
        let again = WeightScope::with_dtype(held, "f", WeightDtype::new(Form::Q8));
        let (l2, tied2, _) = build(&again);
        assert_eq!(l2.w.storage_id(), l.w.storage_id());
        assert_eq!(tied2.stored_bytes(), tied.stored_bytes());
        assert!(again.contains("extra"));
        assert_eq!(again.unused(&[]), vec!["extra".to_string()]);
    }

    #[test]
    fn a_linear_without_bias_fetches_none() {
        let s = scope();
        let l = s.pp("enc.l.0.q").linear(2, 4, false).unwrap();
        assert!(l.b.is_none());
        assert_eq!(s.unused(&[]).len(), 3, "the bias stays unused");
    }
}
