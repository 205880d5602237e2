//! The `shiplink` binary: parse the command line, call the library, print errors, pick the
//! exit code (0 all input used; 1 finished but some input was rejected; 2 fatal).

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use shiplink::Error;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let mut said = e.to_string();
            eprintln!("shiplink: error: {said}");
            // Causes the message already quotes (an I/O error's text) are not repeated.
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                let text = s.to_string();
                if !said.contains(&text) {
                    eprintln!("  caused by: {text}");
                    said = text;
                }
                src = s.source();
            }
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Ports(a) => {
            let ports = match &a.ports {
                Some(p) => shiplink::ports::read_ports(p)?,
                None => shiplink::ports::builtin(),
            };
            print!("{}", shiplink::ports::to_geojson(&ports));
            Ok(0)
        }
        Command::Simulate(a) => {
            let params = shiplink::simulate::SimParams {
                seed: a.seed,
                days: a.days,
                scale: a.scale,
                overwrite: a.overwrite,
                easier: Default::default(),
            };
            let s = shiplink::simulate::write_scenario(&a.out, &params)?;
            eprintln!(
                "shiplink: wrote {}: {} vessels, {} scenes, {} detections ({} false positives), {} truth voyages",
                a.out.display(),
                s.vessels,
                s.scenes,
                s.detections,
                s.false_positives,
                s.truth_voyages
            );
            Ok(0)
        }
        Command::Evaluate(a) => {
            let m = shiplink::evaluate::evaluate_paths(&a.truth, &a.result)?;
            if a.json {
                let text = serde_json::to_string_pretty(&m)
                    .map_err(|e| Error::Usage(format!("cannot print metrics as JSON: {e}")))?;
                println!("{text}");
            } else {
                print!("{}", shiplink::evaluate::report_text(&m));
            }
            Ok(0)
        }
        Command::Query(a) => {
            use shiplink::query;
            let filter = query::QueryFilter::from_args(
                a.near.as_deref(),
                a.within_km,
                a.bbox.as_deref(),
                a.since.as_deref(),
                a.until.as_deref(),
            )?;
            let now = chrono::Utc::now().timestamp();
            let config = shiplink::config::IngestParams::default();
            let ing = shiplink::ingest::ingest_keeping(&a.inputs, &config, now, &|o| {
                !query::query(std::slice::from_ref(o), &filter).is_empty()
            })?;
            for r in &ing.rejected {
                eprintln!("shiplink: warning: {}", query::rejection_line(r));
            }
            if ing.usable_files() == 0 {
                return Err(Error::NoInput(ing.why_unusable()));
            }
            let hits = query::query(&ing.observations, &filter);
            let text = query::to_geojson(&ing.observations, &hits);
            let mut out = std::io::stdout().lock();
            std::io::Write::write_all(&mut out, text.as_bytes())
                .and_then(|()| std::io::Write::flush(&mut out))
                .map_err(|e| Error::io("<stdout>", e))?;
            Ok(if ing.rejected.is_empty() { 0 } else { 1 })
        }
        Command::Match(a) => {
            let opts = shiplink::pipeline::MatchOptions {
                inputs: a.inputs,
                out: a.out,
                ports: a.ports,
                scenes: a.scenes,
                config: a.config,
                land: a.land,
                overwrite: a.overwrite,
                gpkg: a.format == cli::Format::Gpkg,
                quiet: a.quiet,
                verbose: a.verbose,
                now: chrono::Utc::now().timestamp(),
            };
            let outcome = shiplink::pipeline::run_match(&opts)?;
            for w in &outcome.warnings {
                eprintln!("shiplink: warning: {w}");
            }
            let c = &outcome.counts;
            if !a.quiet {
                eprintln!(
                    "shiplink: {} observations read: {} in stays, {} on voyages at sea, {} unmatched, {} rejected; {} voyages, {} stays, {} tracks",
                    c.read,
                    c.in_stays,
                    c.in_via,
                    c.unmatched,
                    c.rejected,
                    outcome.outputs.get("voyages").copied().unwrap_or(0),
                    outcome.outputs.get("stays").copied().unwrap_or(0),
                    outcome.outputs.get("tracks").copied().unwrap_or(0),
                );
            }
            if a.verbose {
                for (stage, s) in &outcome.timings {
                    let counted = outcome
                        .stage_counts
                        .iter()
                        .find(|(name, _)| name == stage)
                        .map_or(String::new(), |(_, what)| format!("  ({what})"));
                    eprintln!("shiplink: {stage:>20}: {s:8.3} s{counted}");
                }
            }
            Ok(outcome.exit_code())
        }
        Command::Route(a) => {
            use shiplink::routing::{parse_lon_lat, route_feature_geojson, Router};
            let mut params = shiplink::config::RouteParams::default();
            if let Some(c) = a.clearance_m {
                params.clearance_m = c;
            }
            let mut points = vec![parse_lon_lat(&a.from, "--from")?];
            for v in &a.via {
                points.push(parse_lon_lat(v, "--via")?);
            }
            points.push(parse_lon_lat(&a.to, "--to")?);
            let router = match &a.land {
                Some(path) => Router::from_path_covering(path, &params, &points)?,
                None => Router::builtin(&params)?,
            };
            println!("{}", route_feature_geojson(&router.route(&points)?));
            Ok(0)
        }
    }
}
