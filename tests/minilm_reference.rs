//! all-MiniLM-L6-v2 end to end against the float64 numpy reference
//! (tests/fixtures/minilm/gen_minilm.py): tokenization, the BERT graph on every backend
//! this place has (tests/common/backends.rs), mean pooling and normalisation. Tolerances
//! per backend: see `tolerance`.
//! Natively it reads models/; compiled to wasm it fetches the model from the server whose
//! URL `npm test` bakes in as IPFS_ACCELERATE_MODEL_URL.

#[macro_use]
mod common;

use common::minilm::{cosine, embedder, fixture, Case};
#[cfg(not(target_arch = "wasm32"))]
use ipfs_accelerate::models::TextEmbedder;
use ipfs_accelerate::models::{EmbedderOptions, Form, Truncation, WeightDtype};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

macro_rules! async_test {
    ($name:ident $body:block) => {
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            pollster::block_on(async $body)
        }
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test]
        async fn $name() $body
    };
}

on_every_backend! {
    // The texts up to `longest(place)` tokens.
    embeddings_match_float64_reference(place) {
        let fx = fixture();
        assert!(fx.cases.len() >= 10);
        let mut e = embedder(EmbedderOptions::default()).await;
        assert_eq!((e.dims(), e.max_tokens()), (384, 256));
        e.set_backend(place.backend.clone());
        let cases: Vec<&Case> = fx.cases.iter().filter(|c| c.ids.len() <= longest(place)).collect();
        let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
        let got = e.embed_async(&texts).await.map_err(|e| e.to_string())?;
        let (min_cos, max_diff) = tolerance(place);
        for (c, v) in cases.iter().zip(&got) {
            assert_eq!(e.token_count(&c.text).unwrap(), c.ids.len(), "token count of {:?}", c.text);
            let cos = cosine(v, &c.embedding);
            let diff = v.iter().zip(&c.embedding).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
            if cos < min_cos || diff > max_diff {
                return Err(format!("{:?}: cosine {cos} (want >= {min_cos}), max |diff| {diff} (<= {max_diff})", c.text));
            }
        }
        Ok(cases.len())
    }

    // Eight texts of mixed lengths (2 to 30 tokens), so most rows of the batch are padded;
    // a text's vector is the same alone (within 1e-5). Not on WebGPU's non-default
    // variants (see `longest`).
    batching_does_not_change_embeddings(place) {
        if longest(place) < 32 {
            return Ok(0); // see `longest`: a variant a load would not pick
        }
        let fx = fixture();
        let mut e = embedder(EmbedderOptions::default()).await;
        e.set_backend(place.backend.clone());
        let texts: Vec<&str> = fx.cases.iter().filter(|c| c.ids.len() <= 32).take(8).map(|c| c.text.as_str()).collect();
        assert_eq!(texts.len(), 8);
        let together = e.embed_async(&texts).await.map_err(|e| e.to_string())?;
        for (t, b) in texts.iter().zip(&together) {
            let alone = &e.embed_async(&[t]).await.map_err(|e| e.to_string())?[0];
            let diff = alone.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            if diff > 1e-5 {
                return Err(format!("{t:?}: alone vs batched differ by {diff}"));
            }
        }
        Ok(texts.len())
    }
}

on_every_backend! {
    // Quantized weights (`dtype`), on the CPU path a load would pick and natively on the
    // default WebGPU variant (lavapipe; the stored kernels' op checks run everywhere:
    // ops_reference's stored_weight_products, webgpu_ops), texts up to 64 tokens (the
    // 256-token pass is the f32 test's): cosine to the float64 reference at least 0.999
    // for int8 on every text. int4 (blocks of 32, symmetric) reaches about 0.91 here, short
    // of the 0.99 issue 27 asks: this checks it only against falling further (0.9). The
    // weights' bytes (host, and on the GPU the device's) are at most 30 MB for int8 and
    // 20 MB for int4. The least cosine and the bytes are printed.
    quantized_embeddings_stay_close(place) {
        // The relaxed-simd build changes only the f32 GEMM, which these layers do not run.
        let browser_gpu = place.is_gpu() && cfg!(target_arch = "wasm32");
        if !place.default || browser_gpu || option_env!("IPFS_ACCELERATE_RELAXED_SIMD") == Some("1") {
            return Ok(0);
        }
        let fx = fixture();
        let cases: Vec<&Case> = fx.cases.iter().filter(|c| c.ids.len() <= 64).collect();
        let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
        for (form, least) in [(Form::F16, 0.9999), (Form::Q8, 0.999), (Form::Q4, 0.99)] {
            let mut e = embedder(EmbedderOptions { dtype: WeightDtype::new(form), ..Default::default() }).await;
            assert_eq!(e.dtype(), form.name());
            e.set_backend(place.backend.clone());
            let gpu_before = e.webgpu().map_or(0, |g| g.stats().weight_bytes);
            let got = e.embed_async(&texts).await.map_err(|e| e.to_string())?;
            let worst = cases.iter().zip(&got).map(|(c, v)| cosine(v, &c.embedding)).fold(1.0, f64::min);
            // On the GPU what this model uploaded (the place's backend keeps the weights of
            // the models before it: they were loaded without a session to forget them).
            let bytes = match e.webgpu() {
                Some(g) => g.stats().weight_bytes - gpu_before,
                None => e.weight_bytes(),
            };
            common::backends::log(&format!(
                "minilm {} on {}: least cosine {worst:.6} over {} texts; weights hold {bytes} bytes",
                form.name(),
                place.name,
                cases.len()
            ));
            // What issue 27 asks of a load's weights: q8 at most 30 MB, q4 20 MB (f32: the
            // 90.9 MB file, read in place); f16 half the f32 bytes.
            let most = match form {
                Form::F16 => 46_000_000,
                Form::Q8 => 30_000_000,
                _ => 20_000_000,
            };
            if bytes > most {
                return Err(format!("{}: the weights hold {bytes} bytes (want <= {most})", form.name()));
            }
            if worst < least {
                return Err(format!("{}: least cosine {worst} (want >= {least})", form.name()));
            }
        }
        Ok(3 * cases.len())
    }
}

