//! Validates one GeoJSON Feature (its raw JSON text) into an [`Observation`].
//!
//! Straight from the bytes, in one pass on the fast path: the feature is deserialised into a
//! borrowed struct whose geometry is read straight into checked coordinates and whose
//! properties are (key, raw value) pairs; known keys are type-checked, and every other key
//! is carried into `extra` as raw text in input order. No `serde_json::Value` tree is built.
//! Anything the fast path does not accept goes through the exact path (geometry and
//! properties kept raw and checked one by one), which gives the reason; both share the
//! property checks, and a test holds them to the same results.
//!
//! ```
//! use std::sync::Arc;
//! let f = r#"{"type":"Feature","id":17,"geometry":{"type":"Point","coordinates":[130.3,42.2]},
//!            "properties":{"observed_at":"2024-03-01T12:00:00Z","length_m":120}}"#;
//! let src: Arc<str> = Arc::from("a.geojson");
//! let o = shiplink::ingest::validate_feature(f, &src, 0, &Default::default(), 1_800_000_000).unwrap();
//! assert_eq!((o.id.as_str(), o.length_m), ("17", Some(120.0)));
//! ```

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::geometry::{self, parse_geometry, serde_msg, truncate_chars, FastGeometry, Shape};
use crate::config::IngestParams;
use crate::model::{parse_time, Observation, Rejected, Sensor, Time, VesselClass};

/// Raw feature texts longer than this are truncated in [`Rejected::original`].
pub const MAX_ORIGINAL_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
struct RawFeature<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    geometry: Option<&'a RawValue>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
    #[serde(borrow, default)]
    crs: Option<&'a RawValue>,
}

/// A feature as the fast path reads it: geometry typed, properties as raw values.
#[derive(Deserialize)]
struct FastFeature<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    geometry: Option<FastGeometry<'a>>,
    #[serde(borrow, default)]
    properties: Option<RawMap<'a>>,
    #[serde(borrow, default)]
    crs: Option<&'a RawValue>,
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON object as (key, raw value) pairs in input order.
pub(crate) struct RawMap<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawMap<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMap<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawMap<'de>, A::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(16));
                while let Some(Key(k)) = m.next_key::<Key<'de>>()? {
                    let v: &'de RawValue = m.next_value()?;
                    out.push((k, v));
                }
                Ok(RawMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Why one feature was rejected (before it is dressed as a [`Rejected`]).
pub(crate) struct Reject {
    pub id: Option<String>,
    pub reason: String,
    pub geometry: Option<geo::Geometry<f64>>,
}

impl Reject {
    fn new(id: &Option<String>, reason: impl Into<String>) -> Reject {
        Reject {
            id: id.clone(),
            reason: reason.into(),
            geometry: None,
        }
    }

    pub(crate) fn into_rejected(
        self,
        raw: &str,
        source_file: &Arc<str>,
        feature_index: Option<usize>,
    ) -> Rejected {
        Rejected {
            source_file: Arc::clone(source_file),
            feature_index,
            id: self.id,
            reason: self.reason,
            original: Some(truncate_original(raw)),
            geometry: self.geometry,
        }
    }
}

/// The raw text, cut at [`MAX_ORIGINAL_BYTES`] (on a char boundary) with a marker.
pub fn truncate_original(raw: &str) -> String {
    if raw.len() <= MAX_ORIGINAL_BYTES {
        return raw.to_string();
    }
    let mut end = MAX_ORIGINAL_BYTES;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated: {} bytes in all]", &raw[..end], raw.len())
}

/// Names accepted for the obsolete top-level `crs` member (all mean WGS84 lon/lat).
const WGS84_CRS_NAMES: &[&str] = &[
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "urn:ogc:def:crs:ogc::crs84",
    "ogc:crs84",
    "crs84",
    "epsg:4326",
    "urn:ogc:def:crs:epsg::4326",
    "urn:ogc:def:crs:epsg:6.6:4326",
    "http://www.opengis.net/def/crs/ogc/1.3/crs84",
    "http://www.opengis.net/def/crs/epsg/0/4326",
];

/// Checks an obsolete `crs` member: Ok when absent, null or WGS84; Err names the CRS.
pub(crate) fn check_crs(crs: Option<&RawValue>) -> Result<(), String> {
    let Some(crs) = crs else { return Ok(()) };
    if trim(crs.get()) == "null" {
        return Ok(());
    }
    #[derive(Deserialize)]
    struct Crs<'a> {
        #[serde(rename = "type", default)]
        kind: Option<String>,
        #[serde(borrow, default)]
        properties: Option<RawMap<'a>>,
    }
    let c: Crs = serde_json::from_str(crs.get())
        .map_err(|e| format!("crs member is not a crs object ({})", serde_msg(&e)))?;
    let name = c.properties.as_ref().and_then(|p| {
        p.0.iter()
            .find(|(k, _)| k == "name" || k == "href")
            .and_then(|(_, v)| serde_json::from_str::<String>(v.get()).ok())
    });
    match (c.kind.as_deref(), name) {
        (Some("name"), Some(n)) if WGS84_CRS_NAMES.contains(&n.trim().to_lowercase().as_str()) => {
            Ok(())
        }
        (_, Some(n)) => Err(format!(
            "crs {:?} is not WGS84 lon/lat (only OGC CRS84 / EPSG:4326 are accepted)",
            truncate_chars(&n, 80)
        )),
        _ => Err(format!(
            "crs {} is not WGS84 lon/lat (only OGC CRS84 / EPSG:4326 are accepted)",
            truncate_chars(crs.get(), 80)
        )),
    }
}

