//! shiplink: link satellite vessel detections into port stays, voyages and vessel tracks.
//!
//! The pipeline, one module per stage (see ARCHITECTURE.md):
//! [`ingest`] → [`index`] → [`stays`] → [`linking`] → [`routing`] → [`output`];
//! [`simulate`] and [`evaluate`] make and score scenarios with ground truth.

pub mod config;
pub mod error;
pub mod evaluate;
pub mod evidence;
#[cfg(feature = "gdal")]
pub mod gdal_io;
pub mod geodesy;
pub mod index;
pub mod ingest;
pub mod linking;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod ports;
pub mod query;
pub mod routing;
pub mod simulate;
pub mod stays;

pub use error::{Error, Result};
