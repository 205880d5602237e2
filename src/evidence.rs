//! Empty-berth evidence from clear scenes: a clear image that covers a vessel's position
//! and shows no detection near it bounds when that vessel arrived or left.
//!
//! For each observation in a port, [`EmptyBerth`] gives the latest clear empty scene
//! before it and the earliest after it, within a horizon. A scene's detections are the
//! observations with its `scene_id`, or, for scenes without one, the observations taken
//! within [`SAME_SCENE_S`] seconds inside its footprint.

use std::collections::BTreeMap;

use geo::{BoundingRect, Contains, Point, Rect};
use rayon::prelude::*;
use rstar::primitives::GeomWithData;
use rstar::RTree;

use crate::geodesy::{chord_for_m, local_m, to_ecef_m};
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
    /// The scene's detections, as points in metres (see [`crate::geodesy::to_ecef_m`]).
    detections: RTree<GeomWithData<[f64; 3], usize>>,
}

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
            let points = detections
                .into_iter()
                .map(|k| GeomWithData::new(to_ecef_m(obs[k].lon, obs[k].lat), k))
                .collect();
            Some(ClearScene {
                t: s.observed_at,
                bbox,
                scene: s,
                detections: RTree::bulk_load(points),
            })
        })
        .collect();
    clear.sort_by_key(|c| c.t);

    // The index finds detections within a slightly wider chord; `local_m` decides.
    let chord = chord_for_m(radius_m * 1.01 + 1.0);
    let shows_empty = |c: &ClearScene, o: &Observation| -> bool {
        let p = Point::new(o.lon, o.lat);
        c.bbox.contains(&p)
            && c.scene.footprint.contains(&p)
            && !c
                .detections
                .locate_within_distance(to_ecef_m(o.lon, o.lat), chord * chord)
                .any(|q| local_m((obs[q.data].lon, obs[q.data].lat), (o.lon, o.lat)) <= radius_m)
    };

    let bounds: Vec<(Option<Time>, Option<Time>)> = obs
        .par_iter()
        .enumerate()
        .map(|(i, o)| {
            if !in_port.get(i).copied().unwrap_or(false) {
                return (None, None);
            }
            let start = clear.partition_point(|c| c.t <= o.observed_at);
            let after = clear[start..]
                .iter()
                .take_while(|c| c.t <= o.observed_at + horizon_s)
                .find(|c| shows_empty(c, o))
                .map(|c| c.t);
            let end = clear.partition_point(|c| c.t < o.observed_at);
            let before = clear[..end]
                .iter()
                .rev()
                .take_while(|c| c.t >= o.observed_at - horizon_s)
                .find(|c| shows_empty(c, o))
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
