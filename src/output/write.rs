//! Writes a complete output directory atomically: all files land in a fresh sibling temp
//! directory (fsynced), which then replaces `DIR`. On Linux the two directories are exchanged
//! by one atomic rename (`renameat2` with `RENAME_EXCHANGE`); where that is not supported
//! (another OS, or a file system without it) `DIR` is first renamed aside to `.DIR.old-<pid>`,
//! then the temp directory renamed to `DIR`.
//!
//! A run killed at any moment leaves `DIR` as the previous complete output or the new one,
//! never with a truncated file: readers see only renamed, fsynced directories. (With the
//! two-rename fallback, `DIR` is absent between the renames; the next run puts the previous
//! output back before it starts.) Temp directories of earlier killed runs
//! (`.DIR.tmp-<pid>`, `.DIR.old-<pid>`) are removed on the next run.
//!
//! Layout of `DIR` (see [`write_output`]): one `NAME.geojson` + `NAME.qml` per layer (or all
//! layers in `shiplink.gpkg` with their styles in its `layer_styles` table), `land.geojson`
//! (+ `land.qml`), the caller's extra files (summary.csv, summary.json, run.json) and the QGIS
//! project `shiplink.qgs`.
//!
//! Layers can be streamed ([`OutputWriter`]): each is built while it is written and dropped
//! before the next, so a run's output never holds more than one layer (GeoJSON: one feature,
//! and up to four 1 MB buffers of text on their way to the file, see `write_behind`).
//!
//! ```no_run
//! use shiplink::output::write::{write_output, OutputFormat};
//! let names = write_output(std::path::Path::new("out"), false, OutputFormat::Geojson, &[], &[], None)?;
//! assert!(names.contains(&"shiplink.qgs".to_string()));
//! # Ok::<(), shiplink::Error>(())
//! ```

use std::borrow::Borrow;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::geojson::FeatureCollectionWriter;
use super::layer::{Feature, Layer};
use super::qgis::{project_qgs, qml_for, LayerSummary, LAND_LAYER};
use crate::error::{Error, Result};

/// The layer file format of an output directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One GeoJSON file per layer, a `.qml` style beside each.
    Geojson,
    /// All layers in `shiplink.gpkg`, styles in its `layer_styles` table (feature `gdal`).
    Gpkg,
}

/// The project file written with every run.
pub const PROJECT_FILE: &str = "shiplink.qgs";

/// Fails fast (before any work) if `dir` cannot be written: it exists, is non-empty and
/// `overwrite` is off ([`Error::OutputExists`]); it exists and is not a directory; or its
/// parent is missing or not writable (an error naming the parent).
///
/// If `dir` is absent because a run was killed between the two renames of the fallback swap
/// (see the module docs), the previous output is first put back as `dir`.
pub fn check_output_dir(dir: &Path, overwrite: bool) -> Result<()> {
    restore_interrupted(dir)?;
    match fs::symlink_metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(Error::bad_file(dir, "exists and is not a directory"));
            }
            let non_empty = fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .next()
                .is_some();
            if non_empty && !overwrite {
                return Err(Error::OutputExists {
                    path: dir.to_path_buf(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(dir, e)),
    }
    // Probe the parent: the temp directory must be creatable there.
    let (parent, name) = split_dir(dir)?;
    let probe = parent.join(format!(".{name}.probe-{}", std::process::id()));
    fs::create_dir(&probe).map_err(|e| Error::io(&parent, e))?;
    fs::remove_dir(&probe).map_err(|e| Error::io(&probe, e))?;
    Ok(())
}

/// Writes all outputs into `dir` atomically and returns the file names written (sorted).
///
/// `layers` become `NAME.geojson` + `NAME.qml` each (or `shiplink.gpkg` for
/// [`OutputFormat::Gpkg`]); `files` are written verbatim (name, bytes); `land_geojson`, if
/// given, becomes `land.geojson` + `land.qml`; `shiplink.qgs` is always written. To write
/// layers too large to hold at once, use [`OutputWriter`].
pub fn write_output(
    dir: &Path,
    overwrite: bool,
    format: OutputFormat,
    layers: &[Layer],
    files: &[(String, Vec<u8>)],
    land_geojson: Option<&[u8]>,
) -> Result<Vec<String>> {
    let mut w = OutputWriter::create(dir, overwrite, format)?;
    w.write_whole_layers(layers)?;
    for (file, bytes) in files {
        w.write_file(file, bytes)?;
    }
    w.finish(land_geojson)
}

/// A layer to write: its schema (name, geometry kind and fields; its `features` come
/// first, usually none) and its features, produced one at a time.
pub type LayerStream<'a> = (Layer, Box<dyn Iterator<Item = Feature> + 'a>);

