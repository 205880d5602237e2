//! Writes layers into one GeoPackage through GDAL (feature `gdal`), styles included.
//!
//! Each [`Layer`] becomes a GeoPackage table in EPSG:4326 (lon/lat degrees) with an R-tree
//! spatial index and typed columns: `id` (the feature id, text) first, then the layer's fields
//! (Str → TEXT, Int → INTEGER (Integer64), Real → REAL, DateTime → DATETIME in UTC, StrArray and
//! Json → TEXT holding JSON), then one TEXT column per extra property key (union over the
//! features, sorted; the raw JSON text). QGIS styles go into the `layer_styles` table with the
//! schema QGIS 3.22 itself creates, one default style (`useAsDefault = 1`) per layer, so QGIS
//! applies them on load. Timestamps inside the file are fixed ([`FIXED_TIME`]) so the same
//! layers give the same bytes. Layers may come from a lazy iterator, one in memory at a time.
//!
//! ```no_run
//! # use shiplink::output::layer::{GeomKind, Layer};
//! let layers = vec![Layer::new("stays", GeomKind::Point, vec![])];
//! let styles = vec![("stays".to_string(), shiplink::output::qgis::qml_for("stays").unwrap())];
//! shiplink::output::gpkg::write_gpkg(std::path::Path::new("out.gpkg"), &layers, &styles)?;
//! # Ok::<(), shiplink::Error>(())
//! ```

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::sql::Dialect;
use gdal::vector::{
    Feature as GdalFeature, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType, ToGdal,
};
use gdal::{Dataset, DriverManager};

use super::layer::{FieldKind, GeomKind, Layer, Value};
use crate::error::{Error, Result};
use crate::model::fmt_time;

/// The time written into GeoPackage metadata (gpkg_contents.last_change, layer_styles
/// update_time) instead of the wall clock, for byte-identical output.
pub const FIXED_TIME: &str = "2000-01-01T00:00:00.000Z";

/// The feature-id column and geometry column names.
const FID: &str = "fid";
const GEOM: &str = "geom";

/// Writes `layers` into a new GeoPackage at `path` (which must not exist) and stores
/// `styles` (layer name, QML) as each written layer's default QGIS style.
///
/// `layers` may be a lazy iterator: each layer is written, then dropped before the next is
/// taken, so only one need be in memory (all go into one transaction).
pub fn write_gpkg<L: Borrow<Layer>>(
    path: &Path,
    layers: impl IntoIterator<Item = L>,
    styles: &[(String, String)],
) -> Result<()> {
    let err = |e: gdal::errors::GdalError| Error::bad_file(path, format!("geopackage: {e}"));
    // GDAL stamps gpkg_contents with the current time unless told otherwise.
    gdal::config::set_thread_local_config_option("OGR_CURRENT_DATE", FIXED_TIME).map_err(err)?;
    let result = write_all(path, layers, styles).map_err(err);
    let _ = gdal::config::clear_thread_local_config_option("OGR_CURRENT_DATE");
    result
}

fn write_all<L: Borrow<Layer>>(
    path: &Path,
    layers: impl IntoIterator<Item = L>,
    styles: &[(String, String)],
) -> gdal::errors::Result<()> {
    let driver = DriverManager::get_driver_by_name("GPKG")?;
    let mut ds = driver.create_vector_only(path)?;
    let mut srs = SpatialRef::from_epsg(4326)?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut names = Vec::new();
    {
        let mut txn = ds.start_transaction()?;
        for layer in layers {
            let layer = layer.borrow();
            write_layer(&mut txn, layer, &srs)?;
            names.push(layer.name.clone());
        }
        txn.commit()?;
    }
    write_styles(&ds, &names, styles)?;
    ds.close()
}

/// Declared columns: (name, kind).
type DeclaredColumns = Vec<(String, FieldKind)>;
/// Extra-property columns: (property key, column name).
type ExtraColumns = Vec<(String, String)>;

