//! GeoJSON in and out for routing: land polygons from a GeoJSON text, a route as one
//! GeoJSON Feature, and strict "LON,LAT" parsing for the command line.
//!
//! # Example
//! ```
//! let (lon, lat) = shiplink::routing::parse_lon_lat("130.3,42.236", "--from").unwrap();
//! assert_eq!((lon, lat), (130.3, 42.236));
//! assert!(shiplink::routing::parse_lon_lat("130.3;42.2", "--from").is_err());
//! ```

use geo::{Geometry, Polygon};
use geojson::{GeoJson, GeometryValue};

use super::Route;
use crate::error::{Error, Result};

/// Land read from GeoJSON: polygons (lon/lat) and the document's `bbox` (W,S,E,N) if any.
pub struct LandData {
    pub polygons: Vec<Polygon<f64>>,
    pub bbox: Option<[f64; 4]>,
}

fn bbox4(b: &[f64]) -> Result<[f64; 4], String> {
    let v = match b.len() {
        4 => [b[0], b[1], b[2], b[3]],
        6 => [b[0], b[1], b[3], b[4]],
        n => return Err(format!("bbox has {n} numbers, expected 4 (or 6)")),
    };
    if v.iter().all(|x| x.is_finite())
        && v[0] < v[2]
        && v[1] < v[3]
        && v[1] >= -90.0
        && v[3] <= 90.0
    {
        Ok(v)
    } else {
        Err(format!("bbox {v:?} is not W,S,E,N with W < E and S < N"))
    }
}

fn push_geometry(g: &Geometry<f64>, out: &mut Vec<Polygon<f64>>) -> Result<(), String> {
    match g {
        Geometry::Polygon(p) => out.push(p.clone()),
        Geometry::MultiPolygon(mp) => out.extend(mp.0.iter().cloned()),
        Geometry::GeometryCollection(gc) => {
            for g in &gc.0 {
                push_geometry(g, out)?;
            }
        }
        other => {
            let name = match other {
                Geometry::Point(_) => "Point",
                Geometry::MultiPoint(_) => "MultiPoint",
                Geometry::LineString(_) | Geometry::Line(_) => "LineString",
                Geometry::MultiLineString(_) => "MultiLineString",
                _ => "non-polygon",
            };
            return Err(format!("geometry {name} is not a Polygon or MultiPolygon"));
        }
    }
    Ok(())
}

fn convert(v: &GeometryValue, out: &mut Vec<Polygon<f64>>) -> Result<(), String> {
    let g = Geometry::<f64>::try_from(v).map_err(|e| format!("bad geometry: {e}"))?;
    push_geometry(&g, out)
}

/// Reads land polygons from a GeoJSON FeatureCollection, Feature or bare geometry.
/// Features without geometry are skipped; any other geometry type, or a coordinate that is
/// not a finite lon/lat, is an error naming the feature.
pub fn parse_land(text: &str) -> Result<LandData, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let gj: GeoJson = text
        .parse()
        .map_err(|e| format!("not a GeoJSON document: {e}"))?;
    let mut polygons = Vec::new();
    let bbox = match gj {
        GeoJson::FeatureCollection(fc) => {
            for (i, f) in fc.features.iter().enumerate() {
                if let Some(g) = &f.geometry {
                    convert(&g.value, &mut polygons).map_err(|m| format!("feature {i}: {m}"))?;
                }
            }
            fc.bbox
        }
        GeoJson::Feature(f) => {
            if let Some(g) = &f.geometry {
                convert(&g.value, &mut polygons).map_err(|m| format!("feature 0: {m}"))?;
            }
            f.bbox
        }
        GeoJson::Geometry(g) => {
            convert(&g.value, &mut polygons)?;
            g.bbox
        }
    };
    for (i, p) in polygons.iter().enumerate() {
        let bad = p
            .exterior()
            .0
            .iter()
            .chain(p.interiors().iter().flat_map(|r| r.0.iter()))
            .find(|c| {
                !(c.x.is_finite() && c.y.is_finite() && c.x.abs() <= 360.0 && c.y.abs() <= 90.0)
            });
        if let Some(c) = bad {
            return Err(format!(
                "polygon {i}: coordinate {},{} is not a lon/lat",
                c.x, c.y
            ));
        }
    }
    let bbox = bbox.as_deref().map(bbox4).transpose()?;
    Ok(LandData { polygons, bbox })
}

