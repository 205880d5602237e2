//! Linking: one global optimisation over all detections that decides which detection
//! follows which for the same vessel, from which port stays, voyages and tracks follow.
//!
//! Every observation is a node. A candidate edge `i -> j` (j later than i) is a hypothesis
//! "j is the next sighting of the vessel seen in i", of one of four kinds ([`LinkKind`]):
//! staying at the same berth, returning to the same port after an unseen absence,
//! a passage between two different places (port to port, port to sea, sea to port, sea to
//! sea), or a duplicate in an overlapping image minutes apart. Its weight is a
//! log-likelihood ratio (attributes under each sensor's error model, timing, distance,
//! identity; see [`cost`] and docs/linking.md). Infeasible edges (faster than the maximum
//! speed over the sea distance, longer than the maximum gap, different imo/mmsi, two
//! detections in one image, through a clear scene showing the berth empty) are never built.
//! [`assign::max_weight_successors`] then picks, globally, at most one successor and one
//! predecessor per node maximising the total weight. Each chosen link gets a probability
//! from its competitors (a soft-assignment marginal), and [`derive`] turns chains into
//! stays, voyages and tracks.

pub mod assign;
pub mod cost;
pub mod derive;

use geo::GeodesicArea;
use rayon::prelude::*;

use crate::config::Config;
use crate::evidence::EmptyBerth;
use crate::geodesy::{geodesic_m, M_PER_NM};
use crate::index::ObsIndex;
use crate::model::{Observation, Port};
use assign::Edge;

/// What a link means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LinkKind {
    /// Same vessel at the same berth (the link is inside one port stay).
    Stay,
    /// Same port, new stay: the vessel left unseen and came back.
    Return,
    /// A passage between two different places (ports or sea positions).
    Passage,
    /// The same vessel in two overlapping images minutes apart, at sea.
    Duplicate,
}

/// A candidate link with its weight (log-likelihood ratio plus prior).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub from: usize,
    pub to: usize,
    pub kind: LinkKind,
    pub weight: f64,
}

/// The chosen links.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    /// For each observation, the next observation of the same vessel.
    pub successor: Vec<Option<usize>>,
    pub predecessor: Vec<Option<usize>>,
    /// Kind, weight and probability of the link to the successor.
    pub kind: Vec<Option<LinkKind>>,
    pub weight: Vec<f64>,
    pub probability: Vec<f64>,
    /// Number of candidate edges considered.
    pub candidates: usize,
}

/// Sea distances the linker may use.
pub struct SeaDistances<'a> {
    /// `port_km[a][b]`: sea distance between the berths of ports a and b.
    pub port_km: Vec<Vec<f64>>,
    /// Sea distance between two arbitrary points (at-sea detections), km; `None` when
    /// unknown (then the geodesic distance is used).
    pub point_km: &'a (dyn Fn((f64, f64), (f64, f64)) -> Option<f64> + Sync),
}

/// Everything the linker looks at.
pub struct LinkInput<'a> {
    pub obs: &'a [Observation],
    /// Port of each observation (index into `ports`), `None` at sea.
    pub port_of: &'a [Option<usize>],
    pub ports: &'a [Port],
    pub index: &'a ObsIndex,
    pub empty: &'a EmptyBerth,
    pub sea: &'a SeaDistances<'a>,
    pub config: &'a Config,
}

/// Mean unseen dwell at each end of a passage (image cadence and clouds), seconds.
const DWELL_S: f64 = 1.5 * 86_400.0;
/// Typical sailing speed, knots.
const TYPICAL_SPEED_KN: f64 = 10.0;
/// Mean length of a port stay, seconds.
const STAY_MEAN_S: f64 = 2.5 * 86_400.0;
/// Position error of a detection centre at a berth (1-sigma, metres, per axis).
const BERTH_POSITION_SIGMA_M: f64 = 45.0;
/// Position uncertainty allowed when checking speeds, metres.
const POSITION_SLACK_M: f64 = 500.0;
/// Prior log-odds of a return to the same port after an unseen trip.
const RETURN_PRIOR: f64 = -2.5;
/// Longest unseen absence a return link may bridge, seconds.
const RETURN_WINDOW_S: i64 = 12 * 86_400;
/// Candidates kept per node and kind (the best by weight).
const MAX_CANDIDATES: usize = 8;

