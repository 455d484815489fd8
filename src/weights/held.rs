//! The weights a quantized load holds, as one safetensors file the weight store keeps
//! beside the model (a derived artifact): the next load reads these bytes (a quarter of
//! the f32 file for q8) instead of the f32 file, and quantizes nothing.
//!
//! f32 tensors are plain `F32`. A tensor in a stored form (f16, q8, q4) is its bytes as
//! the SDK holds them (rows of values with their scales, `tensor::DType`), declared `U8`
//! and padded to whole 4-byte words so every tensor starts aligned and is read in place;
//! `__metadata__` names its form and shape (`t:<name>` = `q8/32:384,1536`), the file's
//! format and the file tensors the model did not hold (`unheld`, a JSON list).

use super::aligned::AlignedBuf;
use super::safetensors::Weights;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};

/// The format's name and version, in the metadata: a file of another version is refused.
pub const HELD_FORMAT: &str = "ipfs-accelerate/held-weights/1";

fn form_name(d: DType) -> Option<String> {
    match d {
        DType::F16 => Some("f16".into()),
        DType::Q8 { group } => Some(format!("q8/{group}")),
        DType::Q4 { block } => Some(format!("q4/{block}")),
        DType::F32 | DType::I32 => None,
    }
}

fn parse_form(s: &str) -> Option<(DType, Vec<usize>)> {
    let (form, dims) = s.split_once(':')?;
    let dims = dims.split(',').map(|d| d.parse().ok()).collect::<Option<Vec<usize>>>()?;
    let n = |v: &str| v.parse::<usize>().ok().filter(|g| *g > 0);
    let dtype = match form.split_once('/') {
        None if form == "f16" => DType::F16,
        Some(("q8", g)) => DType::Q8 { group: n(g)? },
        Some(("q4", b)) => DType::Q4 { block: n(b)? },
        _ => return None,
    };
    Some((dtype, dims))
}