/// An output directory being written into a fresh sibling temp directory that
/// [`OutputWriter::finish`] moves into place (the atomic write of [`write_output`]).
/// Layers are written one at a time ([`OutputWriter::write_layers`]): GeoJSON features
/// stream straight to the file and a GeoPackage table is written from one layer at a time,
/// so only one layer (for GeoJSON, one feature) is in memory; the project needs only each
/// layer's [`LayerSummary`]. Dropped unfinished (an error on the way), it removes its temp
/// directory and leaves `DIR` as it was.
///
/// ```no_run
/// use shiplink::output::layer::{GeomKind, Layer};
/// use shiplink::output::write::{LayerStream, OutputFormat, OutputWriter};
/// let mut w = OutputWriter::create(std::path::Path::new("out"), true, OutputFormat::Geojson)?;
/// let stays: LayerStream = (Layer::new("stays", GeomKind::Point, vec![]), Box::new(std::iter::empty()));
/// w.write_layers(vec![stays])?;
/// assert_eq!(w.layers()[0].features, 0);
/// w.write_file("run.json", b"{}")?;
/// let names = w.finish(None)?;
/// assert!(names.contains(&"stays.geojson".to_string()));
/// # Ok::<(), shiplink::Error>(())
/// ```
pub struct OutputWriter {
    dir: PathBuf,
    parent: PathBuf,
    name: String,
    tmp: PathBuf,
    format: OutputFormat,
    written: Vec<String>,
    layers: Vec<LayerSummary>,
    /// Set once the temp directory has been moved into place.
    done: bool,
}

impl OutputWriter {
    /// Checks `dir` ([`check_output_dir`]), removes leftovers of dead runs and creates the
    /// temp directory.
    pub fn create(dir: &Path, overwrite: bool, format: OutputFormat) -> Result<OutputWriter> {
        check_output_dir(dir, overwrite)?;
        let (parent, name) = split_dir(dir)?;
        remove_stale(&parent, &name);
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        fs::create_dir(&tmp).map_err(|e| Error::io(&parent, e))?;
        Ok(OutputWriter {
            dir: dir.to_path_buf(),
            parent,
            name,
            tmp,
            format,
            written: Vec::new(),
            layers: Vec::new(),
            done: false,
        })
    }

