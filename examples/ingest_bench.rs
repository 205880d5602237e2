//! Ingest throughput: reads the given files or directories once and prints seconds, MB read,
//! MB/s, observations and rejections (peak memory: run under `/usr/bin/time -v`).
//!
//! ```text
//! cargo run --release --example ingest_bench -- /tmp/ing/s100k/observations
//! ```

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        eprintln!("usage: ingest_bench PATH...");
        std::process::exit(2);
    }
    let now = chrono::Utc::now().timestamp();
    let params = shiplink::config::IngestParams::default();
    let t0 = Instant::now();
    let ing = match shiplink::ingest::ingest(&paths, &params, now) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("ingest_bench: {e}");
            std::process::exit(1);
        }
    };
    let s = t0.elapsed().as_secs_f64();
    let mb = ing.files.iter().map(|f| f.bytes).sum::<u64>() as f64 / 1e6;
    println!(
        "seconds {s:.3}  MB {mb:.1}  MB/s {:.1}  files {}  observations {}  rejected {}",
        mb / s,
        ing.files.len(),
        ing.observations.len(),
        ing.rejected.len()
    );
}