/// [`str::trim`], answered at once when neither end is white space (a value read by serde
/// never has any at its ends; `trim` decodes chars from both ends, and runs for every
/// property).
fn trim(s: &str) -> &str {
    let plain = |b: u8| b < 0x80 && !matches!(b, b'\t'..=b'\r' | b' ');
    match s.as_bytes() {
        [first, .., last] if plain(*first) && plain(*last) => s,
        [only] if plain(*only) => s,
        _ => s.trim(),
    }
}

/// Describes a raw JSON value for a type error: `string "abc"`, `number 12`, `an array`.
pub(crate) fn describe(raw: &RawValue) -> String {
    let t = trim(raw.get());
    match t.as_bytes().first() {
        Some(b'"') => format!("string {}", truncate_chars(t, 40)),
        Some(b't') | Some(b'f') => format!("boolean {t}"),
        Some(b'n') => "null".into(),
        Some(b'[') => "an array".into(),
        Some(b'{') => "an object".into(),
        _ => format!("number {}", truncate_chars(t, 40)),
    }
}

fn is_null(raw: &RawValue) -> bool {
    trim(raw.get()) == "null"
}

/// A JSON string, or None for another type.
pub(crate) fn as_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let t = trim(raw.get());
    if !t.starts_with('"') {
        return None;
    }
    // Valid JSON (a RawValue is): without escapes the text between the quotes is the string.
    if let Some(inner) = t
        .get(1..t.len() - 1)
        .filter(|_| t.len() >= 2 && t.ends_with('"'))
    {
        if !inner.bytes().any(|b| b == b'\\' || b == b'"' || b < 0x20) {
            return Some(Cow::Borrowed(inner));
        }
    }
    #[derive(Deserialize)]
    struct S<'a>(#[serde(borrow)] Cow<'a, str>);
    serde_json::from_str::<S>(raw.get()).ok().map(|s| s.0)
}

/// A JSON number's value (may be infinite for 1e400), or None for another type.
pub(crate) fn as_number(raw: &RawValue) -> Option<f64> {
    let t = trim(raw.get());
    match t.as_bytes().first() {
        Some(b'-') | Some(b'0'..=b'9') => t.parse::<f64>().ok(),
        _ => None,
    }
}

/// A property error message: `property K: expected X, got Y`.
pub(crate) fn type_error(key: &str, expected: &str, raw: &RawValue) -> String {
    format!("property {key}: expected {expected}, got {}", describe(raw))
}

/// A finite number property in `lo..=hi`.
pub(crate) fn number_prop(key: &str, raw: &RawValue) -> Result<f64, String> {
    let v = as_number(raw).ok_or_else(|| type_error(key, "a number", raw))?;
    if !v.is_finite() {
        return Err(format!(
            "property {key}: number {} is not a finite 64-bit float",
            truncate_chars(trim(raw.get()), 40)
        ));
    }
    Ok(v)
}

fn string_prop(key: &str, raw: &RawValue) -> Result<String, String> {
    as_str(raw)
        .map(Cow::into_owned)
        .ok_or_else(|| type_error(key, "a string", raw))
}

/// A string, or an integer kept as its JSON text (identities such as imo and mmsi).
fn string_or_integer(key: &str, raw: &RawValue) -> Result<String, String> {
    if let Some(s) = as_str(raw) {
        return Ok(s.into_owned());
    }
    let t = trim(raw.get());
    if as_number(raw).is_some() && t.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Ok(t.to_string());
    }
    Err(type_error(key, "a string or an integer", raw))
}

/// A string, or any number kept as its JSON text (scene ids).
fn string_or_number(key: &str, raw: &RawValue) -> Result<String, String> {
    if let Some(s) = as_str(raw) {
        return Ok(s.into_owned());
    }
    if as_number(raw).is_some() {
        return Ok(trim(raw.get()).to_string());
    }
    Err(type_error(key, "a string or a number", raw))
}

fn feature_id(raw: Option<&RawValue>) -> Result<Option<String>, String> {
    let Some(raw) = raw.filter(|r| !is_null(r)) else {
        return Ok(None);
    };
    if let Some(s) = as_str(raw) {
        if trim(&s).is_empty() {
            return Err("feature id is an empty string".into());
        }
        return Ok(Some(s.into_owned()));
    }
    if as_number(raw).is_some() {
        return Ok(Some(trim(raw.get()).to_string()));
    }
    Err(format!(
        "feature id: expected a string or a number, got {}",
        describe(raw)
    ))
}