/// The columns of a layer's table after `id`: the declared fields (one named `id` is skipped,
/// the feature id fills that column), then the extra keys.
fn columns(layer: &Layer) -> (DeclaredColumns, ExtraColumns) {
    let declared: Vec<(String, FieldKind)> = layer
        .fields
        .iter()
        .filter(|f| !f.name.eq_ignore_ascii_case("id"))
        .map(|f| (f.name.clone(), f.kind))
        .collect();
    let taken: BTreeSet<String> = declared
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .chain(["id", FID, GEOM].map(String::from))
        .collect();
    let extra_keys: BTreeSet<&str> = layer
        .features
        .iter()
        .flat_map(|f| f.extra.iter().map(|(k, _)| k.as_str()))
        .collect();
    let extras = extra_keys
        .into_iter()
        .map(|key| {
            // SQLite column names are case-insensitive: keep clashing keys under a prefix.
            let col = if taken.contains(&key.to_ascii_lowercase()) {
                format!("extra_{key}")
            } else {
                key.to_string()
            };
            (key.to_string(), col)
        })
        .collect();
    (declared, extras)
}

fn ogr_type(kind: FieldKind) -> OGRFieldType::Type {
    match kind {
        FieldKind::Str | FieldKind::StrArray | FieldKind::Json => OGRFieldType::OFTString,
        FieldKind::Int => OGRFieldType::OFTInteger64,
        FieldKind::Real => OGRFieldType::OFTReal,
        FieldKind::DateTime => OGRFieldType::OFTDateTime,
    }
}

fn write_layer(ds: &mut Dataset, layer: &Layer, srs: &SpatialRef) -> gdal::errors::Result<()> {
    let ty = match layer.geom_kind {
        GeomKind::Point => OGRwkbGeometryType::wkbPoint,
        GeomKind::LineString => OGRwkbGeometryType::wkbLineString,
        GeomKind::Any => common_type(layer),
    };
    let fid_opt = format!("FID={FID}");
    let geom_opt = format!("GEOMETRY_NAME={GEOM}");
    let options = [fid_opt.as_str(), geom_opt.as_str(), "SPATIAL_INDEX=YES"];
    let lyr = ds.create_layer(LayerOptions {
        name: &layer.name,
        srs: Some(srs),
        ty,
        options: Some(&options),
    })?;
    let (declared, extras) = columns(layer);
    let mut defs: Vec<(&str, OGRFieldType::Type)> = vec![("id", OGRFieldType::OFTString)];
    defs.extend(declared.iter().map(|(n, k)| (n.as_str(), ogr_type(*k))));
    defs.extend(
        extras
            .iter()
            .map(|(_, c)| (c.as_str(), OGRFieldType::OFTString)),
    );
    lyr.create_defn_fields(&defs)?;
    let extra_col: std::collections::BTreeMap<&str, usize> = extras
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.as_str(), 1 + declared.len() + i))
        .collect();

    for f in &layer.features {
        let mut out = GdalFeature::new(lyr.defn())?;
        out.set_field_string(0, &f.id)?;
        let mut col = 1;
        for (field, value) in layer.fields.iter().zip(&f.values) {
            if field.name.eq_ignore_ascii_case("id") {
                continue;
            }
            set_value(&mut out, col, value)?;
            col += 1;
        }
        for (key, raw) in &f.extra {
            if let Some(&c) = extra_col.get(key.as_str()) {
                out.set_field_string(c, raw.trim())?;
            }
        }
        if let Some(g) = &f.geometry {
            if geometry_is_finite(g) {
                out.set_geometry(g.to_gdal()?)?;
            }
        }
        out.create(&lyr)?;
    }
    Ok(())
}

/// The one geometry type of a mixed-kind layer's geometries (Point when it has none, so QGIS
/// can style it), or Unknown (GEOMETRY) when they differ.
fn common_type(layer: &Layer) -> OGRwkbGeometryType::Type {
    use geo::Geometry as G;
    let mut types = layer.features.iter().filter_map(|f| {
        f.geometry.as_ref().map(|g| match g {
            G::Point(_) => OGRwkbGeometryType::wkbPoint,
            G::Line(_) | G::LineString(_) => OGRwkbGeometryType::wkbLineString,
            G::Polygon(_) | G::Rect(_) | G::Triangle(_) => OGRwkbGeometryType::wkbPolygon,
            G::MultiPoint(_) => OGRwkbGeometryType::wkbMultiPoint,
            G::MultiLineString(_) => OGRwkbGeometryType::wkbMultiLineString,
            G::MultiPolygon(_) => OGRwkbGeometryType::wkbMultiPolygon,
            G::GeometryCollection(_) => OGRwkbGeometryType::wkbGeometryCollection,
        })
    });
    match types.next() {
        None => OGRwkbGeometryType::wkbPoint,
        Some(first) if types.all(|t| t == first) => first,
        Some(_) => OGRwkbGeometryType::wkbUnknown,
    }
}

