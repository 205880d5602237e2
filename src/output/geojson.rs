//! Serialises a [`Layer`] as an RFC 7946 GeoJSON FeatureCollection, by hand and fast.
//!
//! Output is deterministic: features in the layer's order (the layer is sorted by id), the
//! declared fields in schema order, then the extra raw-JSON properties; one feature per line.
//! Coordinates are WGS84 lon/lat degrees rounded to 7 decimals (about 1 cm) and written in
//! the shortest form that round-trips. Times are RFC 3339 UTC with `Z`
//! ([`crate::model::fmt_time`]); string arrays are JSON arrays; raw JSON is written as is.
//! A non-finite number becomes `null`; a geometry with a non-finite coordinate becomes
//! `null` (RFC 7946 has no NaN). [`FeatureCollectionWriter`] writes the same bytes one
//! feature at a time into any `io::Write` (the output writer streams layers this way).
//!
//! ```
//! use shiplink::output::layer::{Feature, Field, FieldKind, GeomKind, Layer, Value};
//! use shiplink::output::geojson::layer_to_geojson;
//! let mut l = Layer::new("stays", GeomKind::Point, vec![Field::new("port", FieldKind::Str)]);
//! l.features.push(Feature {
//!     id: "s1".into(),
//!     geometry: Some(geo::Geometry::Point(geo::Point::new(130.3, 42.236))),
//!     values: vec![Value::Str("najin".into())],
//!     extra: vec![],
//! });
//! let text = String::from_utf8(layer_to_geojson(&l)).unwrap();
//! assert!(text.contains(r#"{"type":"Feature","id":"s1","geometry":{"type":"Point","coordinates":[130.3,42.236]},"properties":{"port":"najin"}}"#));
//! ```

use std::borrow::Borrow;
use std::fmt::Write as _;
use std::io::Write;

use geo::{Coord, Geometry, LineString, Polygon};

use super::layer::{Feature, Layer, Value};
use crate::model::fmt_time;

/// Decimal places kept in coordinates (1e-7 degree is about 1 cm).
const COORD_DECIMALS: i32 = 7;

/// The layer as GeoJSON bytes: a FeatureCollection named after the layer.
pub fn layer_to_geojson(layer: &Layer) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + layer.features.len() * 256);
    // Writing into a Vec cannot fail.
    let _ = write_geojson(&mut out, layer, &layer.features);
    out
}

/// Writes the features, in the order given, as a FeatureCollection named after `schema`
/// into `out`; `schema` gives the name and the fields (its own `features` are not read).
/// The bytes equal [`layer_to_geojson`] of the layer holding those features. Returns the
/// number of features written.
pub fn write_geojson<W: Write, F: Borrow<Feature>>(
    out: &mut W,
    schema: &Layer,
    features: impl IntoIterator<Item = F>,
) -> std::io::Result<usize> {
    let mut w = FeatureCollectionWriter::new(out, &schema.name)?;
    for f in features {
        w.feature(schema, f.borrow())?;
    }
    w.finish()
}

/// Streams one FeatureCollection into a writer, one feature at a time: the header on
/// [`FeatureCollectionWriter::new`], a line per [`FeatureCollectionWriter::feature`], the
/// closing brackets on [`FeatureCollectionWriter::finish`]. Memory stays at one feature.
pub struct FeatureCollectionWriter<'w, W: Write> {
    out: &'w mut W,
    /// The text of the feature being written (reused).
    buf: String,
    count: usize,
}

impl<'w, W: Write> FeatureCollectionWriter<'w, W> {
    /// Writes the FeatureCollection header naming the layer `name`.
    pub fn new(out: &'w mut W, name: &str) -> std::io::Result<Self> {
        let mut buf = String::with_capacity(4096);
        buf.push_str("{\"type\":\"FeatureCollection\",\"name\":");
        push_json_str(&mut buf, name);
        buf.push_str(",\"features\":[");
        out.write_all(buf.as_bytes())?;
        buf.clear();
        Ok(FeatureCollectionWriter { out, buf, count: 0 })
    }

    /// Writes one feature with the fields of `schema`.
    pub fn feature(&mut self, schema: &Layer, f: &Feature) -> std::io::Result<()> {
        self.buf.clear();
        self.buf
            .push_str(if self.count == 0 { "\n" } else { ",\n" });
        push_feature(&mut self.buf, schema, f);
        self.count += 1;
        self.out.write_all(self.buf.as_bytes())
    }

    /// Closes the collection; returns the number of features written.
    pub fn finish(self) -> std::io::Result<usize> {
        if self.count > 0 {
            self.out.write_all(b"\n")?;
        }
        self.out.write_all(b"]}\n")?;
        Ok(self.count)
    }
}

