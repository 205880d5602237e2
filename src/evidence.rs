//! Empty-berth evidence from clear scenes: a clear image that covers a vessel's position
//! and shows no detection near it bounds when that vessel arrived or left.
//!
//! For each observation in a port, [`EmptyBerth`] gives the latest clear empty scene
//! before it and the earliest after it, within a horizon. A scene's detections are the
//! observations with its `scene_id`, or, for scenes without one, the observations taken
//! within [`SAME_SCENE_S`] seconds inside its footprint.

use std::collections::{BTreeMap, HashSet};

use geo::{BoundingRect, Contains, Point, Rect};
use rayon::prelude::*;

use crate::geodesy::{local_m, CapGrid};
use crate::model::{Observation, Scene, Time};

/// Observations this close in time to a scene without `scene_id` belong to it.
pub const SAME_SCENE_S: i64 = 120;

/// Per-observation bounds from empty-berth scenes (`None`: no such scene in the horizon).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmptyBerth {
    pub before: Vec<Option<Time>>,
    pub after: Vec<Option<Time>>,
}

struct ClearScene<'a> {
    t: Time,
    bbox: Rect<f64>,
    scene: &'a Scene,
    /// The scene's detections (lon, lat) by their cell of the search's [`CapGrid`] (a
    /// binary search per row of cells finds those near a point: cheaper than an R-tree's
    /// descent, which was most of this stage at a million detections).
    detections: Vec<([i32; 2], f64, f64)>,
    /// The cells of the finer grid that hold a detection: every point of such a cell is
    /// within the radius of it, so a point there is seen occupied at one lookup (at a
    /// crowded berth, nearly every scene shows some vessel within the radius).
    full: HashSet<[i32; 2], foldhash::fast::FixedState>,
}

/// What an observation's searches read of [`empty_berth`]'s grids: its cell of the finer
/// grid (`None`: not used there) and the runs of cells `(row, first, last)` its circle
/// touches.
struct Probe {
    full_cell: Option<[i32; 2]>,
    runs: Vec<(i32, i32, i32)>,
}

/// Cells of [`ClearScene::full`] are at most this share of the radius wide (diagonal ~0.71).
const FULL_CELL_SHARE: f64 = 0.5;
/// Latitude up to which [`ClearScene::full`] is used, degrees: further poleward a cell
/// widens toward the equator by more than its diagonal allows.
const FULL_CELL_MAX_LAT: f64 = 80.0;

