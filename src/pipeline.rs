//! The `match` pipeline: ingest → index → evidence → linking (stays, voyages, tracks) →
//! routing → layers. [`solve`] is pure; [`run_match`] adds the file system around it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::evidence::{empty_berth, EmptyBerth};
use crate::geodesy::{geodesic_m, polyline_km};
use crate::index::assign_ports;
use crate::ingest::{Ingested, InputFile};
use crate::linking::derive::{derive, Derived};
use crate::linking::{link, LinkInput, Linked, SeaDistances};
use crate::model::{Observation, Port, Rejected, RouteMethod, Scene, Time};
use crate::output::build;
use crate::output::layer::Layer;
use crate::output::qgis::LayerSummary;
use crate::output::write::{LayerStream, OutputWriter};
use crate::routing::Router;

/// Everything `solve` found.
pub struct Results {
    pub observations: Vec<Observation>,
    pub rejected: Vec<Rejected>,
    pub files: Vec<InputFile>,
    pub ports: Vec<Port>,
    pub port_of: Vec<Option<usize>>,
    /// Clear scenes that showed berths empty, per observation.
    pub empty: EmptyBerth,
    pub derived: Derived,
    /// What linking chose, with interrupted stays merged (see [`derive()`]).
    pub linked: Linked,
    /// Vessel id of each stay.
    pub vessel_of_stay: Vec<String>,
    /// Warnings worth telling the user (also in run.json).
    pub warnings: Vec<String>,
    /// Stage name → seconds.
    pub timings: Vec<(String, f64)>,
    /// Stage name → what it counted (for `match -v`).
    pub counts: Vec<(String, String)>,
    /// The sensors' error models the run used (the links layer explains links with them).
    pub sensors: crate::config::SensorModels,
}

/// Sea distance between every pair of port berths, km (router where it can, else geodesic
/// with a warning; without a router, geodesic).
pub fn port_distances(
    ports: &[Port],
    router: Option<&Router>,
    warnings: &mut Vec<String>,
) -> Vec<Vec<f64>> {
    let n = ports.len();
    let mut m = vec![vec![0.0; n]; n];
    for a in 0..n {
        for b in (a + 1)..n {
            let (pa, pb) = (
                (ports[a].berth_lon, ports[a].berth_lat),
                (ports[b].berth_lon, ports[b].berth_lat),
            );
            let km = match router.map(|r| r.sea_distance_km(pa, pb)) {
                Some(Ok(km)) => km,
                Some(Err(e)) => {
                    warnings.push(format!(
                        "no sea distance between {} and {} ({e}); using the straight line",
                        ports[a].port_id, ports[b].port_id
                    ));
                    geodesic_m(pa, pb) / 1000.0
                }
                None => geodesic_m(pa, pb) / 1000.0,
            };
            m[a][b] = km;
            m[b][a] = km;
        }
    }
    m
}

