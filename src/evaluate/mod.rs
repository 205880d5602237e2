//! Scores a `match` result against a simulated scenario's truth (`shiplink evaluate`).
//!
//! [`read_truth`] and [`read_result`] parse the files; [`score::score`] is the pure scoring
//! (see there for the definitions); [`report_text`] formats [`Metrics`] for people.
//!
//! ```no_run
//! let m = shiplink::evaluate::evaluate_paths(
//!     std::path::Path::new("scenario/truth.json"),
//!     std::path::Path::new("result"),
//! )?;
//! println!("{}", shiplink::evaluate::report_text(&m));
//! # Ok::<(), shiplink::Error>(())
//! ```

pub mod assignment;
pub mod calibration;
pub mod score;

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::simulate::truth::Truth;

pub use calibration::{calibration_table, CalibrationBin};
pub use score::{PredStay, PredVoyage, ResultSet, TrueVoyage, TruthSet};

/// Scores of one run against truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub voyage_precision: f64,
    pub voyage_recall: f64,
    pub voyage_f1: f64,
    pub idf1: f64,
    /// ID precision and recall (equal to IDF1 here: every detection is on both sides).
    pub idp: f64,
    pub idr: f64,
    pub id_true_positives: usize,
    /// Detections in truth.
    pub detections: usize,
    /// Observation ids in the result that truth does not know (ignored in the scores).
    pub unknown_observation_ids: usize,
    pub predicted_voyages: usize,
    pub truth_voyages: usize,
    /// True voyages with a detection during both the origin and destination stay.
    pub truth_voyages_observed: usize,
    pub correct_voyages: usize,
    /// Per direction (from_port -> to_port), sorted.
    pub directions: Vec<DirectionCounts>,
    pub calibration: Vec<CalibrationBin>,
    pub expected_calibration_error: f64,
    /// One per predicted voyage, in the result's order.
    pub outcomes: Vec<VoyageOutcome>,
}

/// Voyage and container counts of one direction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DirectionCounts {
    pub from_port: String,
    pub to_port: String,
    pub truth_voyages: usize,
    pub truth_voyages_observed: usize,
    pub predicted_voyages: usize,
    pub correct_voyages: usize,
    pub truth_containers_departing: u64,
    pub predicted_containers_departing: u64,
    pub truth_containers_arriving: u64,
    pub predicted_containers_arriving: u64,
}

/// Whether one predicted voyage was correct, with its stated confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoyageOutcome {
    pub voyage_id: String,
    pub confidence: f64,
    pub correct: bool,
}

/// Reads truth.json and a result folder and scores them.
pub fn evaluate_paths(truth: &Path, result_dir: &Path) -> Result<Metrics> {
    let t = read_truth(truth)?;
    let r = read_result(result_dir)?;
    Ok(score::score(&t, &r))
}

/// Reads a truth.json written by `shiplink simulate`.
pub fn read_truth(path: &Path) -> Result<TruthSet> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let truth: Truth = serde_json::from_str(&text)
        .map_err(|e| Error::bad_file(path, format!("not a shiplink truth document: {e}")))?;
    if truth.format != crate::simulate::truth::TRUTH_FORMAT {
        return Err(Error::bad_file(
            path,
            format!(
                "truth format {:?}, expected {:?}",
                truth.format,
                crate::simulate::truth::TRUTH_FORMAT
            ),
        ));
    }
    Ok(truth_set(truth))
}

/// The parts of [`Truth`] that scoring uses.
pub fn truth_set(truth: Truth) -> TruthSet {
    TruthSet {
        observations: truth.observations,
        voyages: truth
            .voyages
            .into_iter()
            .map(|v| TrueVoyage {
                voyage_id: v.voyage_id,
                vessel_id: v.vessel_id,
                from_port: v.from_port,
                to_port: v.to_port,
                containers_departing: v.containers_departing,
                containers_arriving: v.containers_arriving,
                origin_observation_ids: v.origin_observation_ids,
                destination_observation_ids: v.destination_observation_ids,
            })
            .collect(),
    }
}

