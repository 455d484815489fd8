//! Transcribes a WAV file natively: `cargo run --release --example transcribe -- MODEL_DIR FILE.wav`.
//! Prints each segment with its times, then the seconds taken and the real-time factor.

use ipfs_accelerate::models::whisper::audio::decode_wav;
use ipfs_accelerate::models::{SpeechOptions, SpeechRecognizer, TranscribeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (dir, file) = match &args[..] {
        [_, dir, file] => (dir, file),
        _ => return Err("usage: transcribe MODEL_DIR FILE.wav".into()),
    };
    let r = SpeechRecognizer::from_dir(dir, &SpeechOptions::default())?;
    let audio = decode_wav(&std::fs::read(file)?)?;
    let start = std::time::Instant::now();
    let t = r.transcribe(&audio, 16000.0, &TranscribeOptions::default())?;
    let secs = start.elapsed().as_secs_f64();
    for s in &t.segments {
        println!("[{:7.2} → {:7.2}] {}", s.start, s.end, s.text);
    }
    let audio_s = audio.len() as f64 / 16000.0;
    println!("{audio_s:.1} s of audio in {secs:.2} s: {:.1}× real time", audio_s / secs);
    Ok(())
}
