//! Reads any OGR vector format through GDAL (feature `gdal`): detections as GeoJSON Feature
//! text for the ordinary GeoJSON validation, and land polygons for `--land`.
//!
//! GeoPackage, Shapefile, FlatGeobuf, KML, GML, … and CSV with a WKT column (`wkt`,
//! `geometry`) or lon/lat columns (`lon`/`longitude`/`x`, `lat`/`latitude`/`y`; column types
//! autodetected). Every layer with a geometry column is read, in dataset order (a dataset
//! without any geometry column is read as is, giving features without geometry). Geometries
//! in another SRS are reprojected to WGS84 lon/lat degrees (traditional GIS axis order); a
//! layer without an SRS is taken to be lon/lat already.
//!
//! Properties keep their types: integers and reals as JSON numbers (non-finite → `null`),
//! DateTime as RFC 3339 with its offset (`Z` for UTC) — or, when the source has no time zone,
//! as a local time without offset (which validation then rejects, as it must), Date as
//! `YYYY-MM-DD` (no time: validation rejects it as an `observed_at`), lists as JSON arrays.
//! The feature id is the `id` field, else a `fid` field; without either there is no id and
//! validation names the feature `<file name>#<index>` as for GeoJSON (OGR feature ids are
//! not used: they repeat across files and layers).
//!
//! Format quirks undone here, so a detection reads the same in any format:
//! - Shapefile (DBF) field names are cut to 10 characters: `observed_a`, `vessel_cla` and
//!   `heading_de` are read as `observed_at`, `vessel_class` and `heading_deg` (unless the
//!   full name is a field too);
//! - absent, null and empty-text values are all left out of the properties (every feature
//!   of a layer has every column; a Shapefile cannot tell null from empty text), and the
//!   field giving the id is not repeated as a property;
//! - OGR's date-time text with an offset in a text `observed_at` (`2024/03/01 07:00:00+09`,
//!   what `ogr2ogr` writes into CSV and KML) is read as RFC 3339 (`2024-03-01T07:00:00+09:00`);
//! - text columns (CSV is read without type guessing, so ids such as `007` stay text; KML
//!   extended data is text) holding a number for `confidence`, `length_m`, `beam_m`,
//!   `heading_deg` or `containers` become JSON numbers; blank text there becomes `null`.
//!
//! GDAL's own messages raised while a file is opened and read here are collected instead of
//! printed: when the file cannot be opened they make up the error; warnings about a file
//! that was read are dropped (its features are validated anyway). Messages GDAL raises
//! elsewhere (the GeoPackage writer) are printed to stderr as GDAL itself would.
//!
//! ```no_run
//! let feats = shiplink::gdal_io::read_vector_features(std::path::Path::new("detections.gpkg"))?;
//! for (index, text) in feats {
//!     assert!(text.starts_with(r#"{"type":"Feature""#), "feature {index}");
//! }
//! # Ok::<(), shiplink::Error>(())
//! ```

use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Once;

use gdal::errors::CplErrType;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::{FieldValue, LayerAccess};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};

use crate::error::{Error, Result};

/// CSV open options: where to find the geometry.
/// Column types are not guessed: every column is text (numbers in the known numeric
/// properties are converted, see the module docs), empty cells are null.
const CSV_OPTIONS: [&str; 5] = [
    "X_POSSIBLE_NAMES=lon,longitude,x",
    "Y_POSSIBLE_NAMES=lat,latitude,y",
    "GEOM_POSSIBLE_NAMES=wkt,geometry",
    "KEEP_GEOM_COLUMNS=NO",
    "EMPTY_STRING_AS_NULL=YES",
];

/// Shapefile (DBF) names cut to 10 characters → the input contract's names.
const SHAPEFILE_NAMES: [(&str, &str); 3] = [
    ("observed_a", "observed_at"),
    ("vessel_cla", "vessel_class"),
    ("heading_de", "heading_deg"),
];

/// Contract properties that are numbers (text holding a number is converted).
const NUMERIC_PROPERTIES: [&str; 5] = [
    "confidence",
    "length_m",
    "beam_m",
    "heading_deg",
    "containers",
];

