//! Output: build format-neutral layers from the results and write them atomically.

pub mod build;
pub mod geojson;
#[cfg(feature = "gdal")]
pub mod gpkg;
pub mod layer;
pub mod qgis;
pub mod summary;
pub mod write;
