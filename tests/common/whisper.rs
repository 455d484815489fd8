//! The Whisper reference (tests/fixtures/whisper/reference.json, from gen_whisper.py next to
//! it: the float32 numpy Whisper with openai's rules, and faster-whisper's text), the
//! committed clips, and loading the converted model natively or from the test server.

use ipfs_accelerate::models::{ModelFiles, SpeechRecognizer, Transcript};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
pub struct Clip {
    pub seconds: f64,
    pub segments: Vec<RefSegment>,
    pub text: String,
    pub faster_whisper: String,
    pub mel: Option<Mel>,
    pub no_timestamps: Option<Vec<u32>>,
}

#[derive(Deserialize)]
pub struct RefSegment {
    pub start: f64,
    pub end: f64,
    pub tokens: Vec<u32>,
}

#[derive(Deserialize)]
pub struct Mel {
    pub frames: Vec<Vec<f64>>,
    pub sum: f64,
    pub max: f64,
}

pub fn fixture() -> BTreeMap<String, Clip> {
    serde_json::from_str(include_str!("../fixtures/whisper/reference.json")).expect("reference.json parses")
}

/// The committed clip `name`'s WAV bytes.
pub fn wav(name: &str) -> &'static [u8] {
    match name {
        "hello.wav" => include_bytes!("../fixtures/whisper/audio/hello.wav"),
        "hello_44k.wav" => include_bytes!("../fixtures/whisper/audio/hello_44k.wav"),
        "long.wav" => include_bytes!("../fixtures/whisper/audio/long.wav"),
        "numbers.wav" => include_bytes!("../fixtures/whisper/audio/numbers.wav"),
        "silence.wav" => include_bytes!("../fixtures/whisper/audio/silence.wav"),
        "stereo_22k.wav" => include_bytes!("../fixtures/whisper/audio/stereo_22k.wav"),
        other => panic!("no committed clip {other}"),
    }
}

/// The converted model's files: from models/ natively, from the test server in the
/// browsers (`npm test` bakes its URL in).
pub async fn files() -> ModelFiles {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/whisper-tiny.en");
        ModelFiles::from_dir(dir, SpeechRecognizer::FILES)
            .unwrap_or_else(|e| panic!("{dir}: {e} (run `npm run setup`)"))
    }
    #[cfg(target_arch = "wasm32")]
    {
        let base = env!("IPFS_ACCELERATE_WHISPER_URL", "npm test bakes in the model server's Whisper URL");
        ipfs_accelerate::web::fetch_model_files(
            base,
            SpeechRecognizer::FILES,
            None,
            &ipfs_accelerate::web::Control::none("test"),
        )
        .await
        .expect("Whisper files fetch")
    }
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '\'' || c == ' ' { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Word error rate of `hyp` against `reference` (gen_whisper.py's `wer`).
pub fn wer(reference: &str, hyp: &str) -> f64 {
    let (r, h) = (words(reference), words(hyp));
    let mut d: Vec<usize> = (0..=h.len()).collect();
    for i in 1..=r.len() {
        let prev = d.clone();
        d[0] = i;
        for j in 1..=h.len() {
            d[j] = (prev[j] + 1).min(d[j - 1] + 1).min(prev[j - 1] + usize::from(r[i - 1] != h[j - 1]));
        }
    }
    d[h.len()] as f64 / r.len().max(1) as f64
}

/// Checks a transcript of clip `name` against the reference: token ids equal segment by
/// segment, or, where a near-tie flipped a token, a WER against faster-whisper of at most
/// 0.05; segments ordered and inside the audio. `Ok(true)` where the ids were equal.
pub fn check(name: &str, clip: &Clip, got: &Transcript) -> Result<bool, String> {
    let mut last = 0.0;
    for s in &got.segments {
        if s.start < last - 1e-9 || s.end < s.start || s.end > clip.seconds + 0.5 {
            return Err(format!("{name}: segments out of order or past the audio: {:?}", got.segments));
        }
        last = s.start;
    }
    let same = got.segments.len() == clip.segments.len()
        && got
            .segments
            .iter()
            .zip(&clip.segments)
            .all(|(g, r)| g.tokens == r.tokens && (g.start - r.start).abs() < 1e-6 && (g.end - r.end).abs() < 1e-6);
    if !same {
        let w = wer(&clip.faster_whisper, &got.text);
        if w > 0.05 {
            return Err(format!(
                "{name}: ids differ from the reference and WER {w} > 0.05\n got: {}\nwant: {}",
                got.text, clip.text
            ));
        }
    }
    Ok(same)
}