/// Reads every feature of every geometry layer in `path` as GeoJSON Feature text, numbered
/// from 0 in reading order (the `feature_index` the rejection report names).
pub fn read_vector_features(path: &Path) -> Result<Vec<(usize, String)>> {
    capturing(|| vector_features(path))
}

fn vector_features(path: &Path) -> Result<Vec<(usize, String)>> {
    let err = |e: gdal::errors::GdalError| Error::bad_file(path, e.to_string());
    let ds = open_vector(path)?;
    let shapefile = ds.driver().short_name() == "ESRI Shapefile";
    let wgs84 = wgs84().map_err(err)?;
    let mut out = Vec::new();
    for mut layer in layers_to_read(&ds) {
        let transform = transform_for(&layer, &wgs84).map_err(err)?;
        let fields = field_names(&layer, shapefile);
        let id_field = fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case("id"))
            .or_else(|| {
                fields
                    .iter()
                    .position(|f| f.name.eq_ignore_ascii_case("fid"))
            });
        for feature in layer.features() {
            let index = out.len();
            out.push((index, feature_json(&feature, &fields, id_field, &transform)));
        }
    }
    Ok(out)
}

/// A field as written out: its property name and whether text in it becomes a number.
struct OutField {
    name: String,
    numeric: bool,
    /// `observed_at`: OGR's own date-time text in it is rewritten as RFC 3339.
    time: bool,
}

/// The property names of a layer's fields, with Shapefile truncations undone.
fn field_names<L: LayerAccess>(layer: &L, shapefile: bool) -> Vec<OutField> {
    let raw: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
    raw.iter()
        .map(|n| {
            let full = SHAPEFILE_NAMES
                .iter()
                .find(|(cut, full)| shapefile && n == cut && !raw.iter().any(|r| r == full))
                .map(|(_, full)| (*full).to_string());
            let name = full.unwrap_or_else(|| n.clone());
            let numeric = NUMERIC_PROPERTIES.contains(&name.as_str());
            let time = name == "observed_at";
            OutField {
                name,
                numeric,
                time,
            }
        })
        .collect()
}

/// Reads the polygons (and the parts of multipolygons) of every geometry layer in `path`, in
/// WGS84 lon/lat; other geometry types are skipped.
pub fn read_land_polygons(path: &Path) -> Result<Vec<geo::Polygon<f64>>> {
    capturing(|| land_polygons(path))
}

fn land_polygons(path: &Path) -> Result<Vec<geo::Polygon<f64>>> {
    let err = |e: gdal::errors::GdalError| Error::bad_file(path, e.to_string());
    let ds = open_vector(path)?;
    let wgs84 = wgs84().map_err(err)?;
    let mut polygons = Vec::new();
    for mut layer in layers_to_read(&ds) {
        let transform = transform_for(&layer, &wgs84).map_err(err)?;
        for feature in layer.features() {
            let Some(g) = feature.geometry() else {
                continue;
            };
            let geom = match &transform {
                Some(t) => match g.transform(t) {
                    Ok(g) => g.to_geo(),
                    Err(e) => Err(e),
                },
                None => g.to_geo(),
            };
            match geom {
                Ok(geo::Geometry::Polygon(p)) => polygons.push(p),
                Ok(geo::Geometry::MultiPolygon(mp)) => polygons.extend(mp.0),
                _ => {}
            }
        }
    }
    if polygons.is_empty() {
        return Err(Error::bad_file(path, "no land polygons in it"));
    }
    Ok(polygons)
}

thread_local! {
    /// GDAL messages raised on this thread inside [`capturing`]; `None` outside it.
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Installs (once per process) a GDAL message handler that collects messages raised inside
/// [`capturing`] on the calling thread and prints all others as GDAL's default handler does.
fn install_handler() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        gdal::config::set_error_handler(|class, number, msg| {
            let kept = CAPTURED.with(|c| match c.borrow_mut().as_mut() {
                Some(log) => {
                    if matches!(class, CplErrType::Failure | CplErrType::Fatal) {
                        log.push(msg.trim().to_string());
                    }
                    true
                }
                None => false,
            });
            if !kept {
                match class {
                    CplErrType::Failure | CplErrType::Fatal => eprintln!("ERROR {number}: {msg}"),
                    CplErrType::Warning => eprintln!("Warning {number}: {msg}"),
                    _ => eprintln!("{msg}"),
                }
            }
        });
    });
}

