//! Reads image footprints (`--scenes`): a GeoJSON FeatureCollection of Polygon/MultiPolygon
//! features with `observed_at` (required, RFC 3339 with an offset), `sensor`, `scene_id`
//! (string or number) and `cloud_fraction` (0..1).
//!
//! A missing `cloud_fraction` is taken as 1.0: the scene is not known to be clear, so it can
//! never show a berth as empty. A file with no usable footprint is not fatal: no scenes and one
//! file-level [`Rejected`] saying so. Only an I/O error (missing file) is fatal.
//!
//! ```no_run
//! let (scenes, rejected) = shiplink::ingest::read_scenes("scenes.geojson".as_ref()).unwrap();
//! ```

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::feature::{as_str, check_crs, number_prop, truncate_original, type_error, RawMap};
use super::geometry::{parse_footprint, serde_msg};
use crate::error::{Error, Result};
use crate::model::{parse_time, Rejected, Scene, Sensor};

/// Cloud fraction assumed when a scene does not give one.
pub const UNKNOWN_CLOUD_FRACTION: f64 = 1.0;

#[derive(Deserialize)]
struct Top<'a> {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(borrow, default)]
    features: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    crs: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawScene<'a> {
    #[serde(borrow, default)]
    geometry: Option<&'a RawValue>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
}

/// Reads a scenes file; see the module docs.
pub fn read_scenes(path: &Path) -> Result<(Vec<Scene>, Vec<Rejected>)> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let source: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    let file_reject = |reason: String| Rejected {
        source_file: Arc::clone(&source),
        feature_index: None,
        id: None,
        reason,
        original: None,
        geometry: None,
    };
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&data);
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            let r = file_reject(format!("invalid utf-8 at byte {}", e.valid_up_to()));
            return Ok((Vec::new(), vec![r]));
        }
    };
    if text.trim().is_empty() {
        return Ok((Vec::new(), vec![file_reject("scenes file is empty".into())]));
    }
    let top: Top = match serde_json::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            let r = file_reject(format!(
                "not a GeoJSON FeatureCollection ({})",
                serde_msg(&e)
            ));
            return Ok((Vec::new(), vec![r]));
        }
    };
    let features = match (top.kind.as_deref(), top.features) {
        (Some("FeatureCollection"), Some(f)) => f,
        _ => {
            let r = file_reject("scenes file is not a GeoJSON FeatureCollection".into());
            return Ok((Vec::new(), vec![r]));
        }
    };
    if let Err(e) = check_crs(top.crs) {
        return Ok((Vec::new(), vec![file_reject(format!("file {e}"))]));
    }
    let mut scenes = Vec::new();
    let mut rejected = Vec::new();
    for (i, raw) in features.iter().enumerate() {
        match scene(raw) {
            Ok(s) => scenes.push(s),
            Err((reason, geometry)) => rejected.push(Rejected {
                source_file: Arc::clone(&source),
                feature_index: Some(i),
                id: None,
                reason,
                original: Some(truncate_original(raw.get())),
                geometry,
            }),
        }
    }
    if scenes.is_empty() {
        rejected.push(file_reject(format!(
            "scenes file has no usable footprints ({} features read)",
            features.len()
        )));
    }
    rejected.sort_by_key(|a| a.feature_index);
    Ok((scenes, rejected))
}

type SceneError = (String, Option<geo::Geometry<f64>>);

