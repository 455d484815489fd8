//! Embedding lookup: rows of a table picked by index.

use crate::error::{Error, Result};

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
