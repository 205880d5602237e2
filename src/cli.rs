//! The command-line interface: only a description of the flags (see `main.rs` for the glue).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use shiplink::ingest::walk::walked_help;

/// Link satellite vessel detections into port stays, voyages and vessel tracks.
#[derive(Debug, Parser)]
#[command(name = "shiplink", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Link observations into stays, voyages and tracks and write the layers.
    Match(MatchArgs),
    /// Print the port zones (built-in or --ports) as GeoJSON.
    Ports(PortsArgs),
    /// Print the observations matching a place and time filter, as GeoJSON.
    Query(QueryArgs),
    /// Print a sea route between points as one GeoJSON Feature.
    Route(RouteArgs),
    /// Write a simulated Najin–Dunay scenario with ground truth.
    Simulate(SimulateArgs),
    /// Score a match result against a simulated scenario's truth.
    Evaluate(EvaluateArgs),
}

/// Output formats of `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Geojson,
    Gpkg,
}

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// Observation files or directories (help: what the walk takes in this build).
    #[arg(required = true, help = walked_help())]
    pub inputs: Vec<PathBuf>,
    /// Output folder.
    #[arg(short = 'o', long)]
    pub out: PathBuf,
    /// Port zones (GeoJSON Polygon/MultiPolygon features with port_id and name).
    #[arg(long)]
    pub ports: Option<PathBuf>,
    /// Image footprints (with observed_at, sensor, scene_id, cloud_fraction).
    #[arg(long)]
    pub scenes: Option<PathBuf>,
    /// TOML parameters.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Land polygons for sea routes (default: built-in Najin–Dunay GSHHG-f).
    #[arg(long)]
    pub land: Option<PathBuf>,
    /// Replace an existing output.
    #[arg(long)]
    pub overwrite: bool,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Geojson)]
    pub format: Format,
    /// No progress bars.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print per-stage timings and counts.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct PortsArgs {
    /// Print these ports instead of the built-in ones (checks the file).
    #[arg(long)]
    pub ports: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[arg(required = true, help = walked_help())]
    pub inputs: Vec<PathBuf>,
    /// Centre of a distance filter, LON,LAT.
    #[arg(long, value_name = "LON,LAT", requires = "within_km")]
    pub near: Option<String>,
    /// Radius of the distance filter, km.
    #[arg(long, value_name = "K", requires = "near")]
    pub within_km: Option<f64>,
    /// Bounding box W,S,E,N.
    #[arg(long, value_name = "W,S,E,N")]
    pub bbox: Option<String>,
    /// Earliest time (RFC 3339).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Latest time (RFC 3339).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct RouteArgs {
    #[arg(long, value_name = "LON,LAT")]
    pub from: String,
    #[arg(long, value_name = "LON,LAT")]
    pub to: String,
    /// Points to pass through, in order.
    #[arg(long, value_name = "LON,LAT")]
    pub via: Vec<String>,
    /// Land polygons (default: built-in Najin–Dunay GSHHG-f).
    #[arg(long)]
    pub land: Option<PathBuf>,
    /// Distance to keep from the coast where the water allows.
    #[arg(long, value_name = "M")]
    pub clearance_m: Option<f64>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[arg(short = 'o', long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    /// Multiplies the traffic (and so the detections) by about K.
    #[arg(long, value_name = "K", default_value_t = 1.0)]
    pub scale: f64,
    /// Replace an existing output.
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// truth.json written by `shiplink simulate`.
    #[arg(long)]
    pub truth: PathBuf,
    /// The result folder written by `shiplink match`.
    #[arg(long)]
    pub result: PathBuf,
    /// Print the metrics as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}
