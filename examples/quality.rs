//! Voyage F1 / IDF1 of `match` on simulated scenarios, per seed and on average; the
//! calibration table over all seeds. Used to tune and to report the model's quality.
//!
//! `cargo run --release --example quality -- [--seeds 1,2,3,4,5] [--days 60] [--scale 1]
//!  [--config FILE] [--work DIR]`

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
    let config = get("--config").map(PathBuf::from);
    let work = PathBuf::from(get("--work").unwrap_or_else(|| "/tmp/shiplink-quality".into()));
    std::fs::create_dir_all(&work)?;
    let mut outcomes = Vec::new();
    let (mut f1s, mut idf1s) = (Vec::new(), Vec::new());
    println!("seed  precision  recall     F1   IDF1  predicted  true(both ends)");
    for &seed in &seeds {
        let scen = work.join(format!("sim-s{seed}-d{days}-x{scale}"));
        if !scen.join("truth.json").exists() {
            write_scenario(
                &scen,
                &SimParams {
                    seed,
                    days,
                    scale,
                    overwrite: true,
                },
            )?;
        }
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
    for b in calibration_table(&outcomes, 10) {
        if b.count > 0 {
            println!(
                "  {:.1}-{:.1}  {:>5}  {:.3}  {:.3}",
                b.lo, b.hi, b.count, b.mean_confidence, b.accuracy
            );
        }
    }
    Ok(())
}