    /// Writes the layers in order, each built while it is written and dropped before the
    /// next: `NAME.geojson` + `NAME.qml` each, or all in `shiplink.gpkg` (so for
    /// [`OutputFormat::Gpkg`] call this once).
    pub fn write_layers<'a>(
        &mut self,
        layers: impl IntoIterator<Item = LayerStream<'a>>,
    ) -> Result<()> {
        match self.format {
            OutputFormat::Geojson => {
                for (mut schema, features) in layers {
                    let own = std::mem::take(&mut schema.features);
                    self.write_geojson_layer(&schema, own.into_iter().chain(features))?;
                }
                Ok(())
            }
            OutputFormat::Gpkg => {
                let mut summaries = Vec::new();
                let whole = layers.into_iter().map(|(mut schema, features)| {
                    schema.features.extend(features);
                    summaries.push(LayerSummary::of(&schema));
                    schema
                });
                self.write_gpkg(whole)?;
                self.layers.append(&mut summaries);
                Ok(())
            }
        }
    }

    /// [`OutputWriter::write_layers`] for layers already built.
    pub fn write_whole_layers(&mut self, layers: &[Layer]) -> Result<()> {
        match self.format {
            OutputFormat::Geojson => {
                for l in layers {
                    self.write_geojson_layer(l, &l.features)?;
                }
                Ok(())
            }
            OutputFormat::Gpkg => {
                self.write_gpkg(layers)?;
                self.layers.extend(layers.iter().map(LayerSummary::of));
                Ok(())
            }
        }
    }

    fn write_geojson_layer<F: Borrow<Feature>>(
        &mut self,
        schema: &Layer,
        features: impl IntoIterator<Item = F>,
    ) -> Result<()> {
        let file = format!("{}.geojson", schema.name);
        check_file_name(&file)?;
        let path = self.tmp.join(&file);
        let mut summary = LayerSummary::new(schema);
        let write = |summary: &mut LayerSummary| -> std::io::Result<()> {
            let file = fs::File::create(&path)?;
            let file = write_behind(file, |out| {
                let mut fc = FeatureCollectionWriter::new(out, &schema.name)?;
                for f in features {
                    let f = f.borrow();
                    summary.add(f);
                    fc.feature(schema, f)?;
                }
                fc.finish().map(|_| ())
            })?;
            file.sync_all()
        };
        write(&mut summary).map_err(|e| Error::io(&path, e))?;
        self.written.push(file);
        self.layers.push(summary);
        if let Some(qml) = qml_for(&schema.name) {
            self.write_file(&format!("{}.qml", schema.name), qml.as_bytes())?;
        }
        Ok(())
    }

    /// Writes `shiplink.gpkg` (fsynced) from the layers, taken one at a time.
    fn write_gpkg<L: Borrow<Layer>>(&mut self, layers: impl IntoIterator<Item = L>) -> Result<()> {
        let path = self.tmp.join(super::qgis::GPKG_FILE);
        write_gpkg_file(&path, layers)?;
        sync_file(&path)?;
        self.written.push(super::qgis::GPKG_FILE.to_string());
        Ok(())
    }

    /// Writes one file verbatim (fsynced); `file` is a plain name.
    pub fn write_file(&mut self, file: &str, bytes: &[u8]) -> Result<()> {
        check_file_name(file)?;
        write_synced(&self.tmp.join(file), bytes)?;
        self.written.push(file.to_string());
        Ok(())
    }

    /// The summaries of the layers written so far, in order.
    pub fn layers(&self) -> &[LayerSummary] {
        &self.layers
    }

    /// Writes `land.geojson` + `land.qml` if `land_geojson` is given and the project
    /// `shiplink.qgs`, then moves the directory into place. Returns the file names written
    /// (sorted).
    pub fn finish(mut self, land_geojson: Option<&[u8]>) -> Result<Vec<String>> {
        if self.format == OutputFormat::Gpkg
            && !self.written.iter().any(|f| f == super::qgis::GPKG_FILE)
        {
            // No layers: still an (empty) GeoPackage for the project to point at.
            self.write_gpkg(std::iter::empty::<Layer>())?;
        }
        if let Some(land) = land_geojson {
            self.write_file(&format!("{LAND_LAYER}.geojson"), land)?;
            if let Some(qml) = qml_for(LAND_LAYER) {
                self.write_file(&format!("{LAND_LAYER}.qml"), qml.as_bytes())?;
            }
        }
        let project = project_qgs(self.format, &self.layers, land_geojson.is_some());
        self.write_file(PROJECT_FILE, project.as_bytes())?;
        sync_dir(&self.tmp)?;
        swap_into_place(&self.tmp, &self.dir, &self.parent, &self.name)?;
        self.done = true;
        let mut written = std::mem::take(&mut self.written);
        written.sort();
        Ok(written)
    }
}

