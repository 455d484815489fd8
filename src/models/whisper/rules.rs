//! Whisper's greedy decoding rules on one row of logits, as openai/whisper applies them
//! (`SuppressBlank`, `SuppressTokens`, `ApplyTimestampRules`): blank and end suppressed at
//! the first step, the suppressed ids always, and with timestamps on, timestamps in pairs,
//! never decreasing, the first one early enough, and forced whenever their total
//! probability beats every text token's. Log-probabilities are summed in f64.

use super::config::Generation;

/// What one step chose: the token and its log-probability under the filtered logits.
pub struct Pick {
    pub token: u32,
    pub logprob: f64,
}

fn log_sum_exp(x: &[f32]) -> f64 {
    let m = x.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + x.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln()
}

/// The probability of `id` under the unfiltered `logits` (the no-speech probability).
pub fn probability(logits: &[f32], id: u32) -> f64 {
    (logits[id as usize] as f64 - log_sum_exp(logits)).exp()
}

/// Filters `logits` in place for the step after `sampled` (the tokens after the prompt),
/// then picks the largest (the first on ties, as numpy's argmax).
pub fn pick(logits: &mut [f32], sampled: &[u32], g: &Generation, timestamps: bool) -> Pick {
    let ninf = f32::NEG_INFINITY;
    let kill = |ids: &[u32], logits: &mut [f32]| {
        for &i in ids {
            if let Some(x) = logits.get_mut(i as usize) {
                *x = ninf;
            }
        }
    };
    if sampled.is_empty() {
        kill(&g.begin_suppress, logits);
    }
    kill(&g.suppress, logits);
    if timestamps {
        apply_timestamp_rules(logits, sampled, g);
    }
    let mut best = 0;
    for (i, &x) in logits.iter().enumerate() {
        if x > logits[best] {
            best = i;
        }
    }
    Pick { token: best as u32, logprob: logits[best] as f64 - log_sum_exp(logits) }
}

fn apply_timestamp_rules(logits: &mut [f32], sampled: &[u32], g: &Generation) {
    let ninf = f32::NEG_INFINITY;
    let tb = g.timestamp_begin as usize;
    let eot = g.eot as usize;
    logits[g.no_timestamps as usize] = ninf;
    let is_ts = |t: u32| t as usize >= tb;
    let n = sampled.len();
    let last_ts = n >= 1 && is_ts(sampled[n - 1]);
    let penult_ts = n < 2 || is_ts(sampled[n - 2]);
    if last_ts {
        if penult_ts {
            logits[tb..].fill(ninf);
        } else {
            logits[..eot].fill(ninf);
        }
    }
    if let Some(&last) = sampled.iter().rev().find(|&&t| is_ts(t)) {
        // Timestamps never decrease; after text the next one must move on (no empty segment).
        let bound = if last_ts && !penult_ts { last as usize } else { last as usize + 1 };
        let end = bound.min(logits.len());
        logits[tb..end].fill(ninf);
    }
    if sampled.is_empty() {
        logits[..tb].fill(ninf);
        let last_allowed = tb + g.max_initial_timestamp as usize;
        if last_allowed + 1 < logits.len() {
            logits[last_allowed + 1..].fill(ninf);
        }
    }
    let ts = log_sum_exp(&logits[tb..]);
    let text = logits[..tb].iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    if ts > text {
        logits[..tb].fill(ninf);
    }
}