/// Computes empty-berth bounds for the observations flagged in `in_port`.
///
/// * `clear_cloud_fraction` — a scene is clear when its cloud fraction is at most this;
/// * `radius_m` — a detection this close to the position counts as the vessel being there;
/// * `horizon_s` — scenes further than this from the observation are not looked at.
pub fn empty_berth(
    obs: &[Observation],
    in_port: &[bool],
    scenes: &[Scene],
    clear_cloud_fraction: f64,
    radius_m: f64,
    horizon_s: i64,
) -> EmptyBerth {
    let n = obs.len();
    let mut out = EmptyBerth {
        before: vec![None; n],
        after: vec![None; n],
    };
    if scenes.is_empty() || n == 0 {
        return out;
    }
    // Observations by scene id, and by time for scenes without one.
    let mut by_scene: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, o) in obs.iter().enumerate() {
        if let Some(s) = &o.scene_id {
            by_scene.entry(s.as_ref()).or_default().push(i);
        }
    }
    // The grid finds detections within a slightly wider radius; `local_m` decides.
    let reach_m = radius_m * 1.01 + 1.0;
    let grid = CapGrid::new(reach_m);
    // (Not for radii under two metres: the grid's cells are at least a metre wide.)
    let fine =
        (radius_m * FULL_CELL_SHARE >= 1.0).then(|| CapGrid::new(radius_m * FULL_CELL_SHARE));
    let mut by_time: Vec<usize> = (0..n).collect();
    by_time.sort_by_key(|&i| (obs[i].observed_at, i));

    let mut clear: Vec<ClearScene> = scenes
        .iter()
        .filter(|s| s.cloud_fraction <= clear_cloud_fraction)
        .filter_map(|s| {
            let bbox = s.footprint.bounding_rect()?;
            let detections = match &s.scene_id {
                Some(id) => by_scene.get(id.as_str()).cloned().unwrap_or_default(),
                None => {
                    let lo = by_time
                        .partition_point(|&i| obs[i].observed_at < s.observed_at - SAME_SCENE_S);
                    by_time[lo..]
                        .iter()
                        .take_while(|&&i| obs[i].observed_at <= s.observed_at + SAME_SCENE_S)
                        .copied()
                        .filter(|&i| s.footprint.contains(&Point::new(obs[i].lon, obs[i].lat)))
                        .collect()
                }
            };
            let mut points: Vec<([i32; 2], f64, f64)> = detections
                .into_iter()
                .map(|k| {
                    let (lon, lat) = (obs[k].lon, obs[k].lat);
                    (grid.cell(lon, lat), lon, lat)
                })
                .collect();
            points.sort_unstable_by_key(|q| q.0);
            let full = match &fine {
                Some(fine) => points
                    .iter()
                    .filter(|q| q.2.abs() < FULL_CELL_MAX_LAT)
                    .map(|q| fine.cell(q.1, q.2))
                    .collect(),
                None => HashSet::default(),
            };
            Some(ClearScene {
                t: s.observed_at,
                bbox,
                scene: s,
                detections: points,
                full,
            })
        })
        .collect();
    clear.sort_by_key(|c| c.t);

    // What an observation's searches read of the grids, once per observation (the same
    // for every scene it is compared with).
    let probe_of = |o: &Observation| {
        let full_cell = fine
            .as_ref()
            .filter(|_| o.lat.abs() < FULL_CELL_MAX_LAT)
            .map(|fine| fine.cell(o.lon, o.lat));
        let mut runs: Vec<(i32, i32, i32)> = Vec::new();
        grid.cap((o.lon, o.lat), reach_m, |row, first, last| {
            runs.push((row, first, last))
        });
        Probe { full_cell, runs }
    };
    let occupied = |c: &ClearScene, o: &Observation, probe: &Probe| -> bool {
        if probe.full_cell.is_some_and(|cell| c.full.contains(&cell)) {
            return true;
        }
        let d = &c.detections;
        probe.runs.iter().any(|&(row, first, last)| {
            let from = d.partition_point(|q| q.0 < [row, first]);
            d[from..]
                .iter()
                .take_while(|q| q.0 <= [row, last])
                .any(|q| local_m((q.1, q.2), (o.lon, o.lat)) <= radius_m)
        })
    };
    let shows_empty = |c: &ClearScene, o: &Observation, probe: &Probe| -> bool {
        let p = Point::new(o.lon, o.lat);
        c.bbox.contains(&p) && c.scene.footprint.contains(&p) && !occupied(c, o, probe)
    };

    let bounds: Vec<(Option<Time>, Option<Time>)> = obs
        .par_iter()
        .enumerate()
        .map(|(i, o)| {
            if !in_port.get(i).copied().unwrap_or(false) {
                return (None, None);
            }
            let probe = probe_of(o);
            let start = clear.partition_point(|c| c.t <= o.observed_at);
            let after = clear[start..]
                .iter()
                .take_while(|c| c.t <= o.observed_at + horizon_s)
                .find(|c| shows_empty(c, o, &probe))
                .map(|c| c.t);
            let end = clear.partition_point(|c| c.t < o.observed_at);
            let before = clear[..end]
                .iter()
                .rev()
                .take_while(|c| c.t >= o.observed_at - horizon_s)
                .find(|c| shows_empty(c, o, &probe))
                .map(|c| c.t);
            (before, after)
        })
        .collect();
    for (i, (before, after)) in bounds.into_iter().enumerate() {
        out.before[i] = before;
        out.after[i] = after;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::obs;
    use crate::model::Sensor;
    use geo::{polygon, MultiPolygon};

    fn scene(id: Option<&str>, t: i64, cloud: f64) -> Scene {
        Scene {
            scene_id: id.map(str::to_string),
            observed_at: t,
            sensor: Sensor::Planetscope,
            cloud_fraction: cloud,
            footprint: MultiPolygon::new(vec![polygon![
                (x: 130.0, y: 42.0), (x: 131.0, y: 42.0), (x: 131.0, y: 43.0), (x: 130.0, y: 43.0), (x: 130.0, y: 42.0)
            ]]),
        }
    }

    proptest::proptest! {
        /// A clear scene shows a berth empty exactly when none of its detections lies
        /// within the radius (by `local_m`), whatever the shortcuts of the search: the
        /// detections at random bearings and distances around the berth, some on the rim,
        /// anywhere on Earth but the poles.
        #[test]
        fn empty_exactly_when_no_detection_is_within_the_radius(
            lon in -179.0f64..179.0,
            lat in -84.0f64..84.0,
            radius_m in 20.0f64..600.0,
            tiny in proptest::bool::ANY,
            spots in proptest::collection::vec((0.0f64..3.0, 0.0f64..std::f64::consts::TAU, proptest::bool::ANY), 0..12),
        ) {
            // Radii of a few metres a quarter of the time (under the finest cells).
            let radius_m = if tiny && radius_m < 300.0 { radius_m / 100.0 } else { radius_m };
            let mut o = vec![obs("berth", lon, lat, 1_000)];
            for (k, &(share, bearing, rim)) in spots.iter().enumerate() {
                let d = if rim { radius_m * (0.995 + share / 100.0) } else { radius_m * share };
                // Metres east and north to degrees (as local_m measures them).
                let dlat = (d * bearing.cos() / crate::geodesy::M_PER_DEG).clamp(-5.0, 5.0);
                let lat_k = (lat + dlat).clamp(-89.0, 89.0);
                let coslat = ((lat + lat_k) / 2.0).to_radians().cos();
                let dlon = d * bearing.sin() / (crate::geodesy::M_PER_DEG * coslat);
                let mut x = obs(&format!("d{k}"), lon + dlon, lat_k, 5_000);
                x.scene_id = Some("s".into());
                o.push(x);
            }
            let occupied = o[1..]
                .iter()
                .any(|x| local_m((x.lon, x.lat), (lon, lat)) <= radius_m);
            let mut sc = scene(Some("s"), 5_000, 0.0);
            sc.footprint = MultiPolygon::new(vec![polygon![
                (x: lon - 1.0, y: lat - 1.0), (x: lon + 1.0, y: lat - 1.0), (x: lon + 1.0, y: lat + 1.0),
                (x: lon - 1.0, y: lat + 1.0), (x: lon - 1.0, y: lat - 1.0)
            ]]);
            let mut in_port = vec![false; o.len()];
            in_port[0] = true;
            let e = empty_berth(&o, &in_port, &[sc], 0.2, radius_m, 86_400);
            proptest::prop_assert_eq!(e.after[0], (!occupied).then_some(5_000));
        }
    }

    #[test]
    fn no_scenes_no_bounds() {
        let o = vec![obs("a", 130.3, 42.236, 1000)];
        let e = empty_berth(&o, &[true], &[], 0.2, 250.0, 86400);
        assert_eq!(e.before, vec![None]);
        assert_eq!(e.after, vec![None]);
    }

    #[test]
    fn clear_empty_scene_bounds_both_sides_cloudy_does_not() {
        let mut o = vec![
            obs("a", 130.3, 42.236, 10_000),
            obs("b", 130.3, 42.236, 20_000),
        ];
        o[1].scene_id = Some("s2".into());
        let scenes = vec![
            scene(Some("s0"), 5_000, 0.0),  // clear, empty -> before
            scene(Some("s2"), 20_000, 0.0), // clear but shows b at the same place
            scene(Some("s3"), 30_000, 0.9), // cloudy
            scene(Some("s4"), 40_000, 0.1), // clear, empty -> after
        ];
        let e = empty_berth(&o, &[true, false], &scenes, 0.2, 250.0, 86_400);
        assert_eq!(e.before[0], Some(5_000));
        assert_eq!(
            e.after[0],
            Some(40_000),
            "s2 shows a vessel there, s3 is cloudy"
        );
        assert_eq!(e.after[1], None, "not in port: not computed");
    }

    #[test]
    fn scenes_without_id_use_time_and_footprint() {
        let o = vec![
            obs("a", 130.3, 42.236, 10_000),
            obs("b", 130.3001, 42.236, 20_050),
        ];
        let scenes = vec![scene(None, 20_000, 0.0), scene(None, 30_000, 0.0)];
        let e = empty_berth(&o, &[true, true], &scenes, 0.2, 250.0, 86_400);
        assert_eq!(
            e.after[0],
            Some(30_000),
            "the 20_000 scene contains b, 50 s later"
        );
    }

    #[test]
    fn horizon_limits_the_search() {
        let o = vec![obs("a", 130.3, 42.236, 0)];
        let scenes = vec![scene(Some("x"), 100_000, 0.0)];
        let e = empty_berth(&o, &[true], &scenes, 0.2, 250.0, 50_000);
        assert_eq!(e.after[0], None);
    }
}