impl Drop for OutputWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(feature = "gdal")]
fn write_gpkg_file<L: Borrow<Layer>>(
    path: &Path,
    layers: impl IntoIterator<Item = L>,
) -> Result<()> {
    // The styles of every layer we style; the GeoPackage stores those of its layers.
    let styles: Vec<(String, String)> = super::build::LAYER_NAMES
        .iter()
        .chain(&[LAND_LAYER])
        .filter_map(|n| qml_for(n).map(|q| (n.to_string(), q)))
        .collect();
    super::gpkg::write_gpkg(path, layers, &styles)
}

#[cfg(not(feature = "gdal"))]
fn write_gpkg_file<L: Borrow<Layer>>(
    path: &Path,
    _layers: impl IntoIterator<Item = L>,
) -> Result<()> {
    Err(Error::Usage(format!(
        "cannot write {}: this shiplink was built without GeoPackage support (cargo feature `gdal`)",
        path.display()
    )))
}

/// A plain file name: not empty, no directory part, not hidden.
fn check_file_name(file: &str) -> Result<()> {
    if file.contains(['/', '\\']) || file.starts_with('.') || file.is_empty() {
        return Err(Error::Usage(format!("bad output file name {file:?}")));
    }
    Ok(())
}

/// Moves the finished `tmp` to `dir`, replacing what was there: by one atomic exchange
/// where the OS and file system allow it, else by two renames.
fn swap_into_place(tmp: &Path, dir: &Path, parent: &Path, name: &str) -> Result<()> {
    if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) && exchange(tmp, dir).is_ok() {
        // `tmp` now holds the previous output; a kill from here on leaves the new output
        // in place and `tmp` for the next run to remove.
        sync_dir(parent)?;
        return fs::remove_dir_all(tmp).map_err(|e| Error::io(tmp, e));
    }
    swap_by_renames(tmp, dir, parent, name)
}

/// The fallback of [`swap_into_place`]: `dir` is renamed aside to `.NAME.old-<pid>`, `tmp`
/// to `dir`, then the old one removed. A kill between the renames leaves `dir` absent and
/// the old output aside, which [`restore_interrupted`] puts back.
fn swap_by_renames(tmp: &Path, dir: &Path, parent: &Path, name: &str) -> Result<()> {
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let had_old = match fs::rename(dir, &old) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io(dir, e)),
    };
    if let Err(e) = fs::rename(tmp, dir) {
        if had_old {
            let _ = fs::rename(&old, dir);
        }
        return Err(Error::io(dir, e));
    }
    sync_dir(parent)?;
    if had_old {
        fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(())
}

/// Atomically exchanges two existing directories (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

/// No atomic exchange here: the caller falls back to two renames.
#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// If `dir` is missing but a dead run left `.NAME.old-<pid>` (it was killed between the two
/// renames of the fallback swap), renames that previous output back to `dir` (the most
/// recently modified, should there be several).
fn restore_interrupted(dir: &Path) -> Result<()> {
    if fs::symlink_metadata(dir).is_ok() {
        return Ok(());
    }
    let Ok((parent, name)) = split_dir(dir) else {
        return Ok(()); // check_output_dir reports a missing parent
    };
    let newest = dead_leftovers(&parent, &name, &["old-"])
        .into_iter()
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_dir())?;
            Some((meta.modified().unwrap_or(std::time::UNIX_EPOCH), e.path()))
        })
        .max_by_key(|(modified, _)| *modified);
    if let Some((_, old)) = newest {
        fs::rename(&old, dir).map_err(|e| Error::io(dir, e))?;
        sync_dir(&parent)?;
    }
    Ok(())
}

/// Removes `.NAME.tmp-*` / `.NAME.old-*` / `.NAME.probe-*` left by runs that are no longer alive.
fn remove_stale(parent: &Path, name: &str) {
    for entry in dead_leftovers(parent, name, &["tmp-", "old-", "probe-"]) {
        let _ = fs::remove_dir_all(entry.path());
    }
}

