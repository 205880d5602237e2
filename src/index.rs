//! Port assignment: an rstar R-tree over the port zones' bounding boxes, then an exact
//! point-in-polygon test. (The candidate searches of linking have their own R-trees, in
//! [`crate::linking`]'s `search` module: detections in space, time and length.)

use geo::{BoundingRect, Contains, Point};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::geodesy::geodesic_m;
use crate::model::{Observation, Port};

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
    obs.par_iter()
        .map(|o| {
            let pt = Point::new(o.lon, o.lat);
            let mut containing = tree
                .locate_in_envelope_intersecting(&AABB::from_point([o.lon, o.lat]))
                .map(|r| r.data)
                .filter(|&i| ports[i].zone.contains(&pt));
            let first = containing.next()?;
            let Some(second) = containing.next() else {
                return Some(first); // one zone: no distance needed (most detections)
            };
            // Overlapping zones: the nearest berth, then the lower index.
            let dist =
                |i: usize| geodesic_m((o.lon, o.lat), (ports[i].berth_lon, ports[i].berth_lat));
            let mut best = (dist(first), first);
            for i in std::iter::once(second).chain(containing) {
                let d = dist(i);
                if d < best.0 || (d == best.0 && i < best.1) {
                    best = (d, i);
                }
            }
            Some(best.1)
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
            identity: None,
            extra: vec![],
        }
    }

    #[test]
    fn no_observations_no_ports() {
        assert!(assign_ports(&[], &crate::ports::builtin()).is_empty());
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

    /// Where zones overlap, a detection goes to the zone of the nearest berth, and at
    /// equal distances to the first port; where one zone holds it, to that one.
    #[test]
    fn overlapping_zones_go_to_the_nearest_berth() {
        use geo::polygon;
        let port = |id: &str, (x0, x1): (f64, f64), berth: (f64, f64)| Port {
            port_id: id.into(),
            name: id.into(),
            zone: geo::MultiPolygon::new(vec![polygon![
                (x: x0, y: 42.0), (x: x1, y: 42.0), (x: x1, y: 43.0), (x: x0, y: 43.0), (x: x0, y: 42.0)
            ]]),
            berth_lon: berth.0,
            berth_lat: berth.1,
        };
        let ports = vec![
            port("west", (130.0, 131.0), (130.2, 42.5)),
            port("middle", (130.5, 131.5), (130.9, 42.5)),
            port("twin", (130.5, 131.5), (130.9, 42.5)),
            port("east", (131.2, 132.0), (131.8, 42.5)),
        ];
        let o = vec![
            obs("west only", 130.1, 42.5, 0),
            obs("nearer middle", 130.8, 42.5, 0),
            obs("nearer west", 130.52, 42.5, 0),
            obs("middle, twin and east", 131.45, 42.5, 0),
        ];
        let a = assign_ports(&o, &ports);
        let name = |x: Option<usize>| x.map(|i| ports[i].port_id.as_str());
        assert_eq!(name(a[0]), Some("west"));
        assert_eq!(name(a[1]), Some("middle"), "middle and twin tie: the first");
        assert_eq!(name(a[2]), Some("west"));
        assert_eq!(name(a[3]), Some("east"));
    }
}