fn push_feature(out: &mut String, layer: &Layer, f: &Feature) {
    out.push_str("{\"type\":\"Feature\",\"id\":");
    push_json_str(out, &f.id);
    out.push_str(",\"geometry\":");
    match &f.geometry {
        Some(g) if geometry_is_finite(g) => push_geometry(out, g),
        _ => out.push_str("null"),
    }
    out.push_str(",\"properties\":{");
    let mut first = true;
    for (field, value) in layer.fields.iter().zip(&f.values) {
        push_key(out, &mut first, &field.name);
        push_value(out, value);
    }
    // A feature with fewer values than fields gets nulls for the rest.
    for field in layer.fields.iter().skip(f.values.len()) {
        push_key(out, &mut first, &field.name);
        out.push_str("null");
    }
    for (key, raw) in &f.extra {
        push_key(out, &mut first, key);
        let raw = raw.trim();
        out.push_str(if raw.is_empty() { "null" } else { raw });
    }
    out.push_str("}}");
}

fn push_key(out: &mut String, first: &mut bool, key: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    push_json_str(out, key);
    out.push(':');
}

fn push_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Str(s) => push_json_str(out, s),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Real(x) => push_f64(out, *x),
        Value::Time(t) => push_json_str(out, &fmt_time(*t)),
        Value::StrArray(items) => {
            out.push('[');
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(out, s);
            }
            out.push(']');
        }
        Value::Json(raw) => {
            let raw = raw.trim();
            out.push_str(if raw.is_empty() { "null" } else { raw });
        }
    }
}

/// A JSON string literal with serde_json's escaping.
fn push_json_str(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(lit) => out.push_str(&lit),
        Err(_) => out.push_str("\"\""),
    }
}

/// The shortest round-tripping decimal form (serde_json uses ryu); `null` if not finite.
fn push_f64(out: &mut String, x: f64) {
    if !x.is_finite() {
        out.push_str("null");
        return;
    }
    match serde_json::to_string(&x) {
        Ok(s) => out.push_str(&s),
        Err(_) => out.push_str("null"),
    }
}

fn round_coord(x: f64) -> f64 {
    let scale = 10f64.powi(COORD_DECIMALS);
    let r = (x * scale).round() / scale;
    // Avoid writing -0.
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

fn push_coord(out: &mut String, c: Coord<f64>) {
    out.push('[');
    push_f64(out, round_coord(c.x));
    out.push(',');
    push_f64(out, round_coord(c.y));
    out.push(']');
}

fn push_coords<'a>(out: &mut String, coords: impl Iterator<Item = &'a Coord<f64>>) {
    out.push('[');
    for (i, c) in coords.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_coord(out, *c);
    }
    out.push(']');
}

fn push_line(out: &mut String, l: &LineString<f64>) {
    push_coords(out, l.0.iter());
}

fn push_polygon_rings(out: &mut String, p: &Polygon<f64>) {
    out.push('[');
    push_line(out, p.exterior());
    for r in p.interiors() {
        out.push(',');
        push_line(out, r);
    }
    out.push(']');
}

fn push_geometry(out: &mut String, g: &Geometry<f64>) {
    match g {
        Geometry::Point(p) => {
            out.push_str("{\"type\":\"Point\",\"coordinates\":");
            push_coord(out, p.0);
        }
        Geometry::Line(l) => {
            out.push_str("{\"type\":\"LineString\",\"coordinates\":");
            push_coords(out, [l.start, l.end].iter());
        }
        Geometry::LineString(l) => {
            out.push_str("{\"type\":\"LineString\",\"coordinates\":");
            push_line(out, l);
        }
        Geometry::Polygon(p) => {
            out.push_str("{\"type\":\"Polygon\",\"coordinates\":");
            push_polygon_rings(out, p);
        }
        Geometry::MultiPoint(mp) => {
            out.push_str("{\"type\":\"MultiPoint\",\"coordinates\":");
            push_coords(out, mp.0.iter().map(|p| &p.0));
        }
        Geometry::MultiLineString(ml) => {
            out.push_str("{\"type\":\"MultiLineString\",\"coordinates\":[");
            for (i, l) in ml.0.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_line(out, l);
            }
            out.push(']');
        }
        Geometry::MultiPolygon(mp) => {
            out.push_str("{\"type\":\"MultiPolygon\",\"coordinates\":[");
            for (i, p) in mp.0.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_polygon_rings(out, p);
            }
            out.push(']');
        }
        Geometry::GeometryCollection(gc) => {
            out.push_str("{\"type\":\"GeometryCollection\",\"geometries\":[");
            for (i, g) in gc.0.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_geometry(out, g);
            }
            out.push(']');
        }
        Geometry::Rect(r) => {
            out.push_str("{\"type\":\"Polygon\",\"coordinates\":");
            push_polygon_rings(out, &r.to_polygon());
        }
        Geometry::Triangle(t) => {
            out.push_str("{\"type\":\"Polygon\",\"coordinates\":");
            push_polygon_rings(out, &t.to_polygon());
        }
    }
    out.push('}');
}