#[derive(Deserialize)]
struct Fc {
    #[serde(rename = "type")]
    kind: String,
    features: Vec<Feat>,
}

#[derive(Deserialize)]
struct Feat {
    #[serde(default)]
    properties: Option<serde_json::Map<String, serde_json::Value>>,
}

fn read_fc(path: &Path) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let fc: Fc = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| Error::bad_file(path, format!("not a GeoJSON FeatureCollection: {e}")))?;
    if fc.kind != "FeatureCollection" {
        return Err(Error::bad_file(
            path,
            format!("type is {:?}, not FeatureCollection", fc.kind),
        ));
    }
    Ok(fc
        .features
        .into_iter()
        .map(|f| f.properties.unwrap_or_default())
        .collect())
}

/// Reads voyages.geojson and stays.geojson of a `shiplink match` result folder.
pub fn read_result(dir: &Path) -> Result<ResultSet> {
    if !dir.is_dir() {
        return Err(Error::bad_file(dir, "result folder not found"));
    }
    let vpath = dir.join("voyages.geojson");
    let spath = dir.join("stays.geojson");
    let mut voyages = Vec::new();
    for (i, p) in read_fc(&vpath)?.iter().enumerate() {
        let bad = |m: String| Error::bad_file(&vpath, format!("feature {i}: {m}"));
        voyages.push(PredVoyage {
            voyage_id: opt_str(p, "voyage_id").unwrap_or_else(|| format!("#{i}")),
            vessel_id: req_str(p, "vessel_id").map_err(bad)?,
            from_port: req_str(p, "from_port").map_err(bad)?,
            to_port: req_str(p, "to_port").map_err(bad)?,
            confidence: p
                .get("confidence")
                .and_then(|v| v.as_f64())
                .unwrap_or(f64::NAN),
            origin_observation_ids: str_list(p, "origin_observation_ids").map_err(bad)?,
            destination_observation_ids: str_list(p, "destination_observation_ids").map_err(bad)?,
            via_observation_ids: str_list(p, "via_observation_ids").map_err(bad)?,
            containers_departing: opt_u32(p, "containers_departing"),
            containers_arriving: opt_u32(p, "containers_arriving"),
        });
    }
    let mut stays = Vec::new();
    for (i, p) in read_fc(&spath)?.iter().enumerate() {
        let bad = |m: String| Error::bad_file(&spath, format!("feature {i}: {m}"));
        stays.push(PredStay {
            stay_id: opt_str(p, "stay_id").unwrap_or_else(|| format!("#{i:09}")),
            vessel_id: req_str(p, "vessel_id").map_err(bad)?,
            observation_ids: str_list(p, "observation_ids").map_err(bad)?,
        });
    }
    Ok(ResultSet { stays, voyages })
}

type Props = serde_json::Map<String, serde_json::Value>;

fn opt_str(p: &Props, key: &str) -> Option<String> {
    match p.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn req_str(p: &Props, key: &str) -> std::result::Result<String, String> {
    opt_str(p, key).ok_or_else(|| format!("no string property {key}"))
}

fn opt_u32(p: &Props, key: &str) -> Option<u32> {
    p.get(key)?
        .as_f64()
        .filter(|x| *x >= 0.0 && x.is_finite())
        .map(|x| x.round() as u32)
}

/// A JSON array of strings; JSON text holding one (GeoPackage style) and null/missing
/// (an empty list) are accepted too.
fn str_list(p: &Props, key: &str) -> std::result::Result<Vec<String>, String> {
    let v = match p.get(key) {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::String(s)) => serde_json::from_str::<serde_json::Value>(s)
            .map_err(|_| format!("{key} is not an array of strings"))?,
        Some(v) => v.clone(),
    };
    match v {
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|x| match x {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(format!("{key} holds a non-string")),
            })
            .collect(),
        _ => Err(format!("{key} is not an array of strings")),
    }
}