/// Parses "LON,LAT" strictly: two finite numbers, lon in [-180, 180], lat in [-90, 90].
/// `what` names the option in the error (e.g. "--from").
pub fn parse_lon_lat(s: &str, what: &str) -> Result<(f64, f64)> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "{what} {s:?}: {why}; expected LON,LAT in degrees, e.g. 130.3,42.236"
        ))
    };
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != 2 {
        return Err(bad("not two comma-separated numbers"));
    }
    let num = |t: &str| t.parse::<f64>().ok().filter(|x| x.is_finite());
    let (Some(lon), Some(lat)) = (num(parts[0]), num(parts[1])) else {
        return Err(bad("not a finite number"));
    };
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(bad("out of range"));
    }
    Ok((lon, lat))
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    let r = (x * k).round() / k;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// The route as one GeoJSON Feature: a LineString (coordinates to 6 decimals) with
/// properties `route_km` (3 decimals), `snapped_from_m` and `snapped_to_m` (1 decimal).
pub fn route_feature_geojson(route: &Route) -> String {
    let coords: Vec<String> = route
        .coords
        .iter()
        .map(|&(x, y)| format!("[{},{}]", round_to(x, 6), round_to(y, 6)))
        .collect();
    format!(
        "{{\"type\":\"Feature\",\"properties\":{{\"route_km\":{},\"snapped_from_m\":{},\"snapped_to_m\":{}}},\
         \"geometry\":{{\"type\":\"LineString\",\"coordinates\":[{}]}}}}",
        round_to(route.km, 3),
        round_to(route.snapped_from_m, 1),
        round_to(route.snapped_to_m, 1),
        coords.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lon_lat_parsing_is_strict() {
        assert_eq!(
            parse_lon_lat(" 130.3 , 42.236 ", "--to").unwrap(),
            (130.3, 42.236)
        );
        for s in [
            "",
            "130.3",
            "130.3,42.2,1",
            "NaN,42",
            "inf,42",
            "190,42",
            "130,91",
            "a,b",
        ] {
            assert!(parse_lon_lat(s, "--to").is_err(), "{s}");
        }
    }

    #[test]
    fn land_from_feature_collection() {
        let t = r#"{"type":"FeatureCollection","bbox":[0,0,2,2],"features":[
            {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
            {"type":"Feature","properties":{},"geometry":null}]}"#;
        let d = parse_land(t).unwrap();
        assert_eq!(d.polygons.len(), 1);
        assert_eq!(d.bbox, Some([0.0, 0.0, 2.0, 2.0]));
        let t = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[0,0]}}]}"#;
        let e = parse_land(t).err().unwrap();
        assert!(e.contains("feature 0") && e.contains("Point"), "{e}");
        assert!(parse_land("{").is_err());
    }

    #[test]
    fn feature_output_rounds() {
        let r = Route {
            coords: vec![(130.1234567, 42.0), (130.2, -0.00000001)],
            km: 12.34567,
            snapped_from_m: 0.0,
            snapped_to_m: 3.21,
        };
        let s = route_feature_geojson(&r);
        assert!(
            s.contains("[130.123457,42]") && s.contains("[130.2,0]"),
            "{s}"
        );
        assert!(
            s.contains("\"route_km\":12.346") && s.contains("\"snapped_to_m\":3.2"),
            "{s}"
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["geometry"]["type"], "LineString");
    }
}
