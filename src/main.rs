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
            };
            shiplink::simulate::write_scenario(&a.out, &params)?;
            Ok(0)
        }
        Command::Evaluate(a) => {
            let m = shiplink::evaluate::evaluate_paths(&a.truth, &a.result)?;
            println!("{m:?}");
            Ok(0)
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
                Some(path) => Router::from_path(path, &params)?,
                None => Router::builtin(&params)?,
            };
            println!("{}", route_feature_geojson(&router.route(&points)?));
            Ok(0)
        }
        Command::Match(_) | Command::Query(_) => Err(Error::Usage("not implemented yet".into())),
    }
}
