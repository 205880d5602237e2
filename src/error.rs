//! The library's error type. Messages are lowercase and name the file (and feature) at fault.

use std::path::PathBuf;

/// A fatal error: the run cannot go on (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("bad config: {0}")]
    Config(String),
    #[error("{0}")]
    Usage(String),
    #[error("no usable input: {0}")]
    NoInput(String),
    #[error("output {path} exists; pass --overwrite to replace it")]
    OutputExists { path: PathBuf },
    #[error("route: {0}")]
    Route(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn bad_file(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::BadFile {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