/// The entries `.NAME.<kind><pid>` of `parent`, for each of `kinds`, whose process is
/// neither this one nor alive.
fn dead_leftovers(parent: &Path, name: &str, kinds: &[&str]) -> Vec<fs::DirEntry> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let prefix = format!(".{name}.");
    let me = std::process::id();
    entries
        .flatten()
        .filter(|entry| {
            let file_name = entry.file_name();
            let pid = file_name
                .to_str()
                .and_then(|f| f.strip_prefix(&prefix))
                .and_then(|rest| kinds.iter().find_map(|k| rest.strip_prefix(k)))
                .and_then(|p| p.parse::<u32>().ok());
            pid.is_some_and(|pid| pid != me && !process_alive(pid))
        })
        .collect()
}

/// Whether a process with this id runs (Linux: /proc; elsewhere assume not).
fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The parent directory (`.` for a bare name) and the final name of `dir`.
fn split_dir(dir: &Path) -> Result<(PathBuf, String)> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Usage(format!("bad output directory {}", dir.display())))?
        .to_string();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(Error::io(
            &parent,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
        ));
    }
    Ok((parent, name))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

fn sync_file(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

fn sync_dir(path: &Path) -> Result<()> {
    // Directories can be opened and fsynced on Unix; elsewhere this is best effort.
    match fs::File::open(path).and_then(|f| f.sync_all()) {
        Ok(()) => Ok(()),
        Err(e) if cfg!(unix) => Err(Error::io(path, e)),
        Err(_) => Ok(()),
    }
}

/// The writer [`write_behind`] fills.
struct Sender {
    buf: Vec<u8>,
    to: std::sync::mpsc::SyncSender<Vec<u8>>,
    back: std::sync::mpsc::Receiver<Vec<u8>>,
}
impl Sender {
    fn send(&mut self) -> std::io::Result<()> {
        let empty = self
            .back
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(WRITE_BEHIND_BUF));
        let full = std::mem::replace(&mut self.buf, empty);
        self.to
            .send(full)
            .map_err(|_| std::io::Error::other("the writing thread stopped"))
    }
}
impl std::io::Write for Sender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= WRITE_BEHIND_BUF {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Size of a buffer [`write_behind`] hands to its writing thread.
const WRITE_BEHIND_BUF: usize = 1 << 20;

/// Runs `fill` with a writer whose full buffers another thread writes to `file`, so that
/// building a large layer's text overlaps the writing of what is built (at a million
/// detections, the write calls were half of the layer stage). Returns the file once all is
/// written; the first error of either side otherwise.
fn write_behind(
    mut file: fs::File,
    fill: impl FnOnce(&mut Sender) -> std::io::Result<()>,
) -> std::io::Result<fs::File> {
    use std::sync::mpsc;
    let (to, from) = mpsc::sync_channel::<Vec<u8>>(2);
    let (give_back, back) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> std::io::Result<fs::File> {
            for mut buf in from {
                file.write_all(&buf)?;
                buf.clear();
                give_back.send(buf).ok();
            }
            Ok(file)
        });
        let mut sender = Sender {
            buf: Vec::with_capacity(WRITE_BEHIND_BUF),
            to,
            back,
        };
        let filled = fill(&mut sender).and_then(|()| {
            if sender.buf.is_empty() {
                Ok(())
            } else {
                sender.send()
            }
        });
        drop(sender); // ends the writer's loop
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the writing thread panicked")));
        // The writer's own error is the cause of a failed send: report it first.
        let file = written?;
        filled.map(|()| file)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::layer::{Feature, Field, FieldKind, GeomKind, Value};