/// Runs indexing, evidence, linking, derivation and routing on ingested observations.
pub fn solve(
    ingested: Ingested,
    ports: Vec<Port>,
    scenes: &[Scene],
    config: &Config,
    router: Option<&Router>,
) -> Results {
    let mut timings = Vec::new();
    let mut warnings = Vec::new();
    let Ingested {
        observations: obs,
        rejected,
        files,
    } = ingested;

    let t = Instant::now();
    let port_of = assign_ports(&obs, &ports);
    timings.push(("index".to_string(), t.elapsed().as_secs_f64()));
    let mut counts = vec![(
        "index".to_string(),
        format!(
            "{} of {} detections in {} port zones",
            port_of.iter().flatten().count(),
            obs.len(),
            ports.len()
        ),
    )];

    let t = Instant::now();
    let in_port: Vec<bool> = port_of.iter().map(Option::is_some).collect();
    let empty: EmptyBerth = empty_berth(
        &obs,
        &in_port,
        scenes,
        config.stays.clear_cloud_fraction,
        config.stays.empty_berth_radius_m,
        (config.stays.merge_gap_hours.max(config.stays.max_gap_hours) * 3600.0) as i64,
    );
    timings.push(("evidence".to_string(), t.elapsed().as_secs_f64()));
    counts.push((
        "evidence".to_string(),
        format!(
            "{} scenes; {} port detections with their berth seen empty before, {} after",
            scenes.len(),
            empty.before.iter().flatten().count(),
            empty.after.iter().flatten().count()
        ),
    ));

    let t = Instant::now();
    let port_km = port_distances(&ports, router, &mut warnings);
    let sea = SeaDistances {
        port_km,
        point_km: None,
    };
    let mut linked = link(&LinkInput {
        obs: &obs,
        port_of: &port_of,
        ports: &ports,
        empty: &empty,
        sea: &sea,
        config,
    });
    timings.extend(linked.timings.iter().cloned());
    counts.extend(linked.counts.iter().cloned());
    let mut derived = derive(&obs, &mut linked, &ports, &empty, config);
    timings.push(("linking".to_string(), t.elapsed().as_secs_f64()));

    let t = Instant::now();
    route_voyages(&mut derived, &obs, &ports, router, &mut warnings);
    timings.push(("routing".to_string(), t.elapsed().as_secs_f64()));
    counts.push((
        "routing".to_string(),
        format!(
            "{} voyages, {} tracks",
            derived.voyages.len(),
            derived.tracks.len()
        ),
    ));

    let mut vessel_of_stay = vec![String::new(); derived.stays.len()];
    for tr in &derived.tracks {
        for e in &tr.events {
            if let crate::model::Event::Stay(s) = e {
                vessel_of_stay[*s] = tr.vessel_id.clone();
            }
        }
    }
    Results {
        observations: obs,
        rejected,
        files,
        ports,
        port_of,
        empty,
        derived,
        linked,
        vessel_of_stay,
        warnings,
        timings,
        counts,
        sensors: config.sensors.clone(),
    }
}

/// Draws each voyage from the origin port's berth through its via detections to the
/// destination's berth: over water with the router, else straight (and says so).
/// Routes without vias are computed once per port pair.
fn route_voyages(
    d: &mut Derived,
    obs: &[Observation],
    ports: &[Port],
    router: Option<&Router>,
    warnings: &mut Vec<String>,
) {
    let port_ix: BTreeMap<&str, usize> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| (p.port_id.as_str(), i))
        .collect();
    let berth = |stay: &crate::model::Stay| {
        port_ix
            .get(stay.port_id.as_str())
            .map(|&p| (ports[p].berth_lon, ports[p].berth_lat))
            .unwrap_or((stay.lon, stay.lat))
    };
    let waypoints: Vec<Vec<(f64, f64)>> = d
        .voyages
        .iter()
        .map(|v| {
            let mut w = vec![berth(&d.stays[v.origin_stay])];
            w.extend(v.via.iter().map(|&i| (obs[i].lon, obs[i].lat)));
            w.push(berth(&d.stays[v.destination_stay]));
            w
        })
        .collect();
    // Distinct waypoint lists, routed once each, in parallel.
    let mut distinct: Vec<&Vec<(f64, f64)>> = waypoints.iter().collect();
    distinct.sort_by(|a, b| {
        a.iter()
            .flat_map(|p| [p.0, p.1])
            .zip(b.iter().flat_map(|p| [p.0, p.1]))
            .map(|(x, y)| x.total_cmp(&y))
            .find(|o| o.is_ne())
            .unwrap_or(a.len().cmp(&b.len()))
    });
    distinct.dedup();
    type Routed = (
        Vec<(f64, f64)>,
        std::result::Result<crate::routing::Route, String>,
    );
    let routed: Vec<Routed> = distinct
        .par_iter()
        .map(|w| {
            let r = match router {
                Some(r) => r.route(w).map_err(|e| e.to_string()),
                None => Err("no land model".to_string()),
            };
            ((*w).clone(), r)
        })
        .collect();
    let lookup = |w: &Vec<(f64, f64)>| routed.iter().find(|(k, _)| k == w).map(|(_, r)| r);
    let mut failures = 0usize;
    let mut first_failure = None;
    for (v, w) in d.voyages.iter_mut().zip(&waypoints) {
        match lookup(w) {
            Some(Ok(route)) => {
                v.geometry = route.coords.clone();
                v.route_km = route.km;
                v.route_method = RouteMethod::Sea;
            }
            other => {
                if router.is_some() {
                    failures += 1;
                    if first_failure.is_none() {
                        first_failure = other.and_then(|r| r.as_ref().err().cloned());
                    }
                }
                v.geometry = w.clone();
                v.route_km = polyline_km(w);
                v.route_method = RouteMethod::Straight;
            }
        }
    }
    if failures > 0 {
        warnings.push(format!(
            "{failures} voyage(s) drawn as straight lines: no sea route ({})",
            first_failure.unwrap_or_default()
        ));
    }
}

