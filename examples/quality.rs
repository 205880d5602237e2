//! Voyage F1 / IDF1 of `match` on simulated scenarios, per seed and on average; the
//! calibration table over all seeds. Used to tune and to report the model's quality.
//!
//! `cargo run --release --example quality -- [--seeds 1,2,3,4,5] [--days 60] [--scale 1]
//!  [--config FILE] [--work DIR] [--easier LIST]`
//!
//! `--easier` leaves difficulties out of the simulated scenarios, to measure what each
//! costs: a comma-separated list of `false-positives`, `twins`, `radar`, `colours`,
//! `locals` (see `shiplink::simulate::Easier`).

use std::path::PathBuf;

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
        run_match(&opts)?;
        let m = evaluate_paths(&scen.join("truth.json"), &out)?;
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
    if args.iter().any(|a| a == "--fit") {
        // Platt scaling on top of the configured one: fit logit(correct) ~ a' z + b' with
        // z = logit(confidence), then compose with the scaling that produced z.
        let lp = shiplink::pipeline::load_config(config.as_ref())?.linking;
        let (a1, b1) = fit_platt(&outcomes);
        println!(
            "Platt fit on these outcomes: slope {a1:.4} intercept {b1:.4}; composed with the \
             configured scaling: confidence_slope = {:.4}, confidence_intercept = {:.4}",
            a1 * lp.confidence_slope,
            a1 * lp.confidence_intercept + b1
        );
    }
    Ok(())
}

/// Logistic regression of correctness on logit(confidence), by Newton's method.
fn fit_platt(outcomes: &[(f64, bool)]) -> (f64, f64) {
    let data: Vec<(f64, f64)> = outcomes
        .iter()
        .filter(|(c, _)| c.is_finite())
        .map(|&(c, ok)| {
            let c = c.clamp(1e-6, 1.0 - 1e-6);
            ((c / (1.0 - c)).ln(), if ok { 1.0 } else { 0.0 })
        })
        .collect();
    let (mut a, mut b) = (1.0f64, 0.0f64);
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(z, y) in &data {
            let p = 1.0 / (1.0 + (-(a * z + b)).exp());
            let w = p * (1.0 - p);
            ga += (y - p) * z;
            gb += y - p;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a += da;
        b += db;
        if da.abs() + db.abs() < 1e-9 {
            break;
        }
    }
    (a, b)
}