    /// What `fill` writes reaches the file whole and in order, across many buffers and
    /// writes of every size; an error of `fill` is returned.
    #[test]
    fn write_behind_writes_everything_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        let mut want = Vec::new();
        let file = write_behind(fs::File::create(&path).unwrap(), |out| {
            for i in 0..40_000u32 {
                let chunk = i.to_string().repeat((i % 97) as usize);
                want.extend_from_slice(chunk.as_bytes());
                out.write_all(chunk.as_bytes())?;
            }
            Ok(())
        })
        .unwrap();
        drop(file);
        assert!(want.len() > 5 * WRITE_BEHIND_BUF, "{}", want.len());
        assert!(fs::read(&path).unwrap() == want);

        let failed = write_behind(fs::File::create(&path).unwrap(), |out| {
            out.write_all(&[b'x'; 3 * WRITE_BEHIND_BUF])?;
            Err(std::io::Error::other("no more"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "no more");
    }

    fn layer() -> Layer {
        let mut l = Layer::new(
            "stays",
            GeomKind::Point,
            vec![Field::new("observation_count", FieldKind::Int)],
        );
        l.features.push(Feature {
            id: "s1".into(),
            geometry: Some(geo::Geometry::Point(geo::Point::new(130.3, 42.236))),
            values: vec![Value::Int(3)],
            extra: vec![],
        });
        l
    }

    fn siblings(parent: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(parent)
            .expect("read")
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(String::from))
            .collect();
        v.sort();
        v
    }

    /// Every file of two output directories, (name, bytes), sorted.
    fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
        siblings(dir)
            .into_iter()
            .map(|n| {
                let bytes = fs::read(dir.join(&n)).expect("read");
                (n, bytes)
            })
            .collect()
    }

    /// What [`contents`] gives for a folder holding one file.
    fn only(file: &str, text: &str) -> Vec<(String, Vec<u8>)> {
        vec![(file.to_string(), text.as_bytes().to_vec())]
    }

    /// A pid no process can have (above Linux's largest `pid_max`, 2^22).
    const DEAD_PID: u32 = 4_000_000_000;

    fn dir_with(path: &Path, file: &str, text: &str) {
        fs::create_dir(path).expect("mkdir");
        fs::write(path.join(file), text).expect("write");
    }

    #[test]
    fn swap_replaces_the_old_output_and_leaves_nothing_aside() {
        let root = tempfile::tempdir().expect("tempdir");
        let (dir, tmp) = (root.path().join("out"), root.path().join(".out.tmp-1"));
        dir_with(&dir, "a.txt", "old");
        dir_with(&tmp, "b.txt", "new");
        swap_into_place(&tmp, &dir, root.path(), "out").expect("swap");
        assert_eq!(siblings(root.path()), ["out"]);
        assert_eq!(contents(&dir), only("b.txt", "new"));
        // The fallback does the same.
        dir_with(&tmp, "c.txt", "newer");
        swap_by_renames(&tmp, &dir, root.path(), "out").expect("swap by renames");
        assert_eq!(siblings(root.path()), ["out"]);
        assert_eq!(contents(&dir), only("c.txt", "newer"));
    }

    #[test]
    fn exchange_swaps_two_directories_or_touches_neither() {
        let root = tempfile::tempdir().expect("tempdir");
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        dir_with(&a, "x.txt", "in a");
        dir_with(&b, "y.txt", "in b");
        match exchange(&a, &b) {
            Ok(()) => {
                assert_eq!(contents(&a), only("y.txt", "in b"));
                assert_eq!(contents(&b), only("x.txt", "in a"));
            }
            Err(e) => {
                eprintln!("no atomic exchange here ({e}); the two-rename fallback is used");
                assert_eq!(contents(&a), only("x.txt", "in a"));
                assert_eq!(contents(&b), only("y.txt", "in b"));
            }
        }
    }

