//! Are the stage-2 link weights calibrated? A tuning aid on simulated scenarios.
//!
//! For each node, its candidate links (what `match` scores) and "no link" form a choice:
//! under the model, the chance that the true next node is candidate `j` is
//! `e^(w_j) / (1 + Σ e^(w_k))`, "no link" (or a next node that is not a candidate) weighing
//! `e^0`. Each weight is split into its terms (`shiplink::linking::candidate_terms`); this
//! fits a scale for each term and an offset for each kind of link (a conditional logit,
//! Newton's method) on the scenarios before `--test`, and reports the log-likelihood of
//! the weights as they are (every scale 1, every offset 0) and as fitted, there and on the
//! scenarios after `--test`. A scale far from 1 says the term is over- or under-trusted.
//! With `SIDE=in` each node chooses its predecessor instead; `SIDE=both` adds the two.
//! It also prints each term summed over the links `match` chose and over truth's (those
//! that are candidates), on the fitted scenarios.
//!
//! What it found (docs/linking.md, "Are the weights calibrated?"): pairwise, the attribute
//! terms look over-trusted and the detector term under-trusted; yet scaling them so (tried
//! with a `linking.term_scales` setting in commit 14b9d61, since taken out) lowers voyage
//! F1, alone or together.
//!
//! `cargo run --release --example fit_weights -- SCENARIO... [--test SCENARIO...]`
//! (scenarios from `shiplink simulate`; `cargo run --release --example quality -- --work W`
//! leaves them in `W/sim-*`).

// Small dense linear algebra reads best with index loops.
#![allow(clippy::needless_range_loop)]

mod common;

use std::path::{Path, PathBuf};

use common::solve_linear;
use shiplink::linking::LinkKind;
use shiplink::pipeline::load_config;

const NAMES: [&str; 12] = [
    "length",
    "beam",
    "class",
    "colour",
    "containers",
    "identity",
    "clamp",
    "detector",
    "rest (timing, priors, rates)",
    "offset: return",
    "offset: port to port",
    "offset: at sea",
];
const D: usize = NAMES.len();
/// Terms whose weight now is 1 (the rest are offsets, now 0).
const SCALES: usize = 9;

type X = [f64; D];

/// Per-term sums over the links `match` chose (`[0]`) and over truth's (`[1]`).
type Sums = [[f64; D]; 2];

/// One choice: the alternatives' features and which was taken (None: "no link").
struct Group {
    alts: Vec<X>,
    y: Option<usize>,
}

fn features(t: &shiplink::linking::CandidateTerms, kind: LinkKind) -> X {
    let mut x = [0.0; D];
    for (name, v) in &t.attr {
        let i = match *name {
            "length" => 0,
            "beam" => 1,
            "class" => 2,
            "colour" => 3,
            "containers" => 4,
            _ => 5,
        };
        x[i] += v;
    }
    x[6] = t.clamp;
    x[7] = t.real;
    x[8] = t.rest;
    let offset = match kind {
        LinkKind::Return => 9,
        _ if t.from_port && t.to_port => 10,
        _ => 11,
    };
    x[offset] = 1.0;
    x
}

