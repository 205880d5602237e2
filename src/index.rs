//! Port assignment: an rstar R-tree over the port zones' bounding boxes, then an exact
//! point-in-polygon test. (The candidate searches of linking have their own R-trees, in
//! [`crate::linking`]'s `search` module: detections in space, time and length.)

use geo::{BoundingRect, Contains, Point};
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
}