fn same_image(a: &Observation, b: &Observation) -> bool {
    match (&a.scene_id, &b.scene_id) {
        (Some(x), Some(y)) => x == y,
        _ => {
            a.sensor == b.sensor
                && (a.observed_at - b.observed_at).abs() <= 120
                && a.source_file == b.source_file
        }
    }
}

/// Builds candidate edges, solves the global assignment, and scores the chosen links.
pub fn link(input: &LinkInput) -> Links {
    let n = input.obs.len();
    let cands = candidates(input);
    let edges: Vec<Edge> = cands
        .iter()
        .map(|c| Edge {
            from: c.from,
            to: c.to,
            weight: c.weight,
        })
        .collect();
    let successor = assign::max_weight_successors(n, &edges);

    // Soft-assignment marginals: p(i->j) = e^w / (1 + sum_k e^w(i,k) + sum_{k != i} e^w(k,j)).
    // A competitor that skips a detection known (same imo/mmsi) to be the same vessel is
    // no alternative: i -> k with k after j and k the same vessel as j, or k -> j with k
    // before i and k the same vessel as i, would leave that vessel's own sighting out of
    // its chain. Counting them cut true links between detections sharing an imo.
    let obs = input.obs;
    let before =
        |a: usize, b: usize| (obs[a].observed_at, &obs[a].id) < (obs[b].observed_at, &obs[b].id);
    let same = |a: usize, b: usize| cost::identity(&obs[a], &obs[b]) == cost::Identity::Same;
    let exp_w = |c: &Candidate| c.weight.min(50.0).exp();
    let mut links = Links {
        successor: successor.clone(),
        predecessor: vec![None; n],
        kind: vec![None; n],
        weight: vec![0.0; n],
        probability: vec![0.0; n],
        candidates: cands.len(),
    };
    // Best candidate per (from, to) pair (there is one per pair by construction).
    let mut by_from: Vec<Vec<&Candidate>> = vec![Vec::new(); n];
    let mut by_to: Vec<Vec<&Candidate>> = vec![Vec::new(); n];
    for c in cands.iter().filter(|c| c.weight.is_finite()) {
        by_from[c.from].push(c);
        by_to[c.to].push(c);
    }
    for i in 0..n {
        if let Some(j) = successor[i] {
            links.predecessor[j] = Some(i);
            if let Some(c) = by_from[i].iter().find(|c| c.to == j) {
                let e = exp_w(c);
                let out: f64 = by_from[i]
                    .iter()
                    .filter(|k| k.to != j && !(before(j, k.to) && same(j, k.to)))
                    .map(|k| exp_w(k))
                    .sum();
                let inn: f64 = by_to[j]
                    .iter()
                    .filter(|k| k.from != i && !(before(k.from, i) && same(k.from, i)))
                    .map(|k| exp_w(k))
                    .sum();
                let denom = 1.0 + e + out + inn;
                links.kind[i] = Some(c.kind);
                links.weight[i] = c.weight;
                links.probability[i] = (e / denom).clamp(0.0, 1.0);
            }
        }
    }
    // Cut links the model itself finds improbable.
    let min_p = input.config.linking.min_link_probability;
    for i in 0..n {
        if let Some(j) = links.successor[i] {
            if links.probability[i] < min_p {
                links.successor[i] = None;
                links.predecessor[j] = None;
                links.kind[i] = None;
                links.weight[i] = 0.0;
                links.probability[i] = 0.0;
            }
        }
    }
    links
}

