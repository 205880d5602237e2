//! Output: build format-neutral layers from the results and write them atomically.

pub mod geojson;
#[cfg(feature = "gdal")]
pub mod gpkg;
pub mod layer;
pub mod build;
pub mod summary;
pub mod qgis;
pub mod write;
