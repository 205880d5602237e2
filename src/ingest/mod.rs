//! Ingest: read observation files (GeoJSON FeatureCollection or GeoJSONSeq), validate every
//! feature, and hand on typed [`Observation`]s plus the [`Rejected`] ones with reasons.

use std::path::{Path, PathBuf};

use crate::config::IngestParams;
use crate::error::{Error, Result};
use crate::model::{Observation, Rejected, Scene, Time};

/// What was read from one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    /// Features read (accepted + rejected).
    pub features: usize,
    pub accepted: usize,
    pub rejected: usize,
}

/// Everything ingest hands on.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    /// Sorted by (observed_at, id); ids are unique.
    pub observations: Vec<Observation>,
    /// Sorted by (source_file, feature_index).
    pub rejected: Vec<Rejected>,
    /// Sorted by path.
    pub files: Vec<InputFile>,
}

/// Reads every file (directories are walked for .geojson .json .geojsonl .geojsons .ndjson).
/// `now` is the reference for rejecting future times. A missing path is fatal; a bad file
/// or feature is rejected, not fatal.
pub fn ingest(paths: &[PathBuf], params: &IngestParams, now: Time) -> Result<Ingested> {
    let _ = (paths, params, now);
    Err(Error::Usage("ingest is not implemented yet".into()))
}

/// Reads a scenes file (image footprints); bad scene features are rejected with reasons.
pub fn read_scenes(path: &Path) -> Result<(Vec<Scene>, Vec<Rejected>)> {
    Err(Error::bad_file(path, "scenes are not implemented yet"))
}
