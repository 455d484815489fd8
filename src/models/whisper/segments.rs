//! Long-form transcription's bookkeeping, as openai/whisper's `transcribe` does it: a
//! window's tokens split into segments at each pair of adjacent timestamps, and the next
//! window starting at the last complete timestamp (or after the window when the tokens end
//! with a single timestamp or have none), so no words are cut at a window's edge.

use super::mel::{HOP, SAMPLE_RATE};

/// Seconds per timestamp step.
pub const TIME_PRECISION: f64 = 0.02;
/// Mel frames per timestamp step (the encoder's stride).
const INPUT_STRIDE: usize = 2;

/// One segment's span and tokens (timestamps included).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub start: f64,
    pub end: f64,
    pub tokens: Vec<u32>,
}

/// Splits the tokens decoded from the window at frame `seek` holding `size` frames of
/// audio; returns the segments and the frames to advance.
pub fn split(tokens: &[u32], timestamp_begin: u32, seek: usize, size: usize) -> (Vec<Span>, usize) {
    let offset = (seek * HOP) as f64 / SAMPLE_RATE as f64;
    let is_ts: Vec<bool> = tokens.iter().map(|&t| t >= timestamp_begin).collect();
    let pos = |t: u32| (t - timestamp_begin) as f64;
    let n = tokens.len();
    let single_end = n >= 2 && !is_ts[n - 2] && is_ts[n - 1];
    let consecutive: Vec<usize> =
        (0..n.saturating_sub(1)).filter(|&i| is_ts[i] && is_ts[i + 1]).map(|i| i + 1).collect();
    if consecutive.is_empty() {
        let mut duration = (size * HOP) as f64 / SAMPLE_RATE as f64;
        if let Some(&last) = tokens.iter().rev().find(|&&t| t >= timestamp_begin) {
            if last != timestamp_begin {
                duration = pos(last) * TIME_PRECISION;
            }
        }
        let span = Span { start: offset, end: offset + duration, tokens: tokens.to_vec() };
        return (vec![span], size);
    }
    let mut slices = consecutive;
    if single_end {
        slices.push(n);
    }
    let mut spans = vec![];
    let mut last = 0;
    for &cur in &slices {
        let part = &tokens[last..cur];
        spans.push(Span {
            start: offset + pos(part[0]) * TIME_PRECISION,
            end: offset + pos(part[part.len() - 1]) * TIME_PRECISION,
            tokens: part.to_vec(),
        });
        last = cur;
    }
    let advance = if single_end { size } else { (tokens[last - 1] - timestamp_begin) as usize * INPUT_STRIDE };
    // The rules make the last complete timestamp positive; never stand still regardless.
    (spans, advance.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TB: u32 = 100;

    #[test]
    fn pairs_split_and_seek_to_the_last_complete_timestamp() {
        // <0.00> a b <1.00><1.00> c <2.00><2.00> d  (cut off: d has no closing timestamp)
        let t = [TB, 1, 2, TB + 50, TB + 50, 3, TB + 100, TB + 100, 4];
        let (s, adv) = split(&t, TB, 3000, 3000);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].start, s[0].end), (30.0, 31.0));
        assert_eq!((s[1].start, s[1].end), (31.0, 32.0));
        assert_eq!(adv, 200);
    }

    #[test]
    fn a_single_closing_timestamp_consumes_the_window() {
        let t = [TB, 1, 2, TB + 50, TB + 60, 3, TB + 70];
        let (s, adv) = split(&t, TB, 0, 1234);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].tokens, vec![TB + 60, 3, TB + 70]);
        assert_eq!(adv, 1234);
    }

    #[test]
    fn no_pairs_make_one_segment() {
        let (s, adv) = split(&[1, 2, 3], TB, 100, 500);
        assert_eq!((s.len(), s[0].start, s[0].end, adv), (1, 1.0, 6.0, 500));
        let (s, _) = split(&[TB, 1, 2, TB + 25], TB, 0, 500);
        assert_eq!((s[0].start, s[0].end), (0.0, 0.5));
    }
}
