//! Scoring a parsed match result against parsed truth: voyage precision/recall/F1, IDF1
//! over detections, per-direction voyage and container counts, and per-voyage outcomes for
//! calibration. Pure: no file system, no JSON.
//!
//! - A predicted voyage is correct when it is paired one-to-one (maximum matching) with a
//!   true voyage of the same from/to ports whose origin and destination observation ids
//!   both overlap the predicted ones.
//! - Recall is over true voyages observed at both ends (at least one detection during the
//!   origin stay and one during the destination stay).
//! - IDF1: the predicted identity of a detection is the `vessel_id` of the stay listing it,
//!   else of the voyage whose via list holds it; other detections are singletons. False
//!   positives are singleton true identities. Identities are assigned one-to-one to
//!   maximise agreeing detections (IDTP); with every detection on both sides,
//!   IDF1 = IDP = IDR = IDTP / detections.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::assignment::max_weight_matching;
use super::calibration::{calibration_table, expected_calibration_error};
use super::{DirectionCounts, Metrics, VoyageOutcome};

/// A true voyage as evaluate needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrueVoyage {
    pub voyage_id: String,
    pub vessel_id: String,
    pub from_port: String,
    pub to_port: String,
    pub containers_departing: u32,
    pub containers_arriving: u32,
    pub origin_observation_ids: Vec<String>,
    pub destination_observation_ids: Vec<String>,
}

/// The truth as evaluate needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TruthSet {
    /// Every detection id -> true vessel id (None for a false positive).
    pub observations: BTreeMap<String, Option<String>>,
    pub voyages: Vec<TrueVoyage>,
}

/// A predicted voyage (one feature of voyages.geojson).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PredVoyage {
    pub voyage_id: String,
    pub vessel_id: String,
    pub from_port: String,
    pub to_port: String,
    pub confidence: f64,
    pub origin_observation_ids: Vec<String>,
    pub destination_observation_ids: Vec<String>,
    pub via_observation_ids: Vec<String>,
    pub containers_departing: Option<u32>,
    pub containers_arriving: Option<u32>,
}

/// A predicted stay (one feature of stays.geojson).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PredStay {
    pub stay_id: String,
    pub vessel_id: String,
    pub observation_ids: Vec<String>,
}

/// A match result as evaluate needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultSet {
    pub stays: Vec<PredStay>,
    pub voyages: Vec<PredVoyage>,
}

/// Bins of the calibration table.
pub const CALIBRATION_BINS: usize = 10;

