//! Output: build format-neutral layers from the results and write them atomically.

pub mod layer;
pub mod build;
pub mod summary;
