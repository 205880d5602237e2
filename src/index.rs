//! Spatial indexes: an rstar R-tree over observations (points embedded on a sphere in
//! metres, see [`crate::geodesy::to_ecef_m`]) and one over port zones, for port assignment
//! and radius searches in metres.

use geo::{BoundingRect, Contains, Point};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::geodesy::{chord_for_m, geodesic_m, to_ecef_m};
use crate::model::{Observation, Port};

type ObsPoint = GeomWithData<[f64; 3], usize>;

/// An R-tree over observation centres; radii are metres.
pub struct ObsIndex {
    tree: RTree<ObsPoint>,
}

impl ObsIndex {
    /// Bulk-loads the index; entry `i` is `obs[i]`.
    pub fn new(obs: &[Observation]) -> ObsIndex {
        let pts = obs
            .iter()
            .enumerate()
            .map(|(i, o)| GeomWithData::new(to_ecef_m(o.lon, o.lat), i))
            .collect();
        ObsIndex {
            tree: RTree::bulk_load(pts),
        }
    }

    /// Indices of observations within `radius_m` metres (great circle) of `lon, lat`,
    /// sorted ascending.
    pub fn within_m(&self, lon: f64, lat: f64, radius_m: f64) -> Vec<usize> {
        let c = chord_for_m(radius_m);
        let mut v: Vec<usize> = self
            .tree
            .locate_within_distance(to_ecef_m(lon, lat), c * c)
            .map(|p| p.data)
            .collect();
        v.sort_unstable();
        v
    }
}

type TimedPoint = GeomWithData<[f64; 4], usize>;

/// An R-tree over observations in space and time: ECEF metres plus time scaled to metres,
/// for "who was within r metres during the next w seconds" (the stay-link candidate search).
pub struct SpaceTimeIndex {
    tree: RTree<TimedPoint>,
    /// Metres per second of the time axis.
    scale: f64,
}

impl SpaceTimeIndex {
    /// Bulk-loads the observations `members` (indices into `obs`); a time window of
    /// `window_s` seconds is given the extent of `radius_m` metres, so queries are boxes of
    /// about equal sides.
    pub fn new(
        obs: &[Observation],
        members: &[usize],
        radius_m: f64,
        window_s: f64,
    ) -> SpaceTimeIndex {
        let scale = if window_s > 0.0 {
            radius_m / window_s
        } else {
            1.0
        };
        let pts = members
            .iter()
            .map(|&i| {
                let o = &obs[i];
                let p = to_ecef_m(o.lon, o.lat);
                GeomWithData::new([p[0], p[1], p[2], o.observed_at as f64 * scale], i)
            })
            .collect();
        SpaceTimeIndex {
            tree: RTree::bulk_load(pts),
            scale,
        }
    }

    /// Observations within `radius_m` (great circle) of `lon, lat` and observed in
    /// `[t, t + window_s]`, sorted ascending.
    pub fn forward_within(
        &self,
        lon: f64,
        lat: f64,
        t: i64,
        radius_m: f64,
        window_s: f64,
    ) -> Vec<usize> {
        let c = chord_for_m(radius_m);
        let p = to_ecef_m(lon, lat);
        let t0 = t as f64 * self.scale;
        let env = AABB::from_corners(
            [p[0] - c, p[1] - c, p[2] - c, t0],
            [p[0] + c, p[1] + c, p[2] + c, t0 + window_s * self.scale],
        );
        let mut v: Vec<usize> = self
            .tree
            .locate_in_envelope(&env)
            .filter(|q| {
                let g = q.geom();
                (g[0] - p[0]).powi(2) + (g[1] - p[1]).powi(2) + (g[2] - p[2]).powi(2) <= c * c
            })
            .map(|q| q.data)
            .collect();
        v.sort_unstable();
        v
    }
}