/// Scores `result` against `truth`.
pub fn score(truth: &TruthSet, result: &ResultSet) -> Metrics {
    let (outcomes, matched_truth) = match_voyages(truth, result);
    let observed = truth
        .voyages
        .iter()
        .filter(|v| observed_both_ends(v))
        .count();
    let correct = outcomes.iter().filter(|o| o.correct).count();
    let predicted = result.voyages.len();
    let precision = ratio(correct, predicted);
    let recall = ratio(
        matched_truth
            .iter()
            .filter(|&&t| observed_both_ends(&truth.voyages[t]))
            .count(),
        observed,
    );
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let (idtp, detections, unknown) = idf1_counts(truth, result);
    let idf1 = ratio(idtp, detections);
    let pairs: Vec<(f64, bool)> = outcomes.iter().map(|o| (o.confidence, o.correct)).collect();
    let calibration = calibration_table(&pairs, CALIBRATION_BINS);
    Metrics {
        voyage_precision: precision,
        voyage_recall: recall,
        voyage_f1: f1,
        idf1,
        idp: idf1,
        idr: idf1,
        id_true_positives: idtp,
        detections,
        unknown_observation_ids: unknown,
        predicted_voyages: predicted,
        truth_voyages: truth.voyages.len(),
        truth_voyages_observed: observed,
        correct_voyages: correct,
        directions: directions(truth, result, &outcomes),
        expected_calibration_error: expected_calibration_error(&calibration),
        calibration,
        outcomes,
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn observed_both_ends(v: &TrueVoyage) -> bool {
    !v.origin_observation_ids.is_empty() && !v.destination_observation_ids.is_empty()
}

/// Per predicted voyage (in input order) whether it is correct, and the matched truth indices.
fn match_voyages(truth: &TruthSet, result: &ResultSet) -> (Vec<VoyageOutcome>, Vec<usize>) {
    // Each detection lies in at most one origin and one destination stay of a vessel.
    let mut origin_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (t, v) in truth.voyages.iter().enumerate() {
        for id in &v.origin_observation_ids {
            origin_of.entry(id.as_str()).or_default().push(t);
        }
    }
    let mut edges = Vec::new();
    for (p, pv) in result.voyages.iter().enumerate() {
        let mut candidates: BTreeSet<usize> = BTreeSet::new();
        for id in &pv.origin_observation_ids {
            if let Some(ts) = origin_of.get(id.as_str()) {
                candidates.extend(ts.iter().copied());
            }
        }
        for t in candidates {
            let tv = &truth.voyages[t];
            if tv.from_port != pv.from_port || tv.to_port != pv.to_port {
                continue;
            }
            let o = overlap(&pv.origin_observation_ids, &tv.origin_observation_ids);
            let d = overlap(
                &pv.destination_observation_ids,
                &tv.destination_observation_ids,
            );
            if o > 0 && d > 0 {
                // Cardinality first, then the better overlap.
                edges.push((p, t, 1_000_000 + (o + d).min(999_999) as i64));
            }
        }
    }
    let (_, pairs) = max_weight_matching(result.voyages.len(), truth.voyages.len(), &edges);
    let mut correct = vec![false; result.voyages.len()];
    let mut matched = Vec::new();
    for (p, t) in pairs {
        correct[p] = true;
        matched.push(t);
    }
    let outcomes = result
        .voyages
        .iter()
        .zip(correct)
        .map(|(v, correct)| VoyageOutcome {
            voyage_id: v.voyage_id.clone(),
            confidence: v.confidence,
            correct,
        })
        .collect();
    (outcomes, matched)
}

fn overlap(a: &[String], b: &[String]) -> usize {
    let set: BTreeSet<&str> = b.iter().map(String::as_str).collect();
    a.iter()
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .intersection(&set)
        .count()
}

/// (IDTP, detections, result ids unknown to truth).
fn idf1_counts(truth: &TruthSet, result: &ResultSet) -> (usize, usize, usize) {
    // Predicted identity per detection: stays first (sorted by stay id), then voyage via lists.
    let mut pred: HashMap<&str, &str> = HashMap::new();
    let mut unknown: BTreeSet<&str> = BTreeSet::new();
    let mut stays: Vec<&PredStay> = result.stays.iter().collect();
    stays.sort_by(|a, b| a.stay_id.cmp(&b.stay_id));
    let listed = stays
        .iter()
        .flat_map(|s| s.observation_ids.iter().map(move |o| (o, &s.vessel_id)))
        .chain(
            result
                .voyages
                .iter()
                .flat_map(|v| v.via_observation_ids.iter().map(move |o| (o, &v.vessel_id))),
        );
    for (obs, vessel) in listed {
        if truth.observations.contains_key(obs) {
            pred.entry(obs.as_str()).or_insert(vessel.as_str());
        } else {
            unknown.insert(obs.as_str());
        }
    }
    // Node numbering: named predicted ids and true vessel ids, in first-seen (id) order.
    let mut pred_ix: BTreeMap<&str, usize> = BTreeMap::new();
    let mut true_ix: BTreeMap<&str, usize> = BTreeMap::new();
    let mut co: BTreeMap<(usize, usize), i64> = BTreeMap::new();
    // Interchangeable singletons collapse to one representative per partner (see module doc):
    // unassigned detections of one true vessel, and false positives inside one predicted id.
    let mut lone_pred_for_true: BTreeMap<usize, usize> = BTreeMap::new();
    let mut lone_true_for_pred: BTreeMap<usize, usize> = BTreeMap::new();
    let mut direct = 0usize;
    let mut n_pred = 0usize;
    let mut n_true = 0usize;
    for (obs, tv) in &truth.observations {
        let p = pred.get(obs.as_str()).copied();
        match (p, tv) {
            (None, None) => direct += 1,
            (Some(p), Some(t)) => {
                let pi = *pred_ix.entry(p).or_insert_with(|| post_inc(&mut n_pred));
                let ti = *true_ix
                    .entry(t.as_str())
                    .or_insert_with(|| post_inc(&mut n_true));
                *co.entry((pi, ti)).or_default() += 1;
            }
            (None, Some(t)) => {
                let ti = *true_ix
                    .entry(t.as_str())
                    .or_insert_with(|| post_inc(&mut n_true));
                let pi = *lone_pred_for_true
                    .entry(ti)
                    .or_insert_with(|| post_inc(&mut n_pred));
                co.insert((pi, ti), 1);
            }
            (Some(p), None) => {
                let pi = *pred_ix.entry(p).or_insert_with(|| post_inc(&mut n_pred));
                let ti = *lone_true_for_pred
                    .entry(pi)
                    .or_insert_with(|| post_inc(&mut n_true));
                co.insert((pi, ti), 1);
            }
        }
    }
    let edges: Vec<(usize, usize, i64)> = co.into_iter().map(|((p, t), w)| (p, t, w)).collect();
    let (best, _) = max_weight_matching(n_pred, n_true, &edges);
    (
        best as usize + direct,
        truth.observations.len(),
        unknown.len(),
    )
}

fn post_inc(n: &mut usize) -> usize {
    *n += 1;
    *n - 1
}

fn directions(
    truth: &TruthSet,
    result: &ResultSet,
    outcomes: &[VoyageOutcome],
) -> Vec<DirectionCounts> {
    let mut by: BTreeMap<(String, String), DirectionCounts> = BTreeMap::new();
    let entry = |by: &mut BTreeMap<(String, String), DirectionCounts>, f: &str, t: &str| {
        by.entry((f.to_string(), t.to_string()))
            .or_insert_with(|| DirectionCounts {
                from_port: f.to_string(),
                to_port: t.to_string(),
                ..DirectionCounts::default()
            })
            .clone()
    };
    for v in &truth.voyages {
        let mut d = entry(&mut by, &v.from_port, &v.to_port);
        d.truth_voyages += 1;
        d.truth_voyages_observed += usize::from(observed_both_ends(v));
        d.truth_containers_departing += u64::from(v.containers_departing);
        d.truth_containers_arriving += u64::from(v.containers_arriving);
        by.insert((v.from_port.clone(), v.to_port.clone()), d);
    }
    for (v, o) in result.voyages.iter().zip(outcomes) {
        let mut d = entry(&mut by, &v.from_port, &v.to_port);
        d.predicted_voyages += 1;
        d.correct_voyages += usize::from(o.correct);
        d.predicted_containers_departing += u64::from(v.containers_departing.unwrap_or(0));
        d.predicted_containers_arriving += u64::from(v.containers_arriving.unwrap_or(0));
        by.insert((v.from_port.clone(), v.to_port.clone()), d);
    }
    by.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    /// Two vessels A and B; A sails najin -> dunay, B dunay -> najin; one false positive.
    fn truth() -> TruthSet {
        let mut observations = BTreeMap::new();
        for (o, v) in [
            ("a1", Some("A")),
            ("a2", Some("A")),
            ("a3", Some("A")),
            ("a4", Some("A")),
            ("b1", Some("B")),
            ("b2", Some("B")),
            ("b3", Some("B")),
            ("fp", None),
        ] {
            observations.insert(o.to_string(), v.map(str::to_string));
        }
        TruthSet {
            observations,
            voyages: vec![
                TrueVoyage {
                    voyage_id: "tv1".into(),
                    vessel_id: "A".into(),
                    from_port: "najin".into(),
                    to_port: "dunay".into(),
                    containers_departing: 80,
                    containers_arriving: 80,
                    origin_observation_ids: ids(&["a1", "a2"]),
                    destination_observation_ids: ids(&["a3", "a4"]),
                },
                TrueVoyage {
                    voyage_id: "tv2".into(),
                    vessel_id: "B".into(),
                    from_port: "dunay".into(),
                    to_port: "najin".into(),
                    containers_departing: 5,
                    containers_arriving: 5,
                    origin_observation_ids: ids(&["b1"]),
                    destination_observation_ids: ids(&["b2", "b3"]),
                },
            ],
        }
    }

    fn stay(id: &str, vessel: &str, obs: &[&str]) -> PredStay {
        PredStay {
            stay_id: id.into(),
            vessel_id: vessel.into(),
            observation_ids: ids(obs),
        }
    }

    fn voyage(
        id: &str,
        vessel: &str,
        from: &str,
        to: &str,
        o: &[&str],
        d: &[&str],
        conf: f64,
    ) -> PredVoyage {
        PredVoyage {
            voyage_id: id.into(),
            vessel_id: vessel.into(),
            from_port: from.into(),
            to_port: to.into(),
            confidence: conf,
            origin_observation_ids: ids(o),
            destination_observation_ids: ids(d),
            via_observation_ids: vec![],
            containers_departing: Some(70),
            containers_arriving: None,
        }
    }

    fn perfect() -> ResultSet {
        ResultSet {
            stays: vec![
                stay("s1", "x", &["a1", "a2"]),
                stay("s2", "x", &["a3", "a4"]),
                stay("s3", "y", &["b1"]),
                stay("s4", "y", &["b2", "b3"]),
            ],
            voyages: vec![
                voyage("v1", "x", "najin", "dunay", &["a1"], &["a4"], 0.9),
                voyage("v2", "y", "dunay", "najin", &["b1"], &["b2", "b3"], 0.8),
            ],
        }
    }

    #[test]
    fn perfect_result_scores_one() {
        let m = score(&truth(), &perfect());
        assert_eq!(m.voyage_precision, 1.0);
        assert_eq!(m.voyage_recall, 1.0);
        assert_eq!(m.voyage_f1, 1.0);
        assert_eq!(
            m.idf1, 1.0,
            "the false positive is a singleton on both sides"
        );
        assert_eq!(m.id_true_positives, 8);
        assert!(m.outcomes.iter().all(|o| o.correct));
        let nd = m
            .directions
            .iter()
            .find(|d| d.from_port == "najin")
            .unwrap();
        assert_eq!(
            (nd.truth_voyages, nd.predicted_voyages, nd.correct_voyages),
            (1, 1, 1)
        );
        assert_eq!(
            (
                nd.truth_containers_departing,
                nd.predicted_containers_departing
            ),
            (80, 70)
        );
    }

    #[test]
    fn empty_result_has_zero_recall() {
        let m = score(&truth(), &ResultSet::default());
        assert_eq!(m.voyage_recall, 0.0);
        assert_eq!(m.voyage_precision, 0.0);
        assert_eq!(m.voyage_f1, 0.0);
        // All singletons: each true vessel keeps one detection, the false positive matches.
        assert_eq!(m.id_true_positives, 3);
        assert!((m.idf1 - 3.0 / 8.0).abs() < 1e-12);
    }

    #[test]
    fn swapped_identities_after_a_voyage() {
        // The matcher hands A's destination stay to y and B's to x: every stay is right,
        // but each predicted id now mixes two vessels.
        let r = ResultSet {
            stays: vec![
                stay("s1", "x", &["a1", "a2"]),
                stay("s2", "y", &["a3", "a4"]),
                stay("s3", "y", &["b1"]),
                stay("s4", "x", &["b2", "b3"]),
            ],
            voyages: vec![
                voyage("v1", "x", "najin", "dunay", &["a1", "a2"], &["b2"], 0.9),
                voyage("v2", "y", "dunay", "najin", &["b1"], &["a3"], 0.7),
            ],
        };
        let m = score(&truth(), &r);
        assert_eq!(m.correct_voyages, 0);
        assert_eq!(m.voyage_precision, 0.0);
        // x = {a1,a2,b2,b3}, y = {a3,a4,b1}: best is x->A (2) + y->B (1)
        // or x->B (2) + y->A (2) = 4, plus the false positive.
        assert_eq!(m.id_true_positives, 5);
        assert!(m.calibration.iter().map(|b| b.count).sum::<usize>() == 2);
    }

    #[test]
    fn wrong_ports_or_one_end_only_is_not_correct_and_matching_is_one_to_one() {
        let r = ResultSet {
            stays: vec![],
            voyages: vec![
                voyage("v1", "x", "najin", "vostochny", &["a1"], &["a3"], 0.9),
                voyage("v2", "x", "najin", "dunay", &["a1"], &["b2"], 0.9),
                voyage("v3", "x", "najin", "dunay", &["a1"], &["a3"], 0.9),
                voyage("v4", "z", "najin", "dunay", &["a2"], &["a4"], 0.9),
            ],
        };
        let m = score(&truth(), &r);
        assert_eq!(
            m.correct_voyages, 1,
            "v3 and v4 compete for one truth voyage"
        );
        assert_eq!(m.voyage_recall, 0.5);
        assert_eq!(m.voyage_precision, 0.25);
    }
}
