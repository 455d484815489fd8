//! Audio in: samples checked, channels averaged to mono, and any sample rate brought to
//! Whisper's 16 kHz by windowed-sinc interpolation (`rubato`), not linear interpolation,
//! which would fold everything above 8 kHz back into the band the model hears. Natively
//! WAV files decode here (`hound`); in the browser `decodeAudioData` decodes every format.

use super::mel::SAMPLE_RATE;
use crate::error::{Error, Result};
use rubato::audioadapter_buffers::direct::SequentialSliceOfSlices;
use rubato::{
    calculate_cutoff, Async, FixedAsync, Resampler, SincInterpolationParameters, SincInterpolationType, WindowFunction,
};

/// The longest audio accepted: 4 hours, so that samples, not a length field, bound memory.
pub const MAX_SECONDS: f64 = 4.0 * 3600.0;

/// Checks a sample rate from the caller: finite, positive and at most 384 kHz.
pub fn check_rate(rate: f64) -> Result<f64> {
    if !rate.is_finite() || rate <= 0.0 || rate > 384_000.0 {
        return Err(Error::InvalidAudio(format!("sample rate {rate} is not a finite number in (0, 384000] Hz")));
    }
    if rate < 1000.0 {
        return Err(Error::InvalidAudio(format!("sample rate {rate} Hz is below 1000 Hz; speech needs more")));
    }
    Ok(rate)
}

/// Checks samples: some, all finite, not longer than `MAX_SECONDS`.
pub fn check_samples(samples: &[f32], rate: f64) -> Result<()> {
    if samples.is_empty() {
        return Err(Error::InvalidAudio("the audio has no samples".into()));
    }
    if samples.len() as f64 / rate > MAX_SECONDS {
        return Err(Error::InvalidAudio(format!(
            "the audio is {:.0} s long; at most {MAX_SECONDS} s is transcribed in one call",
            samples.len() as f64 / rate
        )));
    }
    if let Some(i) = samples.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidAudio(format!("sample {i} is {} (NaN and infinities are not audio)", samples[i])));
    }
    Ok(())
}

/// Interleaved frames of `channels` samples, averaged to one channel.
pub fn downmix(interleaved: &[f32], channels: usize) -> Result<Vec<f32>> {
    if channels == 0 || interleaved.len() % channels != 0 {
        return Err(Error::InvalidAudio(format!(
            "{} samples do not divide into frames of {channels} channels",
            interleaved.len()
        )));
    }
    if channels == 1 {
        return Ok(interleaved.to_vec());
    }
    Ok(interleaved
        .chunks_exact(channels)
        .map(|f| f.iter().map(|&x| x as f64).sum::<f64>() as f32 / channels as f32)
        .collect())
}

/// Mono `samples` at `rate` Hz, checked and resampled to 16 kHz.
pub fn to_16k(samples: &[f32], rate: f64) -> Result<Vec<f32>> {
    let rate = check_rate(rate)?;
    check_samples(samples, rate)?;
    if rate == SAMPLE_RATE as f64 {
        return Ok(samples.to_vec());
    }
    let window = WindowFunction::BlackmanHarris2;
    let sinc_len = 128;
    let params = SincInterpolationParameters {
        sinc_len,
        f_cutoff: Some(calculate_cutoff(sinc_len, window)),
        interpolation: SincInterpolationType::Cubic,
        oversampling_factor: 256,
        window,
    };
    let fail = |e: &dyn std::fmt::Display| Error::InvalidAudio(format!("cannot resample from {rate} Hz: {e}"));
    let mut r = Async::<f32>::new_sinc(SAMPLE_RATE as f64 / rate, 1.0, &params, 1024, 1, FixedAsync::Input)
        .map_err(|e| fail(&e))?;
    let chans = [samples];
    let input = SequentialSliceOfSlices::new(&chans[..], 1, samples.len()).map_err(|e| fail(&e))?;
    let out = r.process_all(&input, samples.len(), None).map_err(|e| fail(&e))?;
    Ok(out.take_data())
}

/// A WAV file's samples, mono, at 16 kHz (natively; the browser decodes with its own).
pub fn decode_wav(bytes: &[u8]) -> Result<Vec<f32>> {
    let bad = |e: hound::Error| Error::InvalidAudio(format!("not a WAV file hound can read: {e}"));
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    let spec = reader.spec();
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.into_samples::<f32>().collect::<Result<_, _>>().map_err(bad)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader.into_samples::<i32>().map(|s| s.map(|s| s as f32 * scale)).collect::<Result<_, _>>().map_err(bad)?
        }
    };
    let mono = downmix(&interleaved, spec.channels as usize)?;
    to_16k(&mono, spec.sample_rate as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_samples_are_checked() {
        for r in [0.0, -16000.0, f64::NAN, f64::INFINITY, 10.0] {
            assert_eq!(check_rate(r).unwrap_err().code(), "invalid_audio", "{r}");
        }
        assert_eq!(to_16k(&[], 16000.0).unwrap_err().code(), "invalid_audio");
        let e = to_16k(&[0.0, f32::NAN], 16000.0).unwrap_err();
        assert!(e.to_string().contains("sample 1 is NaN"), "{e}");
        assert_eq!(downmix(&[0.0; 3], 2).unwrap_err().code(), "invalid_audio");
        assert_eq!(decode_wav(b"RIFF....WAVEjunk").unwrap_err().code(), "invalid_audio");
    }

    /// A 440 Hz tone at 44.1 kHz comes out at 16 kHz as a 440 Hz tone of the same
    /// amplitude, within one output sample of its time (the resampler's delay is trimmed to
    /// a whole sample), checked against the exact sine away from the edges; and a 12 kHz
    /// tone, above the new Nyquist, is filtered out instead of folding to 4 kHz.
    #[test]
    fn resampling_keeps_the_band_and_drops_what_is_above() {
        let tone = |f: f64, rate: f64, n: usize, lag: f64| -> Vec<f32> {
            (0..n).map(|i| (2.0 * std::f64::consts::PI * f * (i as f64 - lag) / rate).sin() as f32 * 0.5).collect()
        };
        let out = to_16k(&tone(440.0, 44100.0, 44100, 0.0), 44100.0).unwrap();
        assert!((out.len() as i64 - 16000).abs() <= 1, "{}", out.len());
        let err_at = |lag: f64| {
            let want = tone(440.0, 16000.0, out.len(), lag);
            out[500..15500].iter().zip(&want[500..15500]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
        };
        let (lag, err) = (-20..=20).map(|i| i as f64 / 20.0).map(|l| (l, err_at(l))).fold((0.0, f32::MAX), |b, x| {
            if x.1 < b.1 {
                x
            } else {
                b
            }
        });
        assert!(err < 2e-3, "max error {err} at the best lag {lag}");
        let high = to_16k(&tone(12000.0, 44100.0, 44100, 0.0), 44100.0).unwrap();
        let rms = (high[500..15500].iter().map(|x| x * x).sum::<f32>() / 15000.0).sqrt();
        assert!(rms < 1e-3, "an out-of-band tone leaked through at rms {rms}");
    }
}
