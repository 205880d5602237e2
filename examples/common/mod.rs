//! What the tuning examples share (`mod common;` in each): a simulated scenario solved as
//! `match` solves it, labelled by its truth; its stage-2 candidates; and a small dense
//! linear solve for their fits.

// Each example uses part of this module; small dense linear algebra reads best with
// index loops.
#![allow(dead_code, clippy::needless_range_loop)]

use std::collections::BTreeMap;
use std::path::Path;

use shiplink::config::{Config, IngestParams};
use shiplink::linking::{Candidate, LinkInput, Node, SeaDistances};
use shiplink::model::{Stay, Time};
use shiplink::pipeline::{solve, Results};
use shiplink::simulate::truth::Truth;

/// A scenario from `shiplink simulate`, solved, with its stays summarised.
pub struct Solved {
    pub truth: Truth,
    pub res: Results,
    pub stays: Vec<Stay>,
    /// Geodesic distances between the ports' berths (no sea routing).
    pub sea: SeaDistances<'static>,
}

/// Reads and solves the scenario in `dir` under `config`.
pub fn solve_scenario(dir: &Path, config: &Config) -> Result<Solved, Box<dyn std::error::Error>> {
    let truth: Truth = serde_json::from_slice(&std::fs::read(dir.join("truth.json"))?)?;
    let ing = shiplink::ingest::ingest(
        &[dir.join("observations")],
        &IngestParams::default(),
        4_000_000_000,
    )?;
    let (scenes, _) = shiplink::ingest::read_scenes(&dir.join("scenes.geojson"))?;
    let res = solve(ing, shiplink::ports::builtin(), &scenes, config, None);
    let lk = &res.linked;
    let stays = (0..lk.stays.len())
        .map(|s| lk.stay(s, &res.observations, &res.ports, &res.empty))
        .collect();
    let port_km = shiplink::pipeline::port_distances(&res.ports, None, &mut Vec::new());
    Ok(Solved {
        truth,
        res,
        stays,
        sea: SeaDistances {
            port_km,
            point_km: None,
        },
    })
}

impl Solved {
    /// The linker's input, as `solve` gave it.
    pub fn input<'a>(&'a self, config: &'a Config) -> LinkInput<'a> {
        LinkInput {
            obs: &self.res.observations,
            port_of: &self.res.port_of,
            ports: &self.res.ports,
            empty: &self.res.empty,
            sea: &self.sea,
            config,
        }
    }

    /// The stage-2 candidates over the solved stays and at-sea nodes.
    pub fn track_candidates(&self, config: &Config) -> Vec<Candidate> {
        let lk = &self.res.linked;
        shiplink::linking::track_candidates(
            &self.input(config),
            &self.stays,
            &lk.stay_port,
            &lk.nodes,
        )
    }

    /// When a stage-2 node was first seen.
    pub fn first_seen(&self, k: usize) -> Time {
        match self.res.linked.nodes[k] {
            Node::Stay(s) => self.stays[s].first_seen,
            Node::Sea(i) => self.res.observations[i].observed_at,
        }
    }

    /// Each stage-2 node's vessel by truth (the majority of its detections'; `None`: a
    /// false alarm), and whether all its detections are of that one.
    pub fn node_vessels(&self) -> Vec<(Option<String>, bool)> {
        let obs = &self.res.observations;
        let vessel = |i: usize| self.truth.observations.get(&obs[i].id).cloned().flatten();
        self.res
            .linked
            .nodes
            .iter()
            .map(|node| match *node {
                Node::Sea(i) => (vessel(i), true),
                Node::Stay(s) => {
                    let mut c: BTreeMap<Option<String>, usize> = BTreeMap::new();
                    for &i in &self.stays[s].observations {
                        *c.entry(vessel(i)).or_default() += 1;
                    }
                    let pure = c.len() == 1;
                    let top = c.into_iter().max_by_key(|x| x.1).and_then(|x| x.0);
                    (top, pure)
                }
            })
            .collect()
    }

    /// Each true vessel's nodes (by [`Solved::node_vessels`]) in time order.
    pub fn true_sequences(
        &self,
        vessels: &[(Option<String>, bool)],
    ) -> BTreeMap<String, Vec<usize>> {
        let mut by_vessel: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (k, (v, _)) in vessels.iter().enumerate() {
            if let Some(v) = v {
                by_vessel.entry(v.clone()).or_default().push(k);
            }
        }
        for list in by_vessel.values_mut() {
            list.sort_by_key(|&k| (self.first_seen(k), k));
        }
        by_vessel
    }
}

/// Solves `m x = v` by Gaussian elimination with partial pivoting; a singular direction
/// is left at 0.
pub fn solve_linear<const D: usize>(mut m: [[f64; D]; D], mut v: [f64; D]) -> [f64; D] {
    for c in 0..D {
        let p = (c..D)
            .max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))
            .unwrap_or(c);
        m.swap(c, p);
        v.swap(c, p);
        if m[c][c].abs() < 1e-12 {
            continue;
        }
        for r in 0..D {
            if r != c {
                let f = m[r][c] / m[c][c];
                for k in c..D {
                    m[r][k] -= f * m[c][k];
                }
                v[r] -= f * v[c];
            }
        }
    }
    std::array::from_fn(|i| {
        if m[i][i].abs() >= 1e-12 {
            v[i] / m[i][i]
        } else {
            0.0
        }
    })
}