    #[test]
    fn output_left_aside_by_a_killed_run_is_put_back() {
        let root = tempfile::tempdir().expect("tempdir");
        let out = root.path().join("out");
        // A run killed between the fallback's two renames: no `out`, the previous output
        // aside, the new one complete in its temp folder.
        dir_with(
            &root.path().join(format!(".out.old-{DEAD_PID}")),
            "a.txt",
            "previous",
        );
        dir_with(
            &root.path().join(format!(".out.tmp-{DEAD_PID}")),
            "a.txt",
            "unfinished run",
        );
        // Without --overwrite the restored output is not overwritten.
        let err = check_output_dir(&out, false).expect_err("restored output exists");
        assert!(matches!(err, Error::OutputExists { .. }), "{err}");
        assert_eq!(contents(&out), only("a.txt", "previous"));
        // With it, the next run replaces it and clears the dead run's temp folder.
        write_output(&out, true, OutputFormat::Geojson, &[layer()], &[], None).expect("write");
        assert_eq!(siblings(root.path()), ["out"]);
        assert!(out.join("stays.geojson").exists());
        // An `out` that exists is never replaced by a leftover.
        dir_with(
            &root.path().join(format!(".out.old-{DEAD_PID}")),
            "a.txt",
            "older",
        );
        check_output_dir(&out, true).expect("check");
        assert!(out.join("stays.geojson").exists());
        assert!(!out.join("a.txt").exists());
    }

    #[test]
    fn streamed_layers_write_the_same_bytes_as_whole_layers() {
        let root = tempfile::tempdir().expect("tempdir");
        let mut second = layer();
        second.name = "tracks".into();
        second.features[0].id = "s2".into();
        second.features[0].values = vec![Value::Time(1_709_251_200)];
        let empty = Layer::new("voyages", GeomKind::LineString, vec![]);
        let layers = vec![layer(), second, empty];
        let files = vec![("run.json".to_string(), b"{}".to_vec())];

        let whole = root.path().join("whole");
        write_output(
            &whole,
            false,
            OutputFormat::Geojson,
            &layers,
            &files,
            Some(b"{}"),
        )
        .expect("whole");

        let streamed = root.path().join("streamed");
        let mut w = OutputWriter::create(&streamed, false, OutputFormat::Geojson).expect("create");
        let streams: Vec<LayerStream> = layers
            .iter()
            .map(|l| {
                let schema = Layer::new(&l.name, l.geom_kind, l.fields.clone());
                let features: Box<dyn Iterator<Item = Feature>> =
                    Box::new(l.features.clone().into_iter());
                (schema, features)
            })
            .collect();
        w.write_layers(streams).expect("layers");
        assert_eq!(
            w.layers().iter().map(|l| l.features).collect::<Vec<_>>(),
            [1, 1, 0]
        );
        w.write_file("run.json", b"{}").expect("file");
        w.finish(Some(b"{}")).expect("finish");

        let (a, b) = (contents(&whole), contents(&streamed));
        // 3 layers and their styles, land and its style, run.json, the project.
        assert_eq!(a.len(), 10);
        assert_eq!(a, b);
    }

    #[test]
    fn a_failed_streamed_write_leaves_nothing() {
        let root = tempfile::tempdir().expect("tempdir");
        let out = root.path().join("out");
        let mut w = OutputWriter::create(&out, false, OutputFormat::Geojson).expect("create");
        w.write_layers(vec![(
            layer(),
            Box::new(std::iter::empty()) as Box<dyn Iterator<Item = Feature>>,
        )])
        .expect("layer");
        assert!(w.write_file("../evil", b"x").is_err());
        drop(w);
        assert!(siblings(root.path()).is_empty());
    }