/// The six layers, in [`build::LAYER_NAMES`] order, built in memory (what
/// [`run_match`] streams into its files).
pub fn layers(r: &Results) -> Vec<Layer> {
    layer_streams(r, &[])
        .into_iter()
        .map(|(mut layer, features)| {
            layer.features.extend(features);
            layer
        })
        .collect()
}

/// Writes the six layers in [`build::LAYER_NAMES`] order, each built feature by feature
/// while it is written.
fn write_layers(out: &mut OutputWriter, r: &Results, scene_rejected: &[Rejected]) -> Result<()> {
    out.write_layers(layer_streams(r, scene_rejected))
}

/// The six layers as schemas with lazy features; the rejected layer holds `r.rejected`
/// and `scene_rejected` (each sorted by [`rejected_order`]) merged in that order.
fn layer_streams<'a>(r: &'a Results, scene_rejected: &'a [Rejected]) -> Vec<LayerStream<'a>> {
    let d = &r.derived;
    let obs = &r.observations;
    let n_rejected = r.rejected.len() + scene_rejected.len();
    vec![
        (
            build::voyages_schema(),
            Box::new(build::voyage_features(
                &d.voyages, &d.stays, obs, &r.sensors,
            )),
        ),
        (
            build::stays_schema(),
            Box::new(build::stay_features(&d.stays, &r.vessel_of_stay, obs)),
        ),
        (
            build::tracks_schema(),
            Box::new(build::track_features(&d.tracks, &d.stays, obs)),
        ),
        (
            build::links_schema(),
            Box::new(build::link_features(
                &d.tracks, &d.stays, &d.voyages, obs, &r.sensors,
            )),
        ),
        (
            build::unmatched_schema(),
            Box::new(build::unmatched_features(
                obs,
                &d.unmatched,
                &r.port_of,
                &r.ports,
            )),
        ),
        (
            build::rejected_schema(),
            Box::new(build::numbered_rejected_features(
                merge_sorted(&r.rejected, scene_rejected),
                n_rejected,
            )),
        ),
    ]
}

/// The order of the rejected layer: source file, then feature index.
fn rejected_order(a: &Rejected, b: &Rejected) -> std::cmp::Ordering {
    (&a.source_file, a.feature_index).cmp(&(&b.source_file, b.feature_index))
}

/// Two slices each sorted by [`rejected_order`] as one sorted sequence, `a` first among
/// equals (what a stable sort of `a` then `b` gives), without copying.
fn merge_sorted<'a>(a: &'a [Rejected], b: &'a [Rejected]) -> impl Iterator<Item = &'a Rejected> {
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if rejected_order(y, x).is_lt() => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

/// Frees what only linking needed (candidate graph nodes and links, stays before ids,
/// empty-berth evidence), keeping the counters run.json reports.
fn free_linking_state(r: &mut Results) {
    r.empty = EmptyBerth::default();
    r.derived.vessel_of = Vec::new();
    let l = &mut r.linked;
    l.stays = crate::linking::StayMembers::default();
    l.stay_port = Vec::new();
    l.nodes = Vec::new();
    l.links = crate::linking::Links::none(0, l.links.candidates);
}

/// Counts for run.json; `read = in_stays + in_via + unmatched + rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub read: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub in_stays: usize,
    pub in_via: usize,
    pub unmatched: usize,
    pub candidate_links: usize,
}

