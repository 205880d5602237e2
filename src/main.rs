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
            eprintln!("shiplink: error: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                eprintln!("  caused by: {s}");
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
        Command::Match(_) | Command::Query(_) | Command::Route(_) => {
            Err(Error::Usage("not implemented yet".into()))
        }
    }
}
