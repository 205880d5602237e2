//! `shiplink query`: select observations by place and time, and write observations as GeoJSON.
//!
//! The distance filter embeds points with [`to_ecef_m`] in an R-tree (bulk-loaded), finds
//! candidates within the matching chord (padded by 1 % for the sphere/ellipsoid difference),
//! then keeps those whose WGS84 geodesic distance is within the radius. A bbox whose west edge
//! is east of its east edge crosses the antimeridian. Time bounds are inclusive.
//!
//! [`observation_fields`] / [`observation_values`] are the one list of observation attributes,
//! shared with the output layers.
//!
//! ```
//! use shiplink::query::{parse_bbox, QueryFilter, query};
//! let f = QueryFilter { bbox: Some(parse_bbox("130,42,131,43").unwrap()), ..Default::default() };
//! assert!(query(&[], &f).is_empty());
//! ```

use rstar::primitives::GeomWithData;
use rstar::RTree;

use crate::error::{Error, Result};
use crate::geodesy::{chord_for_m, geodesic_m, to_ecef_m};
use crate::model::{fmt_time, parse_time, Observation, Rejected, Sensor, Time};
use crate::output::layer::{Field, FieldKind, Value};

/// A distance filter: within `within_m` metres of (lon, lat).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    pub lon: f64,
    pub lat: f64,
    pub within_m: f64,
}

/// A lon/lat box, degrees; `west > east` crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl BBox {
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        let in_lon = if self.west <= self.east {
            lon >= self.west && lon <= self.east
        } else {
            lon >= self.west || lon <= self.east
        };
        in_lon && lat >= self.south && lat <= self.north
    }
}

/// All filters of one query; `None` means no constraint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryFilter {
    pub near: Option<Near>,
    pub bbox: Option<BBox>,
    /// Inclusive bounds, UTC seconds.
    pub since: Option<Time>,
    pub until: Option<Time>,
}

fn numbers(s: &str, n: usize, what: &str) -> Result<Vec<f64>> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            Error::Usage(format!(
                "{what} {s:?}: expected {n} comma-separated numbers"
            ))
        })?;
    if v.len() != n || v.iter().any(|x| !x.is_finite()) {
        return Err(Error::Usage(format!(
            "{what} {s:?}: expected {n} comma-separated numbers"
        )));
    }
    Ok(v)
}

fn check_lon_lat(lon: f64, lat: f64, what: &str) -> Result<()> {
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(Error::Usage(format!(
            "{what}: lon {lon} / lat {lat} out of range (-180..180, -90..90)"
        )));
    }
    Ok(())
}

/// Parses `LON,LAT`.
pub fn parse_lon_lat(s: &str) -> Result<(f64, f64)> {
    let v = numbers(s, 2, "--near")?;
    check_lon_lat(v[0], v[1], "--near")?;
    Ok((v[0], v[1]))
}

/// Parses `W,S,E,N`.
pub fn parse_bbox(s: &str) -> Result<BBox> {
    let v = numbers(s, 4, "--bbox")?;
    check_lon_lat(v[0], v[1], "--bbox")?;
    check_lon_lat(v[2], v[3], "--bbox")?;
    if v[1] > v[3] {
        return Err(Error::Usage(format!(
            "--bbox {s:?}: south {} is north of north {}",
            v[1], v[3]
        )));
    }
    Ok(BBox {
        west: v[0],
        south: v[1],
        east: v[2],
        north: v[3],
    })
}

