//! Routing benchmark: graph build time, median time per route over random water pairs, and
//! the Najin→Dunay berth-to-berth length.
//!
//! `cargo run --release --example route_bench [-- PAIRS]` (default 1000 pairs, seed 7).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shiplink::config::RouteParams;
use shiplink::routing::Router;

/// Seed of the random water pairs.
const SEED: u64 = 7;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pairs: usize = std::env::args().nth(1).map_or(Ok(1000), |s| s.parse())?;
    let params = RouteParams::default();
    let t = Instant::now();
    let router = Router::builtin(&params)?;
    let build_s = t.elapsed().as_secs_f64();
    let (nodes, edges) = router.graph_size();
    println!("graph build: {build_s:.3} s ({nodes} nodes, {edges} edges)");
    println!("graph digest: {}", router.graph_digest());

    let t = Instant::now();
    let r = router.route(&[(130.3000, 42.2360), (132.3545, 42.9045)])?;
    println!(
        "najin->dunay: {:.3} km, {} vertices, snapped {:.1}/{:.1} m, {:.2} ms",
        r.km,
        r.coords.len(),
        r.snapped_from_m,
        r.snapped_to_m,
        t.elapsed().as_secs_f64() * 1e3
    );

    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let e = router.extent();
    for near_coast_m in [f64::INFINITY, 3000.0] {
        bench(&router, &mut rng, e, pairs, near_coast_m);
    }
    Ok(())
}

/// Times `pairs` routes between random sea points (within `near_coast_m` of the coast).
fn bench(router: &Router, rng: &mut ChaCha8Rng, e: [f64; 4], pairs: usize, near_coast_m: f64) {
    let mut sea = || loop {
        let p = (rng.gen_range(e[0]..e[2]), rng.gen_range(e[1]..e[3]));
        if router.is_sea(p.0, p.1) && router.coast_distance_m(p.0, p.1) <= near_coast_m {
            return p;
        }
    };
    let mut times_ms = Vec::with_capacity(pairs);
    let (mut failed, mut crossing) = (0, 0);
    let mut sum_km = 0.0;
    for _ in 0..pairs {
        let (a, b) = (sea(), sea());
        let t = Instant::now();
        let res = router.route(&[a, b]);
        times_ms.push(t.elapsed().as_secs_f64() * 1e3);
        match res {
            Ok(r) => {
                sum_km += r.km;
                crossing += usize::from(router.land_crossings(&r.coords) > 0);
            }
            Err(err) => {
                failed += 1;
                eprintln!("{err}");
            }
        }
    }
    times_ms.sort_by(f64::total_cmp);
    let q = |f: f64| {
        times_ms
            .get(((times_ms.len() as f64 - 1.0) * f) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "{pairs} random sea pairs within {near_coast_m} m of the coast: median {:.2} ms, p90 {:.2} ms, max {:.2} ms; {failed} failed, {crossing} crossing land; sum of lengths {sum_km:.6} km",
        q(0.5),
        q(0.9),
        q(1.0)
    );
}
