//! Checkpoints that ship int8 weights: an `I8` tensor `X` with its scales in `X_scale`
//! (`F32`, `F16` or `BF16`; shape `[rows]` or `[rows, 1]` for one scale per output
//! channel, or `[rows, groups]` for groups along the last axis), symmetric (`x ≈ q ×
//! scale`), as compressed-tensors and most int8 exporters lay them out. They become `Q8`
//! weights as they are, with no requantizing; anything else in an integer weight is an
//! error naming the tensor.

use super::convert::widen_to_f32;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};
use safetensors::Dtype;

/// The name of the scales of the int8 tensor `name`.
pub fn scale_name(name: &str) -> String {
    format!("{name}_scale")
}

/// The int8 tensor `name` (`values`, `shape`) with its scales (`scales`, of `scale_dtype`
/// and `scale_shape`) as a `Q8` weight.
pub fn int8_weight(
    name: &str,
    shape: &[usize],
    values: &[u8],
    scale: Option<(Dtype, &[usize], &[u8])>,
) -> Result<Tensor> {
    let Some((scale_dtype, scale_shape, scale_bytes)) = scale else {
        return Err(Error::weights(name, format!("is int8 with no '{}' tensor of scales", scale_name(name))));
    };
    let k = shape.last().copied().filter(|k| *k > 0).ok_or_else(|| Error::weights(name, "an int8 scalar"))?;
    let rows = values.len() / k;
    let scales = widen_to_f32(&scale_name(name), scale_dtype, scale_bytes)?;
    let groups = scales.len() / rows.max(1);
    let per_row_ok = match scale_shape {
        [r] => *r == rows,
        [r, g] => *r == rows && *g > 0 && k % g == 0,
        _ => false,
    };
    if !per_row_ok || groups == 0 {
        return Err(Error::weights(
            scale_name(name),
            format!("shape {scale_shape:?} does not give scales per row of {name} {shape:?} ([{rows}], [{rows}, 1] or [{rows}, groups dividing {k}])"),
        ));
    }
    if let Some(i) = scales.iter().position(|s| !s.is_finite()) {
        return Err(Error::weights(scale_name(name), format!("element {i} is not finite (NaN or ±Inf)")));
    }
    // Our rows: the int8 values, then an f32 scale per group.
    let mut bytes = Vec::with_capacity(values.len() + scales.len() * 4);
    for (row, s) in values.chunks_exact(k).zip(scales.chunks_exact(groups)) {
        bytes.extend_from_slice(row);
        bytes.extend(s.iter().flat_map(|v| v.to_le_bytes()));
    }
    Tensor::from_stored(DType::Q8 { group: k / groups }, shape.to_vec(), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_with_scales_per_channel_or_group() {
        let q: Vec<u8> = [1i8, -2, 3, -4, 5, -6, 7, -8].iter().map(|v| *v as u8).collect();
        let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let per_row = f32s(&[0.5, 2.0]);
        let t = int8_weight("w", &[2, 4], &q, Some((Dtype::F32, &[2, 1], &per_row))).unwrap();
        assert_eq!(t.dtype(), DType::Q8 { group: 4 });
        assert_eq!(t.to_f32_vec(), vec![0.5, -1.0, 1.5, -2.0, 10.0, -12.0, 14.0, -16.0]);
        let grouped = f32s(&[1.0, 0.5, 2.0, 0.25]);
        let t = int8_weight("w", &[2, 4], &q, Some((Dtype::F32, &[2, 2], &grouped))).unwrap();
        assert_eq!(t.dtype(), DType::Q8 { group: 2 });
        assert_eq!(t.to_f32_vec(), vec![1.0, -2.0, 1.5, -2.0, 10.0, -12.0, 1.75, -2.0]);
        let half: Vec<u8> = [0.5f32, 2.0].iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect();
        assert!(int8_weight("w", &[2, 4], &q, Some((Dtype::F16, &[2], &half))).is_ok());
        // No scales, scales that do not fit the rows, or a NaN scale: errors naming them.
        let e = int8_weight("enc.w", &[2, 4], &q, None).unwrap_err();
        assert!(e.to_string().contains("enc.w") && e.to_string().contains("enc.w_scale"), "{e}");
        let e = int8_weight("w", &[2, 4], &q, Some((Dtype::F32, &[2, 3], &f32s(&[1.0; 6])))).unwrap_err();
        assert!(e.to_string().contains("w_scale") && e.code() == "invalid_weights", "{e}");
        let e = int8_weight("w", &[2, 4], &q, Some((Dtype::F32, &[2], &f32s(&[1.0, f32::NAN])))).unwrap_err();
        assert!(e.to_string().contains("element 1"), "{e}");
    }
}
