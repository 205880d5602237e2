//! Scores a `match` result against a simulated scenario's truth.

use std::path::Path;

use crate::error::{Error, Result};

/// Scores of one run against truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub voyage_precision: f64,
    pub voyage_recall: f64,
    pub voyage_f1: f64,
    pub idf1: f64,
}

/// Reads truth.json and a result folder and scores them.
pub fn evaluate_paths(truth: &Path, result_dir: &Path) -> Result<Metrics> {
    let _ = result_dir;
    Err(Error::Usage(format!("{}: evaluate is not implemented yet", truth.display())))
}
