//! Embedding lookup: rows of a table picked by index.

use crate::error::{Error, Result};
use crate::tensor::{quant, DType};

/// out[i] = table[ids[i]] for a `[rows, width]` table; an index out of range is an error.
pub fn gather(table: &[f32], width: usize, ids: &[i32], out: &mut [f32]) -> Result<()> {
    let rows = table.len().checked_div(width).unwrap_or(0);
    for (i, &id) in ids.iter().enumerate() {
        if id < 0 || id as usize >= rows {
            return Err(Error::arg("gather", format!("index {id} is out of range for a table of {rows} rows")));
        }
        let r = id as usize;
        out[i * width..(i + 1) * width].copy_from_slice(&table[r * width..(r + 1) * width]);
    }
    Ok(())
}

/// The same from a table in a stored form (`bytes`: rows of `width` elements of `dtype`,
/// each with its scales), each picked row widened to f32.
pub fn gather_stored(bytes: &[u8], dtype: DType, width: usize, ids: &[i32], out: &mut [f32]) -> Result<()> {
    let row = dtype.bytes(width);
    let rows = bytes.len().checked_div(row).unwrap_or(0);
    for (i, &id) in ids.iter().enumerate() {
        if id < 0 || id as usize >= rows {
            return Err(Error::arg("gather", format!("index {id} is out of range for a table of {rows} rows")));
        }
        let r = id as usize;
        quant::widen_into(&bytes[r * row..(r + 1) * row], dtype, &mut out[i * width..(i + 1) * width]);
    }
    Ok(())
}