fn scene(raw: &RawValue) -> Result<Scene, SceneError> {
    let f: RawScene = serde_json::from_str(raw.get())
        .map_err(|e| (format!("not a feature object: {}", serde_msg(&e)), None))?;
    let g = f
        .geometry
        .filter(|g| g.get().trim() != "null")
        .ok_or_else(|| ("scene has no footprint geometry".to_string(), None))?;
    let footprint = parse_footprint(g).map_err(|e| (e.reason, e.geometry))?;
    let geom = Some(geo::Geometry::MultiPolygon(footprint.clone()));
    let fail = |reason: String| (reason, geom.clone());
    let props: RawMap = match f.properties.filter(|p| p.get().trim() != "null") {
        Some(p) => serde_json::from_str(p.get())
            .map_err(|_| fail("properties: expected an object".into()))?,
        None => RawMap(Vec::new()),
    };
    let mut s = Scene {
        scene_id: None,
        observed_at: 0,
        sensor: Sensor::Other,
        cloud_fraction: UNKNOWN_CLOUD_FRACTION,
        footprint,
    };
    let mut observed_at = None;
    for (k, v) in &props.0 {
        if v.get().trim() == "null" {
            continue;
        }
        match k.as_ref() {
            "observed_at" => {
                let t =
                    as_str(v).ok_or_else(|| fail(type_error(k, "an RFC 3339 time string", v)))?;
                observed_at = Some(parse_time(&t).map_err(|e| fail(format!("property {e}")))?);
            }
            "sensor" => {
                let t = as_str(v).ok_or_else(|| fail(type_error(k, "a string", v)))?;
                s.sensor = Sensor::from_text(&t);
            }
            "scene_id" => {
                s.scene_id = Some(match as_str(v) {
                    Some(t) => t.into_owned(),
                    None if super::feature::as_number(v).is_some() => v.get().trim().to_string(),
                    None => return Err(fail(type_error(k, "a string or a number", v))),
                })
            }
            "cloud_fraction" => {
                let c = number_prop(k, v).map_err(fail)?;
                if !(0.0..=1.0).contains(&c) {
                    return Err(fail(format!(
                        "property cloud_fraction {c} out of range 0..1"
                    )));
                }
                s.cloud_fraction = c;
            }
            _ => {}
        }
    }
    s.observed_at = observed_at.ok_or_else(|| fail("property observed_at is missing".into()))?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> (Vec<Scene>, Vec<Rejected>) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("scenes.geojson");
        std::fs::write(&p, text).unwrap();
        read_scenes(&p).unwrap()
    }

    const SQ: &str =
        r#"{"type":"Polygon","coordinates":[[[130,42],[131,42],[131,43],[130,43],[130,42]]]}"#;

    #[test]
    fn good_and_bad_scenes() {
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[
            {{"type":"Feature","geometry":{SQ},"properties":{{"observed_at":"2024-03-01T02:00:00Z","sensor":"Sentinel-2","scene_id":7,"cloud_fraction":0.1}}}},
            {{"type":"Feature","geometry":{SQ},"properties":{{"observed_at":"2024-03-01T02:00:00Z"}}}},
            {{"type":"Feature","geometry":{SQ},"properties":{{"sensor":"s2"}}}},
            {{"type":"Feature","geometry":{SQ},"properties":{{"observed_at":"2024-03-01T02:00:00Z","cloud_fraction":2}}}},
            {{"type":"Feature","geometry":{{"type":"Point","coordinates":[1,2]}},"properties":{{"observed_at":"2024-03-01T02:00:00Z"}}}}
            ]}}"#
        );
        let (s, r) = check(&text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].scene_id.as_deref(), Some("7"));
        assert_eq!(s[0].sensor, Sensor::Sentinel2);
        assert_eq!(s[0].cloud_fraction, 0.1);
        assert_eq!(s[1].cloud_fraction, UNKNOWN_CLOUD_FRACTION);
        let reasons: Vec<&str> = r.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(r.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("observed_at is missing"));
        assert!(reasons[1].contains("cloud_fraction 2 out of range"));
        assert!(reasons[2].contains("not supported"));
        assert!(r[1].geometry.is_some());
    }

    #[test]
    fn no_footprints_is_one_rejection() {
        let (s, r) = check(r#"{"type":"FeatureCollection","features":[]}"#);
        assert!(s.is_empty());
        assert_eq!(r.len(), 1);
        assert!(r[0].reason.contains("no usable footprints"));
        assert_eq!(r[0].feature_index, None);
    }

    #[test]
    fn broken_files_are_rejections_missing_is_fatal() {
        assert!(check("{").1[0].reason.contains("not a GeoJSON"));
        assert!(check("").1[0].reason.contains("empty"));
        assert!(read_scenes(Path::new("/no/such/scenes.geojson")).is_err());
    }
}
