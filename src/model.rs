//! The data types handed from one pipeline stage to the next.
//!
//! Everything here is plain data: no file handles, no `serde_json::Value`.
//! Times are UTC Unix seconds (`i64`); positions are WGS84 lon/lat degrees;
//! sizes carry their unit in the name.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// UTC time as Unix seconds.
pub type Time = i64;

/// Formats a UTC Unix time as RFC 3339 with `Z`, to whole seconds.
///
/// ```
/// assert_eq!(shiplink::model::fmt_time(0), "1970-01-01T00:00:00Z");
/// ```
pub fn fmt_time(t: Time) -> String {
    match chrono::DateTime::from_timestamp(t, 0) {
        // As `%Y-%m-%dT%H:%M:%SZ`, without parsing a format string each time (a million
        // times per layer at scale).
        Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => String::from("invalid-time"),
    }
}

/// Parses an RFC 3339 time that carries an offset (`Z` or `±hh:mm`).
/// A time without an offset, or an impossible date (Feb 30), is an error.
pub fn parse_time(s: &str) -> Result<Time, String> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|dt| dt.timestamp())
        .map_err(|e| format!("observed_at {s:?} is not an RFC 3339 time with an offset ({e})"))
}

/// Image sensors with a known error model; anything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sensor {
    Sentinel1,
    Sentinel2,
    Planetscope,
    Skysat,
    Worldview,
    Maxar,
    /// Unknown or missing sensor: the conservative default error model.
    Other,
}

// `Sensor::COUNT` is the number of variants (`Other` is the last).
const _: () = assert!(Sensor::Other as usize + 1 == Sensor::COUNT);

impl Sensor {
    /// How many variants there are (for tables indexed by `sensor as usize`).
    pub const COUNT: usize = 7;

    /// Maps free text (case-insensitive; `_` and ` ` count as `-`) to a sensor.
    pub fn from_text(s: &str) -> Sensor {
        let norm: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c == '_' || c == ' ' { '-' } else { c })
            .collect();
        match norm.as_str() {
            "sentinel-1" | "sentinel-1a" | "sentinel-1b" | "sentinel-1c" | "s1" => {
                Sensor::Sentinel1
            }
            "sentinel-2" | "sentinel-2a" | "sentinel-2b" | "s2" => Sensor::Sentinel2,
            "planetscope" | "planet" | "dove" => Sensor::Planetscope,
            "skysat" => Sensor::Skysat,
            "worldview" | "worldview-2" | "worldview-3" | "worldview-legion" => Sensor::Worldview,
            "maxar" => Sensor::Maxar,
            _ => Sensor::Other,
        }
    }

    /// True for radar sensors, which see no colour.
    pub fn is_sar(self) -> bool {
        matches!(self, Sensor::Sentinel1)
    }
}

/// Vessel classes named by the input contract; other text is kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VesselClass {
    Cargo,
    Container,
    Roro,
    Tanker,
    Bulk,
    Fishing,
    Tug,
    Passenger,
    Naval,
    Unknown,
    Other(String),
}

