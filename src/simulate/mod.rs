//! Simulated Najin–Dunay scenarios with ground truth (`shiplink simulate`).
//!
//! Writes `observations/` (one GeoJSON FeatureCollection per image pass, in the input
//! contract of `shiplink match`), `scenes.geojson` (every image footprint, clear or cloudy)
//! and `truth.json` (see [`truth::Truth`]). The same seed and arguments give byte-identical
//! files: every random draw comes from a ChaCha8 stream named by (seed, purpose, index).
//!
//! ```no_run
//! use shiplink::simulate::{write_scenario, SimParams};
//! let p = SimParams { seed: 7, days: 45, scale: 1.0, overwrite: false, easier: Default::default() };
//! let summary = write_scenario(std::path::Path::new("/tmp/scenario"), &p)?;
//! println!("{} detections", summary.detections);
//! # Ok::<(), shiplink::Error>(())
//! ```
//!
//! Pieces: [`fleet`] (vessels and their true timelines), [`berths`] (slots and their
//! assignment), [`passes`] (when and where the sensors look), [`detect`] (what a pass sees),
//! [`truth`] (the truth document), [`geo_tables`] (berths, water masks, sea lanes).

pub mod berths;
pub mod detect;
pub mod fleet;
pub mod geo_tables;
pub mod passes;
pub mod truth;

use std::io::Write;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::{fmt_time, Time};

/// Start of every scenario of up to two years: 2024-03-01T00:00:00Z.
pub const START: Time = 1_709_251_200;

/// Latest end of a scenario: 2026-03-01T00:00:00Z (two years after [`START`]). A longer
/// scenario starts earlier instead of running into the future: `shiplink match` rejects
/// detections dated after its clock (`ingest.max_future_days`), so a ten-year scenario
/// from 2024 lost three quarters of its detections. Fixed, not the clock: the same
/// arguments give the same files on any day.
pub const LATEST_END: Time = START + 730 * 86_400;

/// When a scenario of `days` starts: [`START`], or earlier so as to end by [`LATEST_END`].
pub fn start_for(days: u32) -> Time {
    START.min(LATEST_END - Time::from(days) * 86_400)
}

/// Random-stream domain of the per-pass detection draws.
const DETECT_DOMAIN: u64 = 0x4445_5445; // "DETE"

/// Scenario size and randomness.
#[derive(Debug, Clone, PartialEq)]
pub struct SimParams {
    pub seed: u64,
    pub days: u32,
    /// Traffic multiplier: rounded to a whole number of vessel groups (at least 1).
    pub scale: f64,
    /// Replace an existing non-empty output folder.
    pub overwrite: bool,
    /// Difficulties switched off (all on by default), to measure what each costs the
    /// linker. Not a `simulate` option: a tuning aid (`examples/quality.rs --easier`).
    pub easier: Easier,
}

/// Which of the scenario's difficulties to leave out. `Default`: none (the full scenario).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Easier {
    /// No false detections.
    pub no_false_positives: bool,
    /// The second near-twin becomes a green 118 m vessel (beam 17.2 m).
    pub distinct_twins: bool,
    /// Radar length error at most 6 m (as PlanetScope) instead of 15 m.
    pub precise_radar: bool,
    /// Optical sensors never report a wrong hull colour (they still sometimes report none).
    pub true_colours: bool,
    /// Only the shuttles and the 115 m freighter: no tugs, fishing boats and other locals.
    pub no_local_traffic: bool,
}

impl Easier {
    /// Parses a comma-separated list of `false-positives`, `twins`, `radar`, `colours`,
    /// `locals` (the difficulties to leave out).
    pub fn parse(list: &str) -> std::result::Result<Easier, String> {
        let mut e = Easier::default();
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "false-positives" => e.no_false_positives = true,
                "twins" => e.distinct_twins = true,
                "radar" => e.precise_radar = true,
                "colours" => e.true_colours = true,
                "locals" => e.no_local_traffic = true,
                other => return Err(format!("unknown difficulty {other:?}")),
            }
        }
        Ok(e)
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSummary {
    pub vessels: usize,
    pub scenes: usize,
    pub detections: usize,
    pub false_positives: usize,
    pub truth_voyages: usize,
}

/// A named random stream: the same (seed, domain, index) always gives the same draws.
pub fn stream(seed: u64, domain: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ domain.rotate_left(29));
    rng.set_stream(index);
    rng
}

/// Vessel groups for a scale factor.
pub fn groups_for(scale: f64) -> usize {
    if scale.is_finite() && scale >= 1.0 {
        scale.round().min(1.0e6) as usize
    } else {
        1
    }
}

