//! Reads a GeoJSON geometry (raw JSON text) into a detection centre or a vessel outline, and
//! derives length, beam and heading from an outline's minimum rotated rectangle.
//!
//! # Units
//! Coordinates are WGS84 lon/lat degrees; derived sizes are metres, headings degrees
//! clockwise from north.
//!
//! Accepted: `Point` and `Polygon`, and a `MultiPoint` or `MultiPolygon` of exactly one part
//! (as GIS tools write single outlines), read as that part. A third (z) coordinate is
//! accepted and dropped; a position with fewer than 2 or more than 3 numbers is rejected.
//! Polygons must have closed
//! rings of at least 4 positions, a non-zero area and no self-intersection
//! (geo's [`Validation`]).
//!
//! ```
//! use shiplink::ingest::geometry::{parse_geometry, Shape};
//! let raw = serde_json::value::RawValue::from_string(
//!     r#"{"type":"Point","coordinates":[130.3,42.2,5.0]}"#.to_string()).unwrap();
//! assert!(matches!(parse_geometry(&raw), Ok(Shape::Point(x, y)) if x == 130.3 && y == 42.2));
//! ```

use std::borrow::Cow;
use std::fmt;

use geo::{Centroid, Coord, LineString, MinimumRotatedRect, Polygon, Validation};

use serde::de::{self, Deserializer, Error as _, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::geodesy::M_PER_DEG;

/// A usable detection geometry.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Detection centre, lon/lat degrees.
    Point(f64, f64),
    /// Vessel outline (valid, non-zero area).
    Polygon(Polygon<f64>),
}

/// Length, beam and heading derived from an outline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutlineDims {
    pub length_m: f64,
    pub beam_m: f64,
    /// Direction of the long side, degrees in [0, 180): an outline cannot tell bow from stern.
    pub heading_deg: f64,
}

#[derive(Deserialize)]
struct RawGeometry<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    coordinates: Option<&'a RawValue>,
}

/// Why a geometry is unusable, and (when its coordinates could be read) the geometry itself.
#[derive(Debug, Clone)]
pub struct GeometryError {
    pub reason: String,
    pub geometry: Option<geo::Geometry<f64>>,
}

fn fail(reason: impl Into<String>) -> GeometryError {
    GeometryError {
        reason: reason.into(),
        geometry: None,
    }
}

/// A Point's `coordinates`.
fn point_of(c: &RawValue) -> Result<Shape, GeometryError> {
    let pos: Vec<f64> = serde_json::from_str(c.get())
        .map_err(|e| fail(format!("point coordinates: {}", serde_msg(&e))))?;
    let (x, y) = position(&pos).map_err(fail)?;
    Ok(Shape::Point(x, y))
}

/// A Polygon's `coordinates`; where the outline is bad but its coordinates are in range,
/// the error keeps the geometry `shown` gives, so the analyst sees where it was.
fn polygon_of(
    c: &RawValue,
    shown: impl FnOnce() -> Option<geo::Geometry<f64>>,
) -> Result<Shape, GeometryError> {
    let rings: Vec<Vec<Vec<f64>>> = serde_json::from_str(c.get())
        .map_err(|e| fail(format!("polygon coordinates: {}", serde_msg(&e))))?;
    polygon(&rings).map(Shape::Polygon).map_err(|reason| {
        let geometry = if reason.contains("range") {
            None
        } else {
            shown()
        };
        GeometryError { reason, geometry }
    })
}