impl QueryFilter {
    /// Builds a filter from the command-line texts (errors are usage errors).
    pub fn from_args(
        near: Option<&str>,
        within_km: Option<f64>,
        bbox: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<QueryFilter> {
        let near = match (near, within_km) {
            (Some(n), Some(k)) => {
                if !(k.is_finite() && k >= 0.0) {
                    return Err(Error::Usage(format!(
                        "--within-km {k}: expected a distance >= 0"
                    )));
                }
                let (lon, lat) = parse_lon_lat(n)?;
                Some(Near {
                    lon,
                    lat,
                    within_m: k * 1000.0,
                })
            }
            (None, None) => None,
            _ => return Err(Error::Usage("--near and --within-km go together".into())),
        };
        let time = |s: Option<&str>, flag: &str| -> Result<Option<Time>> {
            s.map(|s| parse_time(s).map_err(|e| Error::Usage(format!("{flag}: {e}"))))
                .transpose()
        };
        let f = QueryFilter {
            near,
            bbox: bbox.map(parse_bbox).transpose()?,
            since: time(since, "--since")?,
            until: time(until, "--until")?,
        };
        if let (Some(a), Some(b)) = (f.since, f.until) {
            if a > b {
                return Err(Error::Usage("--since is later than --until".into()));
            }
        }
        Ok(f)
    }
}

/// Indices of the observations passing every filter, sorted by observation id.
pub fn query(obs: &[Observation], f: &QueryFilter) -> Vec<usize> {
    let mut hits: Vec<usize> = (0..obs.len())
        .filter(|&i| {
            let o = &obs[i];
            f.since.is_none_or(|t| o.observed_at >= t)
                && f.until.is_none_or(|t| o.observed_at <= t)
                && f.bbox.is_none_or(|b| b.contains(o.lon, o.lat))
        })
        .collect();
    if let Some(n) = f.near {
        let tree = RTree::bulk_load(
            hits.iter()
                .map(|&i| GeomWithData::new(to_ecef_m(obs[i].lon, obs[i].lat), i))
                .collect(),
        );
        let chord = chord_for_m(n.within_m * 1.01 + 1.0);
        let centre = to_ecef_m(n.lon, n.lat);
        hits = tree
            .locate_within_distance(centre, chord * chord)
            .map(|g| g.data)
            .filter(|&i| geodesic_m((n.lon, n.lat), (obs[i].lon, obs[i].lat)) <= n.within_m)
            .collect();
    }
    hits.sort_by(|&a, &b| obs[a].id.cmp(&obs[b].id));
    hits
}

/// The sensor's name as written in outputs (`sentinel-1`, …, `other`).
pub fn sensor_name(s: Sensor) -> &'static str {
    match s {
        Sensor::Sentinel1 => "sentinel-1",
        Sensor::Sentinel2 => "sentinel-2",
        Sensor::Planetscope => "planetscope",
        Sensor::Skysat => "skysat",
        Sensor::Worldview => "worldview",
        Sensor::Maxar => "maxar",
        Sensor::Other => "other",
    }
}

/// The attribute columns of an observation (the feature id is not among them: it is the
/// feature's own `id`). Extras follow these in [`observation_values`]' order.
pub fn observation_fields() -> Vec<Field> {
    use FieldKind::*;
    [
        ("source_file", Str),
        ("feature_index", Int),
        ("observed_at", DateTime),
        ("sensor", Str),
        ("sensor_text", Str),
        ("scene_id", Str),
        ("confidence", Real),
        ("length_m", Real),
        ("beam_m", Real),
        ("heading_deg", Real),
        ("vessel_class", Str),
        ("hull_color", Str),
        ("containers", Int),
        ("name", Str),
        ("imo", Str),
        ("mmsi", Str),
    ]
    .iter()
    .map(|(n, k)| Field::new(n, *k))
    .collect()
}

/// One value per [`observation_fields`] column, in the same order.
pub fn observation_values(o: &Observation) -> Vec<Value> {
    vec![
        Value::Str(o.source_file.to_string()),
        Value::Int(o.feature_index as i64),
        Value::Time(o.observed_at),
        Value::Str(sensor_name(o.sensor).to_string()),
        o.sensor_text.as_deref().into(),
        o.scene_id.as_deref().into(),
        o.confidence.into(),
        o.length_m.into(),
        o.beam_m.into(),
        o.heading_deg.into(),
        o.vessel_class
            .as_ref()
            .map(|c| c.as_str().to_string())
            .into(),
        o.hull_color.as_deref().into(),
        o.containers
            .map_or(Value::Null, |c| Value::Int(i64::from(c))),
        o.name().into(),
        o.imo().into(),
        o.mmsi().into(),
    ]
}