/// A human-readable report of the metrics.
pub fn report_text(m: &Metrics) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "voyages: precision {:.3}  recall {:.3}  F1 {:.3}  ({} correct of {} predicted; {} true, {} observed at both ends)",
        m.voyage_precision,
        m.voyage_recall,
        m.voyage_f1,
        m.correct_voyages,
        m.predicted_voyages,
        m.truth_voyages,
        m.truth_voyages_observed
    );
    let _ = writeln!(
        s,
        "identity: IDF1 {:.3}  ({} of {} detections on the best one-to-one identity assignment)",
        m.idf1, m.id_true_positives, m.detections
    );
    if m.unknown_observation_ids > 0 {
        let _ = writeln!(
            s,
            "warning: {} observation ids in the result are not in truth",
            m.unknown_observation_ids
        );
    }
    let _ = writeln!(s, "\nper direction:");
    let _ = writeln!(
        s,
        "  {:<24} {:>6} {:>8} {:>9} {:>7} {:>12} {:>12}",
        "from -> to", "truth", "observed", "predicted", "correct", "cont. truth", "cont. pred"
    );
    for d in &m.directions {
        let _ = writeln!(
            s,
            "  {:<24} {:>6} {:>8} {:>9} {:>7} {:>12} {:>12}",
            format!("{} -> {}", d.from_port, d.to_port),
            d.truth_voyages,
            d.truth_voyages_observed,
            d.predicted_voyages,
            d.correct_voyages,
            d.truth_containers_departing,
            d.predicted_containers_departing
        );
    }
    let _ = writeln!(
        s,
        "\ncalibration (predicted voyages by confidence; ECE {:.3}):",
        m.expected_calibration_error
    );
    let _ = writeln!(
        s,
        "  {:<11} {:>6} {:>10} {:>9}",
        "confidence", "count", "mean conf", "accuracy"
    );
    for b in &m.calibration {
        if b.count == 0 {
            let _ = writeln!(
                s,
                "  {:.1}-{:.1}     {:>6} {:>10} {:>9}",
                b.lo, b.hi, 0, "-", "-"
            );
        } else {
            let _ = writeln!(
                s,
                "  {:.1}-{:.1}     {:>6} {:>10.3} {:>9.3}",
                b.lo, b.hi, b.count, b.mean_confidence, b.accuracy
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn missing_and_malformed_files_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_result(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("result folder not found"), "{e}");
        let e = read_result(dir.path()).unwrap_err().to_string();
        assert!(e.contains("voyages.geojson"), "{e}");
        write(
            dir.path(),
            "voyages.geojson",
            "{\"type\":\"FeatureCollection\",\"features\":[]}",
        );
        write(dir.path(), "stays.geojson", "[1,2]");
        let e = read_result(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("stays.geojson") && e.contains("FeatureCollection"),
            "{e}"
        );
        write(
            dir.path(),
            "stays.geojson",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{"vessel_id":"x","observation_ids":[1]}}]}"#,
        );
        let e = read_result(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("feature 0") && e.contains("observation_ids"),
            "{e}"
        );
        let e = read_truth(&dir.path().join("truth.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("truth.json"), "{e}");
        write(dir.path(), "truth.json", "{}");
        let e = read_truth(&dir.path().join("truth.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a shiplink truth document"), "{e}");
    }

    #[test]
    fn reads_arrays_and_json_text_lists() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "voyages.geojson",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{
              "voyage_id":"v1","vessel_id":"x","from_port":"najin","to_port":"dunay","confidence":0.7,
              "origin_observation_ids":["a"],"destination_observation_ids":"[\"b\",\"c\"]",
              "via_observation_ids":null,"containers_departing":12,"containers_arriving":null}}]}"#,
        );
        write(
            dir.path(),
            "stays.geojson",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"stay_id":"s1","vessel_id":"x","observation_ids":["a"]}}]}"#,
        );
        let r = read_result(dir.path()).unwrap();
        assert_eq!(r.voyages[0].destination_observation_ids, vec!["b", "c"]);
        assert!(r.voyages[0].via_observation_ids.is_empty());
        assert_eq!(r.voyages[0].containers_departing, Some(12));
        assert_eq!(r.voyages[0].containers_arriving, None);
        assert_eq!(r.stays[0].observation_ids, vec!["a"]);
        let m = score::score(&TruthSet::default(), &r);
        assert!(report_text(&m).contains("najin -> dunay"));
    }
}