/// The choices of the scenario in `dir` (each node's successor, predecessor or both, by
/// `side`), and the per-term sums of its chosen and true links.
fn groups_of(dir: &Path, side: &str) -> Result<(Vec<Group>, Sums), Box<dyn std::error::Error>> {
    let config = load_config(None)?;
    let sc = common::solve_scenario(dir, &config)?;
    let lk = &sc.res.linked;
    let n = lk.nodes.len();
    let (mut next, mut prev) = (vec![None; n], vec![None; n]);
    for list in sc.true_sequences(&sc.node_vessels()).values() {
        for w in list.windows(2) {
            next[w[0]] = Some(w[1]);
            prev[w[1]] = Some(w[0]);
        }
    }
    let cands = sc.track_candidates(&config);
    let terms = shiplink::linking::candidate_terms(
        &sc.input(&config),
        &sc.stays,
        &lk.stay_port,
        &lk.nodes,
        &cands,
    );
    // Per-term sums over the chosen links and over truth's (those that are candidates).
    let index: std::collections::HashMap<(usize, usize), usize> = cands
        .iter()
        .enumerate()
        .map(|(j, c)| ((c.from, c.to), j))
        .collect();
    let mut sums = [[0.0; D]; 2];
    for k in 0..n {
        for (row, to) in [(0, lk.links.successor[k]), (1, next[k])] {
            if let Some(j) = to.and_then(|v| index.get(&(k, v))) {
                let x = features(&terms[*j], cands[*j].kind);
                for i in 0..D {
                    sums[row][i] += x[i];
                }
            }
        }
    }
    let mut out = Vec::new();
    for (in_side, truth_of) in [(false, &next), (true, &prev)] {
        if side != "both" && (side == "in") != in_side {
            continue;
        }
        let mut by_node: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (j, c) in cands.iter().enumerate() {
            by_node[if in_side { c.to } else { c.from }].push(j);
        }
        for (k, list) in by_node.iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            let other = |c: &shiplink::linking::Candidate| if in_side { c.from } else { c.to };
            let y = list
                .iter()
                .position(|&j| Some(other(&cands[j])) == truth_of[k]);
            out.push(Group {
                alts: list
                    .iter()
                    .map(|&j| features(&terms[j], cands[j].kind))
                    .collect(),
                y,
            });
        }
    }
    Ok((out, sums))
}