/// Runs `f` with this thread's GDAL messages collected; a [`Error::BadFile`] from `f` gets
/// the errors GDAL raised (in place of the crate's generic text when opening failed).
fn capturing<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    install_handler();
    let outer = CAPTURED.with(|c| c.replace(Some(Vec::new())));
    let result = f();
    let log = CAPTURED.with(|c| c.replace(outer)).unwrap_or_default();
    result.map_err(|e| match e {
        Error::BadFile { path, message } if !log.is_empty() => {
            let mut gdal_says = log;
            gdal_says.dedup();
            let message = if message.starts_with(OPEN_FAILED) {
                format!("{OPEN_FAILED}: {}", gdal_says.join("; "))
            } else {
                format!("{message} (gdal: {})", gdal_says.join("; "))
            };
            Error::BadFile { path, message }
        }
        other => other,
    })
}

/// How an open error starts; what follows is replaced by the messages GDAL raised.
const OPEN_FAILED: &str = "not a vector file GDAL can read";

fn open_vector(path: &Path) -> Result<Dataset> {
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_VECTOR
            | GdalOpenFlags::GDAL_OF_READONLY
            | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR,
        open_options: if is_csv { Some(&CSV_OPTIONS) } else { None },
        ..Default::default()
    };
    Dataset::open_ex(path, options).map_err(|e| {
        let why = match e {
            gdal::errors::GdalError::NullPointer { msg, .. } if !msg.trim().is_empty() => msg,
            other => other.to_string(),
        };
        Error::bad_file(path, format!("{OPEN_FAILED}: {}", why.trim()))
    })
}

/// The layers to read: those with a geometry column, or all when none has one.
fn layers_to_read(ds: &Dataset) -> Vec<gdal::vector::Layer<'_>> {
    let all: Vec<_> = ds.layers().collect();
    if all.iter().any(|l| l.defn().geom_fields().next().is_some()) {
        all.into_iter()
            .filter(|l| l.defn().geom_fields().next().is_some())
            .collect()
    } else {
        all
    }
}

