//! Ingest: read observation files (GeoJSON FeatureCollection or GeoJSONSeq), validate every
//! feature, and hand on typed [`Observation`]s plus the [`Rejected`] ones with reasons.
//!
//! Nothing is silently dropped: every feature read is either accepted or rejected, a file
//! that cannot be read as a whole is one [`Rejected`] with `feature_index: None`, and each
//! [`InputFile`]'s counts add up (`features == accepted + rejected`, where `rejected` counts
//! that file's [`Rejected`] records, file-level ones included).
//!
//! Choices the input contract left open:
//! - a bare Feature at the top level of a document is accepted as one feature (index 0);
//!   a bare Geometry rejects the file;
//! - a third (z) coordinate is accepted and dropped; 4+ numbers in a position are rejected;
//! - a number that overflows f64 (`1e400`) in a typed property or a coordinate rejects that
//!   feature; `NaN`/`Infinity` are not JSON, so they reject the file (a document) or the
//!   line (a sequence); extra properties are carried verbatim as raw JSON text;
//! - a non-WGS84 `crs` member rejects every feature of the file, naming the CRS;
//! - an empty file (0 bytes or only white space) is rejected, in either format;
//! - a heading derived from an outline lies in [0, 180): an outline has no bow;
//! - ids without a Feature `id` are `<file base name>#<index>`; two inputs with the same base
//!   name can therefore collide, and the later one is rejected as a duplicate.
//! - with the `gdal` feature any file whose extension is not a GeoJSON one is read through
//!   GDAL (`gdal_io`) and its features, as GeoJSON text, get the same validation
//!   (`feature_index` is GDAL's reading order); a file GDAL cannot open is one file-level
//!   [`Rejected`] with GDAL's message; without the feature it is rejected whole ("built
//!   without the gdal feature"). A file without an extension is read as GeoJSON. `sha256`
//!   and `bytes` are those of the named file (a Shapefile's `.shp`, not its `.dbf`);
//! - scenes without `cloud_fraction` get 1.0 (not known to be clear, so they never empty a
//!   berth); a scenes file with no usable footprint gives no scenes and one file-level
//!   [`Rejected`] saying so.

pub mod feature;
pub mod geometry;
mod read;
mod scan;
pub mod scenes;
pub mod walk;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;

use crate::config::IngestParams;
use crate::error::Result;
use crate::model::{Observation, Rejected, Scene, Time};

pub use feature::validate_feature;

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

impl Ingested {
    /// Files that gave at least one feature or were readable as a whole (an empty
    /// FeatureCollection counts); 0 means there was no usable input.
    pub fn usable_files(&self) -> usize {
        let whole_file_rejected: std::collections::HashSet<&str> = self
            .rejected
            .iter()
            .filter(|r| r.feature_index.is_none())
            .map(|r| r.source_file.as_ref())
            .collect();
        self.files
            .iter()
            .filter(|f| f.accepted > 0 || !whole_file_rejected.contains(f.path.as_str()))
            .count()
    }

    /// Why no input was usable ([`Ingested::usable_files`] is 0), for the fatal error: each
    /// file's problem (its first rejection; at most [`MAX_FILES_NAMED`] named, then how
    /// many more), or that no input file was found.
    pub fn why_unusable(&self) -> String {
        // `rejected` is sorted by file, so each file's rejections are consecutive.
        let mut firsts: Vec<&Rejected> = Vec::new();
        for r in &self.rejected {
            if firsts.last().is_none_or(|l| l.source_file != r.source_file) {
                firsts.push(r);
            }
        }
        match firsts.as_slice() {
            [] => "no input files found".to_string(),
            [one] if self.files.len() == 1 => format!("{}: {}", one.source_file, one.reason),
            _ => {
                let named: Vec<String> = firsts
                    .iter()
                    .take(MAX_FILES_NAMED)
                    .map(|r| format!("{}: {}", r.source_file, r.reason))
                    .collect();
                let more = firsts.len() - named.len();
                format!(
                    "none of {} input files could be used: {}{}",
                    self.files.len(),
                    named.join("; "),
                    if more > 0 {
                        format!("; and {more} more")
                    } else {
                        String::new()
                    }
                )
            }
        }
    }
}

