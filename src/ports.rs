//! Port zones: the built-in Najin–Dunay set, a user's `--ports` file, and `shiplink ports`.
//!
//! A zone is a polygon over harbour water and quays; its berth point is a water point
//! near the quays, used as the end of sea routes. Built-in berth points are checked against
//! the GSHHG-f land data (all four lie in water, 280–480 m off the drawn coast).

use std::path::Path;

use geo::{Coord, InteriorPoint, LineString, MultiPolygon, Polygon};

use crate::error::{Error, Result};
use crate::model::Port;

fn rect(w: f64, s: f64, e: f64, n: f64) -> MultiPolygon<f64> {
    let ring = LineString::from(vec![
        Coord { x: w, y: s },
        Coord { x: e, y: s },
        Coord { x: e, y: n },
        Coord { x: w, y: n },
        Coord { x: w, y: s },
    ]);
    MultiPolygon::new(vec![Polygon::new(ring, vec![])])
}

/// The built-in ports: najin, dunay, vostochny, vladivostok, sorted by id.
pub fn builtin() -> Vec<Port> {
    let p = |id: &str, name: &str, zone, berth: (f64, f64)| Port {
        port_id: id.to_string(),
        name: name.to_string(),
        zone,
        berth_lon: berth.0,
        berth_lat: berth.1,
    };
    vec![
        p(
            "dunay",
            "Dunay (Chazhma Bay, Strelok Bay)",
            rect(132.340, 42.895, 132.375, 42.915),
            (132.3545, 42.9045),
        ),
        p(
            "najin",
            "Najin (Rajin harbour)",
            rect(130.290, 42.215, 130.318, 42.242),
            (130.3000, 42.2360),
        ),
        p(
            "vladivostok",
            "Vladivostok (Golden Horn Bay)",
            rect(131.860, 43.095, 131.930, 43.122),
            (131.8900, 43.1050),
        ),
        p(
            "vostochny",
            "Vostochny (Wrangel Bay)",
            rect(133.045, 42.720, 133.095, 42.760),
            (133.0750, 42.7350),
        ),
    ]
}

/// How far (km) a `--ports` file's berth point may lie outside its zone: routes start at the
/// berth, so one far from its zone is a mistake (typically a zone moved in QGIS while its
/// `berth_lon`/`berth_lat` properties stayed behind).
pub const MAX_BERTH_OFF_ZONE_KM: f64 = 2.0;

/// Distance (km) from a lon/lat point to a zone, 0 inside it; in a local equirectangular
/// plane about the point (good to well under 1 % at a few km; longitudes taken the short
/// way round, so a zone across the antimeridian is measured right).
fn km_outside(zone: &MultiPolygon<f64>, lon: f64, lat: f64) -> f64 {
    use geo::{Distance, Euclidean, MapCoords};
    let proj = crate::routing::Proj::about(lon, lat);
    let plane = zone.map_coords(|c| {
        let [x, y] = proj.fwd(lon + (c.x - lon + 540.0).rem_euclid(360.0) - 180.0, c.y);
        Coord { x, y }
    });
    Euclidean.distance(&geo::Point::new(0.0, 0.0), &plane) / 1000.0
}