impl Results {
    pub fn counts(&self) -> Counts {
        let d = &self.derived;
        let in_stays = d.stays.iter().map(|s| s.observations.len()).sum();
        let in_via = d.voyages.iter().map(|v| v.via.len()).sum();
        let rejected_features = self.rejected.len();
        Counts {
            read: self.observations.len() + rejected_features,
            accepted: self.observations.len(),
            rejected: rejected_features,
            in_stays,
            in_via,
            unmatched: d.unmatched.len(),
            candidate_links: self.linked.stay_candidates + self.linked.links.candidates,
        }
    }
}

/// What `match` was asked to do.
#[derive(Debug, Clone)]
pub struct MatchOptions {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub ports: Option<PathBuf>,
    pub scenes: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub land: Option<PathBuf>,
    pub overwrite: bool,
    pub gpkg: bool,
    pub quiet: bool,
    pub verbose: bool,
    /// Reference time for rejecting future observations.
    pub now: Time,
}

/// Reads the config file, or the defaults.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config> {
    match path {
        None => Ok(Config::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            Config::from_toml(&text).map_err(|e| Error::Config(format!("{}: {e}", p.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_in_nothing_out() {
        let r = solve(
            Ingested::default(),
            crate::ports::builtin(),
            &[],
            &Config::default(),
            None,
        );
        assert_eq!(r.counts().read, 0);
        let l = layers(&r);
        assert_eq!(l.len(), build::LAYER_NAMES.len());
        assert!(l.iter().all(|l| l.features.is_empty()));
    }

    fn rejected(file: &str, index: Option<usize>, reason: &str) -> Rejected {
        Rejected {
            source_file: file.into(),
            feature_index: index,
            id: None,
            reason: reason.into(),
            original: None,
            geometry: None,
        }
    }

    #[test]
    fn merged_rejects_are_in_the_order_of_a_stable_sort() {
        let merged = |a: &[Rejected], b: &[Rejected]| -> Vec<String> {
            merge_sorted(a, b).map(|r| r.reason.clone()).collect()
        };
        assert!(merged(&[], &[]).is_empty());
        let a = vec![
            rejected("a.geojson", None, "a0"),
            rejected("a.geojson", Some(1), "a1"),
            rejected("c.geojson", Some(0), "a2"),
            rejected("c.geojson", Some(0), "a3"),
        ];
        let b = vec![
            rejected("b.geojson", Some(0), "b0"),
            rejected("c.geojson", Some(0), "b1"),
            rejected("d.geojson", Some(2), "b2"),
        ];
        let mut sorted: Vec<Rejected> = a.iter().chain(&b).cloned().collect();
        sorted.sort_by(rejected_order);
        let expected: Vec<String> = sorted.iter().map(|r| r.reason.clone()).collect();
        assert_eq!(expected, ["a0", "a1", "b0", "a2", "a3", "b1", "b2"]);
        assert_eq!(merged(&a, &b), expected);
        assert_eq!(merged(&a, &[]), ["a0", "a1", "a2", "a3"]);
        assert_eq!(merged(&[], &b), ["b0", "b1", "b2"]);
    }
}

/// One input file in run.json.
#[derive(Debug, Clone, Serialize)]
pub struct RunInput {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub features: usize,
    pub accepted: usize,
    pub rejected: usize,
}

/// The manifest of a run (run.json). Everything but `timings_s` is a function of the
/// inputs and config, so two runs differ only there.
#[derive(Debug, Clone, Serialize)]
pub struct RunManifest {
    pub shiplink_version: String,
    pub config: Config,
    pub inputs: Vec<RunInput>,
    pub ports: String,
    pub scenes: Option<String>,
    pub scene_count: usize,
    pub land: String,
    pub counts: Counts,
    /// Feature counts per output layer.
    pub outputs: BTreeMap<String, usize>,
    pub warnings: Vec<String>,
    pub timings_s: BTreeMap<String, f64>,
}

impl RunManifest {
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// Builds the manifest from the results and the layers written.
pub fn manifest(
    r: &Results,
    layers: &[LayerSummary],
    config: &Config,
    ports_source: String,
    scenes: Option<(String, usize)>,
    land: String,
    timings: &[(String, f64)],
) -> RunManifest {
    RunManifest {
        shiplink_version: env!("CARGO_PKG_VERSION").to_string(),
        config: config.clone(),
        inputs: r
            .files
            .iter()
            .map(|f| RunInput {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                bytes: f.bytes,
                features: f.features,
                accepted: f.accepted,
                rejected: f.rejected,
            })
            .collect(),
        ports: ports_source,
        scene_count: scenes.as_ref().map_or(0, |s| s.1),
        scenes: scenes.map(|s| s.0),
        land,
        counts: r.counts(),
        outputs: layers
            .iter()
            .map(|l| (l.name.clone(), l.features))
            .collect(),
        warnings: r.warnings.clone(),
        timings_s: timings
            .iter()
            .map(|(k, v)| (k.clone(), (v * 1e4).round() / 1e4))
            .collect(),
    }
}

/// What a finished `match` reports back to the binary.
#[derive(Debug, Clone)]
pub struct MatchOutcome {
    pub counts: Counts,
    pub outputs: BTreeMap<String, usize>,
    pub scenes_rejected: usize,
    pub warnings: Vec<String>,
    pub timings: Vec<(String, f64)>,
    /// Stage name → what it counted, for `-v` (stages as in `timings`).
    pub stage_counts: Vec<(String, String)>,
    /// Each voyage's id and what its confidence was computed from
    /// ([`crate::model::Voyage::confidence_inputs`]), for fitting the confidence model.
    pub voyage_confidence_inputs: Vec<(String, [f64; crate::config::VOYAGE_CONFIDENCE_INPUTS])>,
}

impl MatchOutcome {
    /// 0 when all input was used, 1 when some was rejected.
    pub fn exit_code(&self) -> u8 {
        if self.counts.rejected + self.scenes_rejected > 0 {
            1
        } else {
            0
        }
    }
}

/// Runs `shiplink match`: reads, links, routes and writes the output folder atomically.
pub fn run_match(opts: &MatchOptions) -> Result<MatchOutcome> {
    use crate::output::write::{check_output_dir, OutputFormat};
    let started = Instant::now();
    let mut timings: Vec<(String, f64)> = Vec::new();
    check_output_dir(&opts.out, opts.overwrite)?;
    // A spinner on stderr naming the stage; indicatif hides it when stderr is not a terminal.
    let progress = if opts.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    };
    progress.set_message("reading land, ports and scenes");
    let config = load_config(opts.config.as_ref())?;
    let (ports, ports_source) = match &opts.ports {
        Some(p) => (crate::ports::read_ports(p)?, p.display().to_string()),
        None => (crate::ports::builtin(), "built-in".to_string()),
    };
    let (scenes, scene_rejected) = match &opts.scenes {
        Some(p) => crate::ingest::read_scenes(p)?,
        None => (Vec::new(), Vec::new()),
    };

    // The land graph and the ingest are independent: build one while reading the other.
    progress.set_message(format!(
        "reading land and ingesting {} input path(s)",
        opts.inputs.len()
    ));
    // A land file without a bbox covers the port zones too: beyond its polygons is water.
    let port_corners: Vec<(f64, f64)> = ports
        .iter()
        .filter_map(|p| geo::BoundingRect::bounding_rect(&p.zone))
        .flat_map(|r| [(r.min().x, r.min().y), (r.max().x, r.max().y)])
        .collect();
    let ((router, land_s), (ingested, ingest_s)) = rayon::join(
        || {
            let t = Instant::now();
            let r = match &opts.land {
                Some(p) => Router::from_path_covering(p, &config.routing, &port_corners).map(Some),
                None => Ok(Router::builtin(&config.routing).ok()),
            };
            (r, t.elapsed().as_secs_f64())
        },
        || {
            let t = Instant::now();
            let r = crate::ingest::ingest(&opts.inputs, &config.ingest, opts.now);
            (r, t.elapsed().as_secs_f64())
        },
    );
    let router = router?;
    let ingested = ingested?;
    let land_source = match &opts.land {
        Some(p) => p.display().to_string(),
        None if router.is_some() => {
            "built-in GSHHG 2.3.6 full resolution (Najin–Dunay region)".to_string()
        }
        None => "none".to_string(),
    };
    timings.push(("land".to_string(), land_s)); // built while ingest runs
    timings.push(("ingest".to_string(), ingest_s));
    let mut stage_counts = Vec::new();
    if let Some(r) = &router {
        let (nodes, edges) = r.graph_size();
        stage_counts.push((
            "land".to_string(),
            format!("water graph of {nodes} nodes and {edges} edges"),
        ));
    }
    let mb = ingested.files.iter().map(|f| f.bytes).sum::<u64>() as f64 / 1e6;
    stage_counts.push((
        "ingest".to_string(),
        format!(
            "{} files, {mb:.1} MB ({:.0} MB/s), {} detections kept, {} rejected",
            ingested.files.len(),
            mb / ingest_s.max(1e-9),
            ingested.observations.len(),
            ingested.rejected.len()
        ),
    ));
    if ingested.usable_files() == 0 {
        return Err(Error::NoInput(ingested.why_unusable()));
    }

    progress.set_message(format!(
        "linking {} observations (index, evidence, linking, routing)",
        ingested.observations.len()
    ));
    let mut results = solve(ingested, ports, &scenes, &config, router.as_ref());
    timings.extend(results.timings.iter().cloned());
    stage_counts.append(&mut results.counts);
    let scenes_rejected = scene_rejected.len();
    if scenes_rejected > 0 {
        results.warnings.push(format!(
            "{scenes_rejected} scene feature(s) rejected (listed in rejected.geojson)"
        ));
    }

    // Output: the layers are built and written one at a time, feature by feature (a 1M
    // detection run's layers would take GBs held at once); only small summaries stay.
    let t = Instant::now();
    free_linking_state(&mut results);
    let format = if opts.gpkg {
        OutputFormat::Gpkg
    } else {
        OutputFormat::Geojson
    };
    let mut out = OutputWriter::create(&opts.out, opts.overwrite, format)?;
    progress.set_message("writing layers");
    let mut scene_rejected: Vec<Rejected> = scene_rejected
        .into_iter()
        .map(|mut r| {
            r.reason = format!("scene: {}", r.reason);
            r
        })
        .collect();
    scene_rejected.sort_by(rejected_order);
    results.rejected.sort_by(rejected_order);
    write_layers(&mut out, &results, &scene_rejected)?;
    drop(scene_rejected);
    let summary = crate::output::summary::summarise(
        &results.derived.voyages,
        &results.derived.stays,
        &results.observations,
    );
    timings.push(("layers".to_string(), t.elapsed().as_secs_f64()));
    timings.push((
        "total_before_write".to_string(),
        started.elapsed().as_secs_f64(),
    ));
    let manifest = manifest(
        &results,
        out.layers(),
        &config,
        ports_source,
        opts.scenes
            .as_ref()
            .map(|p| (p.display().to_string(), scenes.len())),
        land_source,
        &timings,
    );
    progress.set_message("writing");
    let t = Instant::now();
    out.write_file("summary.csv", &crate::output::summary::to_csv(&summary))?;
    out.write_file("summary.json", &crate::output::summary::to_json(&summary))?;
    out.write_file("run.json", &manifest.to_json())?;
    let land = router.as_ref().map(|r| r.land_geojson());
    out.finish(land.as_deref())?;
    timings.push(("write".to_string(), t.elapsed().as_secs_f64()));
    progress.finish_and_clear();
    timings.push(("total".to_string(), started.elapsed().as_secs_f64()));
    let voyage_confidence_inputs = results
        .derived
        .voyages
        .iter()
        .map(|v| (v.voyage_id.clone(), v.confidence_inputs))
        .collect();
    Ok(MatchOutcome {
        counts: manifest.counts.clone(),
        outputs: manifest.outputs.clone(),
        scenes_rejected,
        warnings: results.warnings,
        timings,
        stage_counts,
        voyage_confidence_inputs,
    })
}