fn dot(a: &X, b: &X) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Log-likelihood, gradient and Hessian of the groups at `beta`.
fn evaluate(groups: &[Group], beta: &X) -> (f64, X, [[f64; D]; D]) {
    let mut ll = 0.0;
    let mut g = [0.0; D];
    let mut h = [[0.0; D]; D];
    for gr in groups {
        let u: Vec<f64> = gr.alts.iter().map(|x| dot(x, beta)).collect();
        let m = u.iter().fold(0.0f64, |m, &v| m.max(v));
        let z: f64 = (-m).exp() + u.iter().map(|v| (v - m).exp()).sum::<f64>();
        let lz = m + z.ln();
        ll += gr.y.map_or(0.0, |j| u[j]) - lz;
        let p: Vec<f64> = u.iter().map(|v| (v - lz).exp()).collect();
        let mut mean = [0.0; D];
        for (x, &pj) in gr.alts.iter().zip(&p) {
            for i in 0..D {
                mean[i] += pj * x[i];
            }
        }
        if let Some(j) = gr.y {
            for i in 0..D {
                g[i] += gr.alts[j][i];
            }
        }
        for i in 0..D {
            g[i] -= mean[i];
        }
        for (x, &pj) in gr.alts.iter().zip(&p) {
            for a in 0..D {
                for b in 0..D {
                    h[a][b] -= pj * x[a] * x[b];
                }
            }
        }
        for a in 0..D {
            for b in 0..D {
                h[a][b] += mean[a] * mean[b];
            }
        }
    }
    (ll, g, h)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args
        .iter()
        .position(|a| a == "--test")
        .unwrap_or(args.len());
    let side = std::env::var("SIDE").unwrap_or_else(|_| "out".into());
    let load = |dirs: &[String]| -> Result<(Vec<Group>, Sums), Box<dyn std::error::Error>> {
        let mut all = Vec::new();
        let mut sums = [[0.0; D]; 2];
        for d in dirs {
            let (groups, s) = groups_of(&PathBuf::from(d), &side)?;
            all.extend(groups);
            for r in 0..2 {
                for i in 0..D {
                    sums[r][i] += s[r][i];
                }
            }
        }
        Ok((all, sums))
    };
    let (fit, s) = load(&args[..split])?;
    println!("per-term sums over the fitted scenarios' links (candidates only):");
    println!(
        "{:<30} {:>10} {:>10} {:>10}",
        "term", "chosen", "truth", "difference"
    );
    for i in 0..D {
        println!(
            "{:<30} {:>10.1} {:>10.1} {:>+10.1}",
            NAMES[i],
            s[0][i],
            s[1][i],
            s[1][i] - s[0][i]
        );
    }
    let (test, _) = load(args.get(split + 1..).unwrap_or(&[]))?;
    let now: X = std::array::from_fn(|i| if i < SCALES { 1.0 } else { 0.0 });
    // A weak ridge toward the weights as they are, so terms the data never sees stay put.
    let ridge = 1e-3 * fit.len() as f64;
    // Terms held at 1: identity (imo, mmsi and names) separates perfectly, and clamping
    // never acts on these scenarios; `FREEZE=identity,clamp,beam` holds others too.
    let freeze = std::env::var("FREEZE").unwrap_or_else(|_| "identity,clamp".into());
    let frozen = |i: usize| {
        freeze
            .split(',')
            .any(|n| !n.is_empty() && NAMES[i].starts_with(n))
    };
    let penalty = |b: &X| 0.5 * ridge * (0..D).map(|i| (b[i] - now[i]).powi(2)).sum::<f64>();
    let mut beta = now;
    for _ in 0..100 {
        let (ll, mut g, mut h) = evaluate(&fit, &beta);
        for i in 0..D {
            g[i] -= ridge * (beta[i] - now[i]);
            h[i][i] -= ridge;
            if frozen(i) {
                g[i] = 0.0;
                for k in 0..D {
                    h[i][k] = 0.0;
                    h[k][i] = 0.0;
                }
                h[i][i] = -1.0;
            }
        }
        let neg: [[f64; D]; D] = std::array::from_fn(|a| std::array::from_fn(|b| -h[a][b]));
        let step = solve_linear(neg, g);
        // Halve the step until the penalised likelihood does not fall.
        let base = ll - penalty(&beta);
        let mut f = 1.0;
        let mut next = beta;
        while f > 1e-6 {
            next = std::array::from_fn(|i| beta[i] + f * step[i]);
            if evaluate(&fit, &next).0 - penalty(&next) >= base - 1e-9 {
                break;
            }
            f /= 2.0;
        }
        let moved = (0..D)
            .map(|i| (next[i] - beta[i]).abs())
            .fold(0.0, f64::max);
        beta = next;
        if moved < 1e-8 {
            break;
        }
    }
    let (_, _, h) = evaluate(&fit, &beta);
    let nonzero = |gs: &[Group], i: usize| {
        gs.iter()
            .flat_map(|g| &g.alts)
            .filter(|x| x[i] != 0.0)
            .count()
    };
    println!(
        "side {side}: {} choices fitted ({} with a candidate taken), {} held out",
        fit.len(),
        fit.iter().filter(|g| g.y.is_some()).count(),
        test.len()
    );
    println!("{:<30} {:>8} {:>8} {:>9}", "term", "now", "fitted", "pairs");
    // Standard errors from the inverse of the Hessian, the frozen terms left out.
    let neg: [[f64; D]; D] = std::array::from_fn(|a| {
        std::array::from_fn(|b| match (frozen(a), frozen(b)) {
            (false, false) => -h[a][b],
            _ => f64::from(u8::from(a == b)),
        })
    });
    for i in 0..D {
        let e: X = std::array::from_fn(|k| if k == i { 1.0 } else { 0.0 });
        let se = if frozen(i) {
            "(held)".to_string()
        } else {
            format!("±{:.2}", solve_linear(neg, e)[i].max(0.0).sqrt())
        };
        println!(
            "{:<30} {:>8.2} {:>8.2} {:<7} {:>8}",
            NAMES[i],
            now[i],
            beta[i],
            se,
            nonzero(&fit, i)
        );
    }
    let per = |gs: &[Group], b: &X| evaluate(gs, b).0 / gs.len().max(1) as f64;
    println!(
        "log-likelihood per choice: fitted set {:.4} now, {:.4} fitted",
        per(&fit, &now),
        per(&fit, &beta)
    );
    if !test.is_empty() {
        println!(
            "                           held out   {:.4} now, {:.4} fitted",
            per(&test, &now),
            per(&test, &beta)
        );
    }
    Ok(())
}
