//! Matching quality on simulated Najin–Dunay scenarios (issue 2).
//!
//! The target is voyage F1 >= 0.90 and IDF1 >= 0.85 on five seeds. The current model
//! reaches the IDF1 target on every one of the five seeds (0.866 to 0.906), not the F1 one
//! (see the README's quality table). This test asserts the IDF1 target per seed and guards
//! the rest, so that a change that makes matching worse fails: every seed's voyage F1 must
//! stay above the floor below, a little under the worst seed measured when it was set.

use shiplink::evaluate::evaluate_paths;
use shiplink::pipeline::{run_match, MatchOptions};
use shiplink::simulate::{write_scenario, SimParams};

/// Floor of every seed's voyage F1: the worst seed is at 0.568 (0.571 before route shares).
const MIN_VOYAGE_F1: f64 = 0.54;
/// The IDF1 target, on each seed.
const MIN_IDF1: f64 = 0.85;
/// Expected calibration error of voyage confidences over the five seeds (measured 0.037 with
/// the Platt scaling fitted on seeds 11-40, 0.023 on seeds 71-100; 0.104 and 0.036 before
/// route shares (`linking.route_shares`); 0.096 and 0.023 before
/// stays were split (`linking.split_stays`), which made these seeds' voyages better and
/// their confidences a little more optimistic; 0.194 for the raw link-probability
/// products). About 220 voyages: the bound leaves room for that noise, not for the raw
/// products. 0.13, not the 0.12 it was: at 0.119 (measured before the harbour-craft priors
/// were weighed by the class) a voyage or two (glibc picks its `log` and `exp` by CPU, so
/// another machine may weigh a near tie the other way) would fail it.
const MAX_CALIBRATION_ERROR: f64 = 0.13;

#[test]
fn five_seeds_stay_above_the_quality_floor() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    let mut outcomes = Vec::new();
    let mut idf1 = Vec::new();
    for seed in 1..=5u64 {
        let scen = dir.path().join(format!("sim-{seed}"));
        write_scenario(
            &scen,
            &SimParams {
                seed,
                days: 60,
                scale: 1.0,
                overwrite: false,
                easier: Default::default(),
            },
        )
        .unwrap();
        let out = dir.path().join(format!("out-{seed}"));
        run_match(&MatchOptions {
            inputs: vec![scen.join("observations")],
            out: out.clone(),
            ports: None,
            scenes: Some(scen.join("scenes.geojson")),
            config: None,
            land: None,
            overwrite: false,
            gpkg: false,
            quiet: true,
            verbose: false,
            now: 4_000_000_000,
        })
        .unwrap();
        let m = evaluate_paths(&scen.join("truth.json"), &out).unwrap();
        report.push(format!(
            "seed {seed}: precision {:.3} recall {:.3} F1 {:.3} IDF1 {:.3}",
            m.voyage_precision, m.voyage_recall, m.voyage_f1, m.idf1
        ));
        assert!(m.predicted_voyages > 0, "seed {seed}: no voyages at all");
        outcomes.extend(m.outcomes.iter().map(|o| (o.confidence, o.correct)));
        assert!(m.voyage_f1 >= MIN_VOYAGE_F1, "{}", report.join("\n"));
        assert!(m.idf1 >= MIN_IDF1, "{}", report.join("\n"));
        idf1.push(m.idf1);
    }
    let mean_idf1 = idf1.iter().sum::<f64>() / idf1.len() as f64;
    report.push(format!("mean IDF1 {mean_idf1:.3}"));
    let table = shiplink::evaluate::calibration_table(&outcomes, 10);
    let ece = shiplink::evaluate::calibration::expected_calibration_error(&table);
    report.push(format!("expected calibration error {ece:.3}"));
    assert!(ece <= MAX_CALIBRATION_ERROR, "{}", report.join("\n"));
    eprintln!("{}", report.join("\n"));
}