/// `weights` as a held-weights file. Only f32 and stored forms are held by models.
pub fn write_held(weights: &Weights) -> Result<Vec<u8>> {
    let mut names: Vec<&str> = weights.names().collect();
    names.sort_unstable();
    let mut header = serde_json::Map::new();
    let mut meta = BTreeMap::new();
    meta.insert("format".to_string(), HELD_FORMAT.to_string());
    meta.insert("unheld".to_string(), serde_json::to_string(weights.unheld()).unwrap_or_default());
    let mut parts: Vec<Vec<u8>> = Vec::with_capacity(names.len());
    let mut at = 0usize;
    for name in names {
        let t = weights.get(name).ok_or_else(|| Error::weights(name, "vanished"))?;
        let (dtype, shape, mut bytes) = match form_name(t.dtype()) {
            Some(form) => {
                let dims: Vec<String> = t.dims().iter().map(usize::to_string).collect();
                meta.insert(format!("t:{name}"), format!("{form}:{}", dims.join(",")));
                let b = t.stored_bytes().ok_or_else(|| Error::weights(name, "has no stored bytes"))?.to_vec();
                ("U8", vec![b.len().next_multiple_of(4)], b)
            }
            None if t.dtype() == DType::F32 => {
                ("F32", t.dims().to_vec(), t.to_f32_vec().iter().flat_map(|v| v.to_le_bytes()).collect())
            }
            None => return Err(Error::weights(name, format!("a {} tensor is not a weight a model holds", t.dtype()))),
        };
        bytes.resize(bytes.len().next_multiple_of(4), 0);
        header.insert(
            name.to_string(),
            serde_json::json!({ "dtype": dtype, "shape": shape, "data_offsets": [at, at + bytes.len()] }),
        );
        at += bytes.len();
        parts.push(bytes);
    }
    header.insert("__metadata__".into(), serde_json::to_value(meta).unwrap_or_default());
    let mut json = serde_json::to_string(&header).unwrap_or_default();
    // The data starts on a multiple of 8 (safetensors pads its header with spaces).
    while (8 + json.len()) % 8 != 0 {
        json.push(' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + at);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    parts.iter().for_each(|p| out.extend_from_slice(p));
    Ok(out)
}

/// Reads a held-weights file, each tensor a view of `buf` (no copy). Anything that does
/// not parse as this format is `invalid_weights` naming the tensor.
pub fn read_held(buf: AlignedBuf) -> Result<Weights> {
    let bad = |name: &str, why: &str| Error::weights(name, format!("{why} (held weights file)"));
    let (specs, meta) = {
        let st = SafeTensors::deserialize(buf.as_bytes()).map_err(|e| bad("(header)", &e.to_string()))?;
        let (_, header) = SafeTensors::read_metadata(buf.as_bytes()).map_err(|e| bad("(header)", &e.to_string()))?;
        let meta: HashMap<String, String> = header.metadata().clone().unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some(HELD_FORMAT) {
            return Err(bad("(header)", &format!("its format is not {HELD_FORMAT}")));
        }
        let specs: Vec<(String, Dtype, Vec<usize>, usize)> = st
            .tensors()
            .into_iter()
            .map(|(name, v)| {
                let start = v.data().as_ptr() as usize - buf.as_bytes().as_ptr() as usize;
                (name, v.dtype(), v.shape().to_vec(), start)
            })
            .collect();
        (specs, meta)
    };
    let unheld: Vec<String> = meta.get("unheld").and_then(|u| serde_json::from_str(u).ok()).unwrap_or_default();
    let (shared, _) = buf.into_shared();
    let mut tensors = HashMap::new();
    for (name, dtype, shape, start) in specs {
        if start % 4 != 0 {
            return Err(bad(&name, "its data is not 4-byte aligned"));
        }
        let t = match (dtype, meta.get(&format!("t:{name}"))) {
            (Dtype::F32, None) => Tensor::view_f32(shared.clone(), start / 4, shape)?,
            (Dtype::U8, Some(form)) => {
                let (d, dims) = parse_form(form).ok_or_else(|| bad(&name, &format!("form '{form}' is not one")))?;
                Tensor::view_stored(d, shared.clone(), start, dims).map_err(|e| bad(&name, &e.to_string()))?
            }
            (d, _) => return Err(bad(&name, &format!("a {d:?} tensor without a form this version reads"))),
        };
        tensors.insert(name, t);
    }
    Ok(Weights::from_map(tensors).with_unheld(unheld))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_weights_round_trip_in_place() {
        let x: Vec<f32> = (0..192).map(|i| (i as f32 * 0.37).sin()).collect();
        let w = Tensor::from_f32(vec![3, 64], x.clone()).unwrap();
        let m: HashMap<String, Tensor> = [
            ("a.q8".to_string(), w.to_dtype(DType::Q8 { group: 32 }).unwrap()),
            ("a.q8c".to_string(), w.to_dtype(DType::Q8 { group: 64 }).unwrap()),
            ("b.q4".to_string(), w.to_dtype(DType::Q4 { block: 32 }).unwrap()),
            (
                "c.f16".to_string(),
                Tensor::from_f32(vec![3], vec![1.0, 2.0, 3.0]).unwrap().to_dtype(DType::F16).unwrap(),
            ),
            ("d.bias".to_string(), Tensor::from_f32(vec![2], vec![0.5, -1.5]).unwrap()),
        ]
        .into_iter()
        .collect();
        let held = Weights::from_map(m).with_unheld(vec!["pooler.dense.weight".into()]);
        let bytes = write_held(&held).unwrap();
        let back = read_held(AlignedBuf::from(bytes.as_slice())).unwrap();
        assert_eq!(back.len(), held.len());
        assert_eq!(back.unheld(), held.unheld());
        for (name, t) in held.iter() {
            let b = back.get(name).unwrap();
            assert_eq!((b.dtype(), b.dims()), (t.dtype(), t.dims()), "{name}");
            assert_eq!(b.to_f32_vec(), t.to_f32_vec(), "{name}");
        }
        // Read in place: every tensor is a view of the one buffer.
        let ids: std::collections::HashSet<usize> = back.iter().map(|(_, t)| t.storage_id().0).collect();
        assert_eq!(ids.len(), 1);
        // Not this format, or a form this version does not read: invalid_weights.
        assert_eq!(crate::weights::check_header(&bytes).unwrap(), 5, "it is a valid safetensors file");
        // Read as a checkpoint, its U8 tensors are refused by name, not misread.
        let e = crate::weights::read_safetensors(AlignedBuf::from(bytes.as_slice())).unwrap_err();
        assert!(e.to_string().contains("U8"), "{e}");
        let swap = |from: &str, to: &str| {
            let mut b = bytes.clone();
            let at = b.windows(from.len()).position(|w| w == from.as_bytes()).unwrap();
            b[at..at + to.len()].copy_from_slice(to.as_bytes());
            AlignedBuf::from(b.as_slice())
        };
        let e = read_held(swap("held-weights/1", "held-weights/9")).unwrap_err();
        assert_eq!(e.code(), "invalid_weights");
        let e = read_held(swap("q4/32:", "q5/32:")).unwrap_err();
        assert!(e.to_string().contains("b.q4"), "{e}");
        let e = read_held(AlignedBuf::from(&bytes[..bytes.len() - 4])).unwrap_err();
        assert_eq!(e.code(), "invalid_weights");
    }
}
