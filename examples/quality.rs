//! Voyage F1 / IDF1 of `match` on simulated scenarios, per seed and on average; the
//! calibration table over all seeds. Used to tune and to report the model's quality.
//!
//! `cargo run --release --example quality -- [--seeds 1,2,3,4,5] [--days 60] [--scale 1]
//!  [--config FILE] [--work DIR] [--easier LIST]`
//!
//! `--fit` also fits the voyage confidence model (`[linking.voyage_confidence]`) on these
//! seeds' voyages and prints it as a config block, and the links' Platt scaling
//! (`confidence_slope`, `confidence_intercept`).
//!
//! `--easier` leaves difficulties out of the simulated scenarios, to measure what each
//! costs: a comma-separated list of `false-positives`, `twins`, `radar`, `colours`,
//! `locals` (see `shiplink::simulate::Easier`).

// Small dense linear algebra reads best with index loops.
#![allow(clippy::needless_range_loop)]

mod common;

use std::path::PathBuf;

use shiplink::config::{VoyageConfidence, VOYAGE_CONFIDENCE_INPUTS};
use shiplink::evaluate::{calibration_table, evaluate_paths};
use shiplink::pipeline::{run_match, MatchOptions};
use shiplink::simulate::{write_scenario, SimParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seeds: Vec<u64> = get("--seeds")
        .unwrap_or_else(|| "1,2,3,4,5".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let days: u32 = get("--days").unwrap_or_else(|| "60".into()).parse()?;
    let scale: f64 = get("--scale").unwrap_or_else(|| "1".into()).parse()?;
    let easier = shiplink::simulate::Easier::parse(&get("--easier").unwrap_or_default())?;
    let config = get("--config").map(PathBuf::from);
    let work = PathBuf::from(get("--work").unwrap_or_else(|| "/tmp/shiplink-quality".into()));
    std::fs::create_dir_all(&work)?;
    let mut outcomes = Vec::new();
    // Each voyage's confidence inputs and whether it was right (for `--fit`).
    let mut voyage_data: Vec<([f64; VOYAGE_CONFIDENCE_INPUTS], bool)> = Vec::new();
    let (mut f1s, mut idf1s) = (Vec::new(), Vec::new());
    println!("seed  precision  recall     F1   IDF1  predicted  true(both ends)");
    for &seed in &seeds {
        // Always written afresh (a tenth of a second): a scenario left by an older simulator
        // would silently give other figures.
        let scen = work.join(format!("sim-s{seed}-d{days}-x{scale}"));
        write_scenario(
            &scen,
            &SimParams {
                seed,
                days,
                scale,
                overwrite: true,
                easier,
            },
        )?;
        let out = work.join(format!("out-s{seed}-d{days}-x{scale}"));
        let opts = MatchOptions {
            inputs: vec![scen.join("observations")],
            out: out.clone(),
            ports: None,
            scenes: Some(scen.join("scenes.geojson")),
            config: config.clone(),
            land: None,
            overwrite: true,
            gpkg: false,
            quiet: true,
            verbose: false,
            now: 4_000_000_000,
        };
        let outcome = run_match(&opts)?;
        let m = evaluate_paths(&scen.join("truth.json"), &out)?;
        let inputs: std::collections::HashMap<&str, &[f64; VOYAGE_CONFIDENCE_INPUTS]> = outcome
            .voyage_confidence_inputs
            .iter()
            .map(|(id, x)| (id.as_str(), x))
            .collect();
        for o in &m.outcomes {
            if let Some(x) = inputs.get(o.voyage_id.as_str()) {
                voyage_data.push((**x, o.correct));
            }
        }
        println!(
            "{seed:>4}  {:>9.3}  {:>6.3}  {:>5.3}  {:>5.3}  {:>9}  {:>15}",
            m.voyage_precision,
            m.voyage_recall,
            m.voyage_f1,
            m.idf1,
            m.predicted_voyages,
            m.truth_voyages_observed
        );
        f1s.push(m.voyage_f1);
        idf1s.push(m.idf1);
        outcomes.extend(m.outcomes.iter().map(|o| (o.confidence, o.correct)));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "mean  F1 {:.3}  IDF1 {:.3}   min F1 {:.3}  min IDF1 {:.3}",
        mean(&f1s),
        mean(&idf1s),
        min(&f1s),
        min(&idf1s)
    );
    println!("calibration over all seeds (confidence bin: voyages, mean confidence, accuracy)");
    let table = calibration_table(&outcomes, 10);
    println!(
        "expected calibration error {:.3}",
        shiplink::evaluate::calibration::expected_calibration_error(&table)
    );
    for b in table {
        if b.count > 0 {
            println!(
                "  {:.1}-{:.1}  {:>5}  {:.3}  {:.3}",
                b.lo, b.hi, b.count, b.mean_confidence, b.accuracy
            );
        }
    }
    let (log_loss, brier, auc) = scores(&outcomes);
    println!(
        "voyage confidence: log loss {log_loss:.4}, Brier {brier:.4}, AUC {auc:.3} \
         (a constant at the share right: log loss {:.4})",
        {
            let right = outcomes.iter().filter(|o| o.1).count() as f64;
            let p = (right / outcomes.len().max(1) as f64).clamp(1e-9, 1.0 - 1e-9);
            -(p * p.ln() + (1.0 - p) * (1.0 - p).ln())
        }
    );
    if args.iter().any(|a| a == "--fit") {
        // Design rows: the links' log-odds, 1, then the features.
        let rows: Vec<([f64; VOYAGE_CONFIDENCE_INPUTS + 1], bool)> = voyage_data
            .iter()
            .map(|(x, ok)| {
                let mut r = [1.0; VOYAGE_CONFIDENCE_INPUTS + 1];
                r[0] = x[0];
                r[2..].copy_from_slice(&x[1..]);
                (r, *ok)
            })
            .collect();
        let c = fit_logistic(&rows, 2);
        let m = VoyageConfidence::from_coefficients(&c);
        let fitted: Vec<(f64, bool)> = voyage_data
            .iter()
            .map(|(x, ok)| (m.confidence(x), *ok))
            .collect();
        let (log_loss, brier, auc) = scores(&fitted);
        println!(
            "voyage confidence model fitted on these {} voyages (log loss {log_loss:.4}, \
             Brier {brier:.4}, AUC {auc:.3} on them):",
            voyage_data.len()
        );
        let shown = VoyageConfidence::from_coefficients(&c.map(|v| (v * 1e4).round() / 1e4));
        println!("[linking.voyage_confidence]\n{}", toml::to_string(&shown)?);
        // The links' Platt scaling (`confidence_slope`, `confidence_intercept`): the
        // voyages' outcomes against the log-odds of their links' joint probability.
        let raw: Vec<([f64; 2], bool)> = rows.iter().map(|(r, ok)| ([r[0], 1.0], *ok)).collect();
        let [a, b] = fit_logistic(&raw, 2);
        println!(
            "links' Platt scaling fitted on these voyages: confidence_slope = {a:.4}, \
             confidence_intercept = {b:.4}"
        );
    }
    Ok(())
}

/// Log loss, Brier score and the area under the ROC curve of confidences against outcomes.
fn scores(outcomes: &[(f64, bool)]) -> (f64, f64, f64) {
    let n = outcomes.len().max(1) as f64;
    let log_loss = -outcomes
        .iter()
        .map(|&(c, ok)| {
            let c = c.clamp(1e-9, 1.0 - 1e-9);
            if ok {
                c.ln()
            } else {
                (1.0 - c).ln()
            }
        })
        .sum::<f64>()
        / n;
    let brier = outcomes
        .iter()
        .map(|&(c, ok)| (c - f64::from(u8::from(ok))).powi(2))
        .sum::<f64>()
        / n;
    // AUC: the chance that a right voyage scores above a wrong one (ties count half).
    let mut right: Vec<f64> = outcomes.iter().filter(|o| o.1).map(|o| o.0).collect();
    right.sort_by(f64::total_cmp);
    let wrong: Vec<f64> = outcomes.iter().filter(|o| !o.1).map(|o| o.0).collect();
    let above: f64 = wrong
        .iter()
        .map(|&w| {
            let lo = right.partition_point(|&r| r < w);
            let hi = right.partition_point(|&r| r <= w);
            (right.len() - hi) as f64 + 0.5 * (hi - lo) as f64
        })
        .sum();
    let auc = above / (right.len() * wrong.len()).max(1) as f64;
    (log_loss, brier, auc)
}

/// Logistic regression of a voyage being right on `rows` (each with its outcome), by
/// Newton's method, with a weak ridge on the coefficients from `ridge_from` on.
fn fit_logistic<const K: usize>(rows: &[([f64; K], bool)], ridge_from: usize) -> [f64; K] {
    let ridge = 1.0;
    let mut beta = [0.0; K];
    for _ in 0..100 {
        let mut g = [0.0; K];
        let mut h = [[0.0; K]; K];
        for (r, ok) in rows {
            let z: f64 = r.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let y = f64::from(u8::from(*ok));
            for a in 0..K {
                g[a] += (y - p) * r[a];
                for b in 0..K {
                    h[a][b] += p * (1.0 - p) * r[a] * r[b];
                }
            }
        }
        for a in ridge_from..K {
            g[a] -= ridge * beta[a];
            h[a][a] += ridge;
        }
        let step = common::solve_linear(h, g);
        let moved = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        for (b, s) in beta.iter_mut().zip(step) {
            *b += s;
        }
        if moved < 1e-10 {
            break;
        }
    }
    beta
}