/// Assigns each observation to the port zone that contains it (the nearest berth wins
/// where zones overlap), or `None` at sea. Returns indices into `ports`.
pub fn assign_ports(obs: &[Observation], ports: &[Port]) -> Vec<Option<usize>> {
    let rects: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = ports
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.zone.bounding_rect().map(|r| {
                GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                )
            })
        })
        .collect();
    let tree = RTree::bulk_load(rects);
    obs.iter()
        .map(|o| {
            let pt = Point::new(o.lon, o.lat);
            let mut best: Option<(f64, usize)> = None;
            for r in tree.locate_in_envelope_intersecting(&AABB::from_point([o.lon, o.lat])) {
                let p = &ports[r.data];
                if p.zone.contains(&pt) {
                    let d = geodesic_m((o.lon, o.lat), (p.berth_lon, p.berth_lat));
                    if best.is_none_or(|(bd, bi)| d < bd || (d == bd && r.data < bi)) {
                        best = Some((d, r.data));
                    }
                }
            }
            best.map(|b| b.1)
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::Sensor;
    use std::sync::Arc;

    /// A bare observation for tests.
    pub(crate) fn obs(id: &str, lon: f64, lat: f64, t: i64) -> Observation {
        Observation {
            id: id.to_string(),
            source_file: Arc::from("test.geojson"),
            feature_index: 0,
            observed_at: t,
            lon,
            lat,
            outline: None,
            sensor: Sensor::Planetscope,
            sensor_text: Some("planetscope".into()),
            scene_id: None,
            confidence: None,
            length_m: None,
            beam_m: None,
            heading_deg: None,
            vessel_class: None,
            hull_color: None,
            containers: None,
            name: None,
            imo: None,
            mmsi: None,
            extra: vec![],
        }
    }

    #[test]
    fn empty_index() {
        let idx = ObsIndex::new(&[]);
        assert!(idx.within_m(130.0, 42.0, 1000.0).is_empty());
        assert!(assign_ports(&[], &crate::ports::builtin()).is_empty());
    }

    #[test]
    fn radius_is_metres_not_degrees() {
        // 0.001 deg of longitude at 42.2 N is about 82 m.
        let o = vec![
            obs("a", 130.300, 42.236, 0),
            obs("b", 130.301, 42.236, 0),
            obs("c", 130.310, 42.236, 0),
        ];
        let idx = ObsIndex::new(&o);
        assert_eq!(idx.within_m(130.300, 42.236, 100.0), vec![0, 1]);
        assert_eq!(idx.within_m(130.300, 42.236, 50.0), vec![0]);
        assert_eq!(idx.within_m(130.300, 42.236, 900.0), vec![0, 1, 2]);
    }

    #[test]
    fn space_time_index_looks_forward_within_radius_and_window() {
        let o = vec![
            obs("a", 130.300, 42.236, 0),
            obs("near-soon", 130.301, 42.236, 3_600),
            obs("near-late", 130.301, 42.236, 200_000),
            obs("far-soon", 130.310, 42.236, 3_600),
            obs("near-before", 130.300, 42.236, -10),
        ];
        let idx = SpaceTimeIndex::new(&o, &[0, 1, 2, 3, 4], 250.0, 108_000.0);
        assert_eq!(
            idx.forward_within(130.300, 42.236, 0, 250.0, 108_000.0),
            vec![0, 1]
        );
        assert!(SpaceTimeIndex::new(&o, &[], 250.0, 1.0)
            .forward_within(130.3, 42.2, 0, 250.0, 1.0)
            .is_empty());
    }

    #[test]
    fn observations_go_to_the_zone_they_are_in() {
        let ports = crate::ports::builtin();
        let o = vec![
            obs("najin", 130.300, 42.236, 0),
            obs("dunay", 132.3545, 42.9045, 0),
            obs("sea", 131.0, 42.5, 0),
        ];
        let a = assign_ports(&o, &ports);
        let name = |x: Option<usize>| x.map(|i| ports[i].port_id.as_str());
        assert_eq!(name(a[0]), Some("najin"));
        assert_eq!(name(a[1]), Some("dunay"));
        assert_eq!(name(a[2]), None);
    }
}