fn geometry_is_finite(g: &Geometry<f64>) -> bool {
    use geo::CoordsIter;
    g.coords_iter().all(|c| c.x.is_finite() && c.y.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::layer::{Field, FieldKind, GeomKind};
    use geo::{line_string, point};

    fn check(layer: &Layer, expected: &str) {
        let got = String::from_utf8(layer_to_geojson(layer)).expect("utf-8");
        assert_eq!(got, expected);
        // Whatever we write must parse as GeoJSON.
        let parsed: geojson::GeoJson = got.parse().expect("valid GeoJSON");
        assert!(matches!(parsed, geojson::GeoJson::FeatureCollection(_)));
    }

    #[test]
    fn empty_layer() {
        let l = Layer::new("voyages", GeomKind::LineString, vec![]);
        check(
            &l,
            "{\"type\":\"FeatureCollection\",\"name\":\"voyages\",\"features\":[]}\n",
        );
    }

    #[test]
    fn all_value_kinds_and_extras() {
        let mut l = Layer::new(
            "t",
            GeomKind::Point,
            vec![
                Field::new("s", FieldKind::Str),
                Field::new("i", FieldKind::Int),
                Field::new("r", FieldKind::Real),
                Field::new("t", FieldKind::DateTime),
                Field::new("a", FieldKind::StrArray),
                Field::new("j", FieldKind::Json),
                Field::new("n", FieldKind::Real),
                Field::new("nan", FieldKind::Real),
            ],
        );
        l.features.push(Feature {
            id: "a\"1".into(),
            geometry: Some(Geometry::Point(point!(x: 130.300000004, y: -0.00000000001))),
            values: vec![
                Value::Str("q\"\n\u{e9}".into()),
                Value::Int(-3),
                Value::Real(0.1),
                Value::Time(1_709_251_200),
                Value::StrArray(vec!["o1".into(), "o2".into()]),
                Value::Json("{\"k\":[1,2]}".into()),
                Value::Null,
                Value::Real(f64::NAN),
            ],
            extra: vec![("zz".into(), "true".into())],
        });
        check(
            &l,
            concat!(
                "{\"type\":\"FeatureCollection\",\"name\":\"t\",\"features\":[\n",
                "{\"type\":\"Feature\",\"id\":\"a\\\"1\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[130.3,0.0]},",
                "\"properties\":{\"s\":\"q\\\"\\n\u{e9}\",\"i\":-3,\"r\":0.1,\"t\":\"2024-03-01T00:00:00Z\",",
                "\"a\":[\"o1\",\"o2\"],\"j\":{\"k\":[1,2]},\"n\":null,\"nan\":null,\"zz\":true}}\n",
                "]}\n"
            ),
        );
    }

    #[test]
    fn lines_null_and_nonfinite_geometry() {
        let mut l = Layer::new(
            "v",
            GeomKind::LineString,
            vec![Field::new("x", FieldKind::Int)],
        );
        l.features.push(Feature {
            id: "1".into(),
            geometry: Some(Geometry::LineString(
                line_string![(x: 130.3, y: 42.236), (x: 132.3545, y: 42.9045)],
            )),
            values: vec![],
            extra: vec![],
        });
        l.features.push(Feature {
            id: "2".into(),
            geometry: None,
            values: vec![Value::Int(1)],
            extra: vec![],
        });
        l.features.push(Feature {
            id: "3".into(),
            geometry: Some(Geometry::Point(point!(x: f64::INFINITY, y: 1.0))),
            values: vec![Value::Int(2)],
            extra: vec![],
        });
        check(
            &l,
            concat!(
                "{\"type\":\"FeatureCollection\",\"name\":\"v\",\"features\":[\n",
                "{\"type\":\"Feature\",\"id\":\"1\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[130.3,42.236],[132.3545,42.9045]]},\"properties\":{\"x\":null}},\n",
                "{\"type\":\"Feature\",\"id\":\"2\",\"geometry\":null,\"properties\":{\"x\":1}},\n",
                "{\"type\":\"Feature\",\"id\":\"3\",\"geometry\":null,\"properties\":{\"x\":2}}\n",
                "]}\n"
            ),
        );
    }

    #[test]
    fn polygon_with_hole_and_multi() {
        let outer = line_string![(x: 0., y: 0.), (x: 4., y: 0.), (x: 4., y: 4.), (x: 0., y: 0.)];
        let hole = line_string![(x: 1., y: 1.), (x: 2., y: 1.), (x: 2., y: 2.), (x: 1., y: 1.)];
        let p = Polygon::new(outer, vec![hole]);
        let mut l = Layer::new("land", GeomKind::Any, vec![]);
        l.features.push(Feature {
            id: "p".into(),
            geometry: Some(Geometry::MultiPolygon(geo::MultiPolygon(vec![p]))),
            values: vec![],
            extra: vec![],
        });
        check(
            &l,
            concat!(
                "{\"type\":\"FeatureCollection\",\"name\":\"land\",\"features\":[\n",
                "{\"type\":\"Feature\",\"id\":\"p\",\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":",
                "[[[[0.0,0.0],[4.0,0.0],[4.0,4.0],[0.0,0.0]],[[1.0,1.0],[2.0,1.0],[2.0,2.0],[1.0,1.0]]]]},\"properties\":{}}\n",
                "]}\n"
            ),
        );
    }
}
