//! When is a cell slower than before? On a shared 2-core machine a whole run can drift by
//! a third from the next, far more than any one run's p90 − median spread shows, so a cell
//! is compared with the median of its last few runs, the noise is the larger of the
//! within-run spread and the spread across those runs, and a slowdown only counts when a
//! re-measurement at the end of the run (the confirmation) is slow as well.
//!
//! Drift that moves a whole browser's run is taken out first: transformers.js, pinned and
//! run in the same browser in the same run, is the control. Every cell's time is divided
//! by the median slowdown of that browser's transformers.js cells against their own
//! references, so a machine that is 25% slower today flags nothing, while our cells
//! slowing against an unchanged control still do.

use crate::db::Cell;
use std::collections::BTreeMap;

/// How many earlier runs of a cell make its reference.
pub const HISTORY: usize = 3;

/// What a cell is compared with: the median of its recent medians, and how much those
/// runs moved (within and across runs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reference {
    pub median_ms: f64,
    pub noise_ms: f64,
}

/// The reference from earlier measurements of one cell, newest last; `None` without any
/// successful one.
pub fn reference(history: &[Cell]) -> Option<Reference> {
    let recent: Vec<&Cell> = history.iter().filter(|c| c.status == "ok" && c.median_ms.is_some()).collect();
    let recent = &recent[recent.len().saturating_sub(HISTORY)..];
    let mut medians: Vec<f64> = recent.iter().filter_map(|c| c.median_ms).collect();
    if medians.is_empty() {
        return None;
    }
    medians.sort_by(f64::total_cmp);
    let n = medians.len();
    let median_ms = if n % 2 == 1 { medians[n / 2] } else { (medians[n / 2 - 1] + medians[n / 2]) / 2.0 };
    let within = recent.iter().filter_map(|c| Some(c.p90_ms? - c.median_ms?)).fold(0.0, f64::max);
    let across = medians[n - 1] - medians[0];
    Some(Reference { median_ms, noise_ms: within.max(across) })
}

/// How this run of a browser moved against earlier runs, measured on the control
/// (transformers.js, pinned): `factor` is the median of its cells' median / reference (at
/// least 1), and `band` how far the control cells strayed from that median (the largest relative
/// deviation): identical code moved that much between runs, so less proves nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drift {
    pub factor: f64,
    pub band: f64,
}

impl Drift {
    pub const NONE: Drift = Drift { factor: 1.0, band: 0.0 };
}

