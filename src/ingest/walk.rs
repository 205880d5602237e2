//! Expands input paths into a sorted, de-duplicated list of observation files.
//!
//! Files named on the command line are taken whatever their extension; directories are
//! walked recursively for `.geojson .json .geojsonl .geojsons .ndjson` (case-insensitive)
//! and, built with the `gdal` feature, for `.gpkg .shp .fgb .kml .gml .csv` too (a
//! Shapefile's `.dbf .shx .prj` are parts of its `.shp`, not inputs). Hidden entries (starting with `.`) inside walked directories are skipped. The result is
//! sorted by path, so the same inputs always give the same order.
//!
//! ```no_run
//! let files = shiplink::ingest::walk::expand(&["data".into()]).unwrap();
//! ```

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Extensions walked in directories.
pub const EXTENSIONS: &[&str] = &["geojson", "json", "geojsonl", "geojsons", "ndjson"];

/// Extensions of the GDAL formats walked in directories (feature `gdal`), with the format's
/// name.
pub const GDAL_EXTENSIONS: &[(&str, &str)] = &[
    ("gpkg", "GeoPackage"),
    ("shp", "Shapefile"),
    ("fgb", "FlatGeobuf"),
    ("kml", "KML"),
    ("gml", "GML"),
    ("csv", "CSV"),
];

fn extension_in(p: &Path, list: impl IntoIterator<Item = &'static str>) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| list.into_iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// True when a path has one of the (GeoJSON) [`EXTENSIONS`].
pub fn has_input_extension(p: &Path) -> bool {
    extension_in(p, EXTENSIONS.iter().copied())
}

/// True when a file is read as GeoJSON: one of the [`EXTENSIONS`], or no extension at all
/// (`/dev/stdin`, a process substitution). Any other file is for GDAL.
pub fn is_geojson(p: &Path) -> bool {
    p.extension().is_none() || has_input_extension(p)
}

/// True when a directory walk picks the file up: GeoJSON, and the [`GDAL_EXTENSIONS`] when
/// built with the `gdal` feature.
pub fn is_walked(p: &Path) -> bool {
    has_input_extension(p)
        || (cfg!(feature = "gdal") && extension_in(p, GDAL_EXTENSIONS.iter().map(|(e, _)| *e)))
}

/// What a directory walk takes in this build, for `--help`: "Observation files or
/// directories (walked for .geojson … .ndjson[, and .gpkg … .csv through GDAL])".
pub fn walked_help() -> String {
    fn dotted<'a>(exts: impl Iterator<Item = &'a str>) -> String {
        exts.map(|e| format!(".{e}")).collect::<Vec<_>>().join(" ")
    }
    let mut help = format!(
        "Observation files or directories (walked for {}",
        dotted(EXTENSIONS.iter().copied())
    );
    if cfg!(feature = "gdal") {
        help += &format!(
            ", and {} through GDAL",
            dotted(GDAL_EXTENSIONS.iter().map(|(e, _)| *e))
        );
    }
    help + ")"
}

/// The format a non-GeoJSON file is taken to be, for messages: `GeoPackage (.gpkg)`, or
/// `.xyz files` for an extension GDAL formats are not known by here.
pub fn format_name(p: &Path) -> String {
    let ext = p
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    match GDAL_EXTENSIONS
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(&ext))
    {
        Some((_, name)) => format!("{name} (.{ext})"),
        None => format!(".{ext} files"),
    }
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
        } else if is_walked(&p) {
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
    fn gdal_formats_are_walked_only_with_the_feature() {
        let d = tempfile::tempdir().unwrap();
        let files = [
            "a.gpkg",
            "b.SHP",
            "b.dbf",
            "b.shx",
            "b.prj",
            "c.fgb",
            "d.kml",
            "e.gml",
            "e.xsd",
            "f.csv",
            "g.geojson",
        ];
        for f in files {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let got: Vec<String> = expand(&[d.path().to_path_buf()])
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        if cfg!(feature = "gdal") {
            assert_eq!(
                got,
                [
                    "a.gpkg",
                    "b.SHP",
                    "c.fgb",
                    "d.kml",
                    "e.gml",
                    "f.csv",
                    "g.geojson"
                ]
            );
        } else {
            assert_eq!(got, ["g.geojson"]);
        }
    }

    #[test]
    fn format_names_and_geojson_files() {
        assert_eq!(format_name(Path::new("x/a.GPKG")), "GeoPackage (.GPKG)");
        assert_eq!(format_name(Path::new("a.txt")), ".txt files");
        assert!(is_geojson(Path::new("/dev/stdin")));
        assert!(is_geojson(Path::new("a.ndjson")));
        assert!(!is_geojson(Path::new("a.shp")));
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
