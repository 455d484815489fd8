//! Concatenation along one axis.

/// Joins `parts` (each row-major with dims `dims[i]`) along `axis` into `out`.
pub fn concat<T: Copy>(parts: &[(&[T], &[usize])], axis: usize, out: &mut Vec<T>) {
    out.clear();
    let Some((_, first)) = parts.first() else {
        return;
    };
    let outer: usize = first[..axis].iter().product();
    for o in 0..outer {
        for (data, dims) in parts {
            let chunk: usize = dims[axis..].iter().product();
            out.extend_from_slice(&data[o * chunk..(o + 1) * chunk]);
        }
    }
}