/// True for a bare calendar date `YYYY-MM-DD` (what a Shapefile/DBF Date field holds).
fn is_date_only(s: &str) -> bool {
    let b = trim(s).as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// The base name of a path given as text (`a/b/c.geojson` → `c.geojson`).
pub(crate) fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Validates one feature's raw JSON text (see the module docs and the input contract).
///
/// `now` is the reference time for rejecting future observations.
#[allow(clippy::result_large_err)] // Rejected is the documented error; it is built once per bad feature.
pub fn validate_feature(
    raw: &str,
    source_file: &Arc<str>,
    feature_index: usize,
    params: &IngestParams,
    now: Time,
) -> Result<Observation, Rejected> {
    check_feature(raw, source_file, feature_index, params, now)
        .map_err(|r| r.into_rejected(raw, source_file, Some(feature_index)))
}

pub(crate) fn check_feature(
    raw: &str,
    source_file: &Arc<str>,
    feature_index: usize,
    params: &IngestParams,
    now: Time,
) -> Result<Observation, Reject> {
    match fast_feature(raw, source_file, feature_index, params, now) {
        Some(o) => Ok(o),
        None => slow_feature(raw, source_file, feature_index, params, now),
    }
}

/// A feature read in one pass: geometry straight into numbers, properties as raw values
/// (each then checked by the same code as the exact path). None for anything not accepted,
/// which then goes through [`slow_feature`] for the exact reason; a feature this accepts is
/// one the exact path accepts with the same result.
fn fast_feature(
    raw: &str,
    source_file: &Arc<str>,
    feature_index: usize,
    params: &IngestParams,
    now: Time,
) -> Option<Observation> {
    let f: FastFeature = serde_json::from_str(raw).ok()?;
    let id = feature_id(f.id).ok()?;
    if f.kind.as_deref() != Some("Feature") {
        return None;
    }
    check_crs(f.crs).ok()?;
    let centre = match geometry::fast_shape(f.geometry?)? {
        Shape::Point(x, y) => (x, y, None),
        Shape::Polygon(p) => {
            let (x, y) = geometry::outline_centre(&p)?;
            (x, y, Some(p))
        }
    };
    let props = Ok(f.properties.unwrap_or(RawMap(Vec::new())));
    finish(id, centre, props, source_file, feature_index, params, now).ok()
}

/// Checks the properties of a feature whose id and geometry (centre, outline) were read,
/// and builds the observation.
fn finish(
    id: Option<String>,
    (lon, lat, outline): (f64, f64, Option<geo::Polygon<f64>>),
    props: Result<RawMap, String>,
    source_file: &Arc<str>,
    feature_index: usize,
    params: &IngestParams,
    now: Time,
) -> Result<Observation, Reject> {
    let geom_for_reject = || -> Option<geo::Geometry<f64>> {
        Some(match &outline {
            Some(p) => geo::Geometry::Polygon(p.clone()),
            None => geo::Geometry::Point(geo::Point::new(lon, lat)),
        })
    };
    let fail = |reason: String| Reject {
        id: id.clone(),
        reason,
        geometry: geom_for_reject(),
    };

    let props = props.map_err(fail)?;

    let mut o = Observation {
        id: String::new(),
        source_file: Arc::clone(source_file),
        feature_index,
        observed_at: 0,
        lon,
        lat,
        sensor: Sensor::Other,
        sensor_text: None,
        scene_id: None,
        confidence: None,
        length_m: None,
        beam_m: None,
        heading_deg: None,
        vessel_class: None,
        hull_color: None,
        containers: None,
        identity: None,
        extra: Vec::new(),
    };
    let mut observed_at = None;
    let mut seen: u32 = 0;
    for (i, (key, value)) in props.0.iter().enumerate() {
        let key = key.as_ref();
        let bit = match known_index(key) {
            Some(b) => 1u32 << b,
            None => 0,
        };
        if bit != 0 {
            if seen & bit != 0 {
                return Err(fail(format!("property {key} appears twice")));
            }
            seen |= bit;
        } else if props.0[..i].iter().any(|(k, _)| k == key) {
            return Err(fail(format!(
                "property {} appears twice",
                truncate_chars(key, 60)
            )));
        }
        if is_null(value) {
            if key == "observed_at" {
                return Err(fail("property observed_at is null (required)".into()));
            }
            if bit != 0 {
                continue;
            }
        }
        let r: Result<(), String> = (|| {
            match key {
                "observed_at" => {
                    let s = as_str(value)
                        .ok_or_else(|| type_error(key, "an RFC 3339 time string", value))?;
                    if is_date_only(&s) {
                        return Err(format!(
                            "property observed_at {:?} is a date without a time of day or offset \
                             (an RFC 3339 time with an offset is required, e.g. {}T12:00:00Z; \
                             a Shapefile Date field cannot hold one: store observed_at as text)",
                            s.trim(),
                            s.trim()
                        ));
                    }
                    let t = parse_time(&s).map_err(|e| format!("property {e}"))?;
                    let limit = now.saturating_add((params.max_future_days * 86_400.0) as i64);
                    if t > limit {
                        return Err(format!(
                            "property observed_at {} is in the future (later than the reference time plus {} days)",
                            s.trim(),
                            params.max_future_days
                        ));
                    }
                    observed_at = Some(t);
                }
                "sensor" => {
                    let s = string_prop(key, value)?;
                    o.sensor = sensor_from_text(&s);
                    o.sensor_text = Some(shared(&s));
                }
                "scene_id" => o.scene_id = Some(shared(&string_or_number(key, value)?)),
                "confidence" => {
                    let v = number_prop(key, value)?;
                    if !(0.0..=1.0).contains(&v) {
                        return Err(format!("property confidence {v} out of range 0..1"));
                    }
                    o.confidence = Some(v);
                }
                "length_m" => {
                    let v = number_prop(key, value)?;
                    o.length_m = Some(v);
                }
                "beam_m" => {
                    let v = number_prop(key, value)?;
                    o.beam_m = Some(v);
                }
                "heading_deg" => {
                    let v = number_prop(key, value)?;
                    if !(0.0..=360.0).contains(&v) {
                        return Err(format!("property heading_deg {v} out of range 0..360"));
                    }
                    o.heading_deg = Some(if v == 360.0 { 0.0 } else { v });
                }
                "vessel_class" => o.vessel_class = Some(class_from_text(&string_prop(key, value)?)),
                "hull_color" => o.hull_color = Some(shared(&string_prop(key, value)?)),
                "containers" => {
                    let v = number_prop(key, value)
                        .map_err(|_| type_error(key, "a non-negative integer", value))?;
                    if v < 0.0 || v.fract() != 0.0 || v > f64::from(u32::MAX) {
                        return Err(format!(
                            "property containers: expected a non-negative integer, got {}",
                            describe(value)
                        ));
                    }
                    o.containers = Some(v as u32);
                }
                "name" => o.identity_mut().name = Some(string_or_integer(key, value)?),
                "imo" => o.identity_mut().imo = Some(string_or_integer(key, value)?),
                "mmsi" => o.identity_mut().mmsi = Some(string_or_integer(key, value)?),
                _ => {
                    if nesting_depth(value.get()) > MAX_NESTING {
                        return Err(format!(
                            "property {}: nested too deeply (more than {MAX_NESTING} levels)",
                            truncate_chars(key, 60)
                        ));
                    }
                    o.extra.push((key.to_string(), value.get().to_string()))
                }
            }
            Ok(())
        })();
        r.map_err(fail)?;
    }
    o.observed_at = observed_at.ok_or_else(|| fail("property observed_at is missing".into()))?;

    // The outline's rectangle is only needed for what the properties did not give.
    let complete = o.length_m.is_some() && o.beam_m.is_some() && o.heading_deg.is_some();
    if let Some(p) = outline.as_ref().filter(|_| !complete) {
        if let Some(d) = geometry::outline_dims(p) {
            o.length_m = o.length_m.or(Some(d.length_m));
            o.beam_m = o.beam_m.or(Some(d.beam_m));
            o.heading_deg = o.heading_deg.or(Some(d.heading_deg));
        }
    }
    let derived = if outline.is_some() {
        " (from the outline or the properties)"
    } else {
        ""
    };
    if let Some(l) = o.length_m {
        if l <= 0.0 {
            return Err(fail(format!("length_m {l} must be > 0{derived}")));
        }
        if l > params.max_length_m {
            return Err(fail(format!(
                "length_m {l} exceeds the largest plausible vessel ({} m){derived}",
                params.max_length_m
            )));
        }
    }
    if let Some(b) = o.beam_m {
        if b <= 0.0 {
            return Err(fail(format!("beam_m {b} must be > 0{derived}")));
        }
        if let Some(l) = o.length_m {
            if b > l {
                return Err(fail(format!(
                    "beam_m {b} is larger than length_m {l}{derived}"
                )));
            }
        }
    }
    o.extra.shrink_to_fit();
    o.id = match id {
        Some(id) => id,
        None => format!("{}#{feature_index}", base_name(source_file)),
    };
    Ok(o)
}

/// The outline of a feature's raw JSON text when its geometry is a usable Polygon (for a
/// feature that was accepted, the outline its centre and sizes came from).
pub(crate) fn outline_of(raw: &str) -> Option<geo::Polygon<f64>> {
    let f: RawFeature = serde_json::from_str(raw).ok()?;
    match parse_geometry(f.geometry?).ok()? {
        Shape::Polygon(p) => Some(p),
        Shape::Point(..) => None,
    }
}

/// The exact path: every check in order, each failure with its reason.
fn slow_feature(
    raw: &str,
    source_file: &Arc<str>,
    feature_index: usize,
    params: &IngestParams,
    now: Time,
) -> Result<Observation, Reject> {
    let none = None;
    let f: RawFeature = serde_json::from_str(raw)
        .map_err(|e| Reject::new(&none, format!("not a feature object: {}", serde_msg(&e))))?;
    let id = feature_id(f.id).map_err(|e| Reject::new(&none, e))?;
    match f.kind.as_deref() {
        Some("Feature") => {}
        Some(t) => {
            return Err(Reject::new(
                &id,
                format!("type is {:?}, expected \"Feature\"", truncate_chars(t, 40)),
            ))
        }
        None => return Err(Reject::new(&id, "feature has no type member")),
    }
    check_crs(f.crs).map_err(|e| Reject::new(&id, e))?;
    let geometry_raw = f
        .geometry
        .ok_or_else(|| Reject::new(&id, "feature has no geometry (null or missing)"))?;
    let shape = parse_geometry(geometry_raw).map_err(|e| Reject {
        id: id.clone(),
        reason: e.reason,
        geometry: e.geometry,
    })?;
    let (lon, lat, outline) = match shape {
        Shape::Point(x, y) => (x, y, None),
        Shape::Polygon(p) => {
            let (x, y) = geometry::outline_centre(&p)
                .ok_or_else(|| Reject::new(&id, "polygon has no centroid"))?;
            (x, y, Some(p))
        }
    };
    let props = match f.properties.filter(|p| !is_null(p)) {
        Some(p) => serde_json::from_str::<RawMap>(p.get())
            .map_err(|_| format!("properties: expected an object, got {}", describe(p))),
        None => Ok(RawMap(Vec::new())),
    };
    finish(
        id,
        (lon, lat, outline),
        props,
        source_file,
        feature_index,
        params,
        now,
    )
}

/// Most texts [`shared`] remembers per thread before it starts afresh.
const SHARED_MAX: usize = 4096;

thread_local! {
    static SHARED: RefCell<HashSet<Arc<str>, TextHash>> = RefCell::new(HashSet::default());
    static SENSOR_CACHE: RefCell<(String, Sensor)> = RefCell::new((String::new(), Sensor::from_text("")));
    static CLASS_CACHE: RefCell<(String, VesselClass)> = RefCell::new((String::new(), VesselClass::from_text("")));
}

/// A fast hash for the short texts [`shared`] looks up (SipHash costs more than the look-up
/// saves); the set is never iterated, so its order does not matter.
#[derive(Default, Clone, Copy)]
struct TextHash;

impl std::hash::BuildHasher for TextHash {
    type Hasher = TextHasher;
    fn build_hasher(&self) -> TextHasher {
        TextHasher(0)
    }
}

struct TextHasher(u64);

impl std::hash::Hasher for TextHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut h = self.0 ^ (bytes.len() as u64).wrapping_mul(K);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
        }
        let mut w = [0u8; 8];
        w[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.0 = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

/// `s` as a shared text. Detections of one image repeat their sensor, scene id and hull
/// colour, so each thread remembers the texts it has handed out (up to [`SHARED_MAX`],
/// then it starts afresh) and gives out another reference to the same allocation.
fn shared(s: &str) -> Arc<str> {
    SHARED.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(a) = c.get(s) {
            return Arc::clone(a);
        }
        if c.len() >= SHARED_MAX {
            c.clear();
        }
        let a: Arc<str> = Arc::from(s);
        c.insert(Arc::clone(&a));
        a
    })
}

