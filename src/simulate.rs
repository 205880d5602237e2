//! Simulated Najin–Dunay scenarios with ground truth.

use std::path::Path;

use crate::error::{Error, Result};

/// Scenario size and randomness.
#[derive(Debug, Clone, PartialEq)]
pub struct SimParams {
    pub seed: u64,
    pub days: u32,
    pub scale: f64,
}

/// Writes observations/, scenes.geojson and truth.json into `out`.
pub fn write_scenario(out: &Path, params: &SimParams) -> Result<()> {
    let _ = params;
    Err(Error::Usage(format!(
        "{}: simulate is not implemented yet",
        out.display()
    )))
}