/// Writes observations/, scenes.geojson and truth.json into `out`.
pub fn write_scenario(out: &Path, params: &SimParams) -> Result<SimSummary> {
    if params.days == 0 || params.days > 3_650 {
        return Err(Error::Usage(format!(
            "--days must be 1..=3650, not {}",
            params.days
        )));
    }
    if !(params.scale.is_finite() && params.scale > 0.0 && params.scale <= 1.0e6) {
        return Err(Error::Usage(format!(
            "--scale must be > 0 and at most 1e6, not {}",
            params.scale
        )));
    }
    prepare_dir(out, params.overwrite)?;
    let obs_dir = out.join("observations");
    std::fs::create_dir_all(&obs_dir).map_err(|e| Error::io(&obs_dir, e))?;

    let groups = groups_for(params.scale);
    let t0 = start_for(params.days);
    let t_end = t0 + params.days as Time * 86_400;
    let mut lives = fleet::build(params.seed, groups, t0, t_end, &params.easier);
    let slots = berths::build(groups);
    berths::assign(&mut lives, &slots);
    let passes = passes::schedule(params.seed, params.days, t0);
    let world = detect::World {
        lives: &lives,
        ports: &slots,
        groups,
        easier: params.easier,
    };
    let rows: Vec<Vec<detect::Row>> = passes
        .par_iter()
        .enumerate()
        .map(|(i, pass)| {
            let mut rng = stream(params.seed, DETECT_DOMAIN, i as u64);
            let (text, rows) = detect::render_pass(pass, &world, &mut rng);
            write_atomic(&obs_dir.join(pass.file_name()), text.as_bytes())?;
            Ok(rows)
        })
        .collect::<Result<_>>()?;

    write_atomic(
        &out.join("scenes.geojson"),
        scenes_geojson(&passes).as_bytes(),
    )?;

    let clear_scenes = passes.iter().filter(|p| p.is_clear()).count();
    let truth = truth::build(truth::TruthInput {
        params: truth::TruthParams {
            seed: params.seed,
            days: params.days,
            scale: params.scale,
            groups,
            start: fmt_time(t0),
            end: fmt_time(t_end),
            simulator: format!("shiplink {}", env!("CARGO_PKG_VERSION")),
        },
        t0,
        t_end,
        lives: &lives,
        ports: &slots,
        rows,
        scenes: passes.len(),
        clear_scenes,
    });
    write_truth(&out.join("truth.json"), &truth)?;
    Ok(SimSummary {
        vessels: lives.len(),
        scenes: passes.len(),
        detections: truth.counts.detections,
        false_positives: truth.counts.false_positives,
        truth_voyages: truth.voyages.len(),
    })
}

/// Refuses a non-empty folder unless `overwrite`; with it, removes the old observation files
/// (only `*.geojson` in `observations/`) so no stale pass survives.
fn prepare_dir(out: &Path, overwrite: bool) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            return Err(Error::OutputExists {
                path: out.to_path_buf(),
            });
        }
        let non_empty = std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_some();
        if non_empty && !overwrite {
            return Err(Error::OutputExists {
                path: out.to_path_buf(),
            });
        }
        let obs = out.join("observations");
        if obs.is_dir() {
            for entry in std::fs::read_dir(&obs).map_err(|e| Error::io(&obs, e))? {
                let path = entry.map_err(|e| Error::io(&obs, e))?.path();
                if path.extension().is_some_and(|x| x == "geojson") {
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                }
            }
        }
    } else {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    }
    Ok(())
}

/// Writes through a temporary file in the same folder, then renames it into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    readable_by_all(tmp.as_file(), path)?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Writes truth.json (pretty JSON, streamed) through a temporary file and a rename.
fn write_truth(path: &Path, truth: &truth::Truth) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    readable_by_all(tmp.as_file(), path)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp);
    serde_json::to_writer_pretty(&mut w, truth).map_err(|e| Error::io(path, e.into()))?;
    w.write_all(b"\n").map_err(|e| Error::io(path, e))?;
    let tmp = w
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Temporary files are created private (0600); the written data is not secret.
#[cfg(unix)]
fn readable_by_all(file: &std::fs::File, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
fn readable_by_all(_file: &std::fs::File, _path: &Path) -> Result<()> {
    Ok(())
}

/// Every footprint as a GeoJSON FeatureCollection, in pass order.
fn scenes_geojson(passes: &[passes::Pass]) -> String {
    use std::fmt::Write as _;
    let mut s = String::from("{\"type\":\"FeatureCollection\",\"features\":[");
    for (i, p) in passes.iter().enumerate() {
        s.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = write!(
            s,
            "{{\"type\":\"Feature\",\"id\":\"{}\",\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":[[",
            p.scene_id
        );
        for (k, (x, y)) in p.footprint.iter().enumerate() {
            let _ = write!(s, "{}[{x:.6},{y:.6}]", if k == 0 { "" } else { "," });
        }
        let _ = write!(
            s,
            "]]}},\"properties\":{{\"observed_at\":\"{}\",\"sensor\":\"{}\",\"scene_id\":\"{}\",\"cloud_fraction\":{:.2}}}}}",
            fmt_time(p.time),
            p.sensor.as_str(),
            p.scene_id,
            p.cloud_fraction
        );
    }
    s.push_str("\n]}\n");
    s
}