pub fn drift(history: &BTreeMap<String, Vec<Cell>>, cur: &[Cell], browser: &str) -> Drift {
    let mut ratios: Vec<f64> = cur
        .iter()
        .filter(|c| c.browser == browser && c.library == "tjs" && c.status == "ok")
        .filter_map(|c| Some(c.median_ms? / reference(history.get(&c.key())?)?.median_ms))
        .filter(|r| r.is_finite() && *r > 0.0)
        .collect();
    if ratios.is_empty() {
        return Drift::NONE;
    }
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let median = if n % 2 == 1 { ratios[n / 2] } else { (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0 };
    let band = ratios.iter().map(|r| (r / median - 1.0).abs()).fold(0.0, f64::max);
    // Only a slower control is divided out: a faster one is no evidence that our cells,
    // unchanged, have become slow (a control can also speed up on its own, e.g. when a
    // bench page's timing changes).
    Drift { factor: median.max(1.0), band }
}

/// One measurement against the reference, after dividing out the run's drift: slower by
/// more than 10% and more than the control's band, and by more than the noise (the
/// reference's, or this run's own p90 − median spread).
pub fn slower(r: &Reference, median_ms: f64, p90_ms: Option<f64>, d: Drift) -> bool {
    let own = p90_ms.map_or(0.0, |p| (p - median_ms).max(0.0)) / d.factor;
    let m = median_ms / d.factor;
    m > r.median_ms * (1.0 + d.band.max(0.10)) && m - r.median_ms > r.noise_ms.max(own)
}

/// Whether this run's first measurement of the cell should be measured again.
pub fn suspect(history: &[Cell], cur: &Cell, drift: Drift) -> bool {
    match (reference(history), cur.median_ms) {
        (Some(r), Some(m)) if cur.status == "ok" => slower(&r, m, cur.p90_ms, drift),
        _ => false,
    }
}

/// A regression: the measurement is slower than the reference and so is its confirmation.
/// A cell that was never re-measured (the harness found nothing suspect, or an older run)
/// is judged on its one measurement.
pub fn regressed(history: &[Cell], cur: &Cell, drift: Drift) -> bool {
    let Some(r) = reference(history) else { return false };
    suspect(history, cur, drift) && cur.confirm_median_ms.is_none_or(|m| slower(&r, m, None, drift))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(median: f64, p90: f64) -> Cell {
        Cell { status: "ok".into(), median_ms: Some(median), p90_ms: Some(p90), ..Default::default() }
    }

    #[test]
    fn reference_is_the_median_of_the_last_runs_with_their_spread() {
        let h = [cell(500.0, 510.0), cell(100.0, 104.0), cell(130.0, 131.0), cell(110.0, 112.0)];
        let r = reference(&h).unwrap();
        assert_eq!(r.median_ms, 110.0, "the oldest of four runs is out of the window");
        assert_eq!(r.noise_ms, 30.0, "across-run spread 130 − 100 beats the within-run 4");
        assert_eq!(reference(&[Cell { status: "failed".into(), ..Default::default() }]), None);
    }

    #[test]
    fn a_slowdown_counts_when_ten_percent_beyond_noise() {
        let h = [cell(100.0, 105.0)];
        assert!(!regressed(&h, &cell(100.0, 104.0), Drift::NONE), "same speed");
        assert!(
            !regressed(&[cell(100.0, 130.0)], &cell(115.0, 125.0), Drift::NONE),
            "15% slower but within the 30 ms spread"
        );
        assert!(regressed(&[cell(100.0, 104.0)], &cell(120.0, 124.0), Drift::NONE), "20% slower, spread 4 ms");
        let whole_run = Drift { factor: 1.2, band: 0.0 };
        assert!(!regressed(&[cell(100.0, 104.0)], &cell(120.0, 124.0), whole_run), "20% slower, as was the whole run");
        let noisy = Drift { factor: 1.0, band: 0.3 };
        assert!(!regressed(&[cell(100.0, 104.0)], &cell(120.0, 124.0), noisy), "the control itself moved 30%");
        assert!(regressed(&[cell(100.0, 104.0)], &cell(140.0, 144.0), noisy), "40% beyond a 30% band");
        assert!(!regressed(&h, &Cell { status: "failed".into(), ..Default::default() }, Drift::NONE));
        assert!(!regressed(&[], &cell(500.0, 501.0), Drift::NONE), "no history, nothing to regress from");
    }

    #[test]
    fn a_confirmation_that_is_not_slow_clears_the_flag() {
        let h = [cell(100.0, 102.0), cell(104.0, 106.0)];
        let slow = cell(150.0, 152.0);
        assert!(suspect(&h, &slow, Drift::NONE));
        assert!(!regressed(&h, &Cell { confirm_median_ms: Some(103.0), ..slow.clone() }, Drift::NONE), "a transient");
        assert!(regressed(&h, &Cell { confirm_median_ms: Some(148.0), ..slow }, Drift::NONE), "slow twice");
    }

    #[test]
    fn drift_is_the_median_slowdown_of_the_control() {
        let tjs = |dtype: &str, m: f64| Cell {
            browser: "firefox".into(),
            library: "tjs".into(),
            dtype: dtype.into(),
            ..cell(m, m)
        };
        let mut history = BTreeMap::new();
        for (d, m) in [("fp32", 100.0), ("q8", 50.0), ("int4", 10.0)] {
            history.insert(tjs(d, m).key(), vec![tjs(d, m)]);
        }
        let cur = [tjs("fp32", 125.0), tjs("q8", 60.0), tjs("int4", 30.0)];
        let d = drift(&history, &cur, "firefox");
        assert_eq!(d.factor, 1.25, "ratios 1.25, 1.2, 3: the median");
        assert!((d.band - 1.4).abs() < 1e-12, "3 / 1.25 − 1: {}", d.band);
        assert_eq!(drift(&history, &cur, "chromium"), Drift::NONE, "no control cells");
        let faster = [tjs("fp32", 70.0), tjs("q8", 35.0), tjs("int4", 7.0)];
        let d = drift(&history, &faster, "firefox");
        assert_eq!(d.factor, 1.0, "a faster control does not make our unchanged cells slow");
        assert!(d.band < 1e-12, "{}", d.band);
    }
}
