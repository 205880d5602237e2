//! Reliability (calibration) table: do voyages given confidence p turn out correct a
//! fraction p of the time?
//!
//! Confidences are split into `bins` equal-width bins over [0, 1] (the last bin includes
//! 1.0; values outside are clamped, NaN is skipped).
//!
//! ```
//! use shiplink::evaluate::calibration::calibration_table;
//! let t = calibration_table(&[(0.9, true), (0.8, false), (0.1, false)], 2);
//! assert_eq!(t[1].count, 2);
//! assert_eq!(t[1].accuracy, 0.5);
//! ```

use serde::{Deserialize, Serialize};

/// One bin of the table; `mean_confidence` and `accuracy` are 0 when `count` is 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
    pub mean_confidence: f64,
    pub accuracy: f64,
}

/// The calibration table of `(confidence, correct)` outcomes (at least one bin).
pub fn calibration_table(outcomes: &[(f64, bool)], bins: usize) -> Vec<CalibrationBin> {
    let bins = bins.max(1);
    let mut sum_conf = vec![0.0; bins];
    let mut hits = vec![0usize; bins];
    let mut count = vec![0usize; bins];
    for &(c, ok) in outcomes {
        if c.is_nan() {
            continue;
        }
        let c = c.clamp(0.0, 1.0);
        let k = ((c * bins as f64) as usize).min(bins - 1);
        sum_conf[k] += c;
        count[k] += 1;
        hits[k] += usize::from(ok);
    }
    (0..bins)
        .map(|k| {
            let n = count[k];
            CalibrationBin {
                lo: k as f64 / bins as f64,
                hi: (k + 1) as f64 / bins as f64,
                count: n,
                mean_confidence: if n > 0 { sum_conf[k] / n as f64 } else { 0.0 },
                accuracy: if n > 0 {
                    hits[k] as f64 / n as f64
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// Expected calibration error: the count-weighted mean |accuracy - confidence| over bins.
pub fn expected_calibration_error(table: &[CalibrationBin]) -> f64 {
    let total: usize = table.iter().map(|b| b.count).sum();
    if total == 0 {
        return 0.0;
    }
    table
        .iter()
        .map(|b| b.count as f64 * (b.accuracy - b.mean_confidence).abs())
        .sum::<f64>()
        / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_zero_bins() {
        let t = calibration_table(&[], 0);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].count, 0);
        assert_eq!(expected_calibration_error(&t), 0.0);
    }

    #[test]
    fn edges_and_clamping() {
        let t = calibration_table(
            &[
                (1.0, true),
                (0.0, false),
                (1.7, true),
                (-1.0, false),
                (f64::NAN, true),
            ],
            10,
        );
        assert_eq!(t.len(), 10);
        assert_eq!(t[9].count, 2, "1.0 and clamped 1.7 fall in the last bin");
        assert_eq!(t[0].count, 2);
        assert_eq!(t[9].accuracy, 1.0);
        assert_eq!(t[0].accuracy, 0.0);
        assert!((t[3].lo - 0.3).abs() < 1e-12 && (t[3].hi - 0.4).abs() < 1e-12);
        assert_eq!(
            expected_calibration_error(&t),
            0.0,
            "perfectly calibrated extremes"
        );
    }

    #[test]
    fn overconfident_model_has_error() {
        let t = calibration_table(
            &[(0.95, false), (0.95, false), (0.95, true), (0.95, false)],
            5,
        );
        assert!((t[4].mean_confidence - 0.95).abs() < 1e-12);
        assert_eq!(t[4].accuracy, 0.25);
        assert!((expected_calibration_error(&t) - 0.7).abs() < 1e-12);
    }
}