/// Reads a ports file: a GeoJSON FeatureCollection of Polygon/MultiPolygon features with
/// `port_id` and `name` (optional `berth_lon`/`berth_lat`, else an interior point; a berth
/// more than [`MAX_BERTH_OFF_ZONE_KM`] outside its zone is an error).
/// Port ids must be unique. Overlapping zones are allowed; an observation in two zones
/// goes to the port whose berth is nearer.
pub fn read_ports(path: &Path) -> Result<Vec<Port>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let fc: geojson::FeatureCollection = text
        .parse::<geojson::GeoJson>()
        .map_err(|e| Error::bad_file(path, format!("not a GeoJSON document: {e}")))
        .and_then(|g| {
            geojson::FeatureCollection::try_from(g)
                .map_err(|e| Error::bad_file(path, format!("not a FeatureCollection: {e}")))
        })?;
    let mut ports = Vec::new();
    for (i, f) in fc.features.iter().enumerate() {
        let bad = |m: String| Error::bad_file(path, format!("feature {i}: {m}"));
        // Text, or a whole number as QGIS writes an integer field.
        let prop = |k: &str| match f.property(k) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            _ => None,
        };
        let port_id = prop("port_id")
            .ok_or_else(|| bad("no property port_id (text or a whole number)".into()))?;
        if port_id.trim().is_empty() {
            return Err(bad("port_id is empty".into()));
        }
        let name = prop("name").unwrap_or_else(|| port_id.clone());
        let geom = f
            .geometry
            .as_ref()
            .ok_or_else(|| bad(format!("port {port_id} has no geometry")))?;
        let g: geo::Geometry<f64> = geom
            .clone()
            .try_into()
            .map_err(|e| bad(format!("port {port_id}: bad geometry: {e}")))?;
        let zone = match g {
            geo::Geometry::Polygon(p) => MultiPolygon::new(vec![p]),
            geo::Geometry::MultiPolygon(m) => m,
            _ => {
                return Err(bad(format!(
                    "port {port_id}: geometry must be Polygon or MultiPolygon"
                )))
            }
        };
        let finite =
            zone.0.iter().flat_map(|p| p.exterior().coords()).all(|c| {
                c.x.is_finite() && c.y.is_finite() && c.x.abs() <= 180.0 && c.y.abs() <= 90.0
            });
        if !finite || zone.0.is_empty() {
            return Err(bad(format!("port {port_id}: coordinates out of range")));
        }
        // Which zone a detection is in means nothing for a self-intersecting outline.
        if let Err(e) = geo::Validation::check_validation(&zone) {
            return Err(bad(format!(
                "port {port_id}: invalid zone: {e} (QGIS: Vector > Geometry Tools > Check \
                 Validity, then Fix Geometries)"
            )));
        }
        let num = |k: &str| f.property(k).and_then(|v| v.as_f64());
        let (berth_lon, berth_lat) = match (num("berth_lon"), num("berth_lat")) {
            (Some(x), Some(y)) => (x, y),
            _ => {
                let p = zone
                    .interior_point()
                    .ok_or_else(|| bad(format!("port {port_id}: empty zone")))?;
                (p.x(), p.y())
            }
        };
        if !(berth_lon.abs() <= 180.0 && berth_lat.abs() <= 90.0) {
            return Err(bad(format!(
                "port {port_id}: berth_lon/berth_lat {berth_lon}, {berth_lat} out of range"
            )));
        }
        let off_km = km_outside(&zone, berth_lon, berth_lat);
        if off_km > MAX_BERTH_OFF_ZONE_KM {
            return Err(bad(format!(
                "port {port_id}: its berth point ({berth_lon}, {berth_lat}) is {off_km:.1} km \
                 from its zone (at most {MAX_BERTH_OFF_ZONE_KM} km); a zone moved without its \
                 berth_lon/berth_lat? Fix them, or remove both to use a point inside the zone"
            )));
        }
        ports.push(Port {
            port_id,
            name,
            zone,
            berth_lon,
            berth_lat,
        });
    }
    if ports.is_empty() {
        return Err(Error::bad_file(path, "no port features"));
    }
    ports.sort_by(|a, b| a.port_id.cmp(&b.port_id));
    if let Some(w) = ports.windows(2).find(|w| w[0].port_id == w[1].port_id) {
        return Err(Error::bad_file(
            path,
            format!("port_id {} appears twice", w[0].port_id),
        ));
    }
    Ok(ports)
}