/// The extra properties with keys that clash with a declared field renamed `input_<key>`.
pub fn observation_extras(o: &Observation) -> Vec<(String, String)> {
    let fields = observation_fields();
    o.extra
        .iter()
        .map(|(k, v)| {
            if k == "id" || fields.iter().any(|f| &f.name == k) {
                (format!("input_{k}"), v.clone())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

fn json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn json_f64(out: &mut String, x: f64) {
    if x.is_finite() {
        out.push_str(&serde_json::to_string(&x).unwrap_or_else(|_| "null".into()));
    } else {
        out.push_str("null");
    }
}

fn json_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Str(s) => json_str(out, s),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Real(x) => json_f64(out, *x),
        Value::Time(t) => json_str(out, &fmt_time(*t)),
        Value::StrArray(a) => {
            out.push('[');
            for (i, s) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(out, s);
            }
            out.push(']');
        }
        Value::Json(raw) => out.push_str(raw),
    }
}

/// Writes the observations at `indices` (in that order) as a GeoJSON FeatureCollection of
/// Points, one feature per line.
pub fn to_geojson(obs: &[Observation], indices: &[usize]) -> String {
    let fields = observation_fields();
    let mut out = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
    for (n, &i) in indices.iter().enumerate() {
        let o = &obs[i];
        if n > 0 {
            out.push_str(",\n");
        }
        out.push_str("{\"type\":\"Feature\",\"id\":");
        json_str(&mut out, &o.id);
        out.push_str(",\"geometry\":{\"type\":\"Point\",\"coordinates\":[");
        json_f64(&mut out, o.lon);
        out.push(',');
        json_f64(&mut out, o.lat);
        out.push_str("]},\"properties\":{");
        for (k, (f, v)) in fields.iter().zip(observation_values(o)).enumerate() {
            if k > 0 {
                out.push(',');
            }
            json_str(&mut out, &f.name);
            out.push(':');
            json_value(&mut out, &v);
        }
        for (k, raw) in observation_extras(o) {
            out.push(',');
            json_str(&mut out, &k);
            out.push(':');
            out.push_str(&raw);
        }
        out.push_str("}}");
    }
    out.push_str("\n]}\n");
    out
}

/// One line describing a rejected feature, for warnings on stderr.
pub fn rejection_line(r: &Rejected) -> String {
    match (r.feature_index, &r.id) {
        (Some(i), Some(id)) => format!("{}: feature {i} (id {id}): {}", r.source_file, r.reason),
        (Some(i), None) => format!("{}: feature {i}: {}", r.source_file, r.reason),
        (None, _) => format!("{}: {}", r.source_file, r.reason),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn obs(id: &str, lon: f64, lat: f64, t: Time) -> Observation {
        let raw = format!(
            r#"{{"type":"Feature","id":"{id}","geometry":{{"type":"Point","coordinates":[{lon},{lat}]}},"properties":{{"observed_at":"{}","source_file":"x","note":"hi"}}}}"#,
            fmt_time(t)
        );
        let src: Arc<str> = Arc::from("f.geojson");
        crate::ingest::validate_feature(&raw, &src, 0, &Default::default(), 2_000_000_000).unwrap()
    }

    fn ids(o: &[Observation], f: &QueryFilter) -> Vec<String> {
        query(o, f).iter().map(|&i| o[i].id.clone()).collect()
    }

    #[test]
    fn empty_input_and_no_filter() {
        assert!(query(&[], &QueryFilter::default()).is_empty());
        let o = vec![obs("b", 130.0, 42.0, 0), obs("a", 131.0, 42.0, 0)];
        assert_eq!(ids(&o, &QueryFilter::default()), ["a", "b"]);
    }

    #[test]
    fn near_uses_geodesic_metres() {
        // 1 degree of latitude ≈ 111.08 km near 42°N.
        let o = vec![
            obs("at", 130.0, 42.0, 0),
            obs("in", 130.0, 42.99, 0),
            obs("out", 130.0, 43.01, 0),
        ]
        .into_iter()
        .collect::<Vec<_>>();
        let f = QueryFilter::from_args(Some("130,42"), Some(111.0), None, None, None).unwrap();
        assert_eq!(ids(&o, &f), ["at", "in"]);
        let f = QueryFilter::from_args(Some("130,42"), Some(0.0), None, None, None).unwrap();
        assert_eq!(ids(&o, &f), ["at"]);
    }

    #[test]
    fn bbox_time_and_antimeridian() {
        let o = vec![
            obs("a", 179.5, 0.0, 100),
            obs("b", -179.5, 0.0, 200),
            obs("c", 0.0, 0.0, 300),
        ];
        let f = QueryFilter::from_args(None, None, Some("179,-1,-179,1"), None, None).unwrap();
        assert_eq!(ids(&o, &f), ["a", "b"]);
        let f = QueryFilter {
            since: Some(200),
            until: Some(300),
            ..Default::default()
        };
        assert_eq!(ids(&o, &f), ["b", "c"]);
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        for (near, k, bbox, since) in [
            (Some("130"), Some(1.0), None, None),
            (Some("130,95"), Some(1.0), None, None),
            (Some("130,42"), Some(-1.0), None, None),
            (Some("130,42"), None, None, None),
            (None, None, Some("1,2,3"), None),
            (None, None, Some("0,5,1,4"), None),
            (None, None, None, Some("2024-01-01T00:00:00")),
        ] {
            let e = QueryFilter::from_args(near, k, bbox, since, None).unwrap_err();
            assert!(matches!(e, Error::Usage(_)), "{e}");
        }
    }

    #[test]
    fn geojson_output_has_fields_extras_and_utc_times() {
        let mut o = vec![obs("a", 130.5, 42.25, 1709294400)];
        o[0].id = "a\"q".into();
        let s = to_geojson(&o, &[0]);
        assert!(s.contains(r#""id":"a\"q""#), "{s}");
        assert!(s.contains(r#""coordinates":[130.5,42.25]"#), "{s}");
        assert!(s.contains(r#""observed_at":"2024-03-01T12:00:00Z""#), "{s}");
        assert!(s.contains(r#""input_source_file":"x","note":"hi""#), "{s}");
        assert!(s.contains(r#""length_m":null"#), "{s}");
        assert_eq!(observation_fields().len(), observation_values(&o[0]).len());
        // Valid JSON, as the geojson crate reads it.
        let fc: geojson::FeatureCollection =
            s.parse::<geojson::GeoJson>().unwrap().try_into().unwrap();
        assert_eq!(fc.features.len(), 1);
        let empty = to_geojson(&o, &[]);
        assert!(empty.parse::<geojson::GeoJson>().is_ok());
    }
}