/// The longest text (in tokens) the references run on `place`: every text on the CPU path
/// a load would run; up to 64 tokens elsewhere. WebGPU's 256-token passes are the page
/// suites' (tests/browser/webgpu.test.mjs, the tiled variant at full length in Chromium
/// and in Firefox, whose wgpu runs over the same lavapipe as the native place), so the
/// default variant runs up to 64 tokens too; in the browsers a 256-token pass on
/// SwiftShader outlasts the runner's timeout. The variants a load would not pick run up
/// to 12 tokens, natively too: their kernels' op references run everywhere, and the
/// subgroup matmuls, which split K across a workgroup for a real GPU, are many times
/// slower on the software adapters (lavapipe took 110 s over these texts up to 64 tokens).
/// WebNN (the test double) runs up to 12 tokens too.
fn longest(place: &common::backends::Place) -> usize {
    if place.is_webnn() {
        // The test double computes in JavaScript; tests/webnn.rs adds a text of over 40.
        return 12;
    }
    match (place.default, place.is_gpu()) {
        (true, false) => usize::MAX,
        (false, true) => 12,
        _ => 64,
    }
}

/// The reference's tolerance on `place`: (least cosine, largest |difference|). The CPU
/// computes in f32 as the reference's float64 does; WebGPU sums in other orders; its f16
/// variant rounds the weights to 11 significant bits.
fn tolerance(place: &common::backends::Place) -> (f64, f64) {
    match (place.is_gpu(), place.f16_weights) {
        (false, _) => (0.99999, 1e-4),
        (true, false) => (0.9999, 1e-3),
        (true, true) => (0.999, 1e-2),
    }
}

async_test!(long_inputs_truncate_or_fail_as_asked {
    let fx = fixture();
    let long = fx.cases.iter().find(|c| c.ids.len() == 256).expect("a text at the 256-token limit");
    let strict = embedder(EmbedderOptions { truncation: Truncation::Error, ..Default::default() }).await;
    let err = strict.embed(&["short", &long.text]).unwrap_err();
    assert_eq!(err.code(), "input_too_long");
    assert!(err.to_string().contains("text 1") && err.to_string().contains("256"), "{err}");
    assert_eq!(strict.embed(&["short"]).unwrap().len(), 1, "the next call works");
});

/// sentence-transformers' `max_seq_length` below 2 (no room for [CLS] and [SEP]) or past
/// usize fails at load as `invalid_config`, instead of loading and failing every embed.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_bad_max_seq_length_fails_at_load() {
    use ipfs_accelerate::models::ModelFiles;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
    for bad in ["0", "1", "-4", "\"long\"", "4294967297"] {
        let mut files = ModelFiles::from_dir(dir, TextEmbedder::FILES).unwrap();
        files.set("sentence_bert_config.json", format!(r#"{{"max_seq_length": {bad}}}"#).as_bytes());
        let e = TextEmbedder::from_files(files, &EmbedderOptions::default()).err().expect(bad);
        assert_eq!(e.code(), "invalid_config", "{bad}: {e}");
        assert!(e.to_string().contains("max_seq_length"), "{bad}: {e}");
    }
}

/// Finite weights can still overflow: with the embedding LayerNorm's scale at 3e38 the
/// forward pass reaches infinity, and `embed` says so (`non_finite_output`) instead of
/// returning NaN vectors. A NaN in the file is refused at load, naming the tensor.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn non_finite_weights_and_outputs_are_errors() {
    use ipfs_accelerate::models::ModelFiles;
    use ipfs_accelerate::weights::AlignedBuf;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
    let name = "embeddings.LayerNorm.weight";
    let with = |value: f32| {
        let mut files = ModelFiles::from_dir(dir, TextEmbedder::FILES).unwrap();
        let mut bytes = files.get("model.safetensors").unwrap().to_vec();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let offs = &header[name]["data_offsets"];
        let (lo, hi) = (8 + n + offs[0].as_u64().unwrap() as usize, 8 + n + offs[1].as_u64().unwrap() as usize);
        for w in bytes[lo..hi].chunks_exact_mut(4) {
            w.copy_from_slice(&value.to_le_bytes());
        }
        files.set("model.safetensors", AlignedBuf::from(bytes.as_slice()));
        TextEmbedder::from_files(files, &EmbedderOptions::default())
    };
    let e = with(f32::NAN).err().expect("a NaN weight is refused");
    assert_eq!(e.code(), "invalid_weights", "{e}");
    assert!(e.to_string().contains(name), "{e}");

    let overflowing = with(3e38).expect("finite weights load");
    let e = overflowing.embed(&["a cat", "overflowing activations"]).unwrap_err();
    assert_eq!(e.code(), "non_finite_output", "{e}");
    let ok = embedder(EmbedderOptions::default());
    assert_eq!(pollster::block_on(ok).embed(&["a cat"]).unwrap()[0].len(), 384, "other models are unaffected");
}