/// The ports as a GeoJSON FeatureCollection (what `shiplink ports` prints).
pub fn to_geojson(ports: &[Port]) -> String {
    let features: Vec<geojson::Feature> = ports
        .iter()
        .map(|p| {
            let mut props = geojson::JsonObject::new();
            props.insert("port_id".into(), p.port_id.clone().into());
            props.insert("name".into(), p.name.clone().into());
            props.insert("berth_lon".into(), p.berth_lon.into());
            props.insert("berth_lat".into(), p.berth_lat.into());
            geojson::Feature {
                bbox: None,
                geometry: Some(geojson::Geometry::from(&p.zone)),
                id: Some(geojson::feature::Id::String(p.port_id.clone())),
                properties: Some(props),
                foreign_members: None,
            }
        })
        .collect();
    let fc = geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    };
    let mut s = serde_json::to_string_pretty(&fc).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Contains;

    #[test]
    fn builtin_zones_contain_their_berths() {
        let ports = builtin();
        assert_eq!(ports.len(), 4);
        for p in &ports {
            assert!(
                p.zone.contains(&geo::Point::new(p.berth_lon, p.berth_lat)),
                "{}",
                p.port_id
            );
        }
    }

    #[test]
    fn ports_round_trip_through_geojson() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.geojson");
        std::fs::write(&path, to_geojson(&builtin())).unwrap();
        let back = read_ports(&path).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back[1].port_id, "najin");
        assert_eq!(back[1].berth_lon, 130.3);
    }

    #[test]
    fn bad_port_files_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.geojson");
        std::fs::write(&path, r#"{"type":"FeatureCollection","features":[]}"#).unwrap();
        assert!(read_ports(&path)
            .unwrap_err()
            .to_string()
            .contains("no port features"));
        std::fs::write(
            &path,
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"x"},"geometry":null}]}"#,
        )
        .unwrap();
        assert!(read_ports(&path)
            .unwrap_err()
            .to_string()
            .contains("port_id"));
        // A whole-number port_id is read as text; a self-intersecting zone is an error.
        let zone = |ring: &str| {
            format!(
                r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"port_id":7}},"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}]}}"#
            )
        };
        std::fs::write(
            &path,
            zone("[[130.29,42.215],[130.318,42.215],[130.318,42.242],[130.29,42.242],[130.29,42.215]]"),
        )
        .unwrap();
        let ports = read_ports(&path).unwrap();
        assert_eq!(
            (ports[0].port_id.as_str(), ports[0].name.as_str()),
            ("7", "7")
        );
        std::fs::write(
            &path,
            zone("[[130.29,42.215],[130.318,42.242],[130.318,42.215],[130.29,42.242],[130.29,42.215]]"),
        )
        .unwrap();
        let err = read_ports(&path).unwrap_err().to_string();
        assert!(
            err.contains("port 7: invalid zone") && err.contains("p.geojson"),
            "{err}"
        );
    }

    /// A zone moved (here 100 degrees west, as when edited in QGIS) while its berth
    /// properties stayed behind is an error naming the port; a berth just outside its zone,
    /// or none at all, is fine.
    #[test]
    fn a_berth_far_from_its_zone_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.geojson");
        let mut doc: serde_json::Value = serde_json::from_str(&to_geojson(&builtin())).unwrap();
        let najin = &mut doc["features"][1];
        assert_eq!(najin["properties"]["port_id"], "najin");
        // `to_geojson` writes MultiPolygons: polygons -> rings -> positions.
        let move_zone = |g: &mut serde_json::Value, dx: f64| {
            for polygon in g["coordinates"].as_array_mut().unwrap() {
                for ring in polygon.as_array_mut().unwrap() {
                    for c in ring.as_array_mut().unwrap() {
                        c[0] = (c[0].as_f64().unwrap() + dx).into();
                    }
                }
            }
        };
        move_zone(&mut najin["geometry"], -100.0);
        std::fs::write(&path, doc.to_string()).unwrap();
        let err = read_ports(&path).unwrap_err().to_string();
        assert!(
            err.contains("port najin") && err.contains("km from its zone"),
            "{err}"
        );
        assert!(err.contains("p.geojson"), "{err}");
        // Without berth properties the berth is a point inside the moved zone.
        let props = doc["features"][1]["properties"].as_object_mut().unwrap();
        props.remove("berth_lon");
        props.remove("berth_lat");
        std::fs::write(&path, doc.to_string()).unwrap();
        let ports = read_ports(&path).unwrap();
        assert!(
            (ports[1].berth_lon - 30.3).abs() < 0.05,
            "{}",
            ports[1].berth_lon
        );
        // A berth 1 km outside its zone is kept.
        let near = km_outside(&builtin()[1].zone, 130.290 - 0.0122, 42.23);
        assert!(near > 0.9 && near < MAX_BERTH_OFF_ZONE_KM, "{near}");
        assert_eq!(km_outside(&builtin()[1].zone, 130.3, 42.236), 0.0);
        // Across the antimeridian: a berth at 179.99 E is 2.2 km from a zone that starts
        // at 179.99 W, not half the world.
        let across = rect(-179.99, 10.0, -179.9, 10.1);
        let d = km_outside(&across, 179.99, 10.05);
        assert!((d - 2.19).abs() < 0.05, "{d}");
    }
}