/// All feasible candidate edges with positive weight, sorted by (from, to).
pub fn candidates(input: &LinkInput) -> Vec<Candidate> {
    let obs = input.obs;
    let n = obs.len();
    let cfg = input.config;
    // Time order, and per-port / at-sea lists in time order.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| (obs[a].observed_at, &obs[a].id).cmp(&(obs[b].observed_at, &obs[b].id)));
    let mut rank = vec![0usize; n];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let mut by_port: Vec<Vec<usize>> = vec![Vec::new(); input.ports.len()];
    let mut at_sea: Vec<usize> = Vec::new();
    for &i in &order {
        match input.port_of[i] {
            Some(p) => by_port[p].push(i),
            None => at_sea.push(i),
        }
    }
    let port_area_m2: Vec<f64> = input
        .ports
        .iter()
        .map(|p| p.zone.geodesic_area_unsigned().clamp(1e5, 1e9))
        .collect();

    let max_kn = cfg.linking.max_speed_kn;
    let min_kn = cfg.linking.min_speed_kn;
    let max_gap_s = (cfg.linking.max_gap_days * 86_400.0) as i64;
    let stay_gap_s = (cfg.stays.max_gap_hours * 3600.0) as i64;
    let window_s = max_gap_s.max(stay_gap_s);
    let prior = cfg.linking.prior_log_odds;

    let later = |i: usize, j: usize| rank[j] > rank[i];
    let slice_after = |list: &[usize], t0: i64| -> std::ops::Range<usize> {
        let lo = list.partition_point(|&k| obs[k].observed_at < t0);
        let hi = list.partition_point(|&k| obs[k].observed_at <= t0 + window_s);
        lo..hi
    };
    // Timing LLR of a passage of `dist_m` taking `dt_s`; None when infeasible.
    let passage_time_llr = |dist_m: f64, dt_s: f64, both_at_sea: bool| -> Option<f64> {
        let fast_s = (dist_m - POSITION_SLACK_M).max(0.0) / (max_kn * M_PER_NM) * 3600.0;
        if dt_s < fast_s || dt_s > max_gap_s as f64 {
            return None;
        }
        if both_at_sea && dt_s > 3600.0 {
            let slow_s = (dist_m + POSITION_SLACK_M) / (min_kn * M_PER_NM) * 3600.0;
            if dt_s > slow_s {
                return None;
            }
        }
        let typical_s = dist_m / (TYPICAL_SPEED_KN * M_PER_NM) * 3600.0;
        let excess = (dt_s - typical_s).max(0.0);
        let w = max_gap_s as f64;
        let theta = if both_at_sea { DWELL_S / 4.0 } else { DWELL_S };
        Some((w / theta).ln() - excess / theta)
    };

    let per_node: Vec<Vec<Candidate>> = order
        .par_iter()
        .map(|&i| {
            let a = &obs[i];
            let mut stay_c: Vec<Candidate> = Vec::new();
            let mut ret_c: Vec<Candidate> = Vec::new();
            let mut pass_c: Vec<Candidate> = Vec::new();
            let t0 = a.observed_at;
            let push = |v: &mut Vec<Candidate>, j: usize, kind: LinkKind, w: f64| {
                if w.is_finite() && w > 0.0 {
                    v.push(Candidate {
                        from: i,
                        to: j,
                        kind,
                        weight: w,
                    });
                }
            };
            match input.port_of[i] {
                Some(p) => {
                    // Same port: stay at the berth, or return after an unseen trip.
                    let list = &by_port[p];
                    let empty_after = input.empty.after.get(i).copied().flatten();
                    let staying = |b: &Observation| {
                        let dt = b.observed_at - t0;
                        dt <= stay_gap_s && empty_after.is_none_or(|te| te >= b.observed_at)
                    };
                    // Staying at the berth: candidates from the R-tree within the berth radius.
                    for j in input.index.within_m(a.lon, a.lat, cfg.stays.berth_radius_m) {
                        let b = &obs[j];
                        if !later(i, j)
                            || input.port_of[j] != Some(p)
                            || same_image(a, b)
                            || !staying(b)
                        {
                            continue;
                        }
                        let dt = (b.observed_at - t0) as f64;
                        let d = geodesic_m((a.lon, a.lat), (b.lon, b.lat));
                        let Some(attr) = cost::attribute_llr(a, b, &cfg.sensors, false) else {
                            continue;
                        };
                        let s2 = 2.0 * BERTH_POSITION_SIGMA_M.powi(2);
                        let pos = (port_area_m2[p] / (std::f64::consts::PI * s2)).ln() - d * d / s2;
                        let time = (stay_gap_s as f64 / STAY_MEAN_S).ln() - dt / STAY_MEAN_S;
                        push(&mut stay_c, j, LinkKind::Stay, attr + pos + time);
                    }
                    // Returning to the port after an unseen trip: a new stay.
                    for &j in &list[slice_after(list, t0)] {
                        let b = &obs[j];
                        if !later(i, j) || same_image(a, b) {
                            continue;
                        }
                        let dt = (b.observed_at - t0) as f64;
                        let d = geodesic_m((a.lon, a.lat), (b.lon, b.lat));
                        if d <= cfg.stays.berth_radius_m && staying(b) {
                            continue; // a stay candidate above
                        }
                        if (b.observed_at - t0) <= RETURN_WINDOW_S && dt > 3600.0 {
                            let Some(attr) = cost::attribute_llr(a, b, &cfg.sensors, false) else {
                                continue;
                            };
                            push(&mut ret_c, j, LinkKind::Return, attr + RETURN_PRIOR);
                        }
                    }
                    // Other ports.
                    for (q, list) in by_port.iter().enumerate() {
                        if q == p {
                            continue;
                        }
                        let dist_m = input.sea.port_km[p][q] * 1000.0;
                        if !dist_m.is_finite() {
                            continue;
                        }
                        for &j in &list[slice_after(list, t0)] {
                            if !later(i, j) {
                                continue; // same time: only forward in (time, id), no cycles
                            }
                            let b = &obs[j];
                            let dt = (b.observed_at - t0) as f64;
                            let Some(time) = passage_time_llr(dist_m, dt, false) else {
                                continue;
                            };
                            let Some(attr) = cost::attribute_llr(a, b, &cfg.sensors, true) else {
                                continue;
                            };
                            push(&mut pass_c, j, LinkKind::Passage, attr + time + prior);
                        }
                    }
                }
                None => {
                    // At sea: to later ports.
                    for list in by_port.iter() {
                        for &j in &list[slice_after(list, t0)] {
                            if !later(i, j) {
                                continue; // same time: only forward in (time, id), no cycles
                            }
                            let b = &obs[j];
                            let dist_m = sea_m(input, a, b);
                            let dt = (b.observed_at - t0) as f64;
                            let Some(time) = passage_time_llr(dist_m, dt, false) else {
                                continue;
                            };
                            let Some(attr) = cost::attribute_llr(a, b, &cfg.sensors, true) else {
                                continue;
                            };
                            push(&mut pass_c, j, LinkKind::Passage, attr + time + prior);
                        }
                    }
                }
            }
            // To later at-sea detections (from a port or from sea).
            for &j in &at_sea[slice_after(&at_sea, t0)] {
                if !later(i, j) || same_image(a, &obs[j]) {
                    continue;
                }
                let b = &obs[j];
                let dt = (b.observed_at - t0) as f64;
                let geo_m = geodesic_m((a.lon, a.lat), (b.lon, b.lat));
                let dup = input.port_of[i].is_none()
                    && dt <= cfg.stays.duplicate_window_s as f64
                    && geo_m <= cfg.stays.duplicate_radius_m;
                let Some(attr) = cost::attribute_llr(a, b, &cfg.sensors, true) else {
                    continue;
                };
                if dup {
                    push(&mut pass_c, j, LinkKind::Duplicate, attr + 6.0);
                    continue;
                }
                let dist_m = sea_m(input, a, b);
                let Some(time) = passage_time_llr(dist_m, dt, input.port_of[i].is_none()) else {
                    continue;
                };
                push(&mut pass_c, j, LinkKind::Passage, attr + time + prior);
            }
            let mut out = Vec::new();
            for mut v in [stay_c, ret_c, pass_c] {
                v.sort_by(|x, y| y.weight.total_cmp(&x.weight).then(x.to.cmp(&y.to)));
                v.truncate(MAX_CANDIDATES);
                out.extend(v);
            }
            out
        })
        .collect();
    let mut all: Vec<Candidate> = per_node.into_iter().flatten().collect();
    all.sort_by_key(|c| (c.from, c.to));
    all
}

/// Sea distance between two detections, metres (router where it knows, else geodesic).
fn sea_m(input: &LinkInput, a: &Observation, b: &Observation) -> f64 {
    let (pa, pb) = ((a.lon, a.lat), (b.lon, b.lat));
    (input.sea.point_km)(pa, pb)
        .map(|km| km * 1000.0)
        .unwrap_or_else(|| geodesic_m(pa, pb))
}