/// [`Sensor::from_text`], remembering the last text per thread (inputs repeat a few names).
fn sensor_from_text(s: &str) -> Sensor {
    SENSOR_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != s {
            c.0.clear();
            c.0.push_str(s);
            c.1 = Sensor::from_text(s);
        }
        c.1
    })
}

/// [`VesselClass::from_text`], remembering the last text per thread.
fn class_from_text(s: &str) -> VesselClass {
    CLASS_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != s {
            c.0.clear();
            c.0.push_str(s);
            c.1 = VesselClass::from_text(s);
        }
        c.1.clone()
    })
}

/// Deepest nesting of arrays/objects kept in an extra property (serde_json's own limit).
pub const MAX_NESTING: usize = 128;

/// Greatest nesting depth of arrays and objects in valid JSON text (strings skipped).
///
/// Extras are captured raw, and serde_json scans raw values without its recursion limit, so
/// this keeps absurdly deep values from reaching writers and readers downstream.
pub(crate) fn nesting_depth(raw: &str) -> usize {
    let b = raw.as_bytes();
    if !matches!(b.first(), Some(b'[') | Some(b'{')) {
        return 0;
    }
    let (mut depth, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &c in b {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The typed property names in the order [`known_index`] numbers them (each has a bit for
/// duplicate detection).
#[cfg(test)]
const KNOWN: &[&str] = &[
    "observed_at",
    "sensor",
    "scene_id",
    "confidence",
    "length_m",
    "beam_m",
    "heading_deg",
    "vessel_class",
    "hull_color",
    "containers",
    "name",
    "imo",
    "mmsi",
];

/// The position of `key` in [`KNOWN`] (a `match` on the text: faster than a search).
fn known_index(key: &str) -> Option<usize> {
    match key {
        "observed_at" => Some(0),
        "sensor" => Some(1),
        "scene_id" => Some(2),
        "confidence" => Some(3),
        "length_m" => Some(4),
        "beam_m" => Some(5),
        "heading_deg" => Some(6),
        "vessel_class" => Some(7),
        "hull_color" => Some(8),
        "containers" => Some(9),
        "name" => Some(10),
        "imo" => Some(11),
        "mmsi" => Some(12),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_index_is_the_position_in_known() {
        for (i, k) in KNOWN.iter().enumerate() {
            assert_eq!(known_index(k), Some(i), "{k}");
        }
        assert_eq!(known_index("Name"), None);
        assert_eq!(known_index("names"), None);
    }

    const NOW: Time = 1_710_000_000; // 2024-03-09

    fn feat(id: &str, props: &str) -> String {
        format!(
            r#"{{"type":"Feature"{id},"geometry":{{"type":"Point","coordinates":[130.3,42.2]}},"properties":{{"observed_at":"2024-03-01T12:00:00Z"{props}}}}}"#
        )
    }

    #[allow(clippy::result_large_err)] // mirrors validate_feature
    fn check(raw: &str) -> Result<Observation, Rejected> {
        let src: Arc<str> = Arc::from("dir/obs.geojson");
        validate_feature(raw, &src, 3, &IngestParams::default(), NOW)
    }

    fn check_err(raw: &str, want: &str) {
        match check(raw) {
            Err(r) => assert!(
                r.reason.contains(want),
                "{raw}\n{:?} lacks {want:?}",
                r.reason
            ),
            Ok(o) => panic!("{raw}: accepted {o:?}"),
        }
    }

    #[test]
    fn minimal_point_feature() {
        let o = check(&feat("", "")).unwrap();
        assert_eq!(o.id, "obs.geojson#3");
        assert_eq!((o.lon, o.lat, o.observed_at), (130.3, 42.2, 1709294400));
        assert_eq!(o.sensor, Sensor::Other);
        assert!(o.extra.is_empty());
        // No name, imo or mmsi: no identity box (a million detections would pay for one).
        assert!(o.identity.is_none());
        let named = check(&feat("", r#","name":"KANG""#)).unwrap();
        assert_eq!(
            (named.name(), named.imo(), named.mmsi()),
            (Some("KANG"), None, None)
        );
    }

    #[test]
    fn ids_strings_numbers_and_bad_ones() {
        assert_eq!(check(&feat(r#","id":"a-1""#, "")).unwrap().id, "a-1");
        assert_eq!(check(&feat(r#","id":17"#, "")).unwrap().id, "17");
        assert_eq!(check(&feat(r#","id":1.50"#, "")).unwrap().id, "1.50");
        assert_eq!(
            check(&feat(r#","id":null"#, "")).unwrap().id,
            "obs.geojson#3"
        );
        check_err(
            &feat(r#","id":true"#, ""),
            "feature id: expected a string or a number",
        );
        check_err(&feat(r#","id":"""#, ""), "empty string");
        let r = check(&feat(r#","id":"x""#, r#","length_m":"abc""#)).unwrap_err();
        assert_eq!(r.id.as_deref(), Some("x"));
        assert!(r.original.unwrap().contains("abc"));
        assert!(matches!(r.geometry, Some(geo::Geometry::Point(_))));
    }

    #[test]
    fn all_properties_typed_and_extras_in_order() {
        let o = check(&feat(
            r#","id":"a""#,
            r#","zeta":1,"sensor":"Sentinel_2","scene_id":42,"confidence":0.9,"length_m":120.5,"beam_m":20,"heading_deg":360,"vessel_class":"reefer","hull_color":"red","containers":12.0,"name":"KANG","imo":9123456,"mmsi":"273000000","alpha":{"b":[1,2]},"nothing":null,"hull_color_x":null"#,
        ))
        .unwrap();
        assert_eq!(o.sensor, Sensor::Sentinel2);
        assert_eq!(o.sensor_text.as_deref(), Some("Sentinel_2"));
        assert_eq!(o.scene_id.as_deref(), Some("42"));
        assert_eq!(o.confidence, Some(0.9));
        assert_eq!(
            (o.length_m, o.beam_m, o.heading_deg),
            (Some(120.5), Some(20.0), Some(0.0))
        );
        assert_eq!(o.vessel_class.as_ref().map(|c| c.as_str()), Some("reefer"));
        assert_eq!(o.containers, Some(12));
        assert_eq!(o.name(), Some("KANG"));
        assert_eq!(o.imo(), Some("9123456"));
        assert_eq!(o.mmsi(), Some("273000000"));
        let keys: Vec<&str> = o.extra.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["zeta", "alpha", "nothing", "hull_color_x"]);
        assert_eq!(o.extra[1].1, r#"{"b":[1,2]}"#);
        assert_eq!(o.extra[2].1, "null");
    }

    #[test]
    fn null_optional_is_absent() {
        let o = check(&feat("", r#","length_m":null,"sensor":null"#)).unwrap();
        assert_eq!((o.length_m, o.sensor_text), (None, None));
    }

    #[test]
    fn wrong_types_name_the_property() {
        for (p, want) in [
            (
                r#""length_m":"abc""#,
                r#"property length_m: expected a number, got string "abc""#,
            ),
            (
                r#""beam_m":true"#,
                "property beam_m: expected a number, got boolean true",
            ),
            (
                r#""heading_deg":[1]"#,
                "property heading_deg: expected a number, got an array",
            ),
            (
                r#""confidence":"0.5""#,
                "property confidence: expected a number",
            ),
            (
                r#""sensor":1"#,
                "property sensor: expected a string, got number 1",
            ),
            (
                r#""scene_id":{}"#,
                "property scene_id: expected a string or a number",
            ),
            (
                r#""vessel_class":2"#,
                "property vessel_class: expected a string",
            ),
            (
                r#""hull_color":false"#,
                "property hull_color: expected a string",
            ),
            (
                r#""containers":"12""#,
                "property containers: expected a non-negative integer",
            ),
            (
                r#""name":[]"#,
                "property name: expected a string or an integer",
            ),
            (
                r#""imo":1.5"#,
                "property imo: expected a string or an integer",
            ),
            (
                r#""mmsi":{}"#,
                "property mmsi: expected a string or an integer",
            ),
        ] {
            check_err(&feat("", &format!(",{p}")), want);
        }
        check_err(
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"observed_at":5}}"#,
            "property observed_at: expected an RFC 3339 time string, got number 5",
        );
    }

    #[test]
    fn ranges_and_sizes() {
        check_err(&feat("", r#","length_m":0"#), "length_m 0 must be > 0");
        check_err(&feat("", r#","length_m":5000"#), "exceeds");
        check_err(&feat("", r#","length_m":1e400"#), "not a finite");
        check_err(&feat("", r#","beam_m":0"#), "beam_m 0 must be > 0");
        check_err(
            &feat("", r#","length_m":20,"beam_m":30"#),
            "larger than length_m",
        );
        check_err(
            &feat("", r#","containers":-3"#),
            "non-negative integer, got number -3",
        );
        check_err(&feat("", r#","containers":2.5"#), "non-negative integer");
        check_err(&feat("", r#","confidence":1.5"#), "out of range 0..1");
        check_err(&feat("", r#","heading_deg":-1"#), "out of range 0..360");
        check_err(&feat("", r#","length_m":1,"length_m":2"#), "appears twice");
        check_err(&feat("", r#","x":1,"x":2"#), "property x appears twice");
    }

    #[test]
    fn times() {
        let f = |t: &str| {
            format!(
                r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[1,2]}},"properties":{{"observed_at":{t}}}}}"#
            )
        };
        check_err(
            &f(r#""2024-03-01T12:00:00""#),
            "not an RFC 3339 time with an offset",
        );
        check_err(&f(r#""2024-02-30T12:00:00Z""#), "not an RFC 3339 time");
        check_err(
            &f(r#""2024-03-01""#),
            "\"2024-03-01\" is a date without a time of day or offset",
        );
        check_err(&f(r#""2024-3-01""#), "not an RFC 3339 time with an offset");
        check_err(&f(r#""2030-01-01T00:00:00Z""#), "in the future");
        check_err(&f("null"), "observed_at is null");
        assert!(check(&f(r#""2024-03-09T18:00:00+09:00""#)).is_ok());
        check_err(
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{}}"#,
            "observed_at is missing",
        );
        check_err(
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":null}"#,
            "observed_at is missing",
        );
    }

    #[test]
    fn feature_shape_problems() {
        check_err(
            r#"{"type":"Feature","geometry":null,"properties":{}}"#,
            "no geometry",
        );
        check_err(
            r#"{"type":"Point","coordinates":[1,2]}"#,
            "expected \"Feature\"",
        );
        check_err(r#"[1,2]"#, "not a feature object");
        check_err(
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":[1]}"#,
            "properties: expected an object, got an array",
        );
        check_err(
            r#"{"type":"Feature","crs":{"type":"name","properties":{"name":"EPSG:3857"}},"geometry":{"type":"Point","coordinates":[1,2]},"properties":{}}"#,
            "crs \"EPSG:3857\"",
        );
    }

    #[test]
    fn polygon_outline_fills_missing_sizes() {
        let raw = r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[130,42],[130.0004,42],[130.0004,42.002],[130,42.002],[130,42]]]},"properties":{"observed_at":"2024-03-01T12:00:00Z","beam_m":30}}"#;
        let o = check(raw).unwrap();
        assert!((o.length_m.unwrap() - 222.4).abs() < 1.0);
        assert_eq!(o.beam_m, Some(30.0));
        let outline = outline_of(raw).unwrap();
        assert_eq!(outline.exterior().0.len(), 5);
        assert!(
            outline_of(&feat("", "")).is_none(),
            "a point has no outline"
        );
        assert!((o.lat - 42.001).abs() < 1e-9);
        // A huge outline is too long.
        let raw = r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[130,42],[130.01,42],[130.01,42.05],[130,42.05],[130,42]]]},"properties":{"observed_at":"2024-03-01T12:00:00Z"}}"#;
        check_err(raw, "from the outline");
    }

    #[test]
    fn crs_names() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        assert!(check_crs(None).is_ok());
        assert!(check_crs(Some(&raw("null"))).is_ok());
        assert!(check_crs(Some(&raw(
            r#"{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}}"#
        )))
        .is_ok());
        assert!(check_crs(Some(&raw(
            r#"{"type":"name","properties":{"name":"EPSG:4326"}}"#
        )))
        .is_ok());
        let e = check_crs(Some(&raw(
            r#"{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::32652"}}"#,
        )))
        .unwrap_err();
        assert!(e.contains("EPSG::32652"), "{e}");
        assert!(check_crs(Some(&raw("5"))).is_err());
    }

    #[test]
    fn long_originals_are_truncated() {
        let s = "é".repeat(MAX_ORIGINAL_BYTES);
        let t = truncate_original(&s);
        assert!(t.len() < MAX_ORIGINAL_BYTES + 100 && t.contains("truncated"));
    }

    #[test]
    fn nesting() {
        assert_eq!(nesting_depth("1"), 0);
        assert_eq!(nesting_depth(r#"[1,{"a":"[[[\"["}]"#), 2);
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        check_err(
            &feat("", &format!(r#","blob":{deep}"#)),
            "property blob: nested too deeply",
        );
        let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(check(&feat("", &format!(r#","blob":{ok}"#))).is_ok());
    }

    #[test]
    fn fast_path_agrees_with_the_exact_path() {
        let src: Arc<str> = Arc::from("dir/obs.geojson");
        let p = IngestParams::default();
        let g = |geom: &str, props: &str| {
            format!(
                r#"{{"type":"Feature","id":"f","geometry":{geom},"properties":{{"observed_at":"2024-03-01T12:00:00Z"{props}}}}}"#
            )
        };
        let square = r#"{"type":"Polygon","coordinates":[[[130,42],[130.0004,42],[130.0004,42.002],[130,42.002],[130,42]]]}"#;
        let cases = [
            feat("", ""),
            feat(r#","id":17"#, ""),
            feat(r#","id":-0"#, ""),
            feat(r#","id":1.50e1"#, ""),
            feat(r#","id":"a\u0041""#, r#","sensor":"S\u0031","scene_id":7.0"#),
            feat("", r#","zeta":1,"sensor":"Sentinel_2","confidence":0.9,"length_m":120.5,"beam_m":20,"heading_deg":360,"vessel_class":"reefer","hull_color":"red","containers":12.0,"name":"KANG","imo":9123456,"mmsi":"273000000","alpha":{"b":[1,2]},"nothing":null"#),
            feat("", r#","length_m":1,"length_m":2"#),
            feat("", r#","length_m":1e400"#),
            g(r#"{"type":"Point","coordinates":[130,42,5]}"#, ""),
            g(r#"{"coordinates":[-0,-0.0],"type":"Point","bbox":[1,2,3,4]}"#, ""),
            g(r#"{"type":"Point","coordinates":[1,2,3,4]}"#, ""),
            g(r#"{"type":"Point","coordinates":[1]}"#, ""),
            g(r#"{"type":"Point","coordinates":[181,2]}"#, ""),
            g(r#"{"type":"Point","coordinates":[1e400,2]}"#, ""),
            g(r#"{"type":"Point","coordinates":[[1,2]]}"#, ""),
            g(r#"{"type":"Polygon","coordinates":[1,2]}"#, ""),
            g(r#"{"type":"Polygon","coordinates":[]}"#, ""),
            g(r#"{"type":"Point","coordinates":[1,2],"type":"Point"}"#, ""),
            g(r#"{"type":"LineString","coordinates":[[1,2],[3,4]]}"#, ""),
            g(square, ""),
            g(square, r#","length_m":100,"beam_m":30,"heading_deg":12"#),
            g(r#"{"type":"Polygon","coordinates":[[[130,42],[130.0004,42],[130.0004,42.002],[130,42.002]]]}"#, ""),
            g(r#"{"type":"Polygon","coordinates":[[[130,42],[130.0004,42],[130.0004,42.002],[130,42.002],[130,42]],[[1,2],[1,2],[1,2],[1,2]]]}"#, ""),
            g(r#"{"type":"Polygon","coordinates":[[[130,42],[130.0004,42.002],[130.0004,42],[130,42.002],[130,42]]]}"#, ""),
            g(r#"{"type":"Polygon","coordinates":[[[130,42,1],[130.0004,42,1],[130.0004,42.002,1],[130,42.002,1],[130,42,1]]]}"#, ""),
            g("null", ""),
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":null}"#.into(),
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":[1]}"#.into(),
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"observed_at":"2024-03-01T12:00:00Z"},"type":"Feature"}"#.into(),
            r#"{"type":"feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"observed_at":"2024-03-01T12:00:00Z"}}"#.into(),
            r#"{"type":"Feature","crs":{"type":"name","properties":{"name":"EPSG:3857"}},"geometry":{"type":"Point","coordinates":[1,2]},"properties":{"observed_at":"2024-03-01T12:00:00Z"}}"#.into(),
            r#"{"type":"Feature","crs":null,"geometry":{"type":"Point","coordinates":[1,2]},"properties":{"observed_at":"2024-03-01T12:00:00Z"}}"#.into(),
        ];
        let mut fast = 0;
        for raw in &cases {
            let exact = slow_feature(raw, &src, 3, &p, NOW);
            let quick = fast_feature(raw, &src, 3, &p, NOW);
            if let Some(q) = &quick {
                fast += 1;
                let e = exact.as_ref().map_err(|r| r.reason.clone());
                assert_eq!(
                    format!("{e:?}"),
                    format!("{:?}", Ok::<_, String>(q)),
                    "{raw}"
                );
            }
            let both = check_feature(raw, &src, 3, &p, NOW);
            assert_eq!(
                format!("{:?}", both.map_err(|r| (r.id, r.reason, r.geometry))),
                format!("{:?}", exact.map_err(|r| (r.id, r.reason, r.geometry))),
                "{raw}"
            );
        }
        assert!(fast >= 10, "the fast path took only {fast} cases");
    }

    #[test]
    fn strings_borrowed_or_unescaped() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        assert!(matches!(
            as_str(&raw(r#""abc""#)),
            Some(Cow::Borrowed("abc"))
        ));
        assert_eq!(as_str(&raw(r#""a\"b\u0041""#)).as_deref(), Some("a\"bA"));
        assert_eq!(as_str(&raw(r#""""#)).as_deref(), Some(""));
        assert_eq!(as_str(&raw("12")), None);
    }

    #[test]
    fn base_names() {
        assert_eq!(base_name("a/b/c.json"), "c.json");
        assert_eq!(base_name("c.json"), "c.json");
        assert_eq!(base_name(r"a\c.json"), "c.json");
    }
}