/// How many unusable files [`Ingested::why_unusable`] names.
pub const MAX_FILES_NAMED: usize = 5;

/// Reads every file (directories are walked for .geojson .json .geojsonl .geojsons .ndjson,
/// and with the `gdal` feature .gpkg .shp .fgb .kml .gml .csv; see [`walk`]).
/// `now` is the reference for rejecting future times. A missing path is fatal; a bad file
/// or feature is rejected, not fatal.
pub fn ingest(paths: &[PathBuf], params: &IngestParams, now: Time) -> Result<Ingested> {
    ingest_keeping(paths, params, now, &|_| true)
}

/// [`ingest`], keeping in [`Ingested::observations`] only the observations `keep` accepts
/// (say, those a query asks for). Everything else is as [`ingest`] gives it: file counts
/// and rejections, duplicate ids included (an observation not kept still takes its id
/// first; until the end it is held stripped to what a duplicate rejection needs: id,
/// file, index, position; the outline is read again from the file).
pub fn ingest_keeping(
    paths: &[PathBuf],
    params: &IngestParams,
    now: Time,
    keep: &(dyn Fn(&Observation) -> bool + Sync),
) -> Result<Ingested> {
    let files = walk::expand(paths)?;
    let pool = Mutex::new(Pool::default());
    let per_file: Mutex<Vec<Option<FileOutcome>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    // Each worker takes the next file in path order, so files finish nearly in that order
    // and few wait in the pool's reorder buffer; features of a file are validated in
    // parallel too (see `read`).
    let next = AtomicUsize::new(0);
    (0..rayon::current_num_threads().max(1))
        .into_par_iter()
        .for_each(|_| loop {
            let f = next.fetch_add(1, Ordering::Relaxed);
            let Some(path) = files.get(f) else {
                break;
            };
            let mut r = read::read_file(path, params, now);
            let kept: Vec<bool> = r.accepted.iter().flatten().map(keep).collect();
            for (o, &k) in r.accepted.iter_mut().flatten().zip(&kept) {
                if !k {
                    strip(o);
                }
            }
            lock(&pool).add(f, r.accepted, r.spans, kept);
            lock(&per_file)[f] = Some((r.input, r.rejected));
        });
    let pool = pool.into_inner().unwrap_or_else(PoisonError::into_inner);
    let per_file = per_file
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Ok(merge(per_file.into_iter().flatten().collect(), pool))
}

/// Drops what a duplicate rejection does not need from an observation not kept.
fn strip(o: &mut Observation) {
    o.sensor_text = None;
    o.scene_id = None;
    o.hull_color = None;
    o.identity = None;
    o.extra = Vec::new();
}

