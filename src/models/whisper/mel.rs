//! The log-mel spectrogram exactly as openai/whisper computes it: the audio followed by 30 s
//! of zeros, a centred STFT (reflect padding, periodic Hann window, n_fft 400, hop 160,
//! the last frame dropped), power through Slaney-normalised mel filters, log10 clamped at
//! 1e-10, floored at the whole spectrogram's maximum minus 8, and scaled to (x + 4) / 4.
//!
//! Memory stays flat in the audio's length: one pass finds the maximum, then each 30 s
//! window's frames are computed when it is decoded. The FFT runs in f64 (`realfft`).

use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
/// Frames in one 30 s window.
pub const N_FRAMES: usize = 3000;
const N_BINS: usize = N_FFT / 2 + 1;

/// The mel filter bank of librosa.filters.mel(sr=16000, n_fft=400, n_mels) (Slaney's
/// scale and area normalisation): `n_mels` rows, each kept as its first nonzero bin and
/// its weights.
pub struct MelFilters {
    rows: Vec<(usize, Vec<f64>)>,
}

impl MelFilters {
    pub fn new(n_mels: usize) -> Self {
        let f_sp = 200.0 / 3.0;
        let (min_log_hz, min_log_mel) = (1000.0, 1000.0 / f_sp);
        let logstep = 6.4f64.ln() / 27.0;
        let hz_to_mel = |f: f64| if f >= min_log_hz { min_log_mel + (f / min_log_hz).ln() / logstep } else { f / f_sp };
        let mel_to_hz =
            |m: f64| if m >= min_log_mel { min_log_hz * (logstep * (m - min_log_mel)).exp() } else { f_sp * m };
        let nyquist = SAMPLE_RATE as f64 / 2.0;
        let top = hz_to_mel(nyquist);
        let mel_f: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64)).collect();
        let fft_f = |k: usize| nyquist * k as f64 / (N_BINS - 1) as f64;
        let rows = (0..n_mels)
            .map(|i| {
                let (lo, mid, hi) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
                let norm = 2.0 / (hi - lo);
                let w: Vec<f64> = (0..N_BINS)
                    .map(|k| {
                        let f = fft_f(k);
                        let lower = (f - lo) / (mid - lo);
                        let upper = (hi - f) / (hi - mid);
                        // librosa keeps the weights as float32.
                        (lower.min(upper).max(0.0) * norm) as f32 as f64
                    })
                    .collect();
                let first = w.iter().position(|&x| x != 0.0).unwrap_or(0);
                let last = w.iter().rposition(|&x| x != 0.0).map_or(first, |l| l + 1);
                (first, w[first..last].to_vec())
            })
            .collect();
        MelFilters { rows }
    }

    pub fn n_mels(&self) -> usize {
        self.rows.len()
    }
}

/// The spectrogram of one clip, computed a window at a time.
pub struct LogMel<'a> {
    samples: &'a [f32],
    filters: &'a MelFilters,
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    /// The floor: the maximum of log10(mel) over the padded clip, minus 8.
    floor: f64,
    /// Frames of audio (before the 30 s of padding).
    pub content_frames: usize,
}

impl<'a> LogMel<'a> {
    /// Scans `samples` (16 kHz mono) once for the maximum.
    pub fn new(samples: &'a [f32], filters: &'a MelFilters) -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        let window =
            (0..N_FFT).map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()).collect();
        let content_frames = samples.len() / HOP;
        let mut m = LogMel { samples, filters, fft, window, floor: 0.0, content_frames };
        // The padded clip has (len + 30 s) / hop frames. Past the first few after the audio,
        // every window holds zeros only: log10 of the clamp, -10.
        let total = (samples.len() + N_FRAMES * HOP) / HOP;
        let computed = (content_frames + 3).min(total);
        let mut max = if total > computed { -10.0f64 } else { f64::NEG_INFINITY };
        let mut row = vec![0.0; filters.n_mels()];
        let mut scratch = Scratch::new(&m.fft);
        for t in 0..computed {
            m.frame(t, &mut scratch, &mut row);
            max = row.iter().fold(max, |a, &b| a.max(b));
        }
        m.floor = max - 8.0;
        m
    }

    /// log10 of the clamped mel power of frame `t` into `out`.
    fn frame(&self, t: usize, s: &mut Scratch, out: &mut [f64]) {
        let padded = (self.samples.len() + N_FRAMES * HOP) as isize;
        for (j, x) in s.input.iter_mut().enumerate() {
            let mut i = (t * HOP + j) as isize - (N_FFT / 2) as isize;
            if i < 0 {
                i = -i;
            } else if i >= padded {
                i = 2 * (padded - 1) - i;
            }
            let v = self.samples.get(i as usize).copied().unwrap_or(0.0) as f64;
            *x = v * self.window[j];
        }
        // Lengths come from the plan, so the transform cannot fail.
        let _ = self.fft.process_with_scratch(&mut s.input, &mut s.spectrum, &mut s.scratch);
        for (k, c) in s.spectrum.iter().enumerate() {
            // numpy's reference keeps the power as float32.
            s.power[k] = c.norm_sqr() as f32 as f64;
        }
        for (o, (first, w)) in out.iter_mut().zip(&self.filters.rows) {
            let mel: f64 = w.iter().zip(&s.power[*first..]).map(|(a, b)| a * b).sum();
            *o = mel.max(1e-10).log10();
        }
    }

    /// The 30 s input starting at frame `seek`, `[n_mels, 3000]` row by row: the frames of
    /// audio from `seek` (at most 3000), then zeros as openai's `pad_or_trim` pads. Also
    /// returns how many frames hold audio.
    pub fn window(&self, seek: usize) -> (Vec<f32>, usize) {
        let n_mels = self.filters.n_mels();
        let size = N_FRAMES.min(self.content_frames.saturating_sub(seek));
        let mut out = vec![0.0f32; n_mels * N_FRAMES];
        let mut row = vec![0.0; n_mels];
        let mut scratch = Scratch::new(&self.fft);
        for t in 0..size {
            self.frame(seek + t, &mut scratch, &mut row);
            for (m, v) in row.iter().enumerate() {
                out[m * N_FRAMES + t] = ((v.max(self.floor) + 4.0) / 4.0) as f32;
            }
        }
        (out, size)
    }
}

struct Scratch {
    input: Vec<f64>,
    spectrum: Vec<realfft::num_complex::Complex<f64>>,
    scratch: Vec<realfft::num_complex::Complex<f64>>,
    power: Vec<f64>,
}

impl Scratch {
    fn new(fft: &Arc<dyn RealToComplex<f64>>) -> Self {
        Scratch {
            input: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            power: vec![0.0; N_BINS],
        }
    }
}
