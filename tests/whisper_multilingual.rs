//! The language options on a multilingual Whisper with random weights (only tiny.en's
//! real weights exist here): tests/fixtures/whisper/multilingual.json (gen_multilingual.py)
//! holds its config (vocabulary 51865, 99 languages, 128 mel bins) and the float32 numpy
//! Whisper's transcripts of hello.wav with openai's rules; the weights are made again here
//! from the same integer hash. Tolerance: token ids equal (random logits are far from
//! ties). Host logic on the CPU backend, so natively only.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::decoder::hashed;
use common::whisper::wav;
use ipfs_accelerate::models::whisper::audio::decode_wav;
use ipfs_accelerate::models::{ModelFiles, SpeechOptions, SpeechRecognizer, Task, TranscribeOptions};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/whisper/multilingual.json")).expect("multilingual.json parses")
}

/// The random checkpoint's safetensors file: f32 tensors in the fixture's order, but for
/// any named in `skip`.
fn safetensors(fx: &Value, skip: &[&str]) -> Vec<u8> {
    let seed = fx["seed"].as_u64().unwrap();
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = vec![];
    for (i, t) in fx["tensors"].as_array().unwrap().iter().enumerate() {
        let name = t[0].as_str().unwrap();
        if skip.contains(&name) {
            continue;
        }
        let shape: Vec<usize> = t[1].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        let (scale, shift) = (t[2].as_f64().unwrap(), t[3].as_f64().unwrap() as f32);
        let n: usize = shape.iter().product();
        let start = data.len();
        for x in hashed(seed + i as u64, n, scale) {
            data.extend_from_slice(&(x + shift).to_le_bytes());
        }
        header.insert(
            name.into(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut h = serde_json::to_vec(&Value::Object(header)).unwrap();
    h.resize(h.len().div_ceil(8) * 8, b' ');
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

fn recognizer() -> SpeechRecognizer {
    load(&[], None).expect("the random multilingual model loads")
}

/// The random model without the tensors in `skip`, with `config` for its config.json.
fn load(skip: &[&str], config: Option<Value>) -> ipfs_accelerate::error::Result<SpeechRecognizer> {
    let fx = fixture();
    let tokenizer = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/whisper-tiny.en/tokenizer.json"))
        .expect("models/whisper-tiny.en (run `npm run setup`)");
    let weights = safetensors(&fx, skip);
    let config = serde_json::to_vec(&config.unwrap_or_else(|| fx["config"].clone())).unwrap();
    let generation = serde_json::to_vec(&fx["generation"]).unwrap();
    let files = ModelFiles::from_named(SpeechRecognizer::FILES, |name| {
        Ok(match name {
            "config.json" => Some(config.as_slice().into()),
            "generation_config.json" => Some(generation.as_slice().into()),
            "model.safetensors" => Some(weights.as_slice().into()),
            "tokenizer.json" => Some(tokenizer.as_slice().into()),
            _ => None,
        })
    })
    .unwrap();
    SpeechRecognizer::from_files(files, &SpeechOptions::default())
}

fn ids(v: &Value) -> Vec<Vec<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as u32).collect())
        .collect()
}

#[test]
fn languages_are_detected_or_taken_as_given() {
    let fx = fixture();
    let r = recognizer();
    assert!(r.is_multilingual());
    assert_eq!(r.config().n_mels, 128);
    let audio = decode_wav(wav("hello.wav")).unwrap();
    let got = r.transcribe(&audio, 16000.0, &TranscribeOptions::default()).unwrap();
    assert_eq!(got.language, fx["detected"]["language"].as_str().unwrap(), "detected language");
    let tokens: Vec<Vec<u32>> = got.segments.iter().map(|s| s.tokens.clone()).collect();
    assert_eq!(tokens, ids(&fx["detected"]["segments"]), "tokens after detection");
    let opts = TranscribeOptions { language: Some("de".into()), task: Task::Translate, ..Default::default() };
    let got = r.transcribe(&audio, 16000.0, &opts).unwrap();
    assert_eq!(got.language, "de");
    let tokens: Vec<Vec<u32>> = got.segments.iter().map(|s| s.tokens.clone()).collect();
    assert_eq!(tokens, ids(&fx["translate_de"]["segments"]), "tokens with language de, task translate");
    // An unknown language is invalid_argument naming the choices; the next call works.
    let bad = TranscribeOptions { language: Some("xx".into()), ..Default::default() };
    let e = r.transcribe(&audio, 16000.0, &bad).unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
    assert!(e.to_string().contains("'xx'") && e.to_string().contains("de,"), "{e}");
    assert!(r.transcribe(&audio, 16000.0, &opts).is_ok());
}

/// A missing tensor is invalid_weights naming it; an unknown model type is
/// unsupported_model; a config whose sizes do not divide is invalid_config.
#[test]
fn bad_checkpoints_are_coded_errors() {
    let missing = "model.decoder.layers.1.fc1.weight";
    let e = load(&[missing], None).err().expect("a missing tensor fails");
    assert_eq!(e.code(), "invalid_weights");
    assert!(e.to_string().contains(missing), "{e}");
    let mut c = fixture()["config"].clone();
    c["model_type"] = "speecht5".into();
    assert_eq!(load(&[], Some(c)).err().unwrap().code(), "unsupported_model");
    let mut c = fixture()["config"].clone();
    c["decoder_attention_heads"] = 5.into();
    assert_eq!(load(&[], Some(c)).err().unwrap().code(), "invalid_config");
}