/// What a file gave besides its accepted observations.
type FileOutcome = (InputFile, Vec<Rejected>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A file's accepted observations (in pieces), where they lie, and whether each is kept.
type FileAccepted = (Vec<Vec<Observation>>, Vec<read::Span>, Vec<bool>);

/// Accepted observations of all files, gathered into one vector in path order as files
/// are done (a file done early waits in a small reorder buffer), so that a file's own
/// pieces are freed at once and memory stays about one observation vector. Path order is
/// usually close to time order, which makes the final sort cheap.
#[derive(Default)]
struct Pool {
    slots: Vec<Observation>,
    spans: Vec<read::Span>,
    /// (file number in path order, index among that file's accepted features): the order
    /// that decides which of two equal ids comes first.
    origin: Vec<(usize, usize)>,
    /// Whether each observation is kept in the result (parallel to `slots`).
    kept: Vec<bool>,
    /// Files done before all files before them.
    waiting: BTreeMap<usize, FileAccepted>,
    /// The next file to append.
    next: usize,
}

impl Pool {
    fn add(
        &mut self,
        file: usize,
        accepted: Vec<Vec<Observation>>,
        spans: Vec<read::Span>,
        kept: Vec<bool>,
    ) {
        self.waiting.insert(file, (accepted, spans, kept));
        while let Some((accepted, spans, kept)) = self.waiting.remove(&self.next) {
            self.append(self.next, accepted, spans, kept);
            self.next += 1;
        }
    }

    fn append(
        &mut self,
        file: usize,
        accepted: Vec<Vec<Observation>>,
        spans: Vec<read::Span>,
        kept: Vec<bool>,
    ) {
        self.origin.extend((0..spans.len()).map(|k| (file, k)));
        self.spans.extend(spans);
        self.kept.extend(kept);
        for mut piece in accepted {
            if self.slots.capacity() == 0 {
                self.slots = piece; // taken whole, not copied
            } else {
                self.slots.append(&mut piece);
            }
        }
    }
}

/// Merges per-file results, rejects duplicate ids (first in path order wins) and sorts.
/// Observations are large, so only keys are sorted and the sorted order is applied in
/// place, moving only observations not yet in their place (memory stays about one
/// observation vector, not two).
fn merge(per_file: Vec<FileOutcome>, pool: Pool) -> Ingested {
    let mut out = Ingested::default();
    for (input, rejected) in per_file {
        out.files.push(input);
        out.rejected.extend(rejected);
    }
    let Pool {
        mut slots,
        spans,
        origin,
        kept,
        ..
    } = pool;
    let dups = duplicates(&slots, &origin);
    let mut quoter = read::Quoter::default();
    // Slots dropped from the result: duplicates and observations not kept.
    let mut removed: Vec<bool> = kept.iter().map(|k| !k).collect();
    drop(kept);
    let mut taken = vec![false; slots.len()];
    for &(dup, first) in &dups {
        if taken[first] || taken[dup] {
            continue;
        }
        taken[dup] = true;
        removed[dup] = true;
        let (file, index) = (&slots[first].source_file, slots[first].feature_index);
        let input = &mut out.files[origin[dup].0];
        input.accepted -= 1;
        input.rejected += 1;
        out.rejected
            .push(duplicate(&slots[dup], spans[dup], file, index, &mut quoter));
    }
    drop(taken);
    drop(spans);
    drop(origin);
    let key = |i: usize| (slots[i].observed_at, slots[i].id.as_str());
    let mut order: Vec<usize> = (0..slots.len()).filter(|&i| !removed[i]).collect();
    // Inputs are mostly in time order already (per file, and files named by time): a stable
    // sort finds those runs. Keys are unique, so the order is the same as any sort's.
    order.par_sort_by(|&a, &b| key(a).cmp(&key(b)));
    let kept = order.len();
    // Removed slots go last, so `order` becomes a permutation of all positions.
    order.extend((0..slots.len()).filter(|&i| removed[i]));
    permute(&mut slots, &order);
    slots.truncate(kept);
    out.observations = slots;
    out.rejected.sort_by(|a, b| {
        a.source_file
            .cmp(&b.source_file)
            .then(a.feature_index.cmp(&b.feature_index))
    });
    out
}

/// Pairs (duplicate, first occurrence) of observation positions, sorted by the duplicate's
/// origin; the first occurrence is the one with the lowest origin (path order, then
/// feature order). Ids are grouped by a 64-bit
/// hash first (cheap to sort), and only equal hashes compare their text.
fn duplicates(slots: &[Observation], origin: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let id_of = |i: usize| slots[i].id.as_str();
    let mut by_hash: Vec<(u64, usize)> = (0..slots.len())
        .into_par_iter()
        .map(|i| (id_hash(id_of(i)), i))
        .collect();
    by_hash.par_sort_unstable();
    let mut dups: Vec<(usize, usize)> = Vec::new();
    let mut k = 0;
    while k < by_hash.len() {
        let mut e = k + 1;
        while e < by_hash.len() && by_hash[e].0 == by_hash[k].0 {
            e += 1;
        }
        if e - k > 1 {
            let mut run: Vec<usize> = by_hash[k..e].iter().map(|p| p.1).collect();
            run.sort_by(|&a, &b| id_of(a).cmp(id_of(b)).then(origin[a].cmp(&origin[b])));
            let mut start = 0;
            for j in 1..run.len() {
                if id_of(run[j]) == id_of(run[start]) {
                    dups.push((run[j], run[start]));
                } else {
                    start = j;
                }
            }
        }
        k = e;
    }
    dups.sort_unstable_by_key(|&(d, _)| origin[d]);
    dups
}

/// A fast 64-bit hash of a text (8 bytes at a time), the same on every run; equal hashes
/// are only candidates, compared as text afterwards.
fn id_hash(s: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (s.len() as u64).wrapping_mul(K);
    let mut chunks = s.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(31);
    }
    let mut w = [0u8; 8];
    w[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
    h ^ (h >> 29)
}

/// Reorders `slots` in place so that position `k` holds what was at `from[k]` (`from` is a
/// permutation of `0..slots.len()`), by swaps along each cycle: an element already in its
/// place is not moved.
fn permute<T>(slots: &mut [T], from: &[usize]) {
    let mut done = vec![false; slots.len()];
    for k in 0..slots.len() {
        if done[k] || from[k] == k {
            continue;
        }
        // Position k holds what was at k; each swap puts the element due at j in place and
        // carries the one from k on, until it reaches the last position of the cycle.
        let mut j = k;
        loop {
            done[j] = true;
            let s = from[j];
            if s == k {
                break;
            }
            slots.swap(j, s);
            j = s;
        }
    }
}

fn duplicate(
    o: &Observation,
    span: read::Span,
    file: &str,
    index: usize,
    quoter: &mut read::Quoter,
) -> Rejected {
    let generated = o.id == format!("{}#{}", feature::base_name(&o.source_file), o.feature_index);
    let hint = if generated {
        "; features without an id are named <file name>#<index>"
    } else {
        ""
    };
    Rejected {
        reason: format!(
            "duplicate id {} (first seen in {file} feature {index}{hint})",
            o.id
        ),
        original: quoter.quote(&o.source_file, span),
        geometry: Some(match quoter.outline(&o.source_file, span) {
            Some(p) => geo::Geometry::Polygon(p),
            None => geo::Geometry::Point(geo::Point::new(o.lon, o.lat)),
        }),
        id: Some(o.id.clone()),
        feature_index: Some(o.feature_index),
        source_file: Arc::clone(&o.source_file),
    }
}

/// Reads a scenes file (image footprints); bad scene features are rejected with reasons.
pub fn read_scenes(path: &Path) -> Result<(Vec<Scene>, Vec<Rejected>)> {
    scenes::read_scenes(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Time = 1_710_000_000;

    fn pt(id: &str, t: &str) -> String {
        format!(
            r#"{{"type":"Feature"{id},"geometry":{{"type":"Point","coordinates":[130.3,42.2]}},"properties":{{"observed_at":"{t}"}}}}"#
        )
    }

    fn fc(features: &[String]) -> String {
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        )
    }

    fn run(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Ingested) {
        let d = tempfile::tempdir().unwrap();
        for (name, body) in files {
            let p = d.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        let ing = ingest(&[d.path().to_path_buf()], &IngestParams::default(), NOW).unwrap();
        (d, ing)
    }

    fn counts_add_up(ing: &Ingested) {
        for f in &ing.files {
            assert_eq!(f.features, f.accepted + f.rejected, "{f:?}");
            let rej = ing
                .rejected
                .iter()
                .filter(|r| *r.source_file == f.path)
                .count();
            assert_eq!(rej, f.rejected, "{f:?}");
        }
        let acc: usize = ing.files.iter().map(|f| f.accepted).sum();
        assert_eq!(acc, ing.observations.len());
    }

    #[test]
    fn sequences_with_record_separators_bom_and_blank_lines() {
        let body = format!(
            "\u{feff}{}\n\n\x1e{}\r\n\x1e{}\x1e{}\nnot json\n",
            pt(r#","id":"a""#, "2024-03-01T12:00:00Z"),
            pt(r#","id":"b""#, "2024-03-01T11:00:00Z"),
            pt(r#","id":"c""#, "2024-03-01T10:00:00Z"),
            pt("", "2024-03-01T10:00:00Z"),
        );
        let (_d, ing) = run(&[("s.geojsonl", body.as_bytes())]);
        let ids: Vec<&str> = ing.observations.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["c", "s.geojsonl#3", "b", "a"]);
        assert_eq!(ing.rejected.len(), 1);
        assert_eq!(ing.rejected[0].feature_index, Some(4));
        assert_eq!(ing.files[0].features, 5);
        counts_add_up(&ing);
    }

    #[test]
    fn ndjson_in_a_json_file_is_read_as_a_sequence() {
        let body = format!(
            "{}\n{}\n",
            pt(r#","id":"a""#, "2024-03-01T12:00:00Z"),
            pt(r#","id":"b""#, "2024-03-01T11:00:00Z")
        );
        let (_d, ing) = run(&[("x.json", body.as_bytes())]);
        assert_eq!(ing.observations.len(), 2);
        counts_add_up(&ing);
    }

    #[test]
    fn permute_moves_each_to_its_place() {
        let mut v: Vec<Option<u32>> = vec![Some(10), Some(11), None, Some(13), Some(14)];
        permute(&mut v, &[3, 0, 4, 1, 2]);
        assert_eq!(v, [Some(13), Some(10), Some(14), Some(11), None]);
        let mut w: Vec<Option<u32>> = vec![Some(1), Some(2)];
        permute(&mut w, &[0, 1]);
        assert_eq!(w, [Some(1), Some(2)]);
    }

    #[test]
    fn duplicates_first_in_path_order_wins() {
        let a = fc(&[
            pt(r#","id":"x""#, "2024-03-01T12:00:00Z"),
            pt(r#","id":"x""#, "2024-03-01T12:00:00Z"),
        ]);
        let b = fc(&[
            pt(r#","id":"x""#, "2024-03-01T11:00:00Z"),
            pt(r#","id":"y""#, "2024-03-01T11:00:00Z"),
        ]);
        let (_d, ing) = run(&[("b.geojson", b.as_bytes()), ("a.geojson", a.as_bytes())]);
        assert_eq!(ing.observations.len(), 2);
        let x = ing.observations.iter().find(|o| o.id == "x").unwrap();
        assert!(x.source_file.ends_with("a.geojson") && x.feature_index == 0);
        assert_eq!(ing.rejected.len(), 2);
        for r in &ing.rejected {
            assert!(
                r.reason.starts_with("duplicate id x (first seen in "),
                "{}",
                r.reason
            );
            assert!(r.reason.ends_with("a.geojson feature 0)"), "{}", r.reason);
            assert!(r
                .original
                .as_deref()
                .unwrap()
                .starts_with("{\"type\":\"Feature\""));
        }
        assert!(ing.rejected[0].source_file.ends_with("a.geojson"));
        counts_add_up(&ing);
    }

    #[test]
    fn a_duplicate_outline_is_read_again_for_its_rejection() {
        let poly = r#"{"type":"Feature","id":"x","geometry":{"type":"Polygon","coordinates":[[[130,42],[130.0004,42],[130.0004,42.002],[130,42.002],[130,42]]]},"properties":{"observed_at":"2024-03-01T12:00:00Z"}}"#;
        let body = fc(&[poly.to_string(), poly.to_string()]);
        let (_d, ing) = run(&[("a.geojson", body.as_bytes())]);
        assert_eq!(ing.observations.len(), 1);
        assert_eq!(ing.rejected.len(), 1);
        match &ing.rejected[0].geometry {
            Some(geo::Geometry::Polygon(p)) => assert_eq!(p.exterior().0.len(), 5),
            other => panic!("expected the outline, got {other:?}"),
        }
        counts_add_up(&ing);
    }

    #[test]
    fn file_level_problems_are_one_rejection_each() {
        let (_d, ing) = run(&[
            (
                "a.geojson",
                b"{\"type\":\"FeatureCollection\",\"features\":[" as &[u8],
            ),
            ("b.geojson", b""),
            ("c.geojson", b"\xff\xfe{}"),
            (
                "d.geojson",
                b"{\"type\":\"FeatureCollection\",\"features\":[]}",
            ),
            ("e.json", b"hello"),
        ]);
        let reasons: Vec<&str> = ing.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(
            reasons[0].contains("truncated") && reasons[0].contains("line 1 column"),
            "{reasons:?}"
        );
        assert!(reasons[1].contains("empty"));
        assert!(reasons[2].contains("invalid utf-8 at byte 0"));
        assert!(reasons[3].contains("first character is 'h'"));
        assert_eq!(ing.usable_files(), 1);
        counts_add_up(&ing);
    }

    #[test]
    fn non_wgs84_crs_rejects_every_feature() {
        let body = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}},"features":[
            {"type":"Feature","id":"q","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"observed_at":"2024-03-01T12:00:00Z"}},
            {"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"observed_at":"2024-03-01T12:00:00Z"}}]}"#;
        let (_d, ing) = run(&[("m.geojson", body.as_bytes())]);
        assert!(ing.observations.is_empty());
        assert_eq!(ing.rejected.len(), 2);
        assert!(ing.rejected[0].reason.contains("EPSG::3857"));
        assert_eq!(ing.rejected[0].id.as_deref(), Some("q"));
        counts_add_up(&ing);
    }

    #[test]
    fn other_formats_explicit_or_walked() {
        let d = tempfile::tempdir().unwrap();
        let txt = d.path().join("notes.txt");
        std::fs::write(&txt, "hello").unwrap();
        std::fs::write(d.path().join("x.kml"), "not kml").unwrap();
        let ing = ingest(
            &[txt, d.path().to_path_buf()],
            &IngestParams::default(),
            NOW,
        )
        .unwrap();
        counts_add_up(&ing);
        let reasons: Vec<&str> = ing.rejected.iter().map(|r| r.reason.as_str()).collect();
        if cfg!(feature = "gdal") {
            // Both read through GDAL, which cannot open them: one file-level rejection each.
            assert_eq!(ing.files.len(), 2, "{reasons:?}");
            assert_eq!(reasons.len(), 2, "{reasons:?}");
            for (r, name) in reasons.iter().zip(["notes.txt", "x.kml"]) {
                assert!(r.starts_with("not a vector file GDAL can read: "), "{r}");
                assert!(r.contains(name), "GDAL's message names the file: {r}");
            }
        } else {
            // The walk skips x.kml; the named file is rejected whole, with its sha256.
            assert_eq!(ing.files.len(), 1);
            assert_eq!(
                reasons,
                ["built without the gdal feature: cannot read .txt files (only GeoJSON and GeoJSONSeq)"]
            );
            assert_eq!(ing.files[0].bytes, 5);
            assert_eq!(
                ing.files[0].sha256,
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
            );
        }
        assert_eq!(ing.usable_files(), 0);
    }

    #[test]
    fn keeping_only_drops_observations() {
        let a = fc(&[
            pt(r#","id":"x""#, "2024-03-01T12:00:00Z"),
            pt(r#","id":"y""#, "2024-03-01T10:00:00Z"),
        ]);
        let b = fc(&[
            pt(r#","id":"x""#, "2024-03-01T11:00:00Z"),
            pt(r#","id":"z""#, "2024-03-01T11:00:00Z"),
        ]);
        let (d, all) = run(&[("a.geojson", a.as_bytes()), ("b.geojson", b.as_bytes())]);
        // x in a.geojson (first seen) is not kept; its duplicate in b is still rejected.
        let keep = |o: &Observation| o.id != "x";
        let some = ingest_keeping(
            &[d.path().to_path_buf()],
            &IngestParams::default(),
            NOW,
            &keep,
        )
        .unwrap();
        let ids =
            |i: &Ingested| -> Vec<String> { i.observations.iter().map(|o| o.id.clone()).collect() };
        assert_eq!(ids(&all), ["y", "z", "x"]);
        assert_eq!(ids(&some), ["y", "z"]);
        assert_eq!(
            format!("{:?}", some.rejected),
            format!("{:?}", all.rejected)
        );
        assert_eq!(some.rejected.len(), 1);
        assert_eq!(some.files, all.files);
    }

    #[test]
    fn sha256_and_bytes() {
        let (_d, ing) = run(&[(
            "d.geojson",
            b"{\"type\":\"FeatureCollection\",\"features\":[]}",
        )]);
        assert_eq!(ing.files[0].bytes, 42);
        assert_eq!(ing.files[0].sha256.len(), 64);
        assert!(ing.rejected.is_empty());
    }
}
