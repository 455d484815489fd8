//! Each kernel's parameter block, written once: a `#[repr(C)]` bytemuck struct here, from
//! which the WGSL `struct` the kernel reads (`p: MatmulParams`) is generated and added to
//! its source, so the host's layout and the shader's cannot drift apart.

use bytemuck::{Pod, Zeroable};

/// A kernel's parameters: their bytes go to the device as they are, and `WGSL` declares
/// the same layout in the shader (storage-buffer layout: 4-byte scalars, arrays of stride
/// 4, no padding, as `repr(C)` lays out these all-4-byte fields).
pub(super) trait Params: Pod {
    /// The WGSL declaration of this struct.
    fn wgsl() -> String;
    /// The kernel files that read it (their `p` has this type).
    const FILES: &'static [&'static str];

    /// The parameter words, as the plan's parameter buffer holds them.
    fn words(&self) -> Vec<u32> {
        bytemuck::cast_slice(std::slice::from_ref(self)).to_vec()
    }
}

/// A field's WGSL type.
macro_rules! wgsl_type {
    (u32) => {
        "u32".to_string()
    };
    (f32) => {
        "f32".to_string()
    };
    ([$t:ident; $n:literal]) => {
        format!("array<{}, {}>", stringify!($t), $n)
    };
}

/// Declares a parameter struct (fields of u32, f32 or arrays of them) and its WGSL twin.
macro_rules! params {
    ($(#[doc = $doc:literal])* $name:ident for [$($file:literal),+] { $($(#[doc = $fdoc:literal])* $field:ident: $ty:tt),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
        pub(super) struct $name {
            $($(#[doc = $fdoc])* pub $field: $ty),+
        }

        impl Params for $name {
            const FILES: &'static [&'static str] = &[$($file),+];
            fn wgsl() -> String {
                let fields: Vec<String> =
                    vec![$(format!("    {}: {},\n", stringify!($field), wgsl_type!($ty))),+];
                format!("struct {} {{\n{}}}\n", stringify!($name), fields.concat())
            }
        }
    };
}

params! {
    /// A strided copy: `n` elements of a `rank`-dim view (at most 6), from a source
    /// offset and strides to a destination offset and strides.
    CopyParams for ["copy.wgsl"] {
        n: u32, rank: u32, src_offset: u32, dst_offset: u32,
        dims: [u32; 6], src_strides: [u32; 6], dst_strides: [u32; 6],
    }
}

params! {
    /// `binary`: a ∘ b over `rank` (≤ 6) output dims, each operand through its own
    /// strides (0 where it broadcasts); op 0 add, 1 sub, 2 mul, 3 div. `unary`: `n` and
    /// `op` only, an activation code (activation.wgsl).
    ElementwiseParams for ["elementwise.wgsl"] {
        n: u32, op: u32, rank: u32,
        dims: [u32; 6], a_strides: [u32; 6], b_strides: [u32; 6],
    }
}

params! {
    /// Softmax over rows of length `n`, with an optional additive mask broadcast through
    /// its strides over the `rank` (≤ 6) dims.
    SoftmaxParams for ["softmax.wgsl"] {
        rows: u32, n: u32, has_mask: u32, rank: u32,
        dims: [u32; 6], mask_strides: [u32; 6],
    }
}

params! {
    /// Layer norm over rows of length `n`.
    LayerNormParams for ["layer_norm.wgsl"] { rows: u32, n: u32, eps: f32 }
}

params! {
    /// Sum or mean: `n` outputs, each over `count` inputs; `kept` has 1 on the reduced
    /// axes, `reduced` 1 on the kept ones; `strides` are the input's.
    ReduceParams for ["reduce.wgsl"] {
        n: u32, rank: u32, count: u32, mean: u32,
        kept: [u32; 6], reduced: [u32; 6], strides: [u32; 6],
    }
}

params! {
    /// The index of each row's largest value.
    ArgmaxParams for ["argmax.wgsl"] { rows: u32, n: u32 }
}

params! {
    /// Rows of a `[v, d]` table by id, `n` = ids × d outputs; `part` binds rows `lo..hi`
    /// only (a table over the binding limit).
    GatherParams for ["gather.wgsl"] { n: u32, d: u32, v: u32, lo: u32, hi: u32 }
}

params! {
    /// Attention over `bh` = batch × heads (`heads` per batch), `sq` queries and `sk`
    /// keys of size `d`, values of size `dv` (≤ 128); an optional key mask; causally with
    /// an optional run-time query offset.
    AttentionParams for ["attention.wgsl", "attention_rows.wgsl", "attention_keys.wgsl"] {
        bh: u32, heads: u32, sq: u32, sk: u32, d: u32, dv: u32,
        causal: u32, has_mask: u32, scale: f32, has_offset: u32,
    }
}

params! {
    /// 2-D convolution (1-D as height 1) and transposed convolution, to `n` outputs of
    /// `[batch, o, oh, ow]` (`n` counts the direct kernel's invocations).
    ConvKernelParams for ["conv.wgsl", "conv_gemm.wgsl"] {
        n: u32, batch: u32, c: u32, h: u32, w: u32, o: u32, kh: u32, kw: u32, oh: u32, ow: u32,
        sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32, groups: u32, has_bias: u32,
    }
}

params! {
    /// C = act(A·B + bias), `m × n` (a column block's width) over `k`, with `rank` (≤ 4)
    /// batch dims broadcast through per-operand batch strides (0 where broadcast). A
    /// weight split into column blocks puts this block at column `first` of rows
    /// `row_len` long.
    MatmulParams for ["matmul.wgsl", "matmul_subgroup.wgsl"] {
        m: u32, n: u32, k: u32, transpose_a: u32, transpose_b: u32, act: u32, has_bias: u32,
        rank: u32, batch: [u32; 4], a_batch: [u32; 4], b_batch: [u32; 4], row_len: u32, first: u32,
    }
}

params! {
    /// Writes `n` update elements into a cache at a run-time offset: rows of `inner`
    /// elements, `len` of them along the axis per outer index, into `full` there.
    WriteAtParams for ["write_at.wgsl"] { n: u32, inner: u32, len: u32, full: u32 }
}

params! {
    /// C = act(A·Wᵀ + bias) for `m` rows over `k`, W row-major `[n, k]` (a row range of
    /// the weight: its outputs go to column `first` of rows `row_len` long).
    GemvParams for ["gemv.wgsl"] { m: u32, n: u32, k: u32, act: u32, has_bias: u32, row_len: u32, first: u32 }
}

params! {
    /// C = act(A·Wᵀ + bias) for `m` rows over `k`, W `[n, k]` in a stored form (`form`:
    /// 0 f16, 1 int8, 2 int4; scales per `group`; rows `row_words` long, their scales
    /// from word `scales_at`).
    StoredMatmulParams for ["matmul_stored.wgsl"] {
        m: u32, n: u32, k: u32, act: u32, has_bias: u32, form: u32, group: u32, row_words: u32, scales_at: u32,
    }
}

params! {
    /// Gather from a `[v, d]` table in a stored form (as `StoredMatmulParams` describes).
    StoredGatherParams for ["gather_stored.wgsl"] {
        n: u32, d: u32, v: u32, form: u32, group: u32, row_words: u32, scales_at: u32,
    }
}

/// The WGSL declaration of the parameters `file` reads, if it reads any.
pub(super) fn declaration(file: &str) -> Option<String> {
    fn of<P: Params>(file: &str) -> Option<String> {
        P::FILES.contains(&file).then(P::wgsl)
    }
    of::<CopyParams>(file)
        .or_else(|| of::<ElementwiseParams>(file))
        .or_else(|| of::<SoftmaxParams>(file))
        .or_else(|| of::<LayerNormParams>(file))
        .or_else(|| of::<ReduceParams>(file))
        .or_else(|| of::<ArgmaxParams>(file))
        .or_else(|| of::<GatherParams>(file))
        .or_else(|| of::<AttentionParams>(file))
        .or_else(|| of::<ConvKernelParams>(file))
        .or_else(|| of::<MatmulParams>(file))
        .or_else(|| of::<WriteAtParams>(file))
        .or_else(|| of::<GemvParams>(file))
        .or_else(|| of::<StoredMatmulParams>(file))
        .or_else(|| of::<StoredGatherParams>(file))
}

/// `v` as u32s, zero-padded to `N` (a rank checked at lowering is at most `N`).
pub(super) fn fixed<const N: usize>(v: &[usize]) -> [u32; N] {
    let mut out = [0; N];
    for (o, x) in out.iter_mut().zip(v) {
        *o = *x as u32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wgsl_struct_has_the_rust_fields_in_order() {
        let w = MatmulParams::wgsl();
        assert!(w.starts_with("struct MatmulParams {\n    m: u32,\n"), "{w}");
        assert!(w.contains("    batch: array<u32, 4>,\n"), "{w}");
        assert!(w.ends_with("    first: u32,\n}\n"), "{w}");
        assert_eq!(std::mem::size_of::<MatmulParams>(), 22 * 4);
        let p = LayerNormParams { rows: 2, n: 3, eps: 1.5 };
        assert_eq!(p.words(), vec![2, 3, 1.5f32.to_bits()]);
    }

    #[test]
    fn every_kernel_that_reads_p_has_a_declaration() {
        for file in [
            "copy.wgsl",
            "elementwise.wgsl",
            "softmax.wgsl",
            "layer_norm.wgsl",
            "reduce.wgsl",
            "argmax.wgsl",
            "gather.wgsl",
            "attention.wgsl",
            "attention_rows.wgsl",
            "attention_keys.wgsl",
            "conv.wgsl",
            "conv_gemm.wgsl",
            "matmul.wgsl",
            "matmul_subgroup.wgsl",
            "write_at.wgsl",
            "gemv.wgsl",
            "matmul_stored.wgsl",
            "gather_stored.wgsl",
        ] {
            let decl = declaration(file).unwrap_or_else(|| panic!("{file}"));
            let name = decl.split_whitespace().nth(1).unwrap();
            let src = super::super::kernels::source(file).unwrap();
            assert!(src.contains(&format!("var<storage, read> p: {name};")), "{file} reads p as {name}");
            assert!(!src.contains("p: array<u32>"), "{file} still reads raw words");
        }
    }
}