/// Parses and checks a geometry object.
pub fn parse_geometry(raw: &RawValue) -> Result<Shape, GeometryError> {
    let g: RawGeometry = serde_json::from_str(raw.get()).map_err(|e| {
        fail(format!(
            "geometry is not a geometry object: {}",
            serde_msg(&e)
        ))
    })?;
    let kind = g.kind.ok_or_else(|| fail("geometry has no type"))?;
    let with_geom = |reason: String| GeometryError {
        reason,
        geometry: readable_geometry(raw.get()),
    };
    match kind.as_ref() {
        "Point" => point_of(
            g.coordinates
                .ok_or_else(|| fail("point geometry has no coordinates"))?,
        ),
        "Polygon" => polygon_of(
            g.coordinates
                .ok_or_else(|| fail("polygon geometry has no coordinates"))?,
            || readable_geometry(raw.get()),
        ),
        // GIS tools often write every outline as a MultiPolygon (QGIS and OGR exports of
        // polygon layers, shapefiles): one part is one Polygon, one position one Point.
        "MultiPoint" | "MultiPolygon" => {
            let c = g
                .coordinates
                .ok_or_else(|| fail(format!("{kind} geometry has no coordinates")))?;
            let parts: Vec<&RawValue> = serde_json::from_str(c.get())
                .map_err(|e| fail(format!("{kind} coordinates: {}", serde_msg(&e))))?;
            let [part] = parts[..] else {
                return Err(with_geom(format!(
                    "{kind} of {} parts is not supported (a detection is one vessel: expected \
                     Point, Polygon, or a {kind} of one part)",
                    parts.len()
                )));
            };
            if kind == "MultiPoint" {
                return point_of(part);
            }
            // A bad outline is shown as the Polygon it was read as.
            polygon_of(part, || match readable_geometry(raw.get()) {
                Some(geo::Geometry::MultiPolygon(mut m)) => m.0.pop().map(geo::Geometry::Polygon),
                _ => None,
            })
        }
        "LineString" | "MultiLineString" => Err(with_geom(format!(
            "geometry type {kind} is not supported (expected Point or Polygon)"
        ))),
        "GeometryCollection" => Err(with_geom(
            "geometry type GeometryCollection is not supported (expected Point or Polygon)".into(),
        )),
        other => Err(fail(format!(
            "unknown geometry type {:?} (expected Point or Polygon)",
            truncate_chars(other, 40)
        ))),
    }
}

/// A geometry read in one pass straight into numbers (the fast path of feature validation).
/// Anything unusual (a missing member, a position of the wrong length or out of range,
/// nesting other than a Point's or a Polygon's) fails to deserialise, and the caller falls
/// back to [`parse_geometry`], which says exactly what is wrong.
#[derive(Deserialize)]
pub(crate) struct FastGeometry<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    coordinates: FastCoords,
}

/// A Point's position (2 or 3 numbers and how many) or a Polygon's checked rings.
enum FastCoords {
    Point([f64; 3], usize),
    Rings(Vec<Vec<Coord<f64>>>),
}

/// The first element of `coordinates`: a number (a Point) or a ring (a Polygon).
enum FirstCoord {
    Number(f64),
    Ring(Vec<Coord<f64>>),
}

/// One ring: positions range-checked by [`position`].
struct FastRing(Vec<Coord<f64>>);

/// One range-checked position.
struct FastPosition(Coord<f64>);

impl<'de> Deserialize<'de> for FastCoords {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FastCoords;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("point or polygon coordinates")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<FastCoords, A::Error> {
                match s.next_element::<FirstCoord>()? {
                    None => Err(A::Error::custom("empty coordinates")),
                    Some(FirstCoord::Number(x)) => {
                        let (mut p, mut n) = ([x, 0.0, 0.0], 1);
                        while let Some(v) = s.next_element::<f64>()? {
                            if n == 3 {
                                return Err(A::Error::custom("too many numbers"));
                            }
                            p[n] = v;
                            n += 1;
                        }
                        Ok(FastCoords::Point(p, n))
                    }
                    Some(FirstCoord::Ring(r)) => {
                        let mut rings = Vec::with_capacity(1);
                        rings.push(r);
                        while let Some(FastRing(r)) = s.next_element::<FastRing>()? {
                            rings.push(r);
                        }
                        Ok(FastCoords::Rings(rings))
                    }
                }
            }
        }
        d.deserialize_seq(V)
    }
}