    #[test]
    fn writes_fresh_dir_and_refuses_to_overwrite() {
        let root = tempfile::tempdir().expect("tempdir");
        let out = root.path().join("out");
        let files = vec![("run.json".to_string(), b"{\"a\":1}".to_vec())];
        let names = write_output(
            &out,
            false,
            OutputFormat::Geojson,
            &[layer()],
            &files,
            Some(b"{}"),
        )
        .expect("write");
        assert_eq!(
            names,
            [
                "land.geojson",
                "land.qml",
                "run.json",
                "shiplink.qgs",
                "stays.geojson",
                "stays.qml"
            ]
        );
        assert_eq!(fs::read(out.join("run.json")).expect("read"), b"{\"a\":1}");
        assert_eq!(siblings(root.path()), ["out"]);

        // Exists, no --overwrite: error, and the directory is untouched.
        let again = vec![("run.json".to_string(), b"second".to_vec())];
        let err = write_output(&out, false, OutputFormat::Geojson, &[], &again, None)
            .expect_err("must refuse");
        assert!(matches!(err, Error::OutputExists { .. }), "{err}");
        assert!(check_output_dir(&out, false).is_err());
        assert_eq!(fs::read(out.join("run.json")).expect("read"), b"{\"a\":1}");

        // --overwrite replaces the whole directory; no temp dirs stay behind.
        let names =
            write_output(&out, true, OutputFormat::Geojson, &[], &again, None).expect("overwrite");
        assert_eq!(names, ["run.json", "shiplink.qgs"]);
        assert_eq!(fs::read(out.join("run.json")).expect("read"), b"second");
        assert!(!out.join("stays.geojson").exists());
        assert_eq!(siblings(root.path()), ["out"]);
    }

    #[test]
    fn empty_existing_dir_is_fine_without_overwrite() {
        let root = tempfile::tempdir().expect("tempdir");
        let out = root.path().join("out");
        fs::create_dir(&out).expect("mkdir");
        check_output_dir(&out, false).expect("empty dir is writable");
        write_output(&out, false, OutputFormat::Geojson, &[layer()], &[], None).expect("write");
        assert!(out.join("stays.geojson").exists());
    }

    #[test]
    fn stale_temp_dirs_of_dead_runs_are_removed() {
        let root = tempfile::tempdir().expect("tempdir");
        let out = root.path().join("out");
        // pid 0 is never a user process: a dead run's leftovers.
        let stale = root.path().join(".out.tmp-0");
        fs::create_dir(&stale).expect("mkdir");
        fs::write(stale.join("voyages.geojson"), b"{\"type\":").expect("write");
        fs::create_dir(root.path().join(".out.old-0")).expect("mkdir");
        fs::create_dir(root.path().join("other")).expect("mkdir");
        write_output(&out, false, OutputFormat::Geojson, &[], &[], None).expect("write");
        assert_eq!(siblings(root.path()), ["other", "out"]);
    }

    #[test]
    fn missing_parent_is_an_error_naming_it() {
        let root = tempfile::tempdir().expect("tempdir");
        let out = root.path().join("no/such/out");
        let err = check_output_dir(&out, false).expect_err("no parent");
        assert!(err.to_string().contains("no/such"), "{err}");
    }

    #[test]
    fn a_file_in_the_way_is_an_error() {
        let root = tempfile::tempdir().expect("tempdir");
        let out = root.path().join("out");
        fs::write(&out, b"x").expect("write");
        let err = check_output_dir(&out, true).expect_err("file");
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    #[test]
    fn bad_extra_file_name_leaves_nothing() {
        let root = tempfile::tempdir().expect("tempdir");
        let out = root.path().join("out");
        let files = vec![("../evil".to_string(), b"x".to_vec())];
        assert!(write_output(&out, false, OutputFormat::Geojson, &[], &files, None).is_err());
        assert!(siblings(root.path()).is_empty());
    }

    #[cfg(not(feature = "gdal"))]
    #[test]
    fn gpkg_without_gdal_is_a_clear_error() {
        let root = tempfile::tempdir().expect("tempdir");
        let out = root.path().join("out");
        let err = write_output(&out, false, OutputFormat::Gpkg, &[layer()], &[], None)
            .expect_err("no gdal");
        assert!(err.to_string().contains("gdal"), "{err}");
        assert!(siblings(root.path()).is_empty());
    }
}