fn wgs84() -> gdal::errors::Result<SpatialRef> {
    let mut srs = SpatialRef::from_epsg(4326)?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// The transform to WGS84 lon/lat, or `None` when the layer has no SRS or is already WGS84.
fn transform_for<L: LayerAccess>(
    layer: &L,
    wgs84: &SpatialRef,
) -> gdal::errors::Result<Option<CoordTransform>> {
    let Some(mut src) = layer.spatial_ref() else {
        return Ok(None);
    };
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    if src == *wgs84 {
        return Ok(None);
    }
    CoordTransform::new(&src, wgs84).map(Some)
}

fn push_json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn push_f64(out: &mut String, x: f64) {
    match serde_json::to_string(&x) {
        Ok(s) if x.is_finite() => out.push_str(&s),
        _ => out.push_str("null"),
    }
}

/// One feature as GeoJSON text; a geometry GDAL cannot transform or export becomes `null`.
fn feature_json(
    f: &gdal::vector::Feature<'_>,
    fields: &[OutField],
    id_field: Option<usize>,
    transform: &Option<CoordTransform>,
) -> String {
    let mut s = String::with_capacity(256);
    s.push_str("{\"type\":\"Feature\"");
    if let Some(i) = id_field {
        if let Some(v) = field_value(f, i) {
            s.push_str(",\"id\":");
            push_value(&mut s, f, i, v);
        }
    }
    s.push_str(",\"geometry\":");
    // gdal 0.19 returns a null-handle geometry for a NULL geometry: its export fails.
    let geometry = f.geometry().and_then(|g| match transform {
        Some(t) => g.transform(t).ok().and_then(|g| g.json().ok()),
        None => g.json().ok(),
    });
    s.push_str(geometry.as_deref().unwrap_or("null"));
    s.push_str(",\"properties\":{");
    let mut first = true;
    for (i, field) in fields.iter().enumerate() {
        if Some(i) == id_field {
            continue;
        }
        let Some(value) = field_value(f, i) else {
            continue;
        };
        if !first {
            s.push(',');
        }
        first = false;
        push_json_str(&mut s, &field.name);
        s.push(':');
        match value {
            FieldValue::StringValue(t) if field.numeric => push_numeric_text(&mut s, &t),
            FieldValue::StringValue(t) if field.time => push_json_str(&mut s, &ogr_time_text(&t)),
            v => push_value(&mut s, f, i, v),
        }
    }
    s.push_str("}}");
    s
}

/// A field's value; `None` when null, unset (FlatGeobuf, KML and GML leave absent fields
/// unset, which the crate would read as 0), empty text (a Shapefile cannot store a null
/// text) or of a type the crate does not handle (binary).
fn field_value(f: &gdal::vector::Feature<'_>, i: usize) -> Option<FieldValue> {
    // OGR gives "" as the text of an unset or null field of any type, and only then
    // (a set empty list reads "(0:)").
    let text = f.field_as_string(i).ok().flatten()?;
    if text.is_empty() {
        return None;
    }
    f.field(i).ok().flatten()
}

/// OGR's text for a date-time with an offset (`2024/03/01 07:00:00+09`, what `ogr2ogr`
/// writes into text-only formats such as CSV and KML) as RFC 3339 (`Z` for UTC); any other
/// text as it is (a time without an offset stays invalid).
fn ogr_time_text(t: &str) -> String {
    match chrono::DateTime::parse_from_str(t.trim(), "%Y/%m/%d %H:%M:%S%.f%#z") {
        Ok(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        Err(_) => t.to_string(),
    }
}

/// Text in a numeric property: a number when it reads as one, `null` when blank, else the
/// text (which validation then rejects with a type error naming it).
fn push_numeric_text(s: &mut String, t: &str) {
    let t = t.trim();
    let is_number = t
        .bytes()
        .next()
        .is_some_and(|b| b == b'-' || b.is_ascii_digit());
    match t.parse::<f64>() {
        _ if t.is_empty() => s.push_str("null"),
        Ok(x) if is_number && x.is_finite() => push_f64(s, x),
        _ => push_json_str(s, t),
    }
}

fn push_value(s: &mut String, f: &gdal::vector::Feature<'_>, idx: usize, v: FieldValue) {
    match v {
        FieldValue::IntegerValue(i) => {
            let _ = write!(s, "{i}");
        }
        FieldValue::Integer64Value(i) => {
            let _ = write!(s, "{i}");
        }
        FieldValue::RealValue(x) => push_f64(s, x),
        FieldValue::StringValue(t) => push_json_str(s, &t),
        FieldValue::DateValue(d) => push_json_str(s, &d.format("%Y-%m-%d").to_string()),
        FieldValue::DateTimeValue(dt) => push_json_str(s, &datetime_text(f, idx, dt)),
        FieldValue::IntegerListValue(v) => {
            let _ = write!(s, "{}", serde_json::to_string(&v).unwrap_or_default());
        }
        FieldValue::Integer64ListValue(v) => {
            let _ = write!(s, "{}", serde_json::to_string(&v).unwrap_or_default());
        }
        FieldValue::RealListValue(v) => {
            s.push('[');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                push_f64(s, *x);
            }
            s.push(']');
        }
        FieldValue::StringListValue(v) => {
            let _ = write!(s, "{}", serde_json::to_string(&v).unwrap_or_default());
        }
    }
}

/// RFC 3339 text of a DateTime field. The crate maps "no time zone" to UTC, so look at OGR's
/// own text ("YYYY/MM/DD HH:MM:SS[.sss][+HH[MM]]"): without an offset there, write the
/// local time without one.
fn datetime_text(
    f: &gdal::vector::Feature<'_>,
    idx: usize,
    dt: chrono::DateTime<chrono::FixedOffset>,
) -> String {
    let ogr_text = f.field_as_string(idx).ok().flatten().unwrap_or_default();
    let has_offset = ogr_text
        .split_once(' ')
        .is_some_and(|(_, time)| time.contains(['+', '-']));
    if has_offset {
        dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    } else {
        dt.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdal::vector::{Feature, LayerOptions, OGRFieldType, OGRwkbGeometryType, ToGdal};
    use gdal::DriverManager;

    /// Writes one point layer with `id`, `observed_at` and `length_m` via GDAL's `driver`.
    fn make(path: &Path, driver: &str, epsg: u32, points: &[(f64, f64)]) {
        let drv = DriverManager::get_driver_by_name(driver).expect("driver");
        let mut ds = drv.create_vector_only(path).expect("create");
        let mut srs = SpatialRef::from_epsg(epsg).expect("srs");
        srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let lyr = ds
            .create_layer(LayerOptions {
                name: "detections",
                srs: Some(&srs),
                ty: OGRwkbGeometryType::wkbPoint,
                options: None,
            })
            .expect("layer");
        lyr.create_defn_fields(&[
            ("id", OGRFieldType::OFTString),
            ("observed_at", OGRFieldType::OFTDateTime),
            ("length_m", OGRFieldType::OFTReal),
            ("count", OGRFieldType::OFTInteger),
        ])
        .expect("fields");
        for (i, (x, y)) in points.iter().enumerate() {
            let mut f = Feature::new(lyr.defn()).expect("feature");
            f.set_field_string(0, &format!("d{i}")).expect("id");
            f.set_field_string(1, "2024-03-01T06:30:00Z").expect("time");
            f.set_field_double(2, 120.5).expect("len");
            f.set_field_integer(3, i as i32).expect("count");
            let g = geo::Geometry::Point(geo::Point::new(*x, *y));
            f.set_geometry(g.to_gdal().expect("geom")).expect("set");
            f.create(&lyr).expect("create feature");
        }
        ds.close().expect("close");
    }

    fn parse(text: &str) -> serde_json::Value {
        serde_json::from_str(text).expect("valid JSON")
    }

    fn coords(v: &serde_json::Value) -> (f64, f64) {
        let c = &v["geometry"]["coordinates"];
        (c[0].as_f64().expect("x"), c[1].as_f64().expect("y"))
    }

    #[test]
    fn geopackage_shapefile_flatgeobuf_in_wgs84() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (file, driver) in [
            ("d.gpkg", "GPKG"),
            ("d.shp", "ESRI Shapefile"),
            ("d.fgb", "FlatGeobuf"),
        ] {
            let path = dir.path().join(file);
            make(
                &path,
                driver,
                4326,
                &[(130.30, 42.236), (132.3545, 42.9045)],
            );
            let feats = read_vector_features(&path).expect(file);
            assert_eq!(feats.len(), 2, "{file}");
            assert_eq!(feats[0].0, 0);
            assert_eq!(feats[1].0, 1);
            // FlatGeobuf stores features in spatial-index order: find d1 by id.
            let f = feats
                .iter()
                .map(|(_, t)| parse(t))
                .find(|f| f["id"] == "d1")
                .expect("d1");
            assert_eq!(f["type"], "Feature", "{file}");
            let (x, y) = coords(&f);
            assert!(
                (x - 132.3545).abs() < 1e-9 && (y - 42.9045).abs() < 1e-9,
                "{file}"
            );
            assert_eq!(f["properties"]["length_m"], 120.5, "{file}");
            assert_eq!(f["properties"]["count"], 1, "{file}");
            // Shapefiles cut names to 10 characters (undone here) and have no time of day
            // (DBF Date).
            assert!(f["properties"].get("observed_a").is_none(), "{file}");
            let t = f["properties"]["observed_at"].as_str().expect("time");
            if driver == "ESRI Shapefile" {
                assert_eq!(t, "2024-03-01", "{file}");
            } else {
                assert_eq!(t, "2024-03-01T06:30:00Z", "{file}");
            }
        }
    }

    #[test]
    fn coordinates_round_trip_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.gpkg");
        let (x0, y0) = (130.123_456_789_012_34, 42.987_654_321_098_765);
        make(&path, "GPKG", 4326, &[(x0, y0)]);
        let feats = read_vector_features(&path).expect("read");
        assert_eq!(coords(&parse(&feats[0].1)), (x0, y0));
    }

    #[test]
    fn shapefile_names_and_text_numbers() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Text columns: numbers in contract properties become numbers, ids stay text.
        let csv = dir.path().join("t.csv");
        std::fs::write(
            &csv,
            "id,lon,lat,length_m,containers,confidence,heading_deg,imo,note\n\
             007,130.3,42.2, 120.5 ,12,,abc,0123,42\n",
        )
        .expect("write");
        let f = parse(&read_vector_features(&csv).expect("read")[0].1);
        assert_eq!(f["id"], "007");
        let p = &f["properties"];
        assert_eq!(p["length_m"], 120.5);
        assert_eq!(p["containers"], 12.0);
        assert!(
            p.get("confidence").is_none(),
            "empty cell: no property: {p}"
        );
        assert!(p.get("id").is_none(), "the id is not repeated: {p}");
        assert_eq!(p["heading_deg"], "abc");
        assert_eq!(p["imo"], "0123");
        assert_eq!(p["note"], "42");
        // Shapefile names cut to 10 characters are read under their full names.
        let shp = dir.path().join("s.shp");
        let drv = DriverManager::get_driver_by_name("ESRI Shapefile").expect("driver");
        let mut ds = drv.create_vector_only(&shp).expect("create");
        let srs = wgs84().expect("srs");
        let lyr = ds
            .create_layer(LayerOptions {
                name: "s",
                srs: Some(&srs),
                ty: OGRwkbGeometryType::wkbPoint,
                options: None,
            })
            .expect("layer");
        lyr.create_defn_fields(&[
            ("vessel_cla", OGRFieldType::OFTString),
            ("heading_de", OGRFieldType::OFTReal),
        ])
        .expect("fields");
        let mut feat = Feature::new(lyr.defn()).expect("feature");
        feat.set_field_string(0, "cargo").expect("class");
        feat.set_field_double(1, 90.0).expect("heading");
        let g = geo::Geometry::Point(geo::Point::new(130.3, 42.2));
        feat.set_geometry(g.to_gdal().expect("geom")).expect("set");
        feat.create(&lyr).expect("create");
        drop(feat);
        ds.close().expect("close");
        let f = parse(&read_vector_features(&shp).expect("read")[0].1);
        let p = &f["properties"];
        assert_eq!(p["vessel_class"], "cargo", "{p}");
        assert_eq!(p["heading_deg"], 90.0, "{p}");
        assert!(f.get("id").is_none(), "no id field: no id ({f})");
    }

    #[test]
    fn ogr_date_time_text_becomes_rfc3339() {
        assert_eq!(
            ogr_time_text("2024/03/01 07:00:00+09"),
            "2024-03-01T07:00:00+09:00"
        );
        assert_eq!(
            ogr_time_text("2024/03/01 07:00:00+00"),
            "2024-03-01T07:00:00Z"
        );
        assert_eq!(
            ogr_time_text("2024/03/01 07:00:00.250-0330"),
            "2024-03-01T07:00:00.250-03:30"
        );
        // Without an offset, or not OGR's form: unchanged.
        assert_eq!(ogr_time_text("2024/03/01 07:00:00"), "2024/03/01 07:00:00");
        assert_eq!(
            ogr_time_text("2024-03-01T07:00:00Z"),
            "2024-03-01T07:00:00Z"
        );
        assert_eq!(ogr_time_text("2024/03/01"), "2024/03/01");
    }

    #[test]
    fn projected_layer_is_reprojected_to_lon_lat() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("utm.gpkg");
        // Najin in UTM zone 52N (EPSG:32652), easting/northing metres.
        let wgs = wgs84().expect("wgs84");
        let mut utm = SpatialRef::from_epsg(32652).expect("utm");
        utm.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let t = CoordTransform::new(&wgs, &utm).expect("transform");
        let (mut xs, mut ys, mut zs) = (vec![130.30], vec![42.236], vec![0.0]);
        t.transform_coords(&mut xs, &mut ys, &mut zs)
            .expect("to utm");
        assert!(xs[0] > 100_000.0, "{xs:?}");
        make(&path, "GPKG", 32652, &[(xs[0], ys[0])]);
        let feats = read_vector_features(&path).expect("read");
        let (x, y) = coords(&parse(&feats[0].1));
        assert!(
            (x - 130.30).abs() < 1e-7 && (y - 42.236).abs() < 1e-7,
            "{x} {y}"
        );
    }

    #[test]
    fn csv_with_lon_lat_or_wkt_columns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lonlat = dir.path().join("a.csv");
        std::fs::write(
            &lonlat,
            "id,lon,lat,observed_at,length_m,note\n\
             d1,130.3,42.236,2024-03-01T06:30:00Z,120.5,\"a, b\"\n\
             d2,132.3545,42.9045,2024-03-01T07:00:00+09:00,98,\n",
        )
        .expect("write");
        let feats = read_vector_features(&lonlat).expect("read");
        assert_eq!(feats.len(), 2);
        let f = parse(&feats[0].1);
        assert_eq!(f["id"], "d1");
        assert_eq!(coords(&f), (130.3, 42.236));
        assert_eq!(f["properties"]["observed_at"], "2024-03-01T06:30:00Z");
        assert_eq!(f["properties"]["length_m"], 120.5);
        assert_eq!(f["properties"]["note"], "a, b");
        let g = parse(&feats[1].1);
        assert_eq!(g["properties"]["observed_at"], "2024-03-01T07:00:00+09:00");

        let wkt = dir.path().join("b.csv");
        std::fs::write(&wkt, "wkt,name\n\"POINT (131.5 42.5)\",x\n\"\",missing\n").expect("write");
        let feats = read_vector_features(&wkt).expect("read");
        assert_eq!(feats.len(), 2);
        assert_eq!(coords(&parse(&feats[0].1)), (131.5, 42.5));
        assert!(parse(&feats[1].1)["geometry"].is_null());
    }

    #[test]
    fn time_without_zone_keeps_no_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.csv");
        std::fs::write(
            &path,
            "lon,lat,observed_at\n130.3,42.2,2024-03-01T06:30:00\n",
        )
        .expect("write");
        let feats = read_vector_features(&path).expect("read");
        assert_eq!(
            parse(&feats[0].1)["properties"]["observed_at"],
            "2024-03-01T06:30:00"
        );
    }

    #[test]
    fn missing_or_non_vector_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.gpkg");
        let err = read_vector_features(&missing).expect_err("missing");
        assert!(err.to_string().contains("nope.gpkg"), "{err}");
        let junk = dir.path().join("junk.fgb");
        std::fs::write(&junk, b"not a flatgeobuf").expect("write");
        assert!(read_vector_features(&junk).is_err());
    }

    #[test]
    fn land_polygons_from_a_shapefile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("land.shp");
        let drv = DriverManager::get_driver_by_name("ESRI Shapefile").expect("driver");
        let mut ds = drv.create_vector_only(&path).expect("create");
        let srs = wgs84().expect("srs");
        let lyr = ds
            .create_layer(LayerOptions {
                name: "land",
                srs: Some(&srs),
                ty: OGRwkbGeometryType::wkbPolygon,
                options: None,
            })
            .expect("layer");
        let poly: geo::Polygon<f64> = geo::Polygon::new(
            geo::LineString::from(vec![
                (130.0, 42.3),
                (130.5, 42.3),
                (130.5, 42.8),
                (130.0, 42.3),
            ]),
            vec![],
        );
        let mut f = Feature::new(lyr.defn()).expect("feature");
        f.set_geometry(poly.to_gdal().expect("geom")).expect("set");
        f.create(&lyr).expect("create");
        drop(f);
        ds.close().expect("close");
        let land = read_land_polygons(&path).expect("read");
        assert_eq!(land.len(), 1);
        use geo::Area;
        assert!((land[0].unsigned_area() - 0.125).abs() < 1e-9);
    }
}