fn set_value(out: &mut GdalFeature, col: usize, value: &Value) -> gdal::errors::Result<()> {
    match value {
        Value::Null => out.set_field_null(col),
        Value::Str(s) => out.set_field_string(col, s),
        Value::Int(i) => out.set_field_integer64(col, *i),
        Value::Real(x) if x.is_finite() => out.set_field_double(col, *x),
        Value::Real(_) => out.set_field_null(col),
        // The RFC 3339 text with `Z` parses into a DateTime flagged UTC (TZFlag 100); the
        // crate's set_field_datetime would write offset 0 as "unknown time zone".
        Value::Time(t) => out.set_field_string(col, &fmt_time(*t)),
        Value::StrArray(items) => {
            let text = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
            out.set_field_string(col, &text)
        }
        Value::Json(raw) => out.set_field_string(col, raw.trim()),
    }
}

fn geometry_is_finite(g: &geo::Geometry<f64>) -> bool {
    use geo::CoordsIter;
    g.coords_iter().all(|c| c.x.is_finite() && c.y.is_finite())
}

/// SQL text literal.
fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Creates QGIS's `layer_styles` table (registered as an attributes table, as QGIS does)
/// and inserts one default style per styled layer, in the order of `names` (the layers
/// written); without any, no table.
fn write_styles(
    ds: &Dataset,
    names: &[String],
    styles: &[(String, String)],
) -> gdal::errors::Result<()> {
    let styled: Vec<(&String, &String)> = names
        .iter()
        .filter_map(|n| styles.iter().find(|(s, _)| s == n).map(|(_, q)| (n, q)))
        .collect();
    if styled.is_empty() {
        return Ok(());
    }
    let mut sql = vec![
        "CREATE TABLE IF NOT EXISTS \"layer_styles\" ( \"id\" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, \"f_table_catalog\" TEXT(256), \"f_table_schema\" TEXT(256), \"f_table_name\" TEXT(256), \"f_geometry_column\" TEXT(256), \"styleName\" TEXT(30), \"styleQML\" TEXT, \"styleSLD\" TEXT, \"useAsDefault\" BOOLEAN, \"description\" TEXT, \"owner\" TEXT(30), \"ui\" TEXT(30), \"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))".to_string(),
        format!(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', '', {})",
            sql_str(FIXED_TIME)
        ),
    ];
    for (name, qml) in styled {
        sql.push(format!(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) VALUES ('', '', {}, {}, {}, {}, '', 1, {}, '', NULL, {})",
            sql_str(name),
            sql_str(GEOM),
            sql_str(name),
            sql_str(qml),
            sql_str("shiplink default style"),
            sql_str(FIXED_TIME)
        ));
    }
    for statement in sql {
        ds.execute_sql(statement, None, Dialect::DEFAULT)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::layer::{Feature, Field};

    fn open(path: &Path) -> Dataset {
        Dataset::open(path).expect("open gpkg")
    }

    fn sample() -> Layer {
        let mut l = Layer::new(
            "stays",
            GeomKind::Point,
            vec![
                Field::new("stay_id", FieldKind::Str),
                Field::new("first_seen", FieldKind::DateTime),
                Field::new("observation_count", FieldKind::Int),
                Field::new("length_m", FieldKind::Real),
                Field::new("observation_ids", FieldKind::StrArray),
            ],
        );
        l.features.push(Feature {
            id: "S1".into(),
            geometry: Some(geo::Geometry::Point(geo::Point::new(130.3, 42.236))),
            values: vec![
                Value::Str("S1".into()),
                Value::Time(1_709_251_200),
                Value::Int(7),
                Value::Real(121.5),
                Value::StrArray(vec!["o1".into(), "o\"2".into()]),
            ],
            extra: vec![("ID".into(), "\"x\"".into()), ("zeta".into(), "[1]".into())],
        });
        l.features.push(Feature {
            id: "S2".into(),
            geometry: None,
            values: vec![Value::Null, Value::Null, Value::Null, Value::Real(f64::NAN)],
            extra: vec![("alpha".into(), "true".into())],
        });
        l
    }

    #[test]
    fn types_values_and_styles_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.gpkg");
        let styles = vec![("stays".to_string(), "<qgis>'q'</qgis>".to_string())];
        write_gpkg(&path, &[sample()], &styles).expect("write");
        let ds = open(&path);
        let mut lyr = ds.layer_by_name("stays").expect("layer");
        let names: Vec<(String, u32)> = lyr
            .defn()
            .fields()
            .map(|f| (f.name(), f.field_type()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("id".to_string(), OGRFieldType::OFTString),
                ("stay_id".into(), OGRFieldType::OFTString),
                ("first_seen".into(), OGRFieldType::OFTDateTime),
                ("observation_count".into(), OGRFieldType::OFTInteger64),
                ("length_m".into(), OGRFieldType::OFTReal),
                ("observation_ids".into(), OGRFieldType::OFTString),
                ("extra_ID".into(), OGRFieldType::OFTString),
                ("alpha".into(), OGRFieldType::OFTString),
                ("zeta".into(), OGRFieldType::OFTString),
            ]
        );
        let feats: Vec<_> = lyr.features().collect();
        assert_eq!(feats.len(), 2);
        let f = &feats[0];
        let dt = f
            .field_as_datetime(2)
            .expect("field")
            .expect("datetime value");
        assert_eq!(dt.timestamp(), 1_709_251_200);
        assert_eq!(dt.offset().local_minus_utc(), 0);
        assert_eq!(f.field_as_integer64(3).expect("f"), Some(7));
        assert_eq!(
            f.field_as_string(5).expect("f").as_deref(),
            Some("[\"o1\",\"o\\\"2\"]")
        );
        assert_eq!(f.field_as_string(6).expect("f").as_deref(), Some("\"x\""));
        assert_eq!(f.field_as_string(7).expect("f"), None);
        // gdal 0.19 hands out a null-handle geometry for a NULL one: WKT export fails.
        assert!(feats[1].geometry().is_none_or(|g| g.wkt().is_err()));
        assert_eq!(
            feats[0].geometry().map(|g| g.wkt().ok()),
            Some(Some("POINT (130.3 42.236)".to_string()))
        );
        assert_eq!(feats[1].field_as_double(4).expect("f"), None);
        drop(feats);

        let mut rs = ds
            .execute_sql(
                "SELECT f_table_name, f_geometry_column, styleName, styleQML, useAsDefault FROM layer_styles",
                None,
                Dialect::DEFAULT,
            )
            .expect("sql")
            .expect("rows");
        let rows: Vec<(Option<String>, Option<String>, Option<i64>)> = rs
            .features()
            .map(|f| {
                (
                    f.field_as_string(0).ok().flatten(),
                    f.field_as_string(3).ok().flatten(),
                    f.field_as_integer64(4).ok().flatten(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![(
                Some("stays".into()),
                Some("<qgis>'q'</qgis>".into()),
                Some(1)
            )]
        );
    }

    #[test]
    fn mixed_layer_type_is_the_common_one() {
        let mut l = Layer::new("rejected", GeomKind::Any, vec![]);
        assert_eq!(common_type(&l), OGRwkbGeometryType::wkbPoint);
        let f = |g: Option<geo::Geometry<f64>>| Feature {
            id: "r".into(),
            geometry: g,
            values: vec![],
            extra: vec![],
        };
        let line = geo::Geometry::LineString(geo::LineString::from(vec![(0.0, 0.0), (1.0, 1.0)]));
        l.features.push(f(None));
        l.features.push(f(Some(line)));
        assert_eq!(common_type(&l), OGRwkbGeometryType::wkbLineString);
        l.features
            .push(f(Some(geo::Geometry::Point(geo::Point::new(1.0, 2.0)))));
        assert_eq!(common_type(&l), OGRwkbGeometryType::wkbUnknown);
    }

    #[test]
    fn same_layers_same_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a.gpkg"), dir.path().join("b.gpkg"));
        let styles = vec![("stays".to_string(), "<qgis/>".to_string())];
        write_gpkg(&a, &[sample()], &styles).expect("a");
        write_gpkg(&b, &[sample()], &styles).expect("b");
        assert_eq!(std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
    }

    #[test]
    fn existing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no-such-dir").join("t.gpkg");
        let err = write_gpkg(&path, &[sample()], &[]).expect_err("cannot create");
        assert!(err.to_string().contains("t.gpkg"), "{err}");
    }
}