impl VesselClass {
    pub fn from_text(s: &str) -> VesselClass {
        match s.trim().to_ascii_lowercase().as_str() {
            "cargo" => VesselClass::Cargo,
            "container" => VesselClass::Container,
            "roro" | "ro-ro" => VesselClass::Roro,
            "tanker" => VesselClass::Tanker,
            "bulk" => VesselClass::Bulk,
            "fishing" => VesselClass::Fishing,
            "tug" => VesselClass::Tug,
            "passenger" => VesselClass::Passenger,
            "naval" => VesselClass::Naval,
            "unknown" | "" => VesselClass::Unknown,
            _ => VesselClass::Other(s.trim().to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            VesselClass::Cargo => "cargo",
            VesselClass::Container => "container",
            VesselClass::Roro => "roro",
            VesselClass::Tanker => "tanker",
            VesselClass::Bulk => "bulk",
            VesselClass::Fishing => "fishing",
            VesselClass::Tug => "tug",
            VesselClass::Passenger => "passenger",
            VesselClass::Naval => "naval",
            VesselClass::Unknown => "unknown",
            VesselClass::Other(s) => s,
        }
    }

    /// Classes that carry cargo and so may shuttle between ports.
    pub fn is_merchant(&self) -> bool {
        matches!(
            self,
            VesselClass::Cargo
                | VesselClass::Container
                | VesselClass::Roro
                | VesselClass::Bulk
                | VesselClass::Tanker
        )
    }
}

/// One validated vessel detection in one image.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Feature `id` as a string, or `<file name>#<index>`.
    pub id: String,
    /// The file it came from (as given on the command line or found in a walked directory).
    pub source_file: Arc<str>,
    /// 0-based index of the feature in that file.
    pub feature_index: usize,
    pub observed_at: Time,
    /// Detection centre (outline centroid for Polygon input; the outline itself is not
    /// kept, which saves about a third of an observation's memory: nothing after ingest
    /// uses it, and ingest reads it again from the file for a duplicate's rejection).
    pub lon: f64,
    pub lat: f64,
    pub sensor: Sensor,
    /// The sensor text as given (None when absent). Texts that repeat across detections
    /// (sensor, scene id, hull colour) share one allocation per ingest thread.
    pub sensor_text: Option<Arc<str>>,
    pub scene_id: Option<Arc<str>>,
    pub confidence: Option<f64>,
    pub length_m: Option<f64>,
    pub beam_m: Option<f64>,
    pub heading_deg: Option<f64>,
    pub vessel_class: Option<VesselClass>,
    pub hull_color: Option<Arc<str>>,
    pub containers: Option<u32>,
    /// `name`, `imo` and `mmsi` as given; None when all three are absent (boxed together:
    /// most detections carry none, and a million detections would pay 64 bytes each).
    pub identity: Option<Box<IdentityFields>>,
    /// Every other property, in input order, as (key, raw JSON text).
    pub extra: Vec<(String, String)>,
}

/// The identity evidence of one detection, as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentityFields {
    pub name: Option<String>,
    pub imo: Option<String>,
    pub mmsi: Option<String>,
}

impl Observation {
    pub fn name(&self) -> Option<&str> {
        self.identity.as_ref()?.name.as_deref()
    }

    pub fn imo(&self) -> Option<&str> {
        self.identity.as_ref()?.imo.as_deref()
    }

    pub fn mmsi(&self) -> Option<&str> {
        self.identity.as_ref()?.mmsi.as_deref()
    }

    /// The identity fields, to set one (an empty box is made when there is none).
    pub fn identity_mut(&mut self) -> &mut IdentityFields {
        self.identity.get_or_insert_with(Default::default)
    }
}

/// A clear or cloudy image footprint from `--scenes`.
#[derive(Debug, Clone)]
pub struct Scene {
    pub scene_id: Option<String>,
    pub observed_at: Time,
    pub sensor: Sensor,
    pub cloud_fraction: f64,
    pub footprint: geo::MultiPolygon<f64>,
}

/// A port zone: harbour water and quays.
#[derive(Debug, Clone)]
pub struct Port {
    pub port_id: String,
    pub name: String,
    pub zone: geo::MultiPolygon<f64>,
    /// A water point at the berths, used as the route end point.
    pub berth_lon: f64,
    pub berth_lat: f64,
}

/// A feature (or whole file) that could not be used, and why.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub source_file: Arc<str>,
    /// None when the whole file was unusable.
    pub feature_index: Option<usize>,
    /// The feature's id when one could be read.
    pub id: Option<String>,
    pub reason: String,
    /// The original feature as raw JSON text (truncated for huge features), when there was one.
    pub original: Option<String>,
    /// The feature's geometry when it could be read, so the analyst sees where it was.
    pub geometry: Option<geo::Geometry<f64>>,
}

/// One vessel at one port over time.
#[derive(Debug, Clone)]
pub struct Stay {
    pub stay_id: String,
    pub port_id: String,
    pub first_seen: Time,
    pub last_seen: Time,
    /// Indices into the observation list, in time order.
    pub observations: Vec<usize>,
    pub lon: f64,
    pub lat: f64,
    pub length_m: Option<f64>,
    pub beam_m: Option<f64>,
    pub vessel_class: Option<VesselClass>,
    pub hull_color: Option<String>,
    pub containers_first: Option<u32>,
    pub containers_last: Option<u32>,
    pub imo: Option<String>,
    pub mmsi: Option<String>,
    pub name: Option<String>,
    /// Latest clear empty-berth scene time before `first_seen` (bounds arrival).
    pub empty_before: Option<Time>,
    /// Earliest clear empty-berth scene time after `last_seen` (bounds departure).
    pub empty_after: Option<Time>,
}

