//! Expands input paths into a sorted, de-duplicated list of observation files.
//!
//! Files named on the command line are taken whatever their extension; directories are
//! walked recursively for `.geojson .json .geojsonl .geojsons .ndjson` (case-insensitive).
//! Hidden entries (starting with `.`) inside walked directories are skipped. The result is
//! sorted by path, so the same inputs always give the same order.
//!
//! ```no_run
//! let files = shiplink::ingest::walk::expand(&["data".into()]).unwrap();
//! ```

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Extensions walked in directories.
pub const EXTENSIONS: &[&str] = &["geojson", "json", "geojsonl", "geojsons", "ndjson"];

/// True when a path has one of the [`EXTENSIONS`].
pub fn has_input_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// True when the extension names a GeoJSON text sequence (one feature per line).
pub fn is_sequence(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["geojsonl", "geojsons", "ndjson"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(e))
    })
}

/// Expands files and directories; a missing path is an error.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| Error::io(dir, err)))
        .collect::<Result<_>>()?;
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        // Follows symlinks; a dangling link is skipped rather than fatal.
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            walk(&p, out)?;
        } else if has_input_extension(&p) {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sorted_recursive_filtered() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        for f in [
            "b/c/z.ndjson",
            "b/a.GEOJSON",
            "a.json",
            "notes.txt",
            ".hidden.json",
            "b/y.geojsonl",
        ] {
            std::fs::write(root.join(f), "").unwrap();
        }
        let got = expand(&[
            root.to_path_buf(),
            root.join("notes.txt"),
            root.join("a.json"),
        ])
        .unwrap();
        let rel: Vec<String> = got
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            rel,
            [
                "a.json",
                "b/a.GEOJSON",
                "b/c/z.ndjson",
                "b/y.geojsonl",
                "notes.txt"
            ]
        );
    }

    #[test]
    fn missing_path_is_an_error() {
        let e = expand(&["/no/such/path.geojson".into()]).unwrap_err();
        assert!(e.to_string().contains("/no/such/path.geojson"));
    }

    #[test]
    fn sequence_extensions() {
        assert!(is_sequence(Path::new("a.NDJSON")));
        assert!(is_sequence(Path::new("a.geojsons")));
        assert!(!is_sequence(Path::new("a.json")));
    }
}