fn ring_from_seq<'de, A: SeqAccess<'de>>(mut s: A) -> Result<Vec<Coord<f64>>, A::Error> {
    let mut out = Vec::with_capacity(s.size_hint().unwrap_or(5).max(5));
    while let Some(FastPosition(c)) = s.next_element::<FastPosition>()? {
        out.push(c);
    }
    Ok(out)
}

impl<'de> Deserialize<'de> for FirstCoord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FirstCoord;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a ring")
            }
            // As serde's own f64 does for integers.
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FirstCoord, E> {
                Ok(FirstCoord::Number(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FirstCoord, E> {
                Ok(FirstCoord::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<FirstCoord, E> {
                Ok(FirstCoord::Number(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<FirstCoord, A::Error> {
                ring_from_seq(s).map(FirstCoord::Ring)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for FastRing {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FastRing;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a ring")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<FastRing, A::Error> {
                ring_from_seq(s).map(FastRing)
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> Deserialize<'de> for FastPosition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FastPosition;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a position")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<FastPosition, A::Error> {
                let (mut p, mut n) = ([0.0; 3], 0);
                while let Some(v) = s.next_element::<f64>()? {
                    if n == 3 {
                        return Err(A::Error::custom("too many numbers"));
                    }
                    p[n] = v;
                    n += 1;
                }
                let (x, y) = position(&p[..n]).map_err(A::Error::custom)?;
                Ok(FastPosition(Coord { x, y }))
            }
        }
        d.deserialize_seq(V)
    }
}

/// The shape of a geometry read by the fast path, or None when it is not a valid Point or
/// Polygon (the caller then falls back to [`parse_geometry`] for the reason).
pub(crate) fn fast_shape(g: FastGeometry) -> Option<Shape> {
    match (g.kind.as_ref(), g.coordinates) {
        ("Point", FastCoords::Point(p, n)) => {
            position(&p[..n]).ok().map(|(x, y)| Shape::Point(x, y))
        }
        ("Polygon", FastCoords::Rings(rings)) => {
            let mut out = Vec::with_capacity(rings.len());
            for (r, coords) in rings.into_iter().enumerate() {
                out.push(checked_ring(r, coords).ok()?);
            }
            checked_polygon(out).ok().map(Shape::Polygon)
        }
        _ => None,
    }
}

/// Parses a Polygon or MultiPolygon footprint (for scenes).
pub fn parse_footprint(raw: &RawValue) -> Result<geo::MultiPolygon<f64>, GeometryError> {
    let g: RawGeometry = serde_json::from_str(raw.get()).map_err(|e| {
        fail(format!(
            "geometry is not a geometry object: {}",
            serde_msg(&e)
        ))
    })?;
    let kind = g.kind.ok_or_else(|| fail("geometry has no type"))?;
    let c = g
        .coordinates
        .ok_or_else(|| fail(format!("{kind} geometry has no coordinates")))?;
    match kind.as_ref() {
        "Polygon" => {
            let rings: Vec<Vec<Vec<f64>>> = serde_json::from_str(c.get())
                .map_err(|e| fail(format!("polygon coordinates: {}", serde_msg(&e))))?;
            Ok(geo::MultiPolygon::new(vec![polygon(&rings).map_err(fail)?]))
        }
        "MultiPolygon" => {
            let polys: Vec<Vec<Vec<Vec<f64>>>> = serde_json::from_str(c.get())
                .map_err(|e| fail(format!("multipolygon coordinates: {}", serde_msg(&e))))?;
            if polys.is_empty() {
                return Err(fail("multipolygon has no polygons"));
            }
            let mut out = Vec::with_capacity(polys.len());
            for (i, p) in polys.iter().enumerate() {
                out.push(polygon(p).map_err(|r| fail(format!("polygon {i}: {r}")))?);
            }
            Ok(geo::MultiPolygon::new(out))
        }
        other => Err(fail(format!(
            "footprint geometry type {:?} is not supported (expected Polygon or MultiPolygon)",
            truncate_chars(other, 40)
        ))),
    }
}

/// A lon/lat position from 2 or 3 numbers (z dropped), range-checked.
fn position(p: &[f64]) -> Result<(f64, f64), String> {
    if p.len() < 2 || p.len() > 3 {
        return Err(format!(
            "position has {} numbers (expected 2 or 3: lon, lat[, z])",
            p.len()
        ));
    }
    let (x, y) = (p[0], p[1]);
    if !x.is_finite() || !y.is_finite() {
        return Err("coordinate is not a finite number".into());
    }
    if !(-180.0..=180.0).contains(&x) {
        return Err(format!("longitude {x} out of range -180..180"));
    }
    if !(-90.0..=90.0).contains(&y) {
        return Err(format!("latitude {y} out of range -90..90"));
    }
    Ok((x, y))
}

fn polygon(rings: &[Vec<Vec<f64>>]) -> Result<Polygon<f64>, String> {
    if rings.is_empty() {
        return Err("polygon has no rings".into());
    }
    let mut out: Vec<LineString<f64>> = Vec::with_capacity(rings.len());
    for (r, ring) in rings.iter().enumerate() {
        let mut coords = Vec::with_capacity(ring.len());
        for p in ring {
            let (x, y) = position(p).map_err(|e| format!("polygon ring {r}: {e}"))?;
            coords.push(Coord { x, y });
        }
        out.push(checked_ring(r, coords)?);
    }
    checked_polygon(out)
}

/// Ring `r` of a polygon, once its positions are checked: at least 4 points, closed, not
/// collinear.
fn checked_ring(r: usize, coords: Vec<Coord<f64>>) -> Result<LineString<f64>, String> {
    if coords.len() < 4 {
        return Err(format!(
            "polygon ring {r} has too few points ({}; a closed ring needs at least 4)",
            coords.len()
        ));
    }
    if coords.first() != coords.last() {
        return Err(format!(
            "polygon ring {r} is not closed (first and last positions differ)"
        ));
    }
    if collinear(&coords) {
        return Err(format!("polygon ring {r} has zero area"));
    }
    Ok(LineString::new(coords))
}

/// A polygon from checked rings (the first is the exterior), checked by geo's validation.
fn checked_polygon(mut out: Vec<LineString<f64>>) -> Result<Polygon<f64>, String> {
    if out.is_empty() {
        return Err("polygon has no rings".into());
    }
    let exterior = out.remove(0);
    let simple = out.is_empty() && convex_triangle_or_quad(&exterior.0);
    let poly = Polygon::new(exterior, out);
    if simple {
        return Ok(poly); // valid by construction; geo's check is the costly general case
    }
    if let Err(e) = poly.check_validation() {
        let msg = e.to_string();
        let msg = if msg.contains("self-intersection") {
            format!("polygon is self-intersecting ({msg})")
        } else {
            format!("polygon is invalid ({msg})")
        };
        return Err(msg.to_lowercase());
    }
    Ok(poly)
}

/// True for a closed ring of 3 or 4 distinct corners that turns the same way, clearly, at
/// every corner: a triangle or a convex quadrilateral, which is a valid polygon (a ring
/// that turns one way cannot cross itself with fewer than 5 corners). Vessel outlines are
/// nearly all of this shape; anything else goes to geo's validation. Turns are compared
/// with a relative margin, so a corner close to straight also goes there.
fn convex_triangle_or_quad(c: &[Coord<f64>]) -> bool {
    if !(c.len() == 4 || c.len() == 5) || c.first() != c.last() {
        return false;
    }
    let corners = &c[..c.len() - 1];
    let k = corners.len();
    let mut sign = 0.0;
    for i in 0..k {
        let (a, b, d) = (corners[i], corners[(i + 1) % k], corners[(i + 2) % k]);
        let (ux, uy, vx, vy) = (b.x - a.x, b.y - a.y, d.x - b.x, d.y - b.y);
        let cross = ux * vy - uy * vx;
        // Also false for NaN: only a clear turn counts.
        let clear = match clearly_above(cross, 1e-18, ux * ux + uy * uy, vx * vx + vy * vy) {
            Some(c) => c,
            None => cross.abs() > 1e-9 * (ux.hypot(uy) * vx.hypot(vy)),
        };
        if !clear || (sign != 0.0 && cross.signum() != sign) {
            return false;
        }
        sign = cross.signum();
    }
    true
}

/// True when all points of a ring lie on one line (or fewer than 3 are distinct).
fn collinear(c: &[Coord<f64>]) -> bool {
    let p0 = c[0];
    let Some(p1) = c.iter().find(|p| **p != p0).copied() else {
        return true;
    };
    let (dx, dy) = (p1.x - p0.x, p1.y - p0.y);
    let d1 = dx.hypot(dy);
    let s1 = dx * dx + dy * dy;
    !c.iter().any(|p| {
        let (ex, ey) = (p.x - p0.x, p.y - p0.y);
        let cross = dx * ey - dy * ex;
        match clearly_above(cross, 1e-24, s1, ex * ex + ey * ey) {
            Some(c) => c,
            None => cross.abs() > 1e-12 * d1 * ex.hypot(ey),
        }
    })
}

/// Whether `|cross| > k·|u|·|v|` (with `k2 = k²`, `s1 = |u|²`, `s2 = |v|²`), answered from
/// squares when the answer is clear by a wide margin (relative 1e-6, far above rounding),
/// and None when it is not, or when a square could underflow: then the caller decides
/// with `hypot` exactly as before (hypot is slow, and outlines are checked by the million).
fn clearly_above(cross: f64, k2: f64, s1: f64, s2: f64) -> Option<bool> {
    if !(s1 > 1e-100 && s2 > 1e-100 && s1 < 1e100 && s2 < 1e100) {
        return None;
    }
    let a2 = cross * cross;
    let t2 = k2 * s1 * s2;
    if a2 > t2 * (1.0 + 1e-6) {
        Some(true)
    } else if a2 < t2 * (1.0 - 1e-6) {
        Some(false)
    } else {
        None
    }
}

/// Centre (centroid) of an outline, lon/lat degrees.
pub fn outline_centre(p: &Polygon<f64>) -> Option<(f64, f64)> {
    p.centroid().map(|c| (c.x(), c.y()))
}

/// Length, beam and heading of an outline from its minimum rotated rectangle, computed in a
/// local equirectangular projection (metres) around the centre. Ship-sized outlines make the
/// projection error negligible (< 0.1 %).
pub fn outline_dims(p: &Polygon<f64>) -> Option<OutlineDims> {
    let (lon0, lat0) = outline_centre(p)?;
    let kx = M_PER_DEG * lat0.to_radians().cos();
    let local = LineString::new(
        p.exterior()
            .coords()
            .map(|c| Coord {
                x: (c.x - lon0) * kx,
                y: (c.y - lat0) * M_PER_DEG,
            })
            .collect(),
    );
    let rect = local.minimum_rotated_rect()?;
    let r: Vec<Coord<f64>> = rect.exterior().coords().copied().collect();
    if r.len() < 3 {
        return None;
    }
    let side = |a: Coord<f64>, b: Coord<f64>| ((b.x - a.x).hypot(b.y - a.y), b.x - a.x, b.y - a.y);
    let (s1, dx1, dy1) = side(r[0], r[1]);
    let (s2, dx2, dy2) = side(r[1], r[2]);
    let (length_m, beam_m, dx, dy) = if s1 >= s2 {
        (s1, s2, dx1, dy1)
    } else {
        (s2, s1, dx2, dy2)
    };
    let mut heading_deg = dx.atan2(dy).to_degrees().rem_euclid(180.0);
    if heading_deg >= 180.0 - 1e-9 {
        heading_deg = 0.0;
    }
    Some(OutlineDims {
        length_m,
        beam_m,
        heading_deg,
    })
}

/// The geometry as geo types via the geojson crate, when its coordinates are all finite
/// (used only on the rejection path, so the analyst sees where a bad feature was).
pub fn readable_geometry(raw: &str) -> Option<geo::Geometry<f64>> {
    // The geojson crate indexes positions without checking their length (a one-number
    // position panics in its conversion): check every position first. GeometryCollections
    // are not shown (they are rejected anyway).
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    if !positions_ok(
        v.get("coordinates")?,
        v.get("type").and_then(|t| t.as_str()),
    ) {
        return None;
    }
    let g: geojson::Geometry = raw.parse::<geojson::Geometry>().ok()?;
    let g: geo::Geometry<f64> = g.try_into().ok()?;
    use geo::CoordsIter;
    let finite = g.coords_iter().all(|c| c.x.is_finite() && c.y.is_finite());
    finite.then_some(g)
}

/// True when every position of a geometry's `coordinates` is an array of 2 or 3 numbers
/// at the nesting depth its type asks for (Point 0, LineString 1, Polygon 2, MultiPolygon 3).
fn positions_ok(coords: &serde_json::Value, kind: Option<&str>) -> bool {
    fn walk(v: &serde_json::Value, depth: usize) -> bool {
        let serde_json::Value::Array(items) = v else {
            return false;
        };
        if depth == 0 {
            (2..=3).contains(&items.len()) && items.iter().all(serde_json::Value::is_number)
        } else {
            items.iter().all(|x| walk(x, depth - 1))
        }
    }
    let depth = match kind {
        Some("Point") => 0,
        Some("LineString") | Some("MultiPoint") => 1,
        Some("Polygon") | Some("MultiLineString") => 2,
        Some("MultiPolygon") => 3,
        _ => return false,
    };
    walk(coords, depth)
}

/// A serde_json error as a lowercase message; "number out of range" is explained.
pub(crate) fn serde_msg(e: &serde_json::Error) -> String {
    let s = e.to_string();
    if s.contains("number out of range") {
        format!("{s} (not a finite 64-bit float)")
    } else {
        s
    }
}

pub(crate) fn truncate_chars(s: &str, n: usize) -> Cow<'_, str> {
    match s.char_indices().nth(n) {
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
        None => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convex fast path only ever accepts what geo's validation accepts, and a bowtie
    /// still goes to geo (and is rejected there).
    #[test]
    fn convex_fast_path_agrees_with_geo() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut fast = 0;
        for _ in 0..20_000 {
            let k = rng.gen_range(3..=4);
            let mut c: Vec<Coord<f64>> = (0..k)
                .map(|_| Coord {
                    x: 130.0 + rng.gen_range(-0.001..0.001),
                    y: 42.0 + rng.gen_range(-0.001..0.001),
                })
                .collect();
            c.push(c[0]);
            if convex_triangle_or_quad(&c) {
                fast += 1;
                let poly = Polygon::new(LineString::new(c.clone()), vec![]);
                assert!(poly.is_valid(), "{c:?}");
            }
        }
        assert!(fast > 5_000, "the fast path is taken ({fast})");
        let bowtie = [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]
            .map(|(x, y)| Coord { x, y });
        assert!(!convex_triangle_or_quad(&bowtie));
        assert!(checked_polygon(vec![LineString::new(bowtie.to_vec())]).is_err());
    }

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    fn check_err(s: &str, want: &str) {
        match parse_geometry(&raw(s)) {
            Err(e) => assert!(
                e.reason.contains(want),
                "{s}: {:?} lacks {want:?}",
                e.reason
            ),
            Ok(g) => panic!("{s}: accepted as {g:?}"),
        }
    }

    fn rect_poly(w: f64, s: f64, e: f64, n: f64) -> String {
        format!(
            r#"{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}"#
        )
    }

    #[test]
    fn bad_geometries_name_the_problem() {
        for (geometry, reason) in [
            (r#"{"type":"Point","coordinates":[]}"#, "0 numbers"),
            (r#"{"type":"Point","coordinates":[1,2,3,4]}"#, "4 numbers"),
            (r#"{"type":"Point","coordinates":[181,2]}"#, "longitude 181"),
            (r#"{"type":"Point","coordinates":[1,-91]}"#, "latitude -91"),
            (
                r#"{"type":"Point","coordinates":[1e400,2]}"#,
                "not a finite",
            ),
            (
                r#"{"type":"Point","coordinates":["1",2]}"#,
                "point coordinates",
            ),
            (r#"{"type":"Point"}"#, "no coordinates"),
            (r#"{"coordinates":[1,2]}"#, "no type"),
            (
                r#"{"type":"LineString","coordinates":[[1,2],[3,4]]}"#,
                "LineString",
            ),
            (
                r#"{"type":"GeometryCollection","geometries":[]}"#,
                "GeometryCollection",
            ),
            (r#"{"type":"Blob","coordinates":[1,2]}"#, "unknown geometry"),
            (
                r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#,
                "too few points",
            ),
            (
                r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#,
                "not closed",
            ),
            (
                r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[2,0],[0,0]]]}"#,
                "zero area",
            ),
            (
                r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#,
                "self-intersecting",
            ),
            (r#"{"type":"Polygon","coordinates":[]}"#, "no rings"),
        ] {
            check_err(geometry, reason);
        }
    }

    #[test]
    fn single_part_multi_geometries_are_their_part() {
        let poly = rect_poly(130.0, 42.0, 130.0004, 42.002);
        let ring = poly
            .trim_start_matches(r#"{"type":"Polygon","coordinates":"#)
            .trim_end_matches('}');
        let multi = format!(r#"{{"type":"MultiPolygon","coordinates":[{ring}]}}"#);
        assert_eq!(
            parse_geometry(&raw(&multi)).unwrap(),
            parse_geometry(&raw(&poly)).unwrap()
        );
        assert_eq!(
            parse_geometry(&raw(
                r#"{"type":"MultiPoint","coordinates":[[130.5,42.25]]}"#
            ))
            .unwrap(),
            Shape::Point(130.5, 42.25)
        );
        // The part is checked as any Point or Polygon is.
        for (geometry, reason) in [
            (
                r#"{"type":"MultiPoint","coordinates":[[190,42]]}"#,
                "longitude 190",
            ),
            (
                r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,1]]]]}"#,
                "not closed",
            ),
            (
                r#"{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}"#,
                "MultiPoint of 2 parts",
            ),
            (r#"{"type":"MultiPolygon","coordinates":[]}"#, "of 0 parts"),
            (
                r#"{"type":"MultiPoint","coordinates":7}"#,
                "MultiPoint coordinates",
            ),
        ] {
            check_err(geometry, reason);
        }
    }

    #[test]
    fn readable_bad_geometry_is_kept() {
        let e = parse_geometry(&raw(r#"{"type":"LineString","coordinates":[[1,2],[3,4]]}"#))
            .unwrap_err();
        assert!(matches!(e.geometry, Some(geo::Geometry::LineString(_))));
    }

    #[test]
    fn z_is_dropped() {
        let g = parse_geometry(&raw(r#"{"type":"Point","coordinates":[130.5,42.25,12.0]}"#));
        assert_eq!(g.unwrap(), Shape::Point(130.5, 42.25));
    }

    #[test]
    fn outline_of_a_north_pointing_ship() {
        // 0.002 deg of latitude ≈ 222 m long, 0.0004 deg of longitude at 42° ≈ 33 m wide.
        let s = rect_poly(130.0, 42.0, 130.0004, 42.002);
        let Shape::Polygon(p) = parse_geometry(&raw(&s)).unwrap() else {
            panic!()
        };
        let d = outline_dims(&p).unwrap();
        assert!((d.length_m - 222.4).abs() < 1.0, "{d:?}");
        assert!((d.beam_m - 33.05).abs() < 0.5, "{d:?}");
        assert!(d.heading_deg < 0.5 || d.heading_deg > 179.5, "{d:?}");
        let (x, y) = outline_centre(&p).unwrap();
        assert!((x - 130.0002).abs() < 1e-9 && (y - 42.001).abs() < 1e-9);
    }

    #[test]
    fn outline_of_an_east_pointing_ship_and_a_diagonal_one() {
        let s = rect_poly(130.0, 42.0, 130.002, 42.0003);
        let Shape::Polygon(p) = parse_geometry(&raw(&s)).unwrap() else {
            panic!()
        };
        let d = outline_dims(&p).unwrap();
        assert!((d.heading_deg - 90.0).abs() < 0.5, "{d:?}");
        assert!(d.length_m > d.beam_m);
        // A rectangle rotated to point north-east (in metres).
        let k = 1.0 / (42.0f64.to_radians().cos());
        let (l, b) = (0.001, 0.0002);
        let c = std::f64::consts::FRAC_1_SQRT_2;
        let pts = [
            (0.0, 0.0),
            (l * c, l * c),
            (l * c - b * c, l * c + b * c),
            (-b * c, b * c),
            (0.0, 0.0),
        ];
        let ring: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("[{},{}]", 130.0 + x * k, 42.0 + y))
            .collect();
        let s = format!(
            r#"{{"type":"Polygon","coordinates":[[{}]]}}"#,
            ring.join(",")
        );
        let Shape::Polygon(p) = parse_geometry(&raw(&s)).unwrap() else {
            panic!()
        };
        let d = outline_dims(&p).unwrap();
        assert!((d.heading_deg - 45.0).abs() < 0.5, "{d:?}");
        assert!((d.length_m / d.beam_m - 5.0).abs() < 0.05, "{d:?}");
    }

    #[test]
    fn footprints() {
        let mp = parse_footprint(&raw(&rect_poly(0.0, 0.0, 1.0, 1.0))).unwrap();
        assert_eq!(mp.0.len(), 1);
        let e = parse_footprint(&raw(r#"{"type":"Point","coordinates":[1,2]}"#)).unwrap_err();
        assert!(e.reason.contains("not supported"));
        let e = parse_footprint(&raw(r#"{"type":"MultiPolygon","coordinates":[]}"#)).unwrap_err();
        assert!(e.reason.contains("no polygons"));
    }
}

#[cfg(test)]
mod position_tests {
    use super::readable_geometry;

    #[test]
    fn short_or_empty_positions_are_unreadable_not_a_panic() {
        for raw in [
            r#"{"type":"LineString","coordinates":[[130.29,42.23],[1]]}"#,
            r#"{"type":"Point","coordinates":[]}"#,
            r#"{"type":"LineString","coordinates":[[]]}"#,
            r#"{"type":"Polygon","coordinates":[[[1,2],[3]]]}"#,
            r#"{"type":"MultiPolygon","coordinates":[[[[1,2],[3,4],[5]]]]}"#,
            r#"{"type":"GeometryCollection","geometries":[]}"#,
        ] {
            assert!(readable_geometry(raw).is_none(), "{raw}");
        }
        assert!(readable_geometry(
            r#"{"type":"LineString","coordinates":[[130.29,42.23],[130.3,42.24]]}"#
        )
        .is_some());
    }
}