/// How a voyage's line was drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMethod {
    Straight,
    Sea,
}

impl RouteMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteMethod::Straight => "straight",
            RouteMethod::Sea => "sea",
        }
    }
}

/// A passage between stays at two different ports.
#[derive(Debug, Clone)]
pub struct Voyage {
    pub voyage_id: String,
    pub vessel_id: String,
    /// Index into the stay list.
    pub origin_stay: usize,
    pub destination_stay: usize,
    /// At-sea observations on the way, in time order (indices into the observation list).
    pub via: Vec<usize>,
    pub confidence: f64,
    /// What the confidence was computed from ([`crate::config::VoyageConfidence`]): the
    /// log-odds of the product of the voyage's link probabilities, then the voyage's
    /// features in the order of `VoyageConfidence::weights`.
    pub confidence_inputs: [f64; crate::config::VOYAGE_CONFIDENCE_INPUTS],
    /// Sum of link costs (negative log-likelihood ratios) along the voyage.
    pub cost: f64,
    pub geometry: Vec<(f64, f64)>,
    pub route_method: RouteMethod,
    pub route_km: f64,
}

/// One inferred vessel: a chain of stays and at-sea observations.
#[derive(Debug, Clone)]
pub struct Track {
    pub vessel_id: String,
    /// Time-ordered events.
    pub events: Vec<Event>,
    pub first_seen: Time,
    pub last_seen: Time,
    pub length_m: Option<f64>,
    pub voyage_count: usize,
    /// `links[p]` joins `events[p]` to `events[p + 1]`.
    pub links: Vec<TrackLink>,
}

/// A chosen link between two consecutive events of a track (the links layer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackLink {
    /// `passage`, `return`, `duplicate` or `gap` (see docs/linking.md).
    pub kind: &'static str,
    /// The link's probability after Platt scaling (`linking.confidence_slope`,
    /// `linking.confidence_intercept`).
    pub confidence: f64,
    /// Weight (nats) the final assignment gave the link.
    pub weight: f64,
    /// Index of the voyage the link is part of, if any.
    pub voyage: Option<usize>,
}

/// A node of the linking graph: a port stay or a single at-sea observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    Stay(usize),
    AtSea(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_the_rfc_3339_pattern_says() {
        // Every time an RFC 3339 input can give (years 0000 to 9999), and leap days.
        let first = parse_time("0000-01-01T00:00:00Z").unwrap();
        let last = parse_time("9999-12-31T23:59:59Z").unwrap();
        let mut t = first;
        let step = 86_400 * 7 + 3_661;
        while t <= last {
            let by_pattern = chrono::DateTime::from_timestamp(t, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            assert_eq!(fmt_time(t), by_pattern);
            assert_eq!(parse_time(&fmt_time(t)).unwrap(), t);
            t += step;
        }
        assert_eq!(fmt_time(last), "9999-12-31T23:59:59Z");
        assert_eq!(fmt_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn time_round_trip_and_offsets() {
        assert_eq!(parse_time("2024-03-01T12:00:00Z").unwrap(), 1709294400);
        assert_eq!(parse_time("2024-03-01T21:00:00+09:00").unwrap(), 1709294400);
        assert_eq!(fmt_time(1709294400), "2024-03-01T12:00:00Z");
        assert!(parse_time("2024-03-01T12:00:00").is_err(), "no offset");
        assert!(parse_time("2024-02-30T12:00:00Z").is_err(), "Feb 30");
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn sensors_and_classes_from_text() {
        assert_eq!(Sensor::from_text("Sentinel-1"), Sensor::Sentinel1);
        assert_eq!(Sensor::from_text("sentinel_2"), Sensor::Sentinel2);
        assert_eq!(Sensor::from_text("unknown-sat"), Sensor::Other);
        assert_eq!(VesselClass::from_text("Ro-Ro"), VesselClass::Roro);
        assert_eq!(VesselClass::from_text("reefer").as_str(), "reefer");
    }
}
