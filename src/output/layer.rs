//! A format-neutral table of features: what every writer (GeoJSON, GeoPackage) consumes.

use geo::Geometry;

use crate::model::Time;

/// The type of one attribute column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Str,
    Int,
    Real,
    /// UTC time; GeoJSON writes RFC 3339 with `Z`, GeoPackage a DateTime field.
    DateTime,
    /// An array of strings; GeoJSON writes a JSON array, GeoPackage JSON text.
    StrArray,
    /// Arbitrary JSON carried through from the input; GeoPackage writes it as text.
    Json,
}

/// One attribute column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub kind: FieldKind,
}

impl Field {
    pub fn new(name: &str, kind: FieldKind) -> Field {
        Field {
            name: name.to_string(),
            kind,
        }
    }
}

/// One attribute value; `Null` fits any column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Str(String),
    Int(i64),
    Real(f64),
    Time(Time),
    StrArray(Vec<String>),
    /// Raw JSON text (already serialised).
    Json(String),
}

impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Value {
        v.map_or(Value::Null, Value::Real)
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Value {
        v.map_or(Value::Null, Value::Str)
    }
}

impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Value {
        v.map_or(Value::Null, |s| Value::Str(s.to_string()))
    }
}

impl From<Option<Time>> for Value {
    fn from(v: Option<Time>) -> Value {
        v.map_or(Value::Null, Value::Time)
    }
}

/// The geometry type a layer declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeomKind {
    Point,
    LineString,
    /// Mixed or unknown (the rejected layer).
    Any,
}

/// One output feature: a geometry, one value per layer field, then extra raw-JSON properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub id: String,
    pub geometry: Option<Geometry<f64>>,
    pub values: Vec<Value>,
    /// Input properties carried through (key, raw JSON), written after the declared fields.
    pub extra: Vec<(String, String)>,
}

/// A named layer: a schema and features sorted by id.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub name: String,
    pub geom_kind: GeomKind,
    pub fields: Vec<Field>,
    pub features: Vec<Feature>,
}

impl Layer {
    pub fn new(name: &str, geom_kind: GeomKind, fields: Vec<Field>) -> Layer {
        Layer {
            name: name.to_string(),
            geom_kind,
            fields,
            features: Vec::new(),
        }
    }

    /// Sorts features by id (numeric-aware is not needed: ids are zero-padded).
    pub fn sort(&mut self) {
        self.features.sort_by(|a, b| a.id.cmp(&b.id));
    }
}