/// A checkpoint that ships int8 (each linear weight `I8` with its `_scale` per group of
/// 32, quantized here by this test's own rounding) loads as it is, with no requantizing
/// and no `dtype` asked, and embeds within cosine 0.999 of the float64 reference; one
/// without a weight's scales fails naming it.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn an_int8_checkpoint_loads_as_it_ships() {
    use ipfs_accelerate::models::ModelFiles;
    use ipfs_accelerate::weights::AlignedBuf;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
    let f32_file = ModelFiles::from_dir(dir, TextEmbedder::FILES).unwrap().get("model.safetensors").unwrap().to_vec();
    let n = u64::from_le_bytes(f32_file[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&f32_file[8..8 + n]).unwrap();
    let int8_file = |drop_scale_of: Option<&str>| {
        let (mut out_header, mut data) = (serde_json::Map::new(), Vec::new());
        let mut put = |name: &str, dtype: &str, shape: Vec<usize>, bytes: Vec<u8>| {
            let at = data.len();
            data.extend_from_slice(&bytes);
            out_header.insert(
                name.into(),
                serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [at, data.len()]}),
            );
        };
        for (name, info) in &header {
            let Some(offs) = info.get("data_offsets") else { continue };
            let shape: Vec<usize> = serde_json::from_value(info["shape"].clone()).unwrap();
            let (lo, hi) = (8 + n + offs[0].as_u64().unwrap() as usize, 8 + n + offs[1].as_u64().unwrap() as usize);
            let bytes = f32_file[lo..hi].to_vec();
            let linear = name.starts_with("encoder.") && name.ends_with(".weight") && shape.len() == 2;
            if !linear {
                put(name, info["dtype"].as_str().unwrap(), shape, bytes);
                continue;
            }
            let x: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
            let (mut q, mut scales) = (Vec::new(), Vec::new());
            for g in x.chunks(32) {
                let s = g.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
                q.extend(g.iter().map(|v| if s > 0.0 { (v / s).round() as i8 as u8 } else { 0 }));
                scales.extend(s.to_le_bytes());
            }
            put(name, "I8", shape.clone(), q);
            if drop_scale_of != Some(name.as_str()) {
                put(&format!("{name}_scale"), "F32", vec![shape[0], shape[1] / 32], scales);
            }
        }
        let mut json = serde_json::to_string(&out_header).unwrap();
        while (8 + json.len()) % 8 != 0 {
            json.push(' ');
        }
        let mut file = (json.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(json.as_bytes());
        file.extend_from_slice(&data);
        let mut files = ModelFiles::from_dir(dir, TextEmbedder::FILES).unwrap();
        files.set("model.safetensors", AlignedBuf::from(file.as_slice()));
        files
    };
    let e = TextEmbedder::from_files(int8_file(None), &EmbedderOptions::default()).unwrap();
    assert!(e.unused_weights().is_empty(), "the scales are part of their weights: {:?}", e.unused_weights());
    let fx = fixture();
    let cases: Vec<&Case> = fx.cases.iter().filter(|c| c.ids.len() <= 64).collect();
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let got = e.embed(&texts).unwrap();
    let worst = cases.iter().zip(&got).map(|(c, v)| cosine(v, &c.embedding)).fold(1.0, f64::min);
    println!("minilm int8 checkpoint: least cosine {worst:.6}; weights hold {} bytes", e.weight_bytes());
    assert!(worst >= 0.999, "least cosine {worst}");
    let victim = "encoder.layer.2.attention.self.value.weight";
    let err = TextEmbedder::from_files(int8_file(Some(victim)), &EmbedderOptions::default()).err().unwrap();
    assert_eq!(err.code(), "invalid_weights", "{err}");
    assert!(err.to_string().contains(victim) && err.to_string().contains("_scale"), "{err}");
}
