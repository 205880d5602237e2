//! Linking, in two global optimisations.
//!
//! 1. **Stays** ([`stay_candidates`]): every detection in a port is a node; a candidate link
//!    `i -> j` says "j is the next sighting of the vessel seen in i, still at the same berth"
//!    (within `berth_radius_m` and `max_gap_hours`, no clear scene between them showing the
//!    berth empty, not in the same image, no contradicting imo/mmsi). Runs of chosen links
//!    are port stays.
//! 2. **Voyages and tracks** ([`track_candidates`]): every stay and every at-sea detection
//!    is a node; a candidate link says "v is where the vessel of u was seen next": a passage
//!    to another port or across the sea, or a return to the same port after an unseen trip.
//!    Stays are compared on all their detections at once (precision-weighted lengths, voted
//!    colours and classes, the deck load at departure against the one at arrival), and their
//!    timing on the stay ends and the clear scenes that showed the berths empty.
//!
//! In both, a link's weight is a log-likelihood ratio (see [`cost`] and docs/linking.md);
//! infeasible links (faster than `max_speed_kn` over the sea distance, longer than the
//! maximum gap, different imo/mmsi) are never built, and
//! [`assign::max_weight_successors`] picks, globally, at most one successor and one
//! predecessor per node maximising the total weight. Each chosen link gets a probability from
//! its competitors (a soft-assignment marginal); [`derive::derive`] turns the chains into
//! stays, voyages and tracks.

pub mod assign;
pub mod berths;
pub mod cost;
pub mod derive;
mod identity;
pub mod refine;
mod search;
mod stitch;
mod swap;

use std::cell::Cell;
use std::collections::HashMap;

use geo::GeodesicArea;
use rayon::prelude::*;

use crate::config::{Config, SensorModels};
use crate::evidence::EmptyBerth;
use crate::geodesy::{ecef_chord_m, geodesic_m, local_m, m_for_chord, to_ecef_m, M_PER_NM};
use crate::model::{Observation, Port, Stay, Time, VesselClass};
use assign::Edge;
use cost::Attrs;
use identity::{ChainNode, IdentityTimes, LinkEnd};

/// A hash map for the hot lookups of refinement and the swaps (millions a pass over long
/// tracks): foldhash instead of SipHash, with a fixed seed so that runs are alike. Never
/// iterated where order would reach an output.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

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
    /// Two whole tracks of one vessel joined across an unseen gap (`stitch.rs`): no voyage
    /// is made across it, since what the vessel did in between is unknown.
    Gap,
}

impl LinkKind {
    /// The kind as the links layer names it.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Stay => "stay",
            LinkKind::Return => "return",
            LinkKind::Passage => "passage",
            LinkKind::Duplicate => "duplicate",
            LinkKind::Gap => "gap",
        }
    }
}

/// A candidate link with its weight (log-likelihood ratio plus prior).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub from: usize,
    pub to: usize,
    pub kind: LinkKind,
    pub weight: f64,
}

/// The chosen links over some node set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    /// For each node, the next node of the same vessel.
    pub successor: Vec<Option<usize>>,
    pub predecessor: Vec<Option<usize>>,
    /// Kind, weight and probability of the link to the successor.
    pub kind: Vec<Option<LinkKind>>,
    pub weight: Vec<f64>,
    pub probability: Vec<f64>,
    /// Number of candidate links considered.
    pub candidates: usize,
}

impl Links {
    /// No links between `n` nodes, after `candidates` candidate links were considered.
    pub fn none(n: usize, candidates: usize) -> Links {
        Links {
            successor: vec![None; n],
            predecessor: vec![None; n],
            kind: vec![None; n],
            weight: vec![0.0; n],
            probability: vec![0.0; n],
            candidates,
        }
    }

    /// Links `a → b`.
    pub fn set(&mut self, a: usize, b: usize, kind: LinkKind, weight: f64, probability: f64) {
        self.successor[a] = Some(b);
        self.predecessor[b] = Some(a);
        self.kind[a] = Some(kind);
        self.weight[a] = weight;
        self.probability[a] = probability;
    }

    /// Removes the link out of `a`, if any.
    pub fn cut(&mut self, a: usize) {
        if let Some(b) = self.successor[a].take() {
            self.predecessor[b] = None;
        }
        self.kind[a] = None;
        self.weight[a] = 0.0;
        self.probability[a] = 0.0;
    }

    /// The chain of nodes that starts at `start` and follows successors (links go forward in
    /// time, so it ends; it is cut at the number of nodes all the same).
    pub fn chain_from(&self, start: usize) -> Vec<usize> {
        let mut chain = Vec::new();
        self.push_chain(start, &mut chain);
        chain
    }

    /// Appends the chain from `start` ([`Links::chain_from`]) to `out`.
    fn push_chain(&self, start: usize, out: &mut Vec<usize>) {
        let (from, mut k) = (out.len(), start);
        out.push(start);
        while let Some(next) = self.successor[k] {
            if out.len() - from >= self.successor.len() {
                break;
            }
            out.push(next);
            k = next;
        }
    }
}

/// Every chain of some [`Links`], in one flat list (a million lone nodes would otherwise be
/// a million allocations): chain `t` is `nodes[start[t]..start[t + 1]]`; chains in order
/// of their first node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chains {
    nodes: Vec<usize>,
    start: Vec<usize>,
}

impl Chains {
    pub fn of(links: &Links) -> Chains {
        let n = links.successor.len();
        let mut chains = Chains {
            nodes: Vec::with_capacity(n),
            start: vec![0],
        };
        for head in (0..n).filter(|&k| links.predecessor[k].is_none()) {
            links.push_chain(head, &mut chains.nodes);
            chains.start.push(chains.nodes.len());
        }
        chains
    }

    /// The chains that hold any of `nodes`, each once, by first node.
    pub fn holding(links: &Links, nodes: &[usize]) -> Chains {
        // Each node is walked over once: a walk that meets a node walked before has found
        // a chain already listed.
        let mut walked = vec![false; links.predecessor.len()];
        let mut heads: Vec<usize> = nodes
            .iter()
            .filter_map(|&k| {
                let mut head = k;
                loop {
                    if std::mem::replace(&mut walked[head], true) {
                        return None;
                    }
                    match links.predecessor[head] {
                        Some(p) => head = p,
                        None => return Some(head),
                    }
                }
            })
            .collect();
        heads.sort_unstable();
        let mut chains = Chains {
            nodes: Vec::new(),
            start: vec![0],
        };
        for head in heads {
            links.push_chain(head, &mut chains.nodes);
            chains.start.push(chains.nodes.len());
        }
        chains
    }

    /// The number of chains.
    pub fn len(&self) -> usize {
        self.start.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Chain `t`'s nodes.
    pub fn get(&self, t: usize) -> &[usize] {
        &self.nodes[self.start[t]..self.start[t + 1]]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[usize]> + '_ {
        (0..self.len()).map(|t| self.get(t))
    }
}

impl Linked {
    /// Stay `s` in full (its id not yet assigned), from its detections and port.
    pub fn stay(&self, s: usize, obs: &[Observation], ports: &[Port], empty: &EmptyBerth) -> Stay {
        let port_id = ports
            .get(self.stay_port[s])
            .map_or("", |p| p.port_id.as_str());
        crate::stays::summarise(self.stays.get(s).to_vec(), port_id, obs, empty)
    }
}

/// Sea distance between two points (lon, lat), km; `None` when unknown.
pub type PointKm = dyn Fn((f64, f64), (f64, f64)) -> Option<f64> + Sync;

/// Sea distances the linker may use.
pub struct SeaDistances<'a> {
    /// `port_km[a][b]`: sea distance between the berths of ports a and b.
    pub port_km: Vec<Vec<f64>>,
    /// Sea distance between two arbitrary points (at-sea detections), km; `None` when
    /// unknown (then the geodesic distance is used). `None` here: never known (which lets
    /// the candidate search bound distances at sea by the sea nodes' extent).
    pub point_km: Option<&'a PointKm>,
}

/// Everything the linker looks at.
pub struct LinkInput<'a> {
    pub obs: &'a [Observation],
    /// Port of each observation (index into `ports`), `None` at sea.
    pub port_of: &'a [Option<usize>],
    pub ports: &'a [Port],
    pub empty: &'a EmptyBerth,
    pub sea: &'a SeaDistances<'a>,
    pub config: &'a Config,
}

/// A node of the voyage/track graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    /// A port stay (index into [`Linked::stays`]).
    Stay(usize),
    /// An at-sea detection (index into the observations).
    Sea(usize),
}

impl Node {
    /// The node's detections (indices into the observations): a stay's, in time order, or
    /// the one at-sea detection.
    pub fn observations<'a>(&'a self, stays: &'a StayMembers) -> &'a [usize] {
        match self {
            Node::Stay(s) => stays.get(*s),
            Node::Sea(i) => std::slice::from_ref(i),
        }
    }
}

/// The result of both stages.
#[derive(Debug, Clone, Default)]
pub struct Linked {
    /// Stays, as their detections ([`Linked::stay`] summarises one), in time order of their
    /// first sighting. Most are lone sightings no track keeps: summarising them all at a
    /// million detections would cost hundreds of MB.
    pub stays: StayMembers,
    /// Port of each stay (index into the ports).
    pub stay_port: Vec<usize>,
    /// Nodes of the second stage: all stays, then all at-sea detections.
    pub nodes: Vec<Node>,
    /// Links between nodes.
    pub links: Links,
    /// Candidate links considered in the first stage (stays).
    pub stay_candidates: usize,
    /// Seconds spent per step (candidates and assignment of each stage).
    pub timings: Vec<(String, f64)>,
    /// What some steps counted (step name as in `timings` → text), for `match -v`.
    pub counts: Vec<(String, String)>,
}

/// Typical sailing speed, knots.
const TYPICAL_SPEED_KN: f64 = 10.0;

/// Days added to a port-to-port passage's unseen time in its gamma density
/// (`linking.port_passage_unseen_days`), so that a passage faster than at
/// [`TYPICAL_SPEED_KN`] (no unseen time left) is unlikely, not impossible. Measured with
/// 0.05, 0.1 and 0.25 over seeds 11-70: within 0.002 of voyage F1 of each other.
const PASSAGE_UNSEEN_OFFSET_DAYS: f64 = 0.1;

/// Mean length of a port stay, seconds.
const STAY_MEAN_S: f64 = 2.5 * 86_400.0;
/// Position error of a detection centre at a berth (1-sigma, metres, per axis).
const BERTH_POSITION_SIGMA_M: f64 = 45.0;
/// Position uncertainty allowed when checking speeds, metres.
const POSITION_SLACK_M: f64 = 500.0;
/// LLR of a passage whose departure and arrival are both bounded by empty-berth scenes
/// consistently with sailing at or above the minimum speed (two random vessels rarely are).
const BOUNDED_PASSAGE_LLR: f64 = 1.0;
/// Share of same-port re-sightings that are interrupted stays rather than trips.
const INTERRUPTED_SHARE: f64 = 0.7;
/// Most the same spot can say for an interrupted stay: berths are reused by other vessels.
const SAME_BERTH_LLR_MAX: f64 = 3.0;
/// Chance that a clear scene missed a vessel that was there.
const EMPTY_SCENE_MISS: f64 = 0.1;
/// Mean length of an interruption in the sightings of a stay, days.
const INTERRUPTION_DAYS: f64 = 1.0;
/// Width of the length gate, in combined sigmas.
const LENGTH_GATE_SIGMAS: f64 = 5.0;
/// Floor of an event rate, per day (so an empty port does not make links free).
const MIN_RATE_PER_DAY: f64 = 0.1;
/// Most rounds of track stitching ([`stitch`]); it stops early when a round joins nothing.
const STITCH_ROUNDS: usize = 3;
/// Candidates kept per node and kind (the best by weight).
const MAX_CANDIDATES: usize = 16;
/// Lowest weight of a candidate kept. The assignment never chooses a negative link, but
/// track refinement ([`refine`]) may raise it: a lone radar sighting the pair comparison
/// cannot place may fit the track it falls into.
const MIN_CANDIDATE_WEIGHT: f64 = -1.0;
/// Floor of the weak returns kept with `linking.low_return_candidates`.
const LOW_RETURN_FLOOR: f64 = -4.0;
/// Share of a deck load that may change unseen before departure or after arrival.
const CONTAINERS_DRIFT: f64 = 0.15;
/// Weight of a duplicate (same vessel in overlapping images minutes apart) on top of its
/// attributes.
const DUPLICATE_LLR: f64 = 6.0;

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

/// Picks the links (global assignment), scores them with soft-assignment marginals and cuts
/// those below `min_p`.
pub fn choose(n: usize, cands: &[Candidate], min_p: f64) -> Links {
    let edges: Vec<Edge> = cands
        .iter()
        .map(|c| Edge {
            from: c.from,
            to: c.to,
            weight: c.weight,
        })
        .collect();
    let successor = assign::max_weight_successors(n, &edges);
    scored(n, cands, &successor, min_p)
}

/// The links `successor` names, each with the candidate it takes (the heaviest of equals)
/// and its soft-assignment marginal among `cands`; those below `min_p` are cut.
pub(crate) fn scored(
    n: usize,
    cands: &[Candidate],
    successor: &[Option<usize>],
    min_p: f64,
) -> Links {
    // p(i->j) = e^w / (1 + sum_k e^w(i,k) + sum_{k != i} e^w(k,j)). A link of equal imo or
    // mmsi joins the same vessel for certain: other such links are no competitors to it (they
    // are the same vessel too; the assignment has chosen the order), only the plain ones.
    let identity = |w: f64| w >= cost::IDENTITY_LLR / 2.0;
    let mut out_sum = vec![0.0f64; n];
    let mut in_sum = vec![0.0f64; n];
    let mut out_plain = vec![0.0f64; n];
    let mut in_plain = vec![0.0f64; n];
    for c in cands.iter().filter(|c| c.weight.is_finite()) {
        let e = c.weight.min(50.0).exp();
        out_sum[c.from] += e;
        in_sum[c.to] += e;
        if !identity(c.weight) {
            out_plain[c.from] += e;
            in_plain[c.to] += e;
        }
    }
    let mut links = Links::none(n, cands.len());
    // The candidate of each chosen link: the heaviest, the last of equals.
    let mut chosen: Vec<Option<&Candidate>> = vec![None; n];
    for c in cands {
        if successor[c.from] == Some(c.to)
            && chosen[c.from].is_none_or(|best| c.weight.total_cmp(&best.weight).is_ge())
        {
            chosen[c.from] = Some(c);
        }
    }
    for i in 0..n {
        let (Some(j), Some(c)) = (successor[i], chosen[i]) else {
            continue;
        };
        let e = c.weight.min(50.0).exp();
        let p = if identity(c.weight) {
            e / (e + out_plain[i] + in_plain[j])
        } else {
            e / (1.0 + out_sum[i] + in_sum[j] - e)
        };
        let p = p.clamp(0.0, 1.0);
        if p < min_p {
            continue;
        }
        links.set(i, j, c.kind, c.weight, p);
    }
    links
}

/// Cuts every stitched ([`LinkKind::Gap`]) link of the tracks that hold a link in `blamed`.
fn undo_joins(links: &mut Links, blamed: &[(usize, usize)]) {
    for &(u, _) in blamed {
        let mut head = u;
        while let Some(p) = links.predecessor[head] {
            head = p;
        }
        for k in links.chain_from(head) {
            if links.kind[k] == Some(LinkKind::Gap) {
                links.cut(k);
            }
        }
    }
}

/// Keeps the best `MAX_CANDIDATES` candidates of each kind above `min_weight`.
fn keep_best(groups: Vec<Vec<Candidate>>, min_weight: f64) -> Vec<Candidate> {
    let mut out = Vec::new();
    for mut v in groups {
        v.retain(|c| c.weight.is_finite() && c.weight > min_weight);
        v.sort_by(|x, y| y.weight.total_cmp(&x.weight).then(x.to.cmp(&y.to)));
        v.truncate(MAX_CANDIDATES);
        out.extend(v);
    }
    out
}

/// Order of observations by (time, id).
fn time_order(obs: &[Observation]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..obs.len()).collect();
    order.sort_by(|&a, &b| (obs[a].observed_at, &obs[a].id).cmp(&(obs[b].observed_at, &obs[b].id)));
    order
}

fn span_days(times: impl Iterator<Item = Time>) -> f64 {
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for t in times {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    if lo > hi {
        1.0
    } else {
        ((hi - lo) as f64 / 86_400.0).max(1.0)
    }
}

/// Stage 1: candidate links between detections of one vessel at one berth, sorted by
/// (from, to).
pub fn stay_candidates(input: &LinkInput) -> Vec<Candidate> {
    let ids = IdentityTimes::new(input.obs, input.config.linking.max_speed_kn);
    stay_candidates_with(input, &ids, search::Mode::Pruned)
}

/// [`stay_candidates`], with where each identity was seen (`ids`), and with the search
/// radius narrowed by a bound or not (the same result, for tests).
fn stay_candidates_with(
    input: &LinkInput,
    ids: &IdentityTimes,
    mode: search::Mode,
) -> Vec<Candidate> {
    let obs = input.obs;
    let cfg = input.config;
    let order = time_order(obs);
    let mut rank = vec![0usize; obs.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let StayPorts {
        rate_per_day: port_rate,
        area_m2: port_area_m2,
        ..
    } = StayPorts::new(input);
    let stay_gap_s = (cfg.stays.max_gap_hours * 3600.0) as i64;
    let attrs: Vec<Attrs> = obs.iter().map(|o| Attrs::of(o, &cfg.sensors)).collect();
    let s2 = 2.0 * BERTH_POSITION_SIGMA_M.powi(2);
    // Candidates come from an index of port detections in space and time.
    let in_port: Vec<usize> = (0..obs.len())
        .filter(|&i| input.port_of[i].is_some())
        .collect();
    let st_index = search::BerthIndex::new(obs, &attrs, &in_port);
    // The most a pair can score but for the distance (attributes bounded over all port
    // detections, identity aside): the search radius shrinks to where the position term
    // alone makes the weight negative. Keep in step with the weight below
    // (tests::narrowed_stay_search_is_exact checks).
    let mut range = cost::AttrsRange::default();
    let mut max_real = f64::NEG_INFINITY;
    for &i in &in_port {
        range.add(&attrs[i]);
        max_real = max_real.max(real_llr(&[&obs[i]]));
    }
    let any_length = (f64::NEG_INFINITY, f64::INFINITY);
    // Terms of the weight below that are the same for many pairs, once.
    let real: Vec<f64> = obs.iter().map(|o| real_llr(&[o])).collect();
    let ln_berth: Vec<f64> = port_area_m2
        .iter()
        .map(|a| (a / (std::f64::consts::PI * s2)).ln())
        .collect();
    let ln_port_rate: Vec<f64> = port_rate.iter().map(|r| r.ln()).collect();
    let ln_stay_days = (STAY_MEAN_S / 86_400.0).ln();
    let cats = search::Categories::of(&attrs);
    // Port detections by imo, mmsi and name, in time order: pairs of one identity or name
    // are looked up by it, so that the bounds of the other pairs leave out the identity
    // and name terms (worth more than any other attribute: without this, one identified
    // ship is compared with every detection at its berth).
    let mut by_key: HashMap<(u8, u32), Vec<usize>> = HashMap::new();
    let keys_of = |i: usize| {
        [(0u8, cats.imo[i]), (1, cats.mmsi[i]), (2, cats.name[i])]
            .into_iter()
            .filter(|&(_, id)| id != search::NONE)
    };
    if mode == search::Mode::Pruned {
        for &i in order.iter().filter(|&&i| input.port_of[i].is_some()) {
            for key in keys_of(i) {
                by_key.entry(key).or_default().push(i);
            }
        }
    }
    // The range without names, for the bounds of a named detection.
    let unnamed = cost::AttrsRange {
        name: false,
        ..range.clone()
    };
    let range_for = |i: usize| {
        if attrs[i].name().is_some() {
            &unnamed
        } else {
            &range
        }
    };
    // `attr`: the attribute bound of detection i over the port detections.
    let radius_for = |i: usize, p: usize, attr: &cost::AttrUpper| -> Option<(f64, (f64, f64))> {
        let a = &attrs[i];
        if mode == search::Mode::Exhaustive {
            return Some((cfg.stays.berth_radius_m, any_length));
        }
        let upper = attr.any() + (port_area_m2[p] / (std::f64::consts::PI * s2)).ln()
            - (STAY_MEAN_S / 86_400.0).ln()
            - port_rate[p].ln()
            + real[i]
            + max_real
            + cfg.linking.stay_prior;
        let upper = upper + 1e-6;
        if upper < 0.0 {
            return None;
        }
        // 1 % and a metre for the difference between the index's and local_m's distances.
        let radius_m = ((s2 * upper).sqrt() * 1.01 + 1.0).min(cfg.stays.berth_radius_m);
        // Lengths so far off that the length term alone makes the weight negative.
        let length_m = match (a.length_m, range.length_m) {
            (Some((x, _)), Some((_, _, slo, shi))) if attr.any() < 60.0 => {
                match search::length_reach(a, (slo, shi), attr.length - upper) {
                    Some(d) => (x - d * 1.001 - 0.01, x + d * 1.001 + 0.01),
                    None => any_length,
                }
            }
            _ => any_length,
        };
        Some((radius_m, length_m))
    };

    // Queries by cell and time, so that each reads what the one before it read.
    let queries: Vec<usize> = st_index.in_cell_order().collect();
    let per_node: Vec<Vec<Candidate>> = queries
        .par_iter()
        .map(|&i| {
            let a = &obs[i];
            let p = input.port_of[i].unwrap_or(0);
            let empty_after = input.empty.after.get(i).copied().flatten();
            let threshold = Cell::new(0.0);
            let mut out = search::Best::with_floor(&threshold, 0.0);
            // Later detections of the same imo, mmsi or name within the gap, scored
            // whatever the bounds.
            let mut given: Vec<usize> = Vec::new();
            let near = search::Near::new((a.lon, a.lat), cfg.stays.berth_radius_m);
            for key in keys_of(i) {
                let Some(list) = by_key.get(&key) else {
                    continue;
                };
                let start = list.partition_point(|&j| rank[j] <= rank[i]);
                given.extend(
                    list[start..]
                        .iter()
                        .take_while(|&&j| obs[j].observed_at - a.observed_at <= stay_gap_s)
                        .filter(|&&j| near.holds((obs[j].lon, obs[j].lat))),
                );
            }
            given.sort_unstable();
            given.dedup();
            // A bound of the attribute term, to skip pairs before scoring them (pairs of
            // one identity or name come from `given`, unbounded).
            let upper = cost::attribute_llr_upper(&attrs[i], range_for(i), false, 0.0);
            let found = match radius_for(i, p, &upper) {
                Some((radius_m, length_m)) => st_index.forward_within(
                    (a.lon, a.lat),
                    a.observed_at,
                    radius_m,
                    stay_gap_s as f64,
                    length_m,
                ),
                None => Vec::new(),
            };
            let upper = (mode == search::Mode::Pruned).then_some(upper);
            let given_first = given.iter().map(|&j| (j, true));
            let rest = found
                .into_iter()
                .filter(|j| given.binary_search(j).is_err())
                .map(|j| (j, false));
            for (j, is_given) in given_first.chain(rest) {
                let b = &obs[j];
                let dt_s = b.observed_at - a.observed_at;
                if rank[j] <= rank[i]
                    || input.port_of[j] != Some(p)
                    || dt_s > stay_gap_s
                    || empty_after.is_some_and(|te| te < b.observed_at)
                    || same_image(a, b)
                {
                    continue;
                }
                let d = local_m((a.lon, a.lat), (b.lon, b.lat));
                let pos = ln_berth[p] - d * d / s2;
                let dt = dt_s as f64;
                let time = -ln_stay_days - dt / STAY_MEAN_S - ln_port_rate[p];
                let real = real[i] + real[j];
                if let (Some(upper), false) = (&upper, is_given) {
                    let attr = upper.with(
                        search::same(cats.class[i], cats.class[j]),
                        search::same(cats.colour[i], cats.colour[j]),
                    );
                    if search::below(
                        attr + pos + time + real + cfg.linking.stay_prior,
                        &threshold,
                    ) {
                        continue;
                    }
                }
                let Some(attr) = cost::attribute_llr(&attrs[i], &attrs[j], false, 0.0) else {
                    continue;
                };
                if ids.conflicts(
                    &LinkEnd {
                        attrs: &attrs[i],
                        t: a.observed_at,
                        ecef: to_ecef_m(a.lon, a.lat),
                    },
                    &LinkEnd {
                        attrs: &attrs[j],
                        t: b.observed_at,
                        ecef: to_ecef_m(b.lon, b.lat),
                    },
                ) {
                    continue;
                }
                out.push(Candidate {
                    from: i,
                    to: j,
                    kind: LinkKind::Stay,
                    weight: attr + pos + time + real + cfg.linking.stay_prior,
                });
            }
            // Stays are not refined: only links the assignment can choose matter.
            keep_best(vec![out.cands], 0.0)
        })
        .collect();
    let mut all: Vec<Candidate> = per_node.into_iter().flatten().collect();
    all.sort_by_key(|c| (c.from, c.to));
    if cfg.linking.stay_next_sighting {
        all = next_sightings_only(all, obs);
    }
    all
}

/// Stay candidates less each `i → j` that skips a sighting `k` of its own vessel: one
/// between them in time that is itself a candidate from `i` and to `j` (both pairs, judged
/// alone, favour one vessel). Two chains at one spot over the same hours are two vessels
/// where pairwise there is one; so `j` is taken to be no *next* sighting of `i`'s vessel.
/// Without this, a skip of about the weight of two short links let the assignment thread
/// one vessel's sightings into two interleaved stays. `cands` is sorted by `(from, to)`, and
/// so is the result.
fn next_sightings_only(mut cands: Vec<Candidate>, obs: &[Observation]) -> Vec<Candidate> {
    let is_candidate = |i: usize, j: usize| {
        cands
            .binary_search_by_key(&(i, j), |c| (c.from, c.to))
            .is_ok()
    };
    // Each node's candidates are one run of `cands`.
    let keep: Vec<bool> = cands
        .par_chunk_by(|a, b| a.from == b.from)
        .flat_map_iter(|out| {
            out.iter().map(move |c| {
                let tj = obs[c.to].observed_at;
                !out.iter().any(|ik| {
                    ik.to != c.to && obs[ik.to].observed_at < tj && is_candidate(ik.to, c.to)
                })
            })
        })
        .collect();
    let mut keep = keep.into_iter();
    cands.retain(|_| keep.next().unwrap_or(true));
    cands
}

/// Passages the first solution makes, per port pair, that stand for one vessel's habit
/// against the ports' traffic shares: [`route_reweigh`] smooths a pair's share of the
/// passages out of its origin toward the destination's share of the traffic with this many
/// passages.
const ROUTE_PSEUDO_PASSAGES: f64 = 3.0;

/// Lowers each passage candidate between two ports by how seldom the tracks of `links`
/// (the first solution) sail that pair: a passage's weight takes the destination to be
/// one of the other ports with a chance proportional to its traffic (its stays), but
/// vessels keep to their routes, and a port's stays include false alarms, which go nowhere.
/// The chance becomes the pair's share of the passages out of the origin (consecutive
/// stays of a track at different ports, at-sea sightings between them skipped), smoothed
/// toward the traffic share with [`ROUTE_PSEUDO_PASSAGES`]. Only lowered (the log ratio
/// capped at 0): the pruned candidate search bounded the old weights, so no weight rises
/// past its bound. Returns how many candidates were lowered.
fn route_reweigh(
    cands: &mut [Candidate],
    links: &Links,
    nodes: &[Node],
    stay_port: &[usize],
    ports: usize,
) -> usize {
    let port_of = |k: usize| match nodes[k] {
        Node::Stay(s) => Some(stay_port[s]),
        Node::Sea(_) => None,
    };
    let mut stays = vec![0.0_f64; ports];
    for &p in stay_port {
        stays[p] += 1.0;
    }
    let all: f64 = stays.iter().sum();
    // Passages per port pair, and out of each port (sparse: a user's port list may be long).
    let mut sailed: FastMap<(usize, usize), f64> = FastMap::default();
    let mut out = vec![0.0_f64; ports];
    for chain in Chains::of(links).iter() {
        let mut last: Option<usize> = None;
        for &k in chain {
            let Some(q) = port_of(k) else { continue };
            if let Some(p) = last.filter(|&p| p != q) {
                *sailed.entry((p, q)).or_default() += 1.0;
                out[p] += 1.0;
            }
            last = Some(q);
        }
    }
    let adjust = |p: usize, q: usize| -> f64 {
        let others = all - stays[p];
        if q == p || others <= 0.0 || stays[q] <= 0.0 {
            return 0.0;
        }
        let share = stays[q] / others;
        let n = sailed.get(&(p, q)).copied().unwrap_or(0.0);
        let habit = (n + ROUTE_PSEUDO_PASSAGES * share) / (out[p] + ROUTE_PSEUDO_PASSAGES);
        (habit / share).ln()
    };
    let mut lowered = 0;
    for c in cands.iter_mut().filter(|c| c.kind == LinkKind::Passage) {
        if let (Some(p), Some(q)) = (port_of(c.from), port_of(c.to)) {
            // Only lowered (see above): a pair sailed above its traffic share keeps its weight.
            let a = adjust(p, q);
            if a < 0.0 {
                c.weight += a;
                lowered += 1;
            }
        }
    }
    lowered
}

/// What "another vessel" is for a stay link, per port: the period, the port's detections
/// per day and its zone's area.
struct StayPorts {
    span_days: f64,
    rate_per_day: Vec<f64>,
    area_m2: Vec<f64>,
}

impl StayPorts {
    fn new(input: &LinkInput) -> StayPorts {
        let mut count = vec![0usize; input.ports.len()];
        for p in input.port_of.iter().flatten() {
            count[*p] += 1;
        }
        let span_days = span_days(input.obs.iter().map(|o| o.observed_at));
        StayPorts {
            span_days,
            rate_per_day: count
                .iter()
                .map(|&c| (c as f64 / span_days).max(MIN_RATE_PER_DAY))
                .collect(),
            area_m2: input
                .ports
                .iter()
                .map(|p| p.zone.geodesic_area_unsigned().clamp(1e5, 1e9))
                .collect(),
        }
    }
}

/// Stage-1 candidates re-weighed with where other vessels lie ([`berths`]).
///
/// The first pass weighs "j is another vessel" as a detection anywhere in the zone at the
/// port's rate of detections. But quays are reused: once a vessel leaves, the next one lies
/// where it lay. So the position and time terms of "another vessel" become the chance that
/// another vessel occupies j's spot: the smoothed occupancy (share of the time, per m²) of
/// the first solution's stays there, without the stays of i and j themselves. Weights only
/// fall (the change is capped at 0), so the candidates stay those the search found.
fn berth_reweigh(input: &LinkInput, cands: &[Candidate], links: &Links) -> Vec<Candidate> {
    let obs = input.obs;
    let n = obs.len();
    let ports = StayPorts::new(input);
    let span = ports.span_days;
    // Each in-port detection's stay: median position and occupancy (share of the span,
    // counting a day of unseen time around its sightings).
    let mut own: Vec<Option<(f64, f64, f64)>> = vec![None; n];
    let mut stays: Vec<(usize, f64, f64, f64)> = Vec::new();
    for i in 0..n {
        let Some(p) = input.port_of[i] else { continue };
        if links.predecessor[i].is_some() {
            continue;
        }
        let chain = links.chain_from(i);
        let median = |f: &dyn Fn(&Observation) -> f64| {
            let mut v: Vec<f64> = chain.iter().map(|&k| f(&obs[k])).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (lon, lat) = (median(&|o| o.lon), median(&|o| o.lat));
        let times = chain.iter().map(|&k| obs[k].observed_at);
        let seen_days =
            (times.clone().max().unwrap_or(0) - times.min().unwrap_or(0)) as f64 / 86_400.0;
        let share = (seen_days + 1.0) / span;
        for &k in &chain {
            own[k] = Some((lon, lat, share));
        }
        stays.push((p, lon, lat, share));
    }
    let zones: Vec<(f64, f64, f64, f64, f64)> = input
        .ports
        .iter()
        .zip(&ports.area_m2)
        .map(
            |(p, &area)| match geo::BoundingRect::bounding_rect(&p.zone) {
                Some(r) => (r.min().x, r.min().y, r.max().x, r.max().y, area),
                None => (f64::NAN, f64::NAN, f64::NAN, f64::NAN, area),
            },
        )
        .collect();
    let density = berths::PortDensity::new(&stays, &zones, BERTH_POSITION_SIGMA_M);
    // What the first pass used for "another vessel": a detection anywhere in the zone
    // (1 / area) at the port's rate per day, against a stay's remaining time (per day).
    let first_pass: Vec<f64> = (ports.rate_per_day.iter().zip(&ports.area_m2))
        .map(|(rate, area)| (STAY_MEAN_S / 86_400.0).ln() + rate.ln() - area.ln())
        .collect();
    cands
        .iter()
        .map(|c| {
            let b = &obs[c.to];
            let shift = match input.port_of[c.to] {
                Some(p) => {
                    // The stays of both ends (once if they are one).
                    let from = own[c.from].filter(|&a| own[c.to] != Some(a));
                    let mine = own[c.to].into_iter().chain(from);
                    // Another vessel there means this one left first (exclusive berths).
                    let dt_s = (b.observed_at - obs[c.from].observed_at) as f64;
                    let left = -(-dt_s / STAY_MEAN_S).exp_m1();
                    let other = left * density.other_density(p, b.lon, b.lat, mine);
                    let shift = first_pass[p] - other.ln();
                    if shift.is_finite() {
                        shift.min(0.0)
                    } else {
                        0.0
                    }
                }
                None => 0.0,
            };
            Candidate {
                weight: c.weight + shift,
                ..*c
            }
        })
        .collect()
}

/// A stay's link that weighs less than this (nats), judged with the stay's two sides, is
/// split. Above 0 because splitting one vessel's stay costs little: stage 2 joins the two
/// parts again by a return where the tracks agree (and `derive` merges them back into one
/// stay), while two vessels left in one stay lose both their voyages. Measured on seeds
/// 11-70 (voyage F1 against 0: +0.016 at 1, +0.022 at 2 but worse on 20 seeds, +0.014 at 3
/// with IDF1 -0.004, +0.008 at 5 with IDF1 -0.028).
const SPLIT_BELOW_LLR: f64 = 1.0;

/// Splitting stays whose two sides are not one vessel. A stay link compares two
/// sightings, so a chain can pass from one vessel to the next at a quay berth through
/// sightings that say little (a green ship, three colourless sightings, then a red one:
/// each link fits its two ends). Each link of a stay is judged again with the combined
/// sightings of the stay up to it against those from it on (up to
/// [`refine::TRACK_CONTEXT`] each side); where some link's weight so judged falls under
/// [`SPLIT_BELOW_LLR`], the lowest is forbidden and stage 1 is solved again (with the
/// identity check's rounds).
struct StaySplit<'a> {
    sensors: &'a SensorModels,
    /// Stays already found whole (a round solves again only the parts of the graph that
    /// held a forbidden link, so most stays come back unchanged).
    whole: std::sync::Mutex<std::collections::HashSet<Vec<usize>>>,
}

impl<'a> StaySplit<'a> {
    fn new(sensors: &'a SensorModels) -> StaySplit<'a> {
        StaySplit {
            sensors,
            whole: Default::default(),
        }
    }

    /// Per stay of `links` (three sightings or more), its worst link when that link's
    /// weight, judged with the stay's sides, is under [`SPLIT_BELOW_LLR`]. With `changed`
    /// (the nodes whose links the last re-solve changed), only their stays: every other is
    /// one the last call found whole (a marked link is forbidden, so its stays change).
    fn contradicted(
        &self,
        obs: &[Observation],
        links: &Links,
        changed: Option<&[usize]>,
    ) -> Vec<(usize, usize)> {
        let chains = match changed {
            Some(nodes) => Chains::holding(links, nodes),
            None => Chains::of(links),
        };
        let whole = self.whole.lock().unwrap_or_else(|e| e.into_inner());
        let todo: Vec<&[usize]> = chains
            .iter()
            .filter(|c| c.len() >= 3 && !whole.contains(*c))
            .collect();
        drop(whole);
        let found: Vec<Option<(usize, usize)>> = todo
            .par_iter()
            .map(|chain| self.worst_link(obs, links, chain))
            .collect();
        let mut whole = self.whole.lock().unwrap_or_else(|e| e.into_inner());
        let mut bad = Vec::new();
        for (chain, worst) in todo.into_iter().zip(found) {
            match worst {
                Some(link) => bad.push(link),
                None => {
                    whole.insert(chain.to_vec());
                }
            }
        }
        bad
    }

    /// The link of `chain` whose weight (as chosen in `links`, its pairwise attribute term
    /// replaced by that of up to [`refine::TRACK_CONTEXT`] sightings each side) is the
    /// lowest, if it is under [`SPLIT_BELOW_LLR`].
    fn worst_link(
        &self,
        obs: &[Observation],
        links: &Links,
        chain: &[usize],
    ) -> Option<(usize, usize)> {
        let w = refine::TRACK_CONTEXT;
        let side = |nodes: &[usize]| {
            let o: Vec<&Observation> = nodes.iter().map(|&k| &obs[k]).collect();
            Attrs::combine(&o, self.sensors)
        };
        let mut worst: Option<(f64, usize)> = None;
        for k in 0..chain.len() - 1 {
            let (a, b) = (chain[k], chain[k + 1]);
            // The attribute term the candidate was weighed with (as in the candidate search).
            let Some(pair) = cost::attribute_llr(
                &Attrs::of(&obs[a], self.sensors),
                &Attrs::of(&obs[b], self.sensors),
                false,
                0.0,
            ) else {
                continue;
            };
            let head = side(&chain[(k + 1).saturating_sub(w)..=k]);
            let tail = side(&chain[k + 1..(k + 1 + w).min(chain.len())]);
            let Some(attr) = cost::attribute_llr(&head, &tail, false, 0.0) else {
                continue;
            };
            let weight = links.weight[a] - pair + attr;
            if weight < SPLIT_BELOW_LLR && worst.is_none_or(|(x, _)| weight < x) {
                worst = Some((weight, k));
            }
        }
        worst.map(|(_, k)| (chain[k], chain[k + 1]))
    }
}

/// One node of stage 2, with what the links compare.
struct NodeInfo {
    port: Option<usize>,
    lon: f64,
    lat: f64,
    t_first: Time,
    t_last: Time,
    /// Clear scene showing the berth empty before the first / after the last sighting.
    empty_before: Option<Time>,
    empty_after: Option<Time>,
    attrs: Attrs,
    /// The detection (for at-sea nodes), to tell two detections of one image apart.
    obs: Option<usize>,
    /// Log-probability that the node is a real vessel, from detector confidences.
    real: f64,
    /// Position on the mean sphere (ECEF metres), for [`sphere_bounds_m`].
    ecef: [f64; 3],
}

impl NodeInfo {
    /// The node of stay `st` in port `port`.
    fn of_stay(st: &Stay, port: usize, obs: &[Observation], sensors: &SensorModels) -> NodeInfo {
        let members: Vec<&Observation> = st.observations.iter().map(|&i| &obs[i]).collect();
        NodeInfo {
            port: Some(port),
            lon: st.lon,
            lat: st.lat,
            t_first: st.first_seen,
            t_last: st.last_seen,
            empty_before: st.empty_before,
            empty_after: st.empty_after,
            attrs: Attrs::combine(&members, sensors),
            obs: None,
            real: stay_real_llr(&members, st),
            ecef: to_ecef_m(st.lon, st.lat),
        }
    }

    /// The node of the at-sea detection `i`.
    fn at_sea(i: usize, obs: &[Observation], sensors: &SensorModels) -> NodeInfo {
        let o = &obs[i];
        NodeInfo {
            port: None,
            lon: o.lon,
            lat: o.lat,
            t_first: o.observed_at,
            t_last: o.observed_at,
            empty_before: None,
            empty_after: None,
            attrs: Attrs::of(o, sensors),
            obs: Some(i),
            real: real_llr(&[o]),
            ecef: to_ecef_m(o.lon, o.lat),
        }
    }
}

/// Bounds of the geodesic distance between two nodes, metres, from their chord on the mean
/// sphere: within 1 % of the great circle (the sphere and WGS84 differ by under 0.6 %),
/// and a metre for rounding.
fn sphere_bounds_m(a: &NodeInfo, b: &NodeInfo) -> (f64, f64) {
    let arc_m = m_for_chord(ecef_chord_m(&a.ecef, &b.ecef));
    ((arc_m * 0.99 - 1.0).max(0.0), arc_m * 1.01 + 1.0)
}

/// At most this many rounds of forbidding the links of chains that contradict their own
/// identity and solving again (each round forbids at least one link).
const MAX_IDENTITY_ROUNDS: usize = 20;

/// Log-probability that at least one of the detections is a real vessel, taking each
/// detector `confidence` as the probability that its detection is real (no confidence:
/// certainly real). Linking a likely false alarm costs this much.
fn real_llr(members: &[&Observation]) -> f64 {
    // A detection without a confidence is taken as surely real.
    if members.iter().any(|o| o.confidence.is_none()) {
        return 0.0;
    }
    let all_false: f64 = members
        .iter()
        .filter_map(|o| o.confidence)
        .map(|c| 1.0 - c.clamp(0.0, 1.0))
        .product();
    (1.0 - all_false).max(0.02).ln()
}

/// [`real_llr`] of a stay, updated by how long the vessel could have stayed: clear scenes
/// that showed the berth empty shortly before the first and after the last sighting leave
/// a real vessel little time at the berth (stays last days), while a false alarm needs none.
/// Scenes miss vessels now and then, so the bracket is never conclusive.
fn stay_real_llr(members: &[&Observation], st: &Stay) -> f64 {
    let prior = real_llr(members).exp();
    let (Some(before), Some(after)) = (st.empty_before, st.empty_after) else {
        return prior.ln();
    };
    if prior >= 1.0 {
        return 0.0;
    }
    // P(a real stay fits in the bracket | it covers the sightings), exponential durations.
    let slack_s = ((after - before) - (st.last_seen - st.first_seen)).max(0) as f64;
    let fits = 1.0 - (-slack_s / STAY_MEAN_S).exp();
    let fits = 1.0 - (1.0 - fits) * (1.0 - EMPTY_SCENE_MISS);
    let posterior = prior * fits / (prior * fits + (1.0 - prior));
    posterior.max(0.02).ln()
}

/// A cheap gate before scoring: lengths more than [`LENGTH_GATE_SIGMAS`] combined sigmas
/// apart (and no identity to say otherwise) leave the attribute evidence at its outlier floor,
/// so the pair is not worth scoring. This keeps the candidate search close to linear when
/// ports are busy.
fn lengths_differ(a: &Attrs, b: &Attrs) -> bool {
    a.ids.is_none() && lengths_apart(a.length_m, b.length_m)
}

/// Two lengths (value, 1-sigma; metres) more than [`LENGTH_GATE_SIGMAS`] combined sigmas
/// apart; unknown lengths are never apart.
fn lengths_apart(a: Option<(f64, f64)>, b: Option<(f64, f64)>) -> bool {
    match (a, b) {
        (Some((x, sx)), Some((y, sy))) => {
            // Squared: `hypot` is dear, and this runs on every pair the search visits.
            (x - y).powi(2) > LENGTH_GATE_SIGMAS.powi(2) * (sx * sx + sy * sy)
        }
        _ => false,
    }
}

/// Prior log-odds that a vessel travels between ports at all: harbour craft (tugs, fishing
/// boats, naval and passenger vessels) and small vessels rarely make the passage.
fn traveller_prior(a: &Attrs, lp: &crate::config::LinkParams) -> f64 {
    let mut w = harbour_craft_mix(a, lp.harbour_craft_passage_prior);
    if is_small(a, lp) {
        w += lp.small_vessel_passage_prior;
    }
    w
}

/// The chance that `a` is harbour craft (tug, fishing, naval, passenger): its class's vote
/// when that is one of them and at least 0.6 sure, else 0.
fn harbour_craft_p(a: &Attrs) -> f64 {
    match &a.class {
        Some((
            VesselClass::Tug | VesselClass::Fishing | VesselClass::Naval | VesselClass::Passenger,
            p,
        )) if *p >= 0.6 => *p,
        _ => 0.0,
    }
}

/// A harbour-craft prior `w` (log odds) weighed by how sure the class is: `ln(p e^w + 1 - p)`
/// (the class report may be wrong: a roro ship reported once as a passenger ship is not
/// held in port by the full prior).
fn harbour_craft_mix(a: &Attrs, w: f64) -> f64 {
    let p = harbour_craft_p(a);
    if p == 0.0 {
        0.0
    } else {
        (p * w.exp() + (1.0 - p)).ln()
    }
}

/// Whether `a` is surely (2 sigma) shorter than `linking.small_vessel_m`.
fn is_small(a: &Attrs, lp: &crate::config::LinkParams) -> bool {
    a.length_m
        .is_some_and(|(l, s)| l + 2.0 * s < lp.small_vessel_m)
}

/// Added to a return's prior for a node that [`traveller_prior`] marks as harbour craft or
/// small: such vessels come back to their own port far more often than they sail away.
fn return_bonus(a: &Attrs, lp: &crate::config::LinkParams) -> f64 {
    if is_small(a, lp) {
        lp.harbour_craft_return_prior
    } else {
        harbour_craft_mix(a, lp.harbour_craft_return_prior)
    }
}

/// Stage 2: candidate links between stays and at-sea detections, sorted by (from, to).
pub fn track_candidates(
    input: &LinkInput,
    stays: &[Stay],
    stay_port: &[usize],
    nodes: &[Node],
) -> Vec<Candidate> {
    let ids = IdentityTimes::new(input.obs, input.config.linking.max_speed_kn);
    let info = node_infos(input, nodes, |s| {
        NodeInfo::of_stay(&stays[s], stay_port[s], input.obs, &input.config.sensors)
    });
    track_candidates_with(input, info, &ids, search::Mode::Pruned).0
}

/// A stage-2 candidate's weight taken apart (a tuning aid: `examples/fit_weights.rs`).
/// `attr` + `clamp` + `real` + `rest` is the candidate's weight.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateTerms {
    /// The attribute terms ([`cost::attribute_terms`]), unclamped.
    pub attr: Vec<(&'static str, f64)>,
    /// What clamping their sum ([`cost::clamp_llr`]) added.
    pub clamp: f64,
    /// The detector terms of both ends.
    pub real: f64,
    /// The rest: timing, scenes, priors and the rate of "another vessel".
    pub rest: f64,
    /// Whether the earlier end is in a port, and the later one.
    pub from_port: bool,
    pub to_port: bool,
}

/// [`CandidateTerms`] of each of `cands` (from [`track_candidates`] over the same nodes).
pub fn candidate_terms(
    input: &LinkInput,
    stays: &[Stay],
    stay_port: &[usize],
    nodes: &[Node],
    cands: &[Candidate],
) -> Vec<CandidateTerms> {
    let info = node_infos(input, nodes, |s| {
        NodeInfo::of_stay(&stays[s], stay_port[s], input.obs, &input.config.sensors)
    });
    cands
        .iter()
        .map(|c| {
            let (a, b) = (&info[c.from], &info[c.to]);
            let across = c.kind != LinkKind::Return;
            let drift = if across { CONTAINERS_DRIFT } else { 0.0 };
            let attr = cost::attribute_terms(&a.attrs, &b.attrs, across, drift).unwrap_or_default();
            let sum: f64 = attr.iter().map(|t| t.1).sum();
            let total = cost::terms_total(&attr);
            let real = a.real + b.real;
            CandidateTerms {
                clamp: total - sum,
                real,
                rest: c.weight - total - real,
                attr,
                from_port: a.port.is_some(),
                to_port: b.port.is_some(),
            }
        })
        .collect()
}

/// The nodes of stage 2 as the links compare them; `stay_info` gives a stay's.
fn node_infos(
    input: &LinkInput,
    nodes: &[Node],
    stay_info: impl Fn(usize) -> NodeInfo + Sync,
) -> Vec<NodeInfo> {
    nodes
        .par_iter()
        .map(|n| match *n {
            Node::Stay(s) => stay_info(s),
            Node::Sea(i) => NodeInfo::at_sea(i, input.obs, &input.config.sensors),
        })
        .collect()
}

/// [`track_candidates`] over the nodes `info`, with the candidate search pruned by bounds
/// or exhaustive (the same result, for tests); also returns each candidate's attribute
/// term ([`refine::pair_terms`]), so that the nodes' attributes need not outlive the search.
fn track_candidates_with(
    input: &LinkInput,
    info: Vec<NodeInfo>,
    ids: &IdentityTimes,
    mode: search::Mode,
) -> (Vec<Candidate>, Vec<Option<f64>>) {
    let obs = input.obs;
    let cfg = input.config;
    let lp = &cfg.linking;
    // Per port (and at sea): nodes sorted by first sighting.
    let mut by_port: Vec<Vec<usize>> = vec![Vec::new(); input.ports.len()];
    let mut at_sea: Vec<usize> = Vec::new();
    let mut order: Vec<usize> = (0..info.len()).collect();
    order.sort_by_key(|&k| (info[k].t_first, k));
    for &k in &order {
        match info[k].port {
            Some(p) => by_port[p].push(k),
            None => at_sea.push(k),
        }
    }
    let span = span_days(info.iter().map(|n| n.t_first));
    let rate = |count: usize| (count as f64 / span).max(MIN_RATE_PER_DAY);
    let arrival_rate: Vec<f64> = by_port.iter().map(|l| rate(l.len())).collect();
    // "Another vessel" for a passage from `origin` to port q: the destination is one of
    // several ports, with a chance proportional to its traffic, so q's own rate cancels and
    // leaves the rate of arrivals at the ports other than the origin.
    let total_arrival_rate: f64 = arrival_rate.iter().sum();
    let passage_against = |origin: Option<usize>, q: usize| -> f64 {
        let others = total_arrival_rate - origin.map_or(0.0, |p| arrival_rate[p]);
        others.max(arrival_rate[q])
    };
    let sea_rate = rate(at_sea.len());
    // Their logs, once (not per pair scored).
    let ln_arrival: Vec<f64> = arrival_rate.iter().map(|r| r.ln()).collect();
    let ln_sea_rate = sea_rate.ln();
    let port_area_m2: Vec<f64> = input
        .ports
        .iter()
        .map(|p| p.zone.geodesic_area_unsigned().clamp(1e5, 1e9))
        .collect();

    let max_kn = lp.max_speed_kn;
    let min_kn = lp.min_speed_kn;
    let max_gap_s = (lp.max_gap_days * 86_400.0) as i64;
    let return_window_s = (lp.return_window_days * 86_400.0) as i64;
    let dwell_s = lp.dwell_days * 86_400.0;
    let window_s = max_gap_s.max(return_window_s);
    // Each at-sea node's image (its scene id, as a small id): two sightings of one image
    // are never linked (`same_image`).
    let mut scenes: HashMap<&str, u32> = HashMap::new();
    let image: Vec<u32> = info
        .iter()
        .map(|n| {
            let scene = n.obs.and_then(|i| obs[i].scene_id.as_deref());
            scene.map_or(search::NONE, |s| {
                let next = scenes.len() as u32;
                *scenes.entry(s).or_insert(next)
            })
        })
        .collect();
    drop(scenes);
    let search = search::Search::new(&info, &order, input.ports.len(), window_s, mode, image);
    let slow_s = |dist_m: f64| (dist_m + POSITION_SLACK_M) / (min_kn * M_PER_NM) * 3600.0;
    // Log density (per day) of a passage of `dist_m` with `dt_s` between sightings under
    // "same vessel": unseen time at the ends is exponential with mean `theta`; None when
    // faster than the maximum speed or beyond the maximum gap.
    let fast_s = |dist_m: f64| (dist_m - POSITION_SLACK_M).max(0.0) / (max_kn * M_PER_NM) * 3600.0;
    // Sailing time at the typical speed, seconds.
    let typical_s = |dist_m: f64| dist_m / (TYPICAL_SPEED_KN * M_PER_NM) * 3600.0;
    let passage_time = |dist_m: f64, dt_s: f64, theta_s: f64| -> Option<f64> {
        if dt_s < fast_s(dist_m) || dt_s > max_gap_s as f64 {
            return None;
        }
        let excess = (dt_s - typical_s(dist_m)).max(0.0);
        Some(-(theta_s / 86_400.0).ln() - excess / theta_s)
    };
    // Port to port, two unseen waits: log density (per day) of the unseen time `x` days,
    // `(x + x0) e^(-x/θ) / (θ² + x0 θ)` with θ half the mean. Its bound, non-increasing in
    // the gap, holds the density at its mode (`x = θ - x0`) for shorter gaps.
    let pp_theta = lp.port_passage_unseen_days / 2.0;
    let pp_norm = (pp_theta * pp_theta + PASSAGE_UNSEEN_OFFSET_DAYS * pp_theta).ln();
    let pp_density =
        move |x_days: f64| (x_days + PASSAGE_UNSEEN_OFFSET_DAYS).ln() - pp_norm - x_days / pp_theta;
    let port_passage_time = |dist_m: f64, dt_s: f64| -> Option<f64> {
        if dt_s < fast_s(dist_m) || dt_s > max_gap_s as f64 {
            return None;
        }
        Some(pp_density((dt_s - typical_s(dist_m)).max(0.0) / 86_400.0))
    };
    let port_passage_time_upper = move |dist_m: f64, dt_s: f64| -> f64 {
        if dt_s > max_gap_s as f64 {
            return f64::NEG_INFINITY;
        }
        let x = (dt_s - typical_s(dist_m)).max(0.0) / 86_400.0;
        pp_density(x.max(pp_theta - PASSAGE_UNSEEN_OFFSET_DAYS))
    };
    let sea_m = |a: &NodeInfo, b: &NodeInfo| -> Option<f64> {
        (input.sea.point_km?)((a.lon, a.lat), (b.lon, b.lat)).map(|km| km * 1000.0)
    };
    // Underway at sea (below), a sighting more than an hour after another at sea, of a
    // vessel without imo or mmsi, lies at least `min_speed_kn` times the gap away: so no
    // later than `slow_s` of the farthest sea node. With sea distances never known, that is
    // at most the geodesic bound of the farthest corner of the sea nodes' box (ECEF).
    let sea_box = at_sea
        .iter()
        .fold(None, |b: Option<([f64; 3], [f64; 3])>, &k| {
            let p = info[k].ecef;
            Some(b.map_or((p, p), |(lo, hi)| {
                (
                    [lo[0].min(p[0]), lo[1].min(p[1]), lo[2].min(p[2])],
                    [hi[0].max(p[0]), hi[1].max(p[1]), hi[2].max(p[2])],
                )
            }))
        });
    let underway_until_s = |a: &NodeInfo| -> Option<f64> {
        let (lo, hi) = sea_box?;
        let identified = a.attrs.imo().is_some() || a.attrs.mmsi().is_some();
        if a.port.is_some() || input.sea.point_km.is_some() || identified {
            return None;
        }
        let far = |i: usize| (a.ecef[i] - lo[i]).abs().max((hi[i] - a.ecef[i]).abs());
        let chord = (far(0).powi(2) + far(1).powi(2) + far(2).powi(2)).sqrt();
        let far_m = m_for_chord(chord) * 1.01 + 1.0; // as sphere_bounds_m's upper bound
        Some(
            slow_s(far_m)
                .max(3600.0)
                .max(cfg.stays.duplicate_window_s as f64),
        )
    };
    let point_m = |a: &NodeInfo, b: &NodeInfo| -> f64 {
        sea_m(a, b).unwrap_or_else(|| geodesic_m((a.lon, a.lat), (b.lon, b.lat)))
    };
    let s2 = 2.0 * BERTH_POSITION_SIGMA_M.powi(2);
    // Terms of a return's timing that are the same for every pair: the log of a port's
    // area in berth-position units, and the rate of "a trip out and back".
    let ln_berth: Vec<f64> = port_area_m2
        .iter()
        .map(|a| (a / (std::f64::consts::PI * s2)).ln())
        .collect();
    let trip = (1.0 - INTERRUPTED_SHARE) / lp.return_window_days.max(1.0);
    // Upper bounds of the weights below but the attributes and the destination's detector
    // term, at a gap `dt_s` (non-increasing in it), for the search: keep in step with them
    // (tests::pruned_search_is_exact checks). `dist_m` infinite: unknown.
    // `ln_days`: the log of `theta_s` in days.
    let passage_time_upper = |dist_m: f64, dt_s: f64, theta_s: f64, ln_days: f64| -> f64 {
        if dt_s > max_gap_s as f64 {
            return f64::NEG_INFINITY;
        }
        -ln_days - (dt_s - typical_s(dist_m)).max(0.0) / theta_s
    };
    let ln_days = |theta_s: f64| (theta_s / 86_400.0).ln();
    // A return to the node's own port, at a gap `dt_s` and at least `d_m` (great circle)
    // from its berth (non-increasing in both).
    let return_bound = |a: &NodeInfo, q: usize| {
        let c = lp.return_prior + return_bonus(&a.attrs, lp) - arrival_rate[q].ln() + a.real;
        let area = ln_berth[q];
        move |dt_s: f64, d_m: f64| {
            if dt_s > return_window_s as f64 {
                return f64::NEG_INFINITY;
            }
            // local_m may be 1 % and a metre shorter than the great circle.
            let d = (d_m * 0.99 - 1.0).max(0.0);
            let same_berth = (area - d * d / s2).min(SAME_BERTH_LLR_MAX);
            let interrupted = INTERRUPTED_SHARE * (-dt_s / 86_400.0 / INTERRUPTION_DAYS).exp()
                / INTERRUPTION_DAYS
                * same_berth.exp();
            (interrupted + trip).ln() + c
        }
    };
    // A passage to `dest` (another port, or the sea).
    let bound_to = |a: &NodeInfo, dest: Option<usize>| -> Box<dyn Fn(f64) -> f64 + '_> {
        let traveller = lp.passage_prior + traveller_prior(&a.attrs, lp) + a.real;
        match (a.port, dest) {
            (_, Some(q)) => {
                let dist_m = a
                    .port
                    .map_or(f64::INFINITY, |p| input.sea.port_km[p][q] * 1000.0);
                let bounded = if a.empty_after.is_some() {
                    BOUNDED_PASSAGE_LLR.max(0.0)
                } else {
                    0.0
                };
                let theta = if a.port.is_some() {
                    dwell_s
                } else {
                    dwell_s / 2.0
                };
                let c = bounded - passage_against(a.port, q).ln() + traveller;
                if a.port.is_some() && !dist_m.is_finite() {
                    return Box::new(|_| f64::NEG_INFINITY); // no passage is built
                }
                if a.port.is_some() {
                    return Box::new(move |dt_s| port_passage_time_upper(dist_m, dt_s) + c);
                }
                let ln_theta = ln_days(theta);
                Box::new(move |dt_s| passage_time_upper(dist_m, dt_s, theta, ln_theta) + c)
            }
            (port, None) => {
                let theta = if port.is_some() {
                    dwell_s
                } else {
                    dwell_s / 4.0
                };
                let duplicate_s = if port.is_none() {
                    cfg.stays.duplicate_window_s as f64
                } else {
                    f64::NEG_INFINITY
                };
                let c = -sea_rate.ln() + traveller;
                let dup = DUPLICATE_LLR + a.real;
                let ln_theta = ln_days(theta);
                let until_s = underway_until_s(a).unwrap_or(f64::INFINITY);
                Box::new(move |dt_s| {
                    if dt_s > until_s {
                        return f64::NEG_INFINITY; // underway: nothing this late is in reach
                    }
                    let passage = passage_time_upper(f64::INFINITY, dt_s, theta, ln_theta) + c;
                    if dt_s <= duplicate_s {
                        passage.max(dup)
                    } else {
                        passage
                    }
                })
            }
        }
    };

    let per_node: Vec<Vec<Candidate>> = order
        .par_iter()
        .map(|&u| {
            let a = &info[u];
            let t0 = a.t_last;
            // The node's own priors, once (not per pair scored).
            let traveller = traveller_prior(&a.attrs, lp);
            let home = return_bonus(&a.attrs, lp);
            let (ret_thr, pass_thr) = (Cell::new(0.0), Cell::new(0.0));
            // Returns above the floor, and (`low_return_candidates`) weaker ones while
            // there are few of those.
            let low_keep = match a.port {
                Some(q) if arrival_rate[q] <= lp.low_return_max_per_day => lp.low_return_candidates,
                _ => 0,
            };
            let mut ret_c =
                search::Best::tiered(&ret_thr, MIN_CANDIDATE_WEIGHT, LOW_RETURN_FLOOR, low_keep);
            let mut pass_c = search::Best::new(&pass_thr);
            let push = |v: &mut search::Best, to: usize, kind: LinkKind, w: f64| {
                let b = &info[to];
                if ids.conflicts(
                    &LinkEnd {
                        attrs: &a.attrs,
                        t: a.t_last,
                        ecef: a.ecef,
                    },
                    &LinkEnd {
                        attrs: &b.attrs,
                        t: b.t_first,
                        ecef: b.ecef,
                    },
                ) {
                    return;
                }
                v.push(Candidate {
                    from: u,
                    to,
                    kind,
                    weight: w + a.real + info[to].real,
                });
            };
            // Strictly forward in (time, node) order, so links can never form a loop.
            let later = |b: &NodeInfo, v: usize| {
                b.t_first > t0 || (b.t_first == t0 && b.obs.is_some() && a.obs.is_some() && v > u)
            };
            // Returns to the node's own port `q`, kept in `best` (whose threshold is `thr`).
            let scan_returns = |q: usize, best: &mut search::Best, thr: &Cell<f64>| {
                let mut found = search.after_return(q, u, t0, return_bound(a, q), thr);
                while let Some(v) = found.next() {
                    let b = &info[v];
                    if v == u || !later(b, v) || lengths_differ(&a.attrs, &b.attrs) {
                        continue;
                    }
                    if b.t_first - t0 > return_window_s {
                        continue;
                    }
                    let d = local_m((a.lon, a.lat), (b.lon, b.lat));
                    // Either the stay was only interrupted (clouds, a missed detection):
                    // a short gap at the same berth; or the vessel made an unseen trip
                    // and came back anywhere in the port within the return window.
                    let gap_days = (b.t_first - t0) as f64 / 86_400.0;
                    let same_berth = ln_berth[q] - d * d / s2;
                    let seen_empty = a.empty_after.is_some_and(|t| t < b.t_first);
                    // A clear scene showing the berth empty rules an interruption out,
                    // unless that scene missed the vessel.
                    let missed = if seen_empty { EMPTY_SCENE_MISS } else { 1.0 };
                    let interrupted =
                        missed * INTERRUPTED_SHARE * (-gap_days / INTERRUPTION_DAYS).exp()
                            / INTERRUPTION_DAYS
                            * same_berth.min(SAME_BERTH_LLR_MAX).exp();
                    let time = (interrupted + trip).ln() - ln_arrival[q];
                    let others = time + lp.return_prior + home + a.real + b.real;
                    if search::below(found.attr_upper() + others, thr) {
                        continue;
                    }
                    let Some(attr) = cost::attribute_llr(&a.attrs, &b.attrs, false, 0.0) else {
                        continue;
                    };
                    push(
                        best,
                        v,
                        LinkKind::Return,
                        attr + time + lp.return_prior + home,
                    );
                }
            };
            // To ports.
            for q in 0..by_port.len() {
                if a.port == Some(q) {
                    scan_returns(q, &mut ret_c, &ret_thr);
                    continue;
                }
                let thr = &pass_thr;
                let bound = bound_to(a, Some(q));
                let ln_against = passage_against(a.port, q).ln();
                let mut found = search.after(q, u, t0, true, CONTAINERS_DRIFT, bound, thr);
                while let Some(v) = found.next() {
                    let b = &info[v];
                    if v == u || !later(b, v) || lengths_differ(&a.attrs, &b.attrs) {
                        continue;
                    }
                    let dt_s = (b.t_first - t0) as f64;
                    let dist_m = match a.port {
                        Some(p) => input.sea.port_km[p][q] * 1000.0,
                        None => point_m(a, b),
                    };
                    if !dist_m.is_finite() {
                        continue;
                    }
                    // Clear scenes bound departure and arrival: the vessel was at sea at
                    // least from `empty_after` (origin) to `empty_before` (destination).
                    // A bound that contradicts the passage means one of the two scenes
                    // missed the vessel (detectors miss ships): unlikely, not impossible.
                    let bounded = match (a.empty_after, b.empty_before) {
                        (Some(l), Some(r)) if (r - l) as f64 > slow_s(dist_m) => {
                            (2.0 * EMPTY_SCENE_MISS).ln()
                        }
                        (Some(_), Some(_)) => BOUNDED_PASSAGE_LLR,
                        _ => 0.0,
                    };
                    let theta = if a.port.is_some() {
                        dwell_s
                    } else {
                        dwell_s / 2.0
                    };
                    let time = if a.port.is_some() {
                        port_passage_time(dist_m, dt_s)
                    } else {
                        passage_time(dist_m, dt_s, theta)
                    };
                    let Some(time) = time else {
                        continue;
                    };
                    let others = time + bounded - ln_against
                        + lp.passage_prior
                        + traveller
                        + a.real
                        + b.real;
                    if search::below(found.attr_upper() + others, thr) {
                        continue;
                    }
                    let Some(attr) =
                        cost::attribute_llr(&a.attrs, &b.attrs, true, CONTAINERS_DRIFT)
                    else {
                        continue;
                    };
                    let w = attr + time + bounded - ln_against + lp.passage_prior + traveller;
                    push(&mut pass_c, v, LinkKind::Passage, w);
                }
            }
            // To the sea.
            let bound = bound_to(a, None);
            let sea = by_port.len();
            let theta = if a.port.is_some() {
                dwell_s
            } else {
                dwell_s / 4.0
            };
            let sea_ln_theta = ln_days(theta);
            let mut found = search.after(sea, u, t0, true, CONTAINERS_DRIFT, bound, &pass_thr);
            while let Some(v) = found.next() {
                let b = &info[v];
                if v == u || !later(b, v) {
                    continue;
                }
                if let (Some(x), Some(y)) = (a.obs, b.obs) {
                    if same_image(&obs[x], &obs[y]) {
                        continue;
                    }
                }
                let dt_s = (b.t_first - t0) as f64;
                // Before scoring: the distance's bounds (the geodesic is dear) may already
                // rule the pair out, or bound its weight below the threshold.
                let known_m = sea_m(a, b);
                let (lo_m, hi_m) = known_m.map_or_else(|| sphere_bounds_m(a, b), |d| (d, d));
                let duplicate = a.port.is_none()
                    && dt_s <= cfg.stays.duplicate_window_s as f64
                    && lo_m <= cfg.stays.duplicate_radius_m;
                if !duplicate {
                    if a.port.is_none()
                        && dt_s > 3600.0
                        && dt_s > slow_s(hi_m)
                        && !cost::same_vessel(&a.attrs, &b.attrs)
                    {
                        continue; // underway at sea, as below
                    }
                    if dt_s < fast_s(lo_m) || dt_s > max_gap_s as f64 {
                        continue; // no passage_time
                    }
                }
                let passage = passage_time_upper(hi_m, dt_s, theta, sea_ln_theta) - ln_sea_rate
                    + lp.passage_prior
                    + traveller;
                let others = if duplicate {
                    passage.max(DUPLICATE_LLR)
                } else {
                    passage
                };
                if search::below(found.attr_upper() + others + a.real + b.real, &pass_thr) {
                    continue;
                }
                let Some(attr) = cost::attribute_llr(&a.attrs, &b.attrs, true, CONTAINERS_DRIFT)
                else {
                    continue;
                };
                // Again with the attributes scored, before the geodesic (as dear as scoring).
                if search::below(attr + others + a.real + b.real, &pass_thr) {
                    continue;
                }
                let dist_m = known_m.unwrap_or_else(|| geodesic_m((a.lon, a.lat), (b.lon, b.lat)));
                if a.port.is_none()
                    && dt_s <= cfg.stays.duplicate_window_s as f64
                    && dist_m <= cfg.stays.duplicate_radius_m
                {
                    push(&mut pass_c, v, LinkKind::Duplicate, attr + DUPLICATE_LLR);
                    continue;
                }
                if a.port.is_none()
                    && dt_s > 3600.0
                    && dt_s > slow_s(dist_m)
                    && !cost::same_vessel(&a.attrs, &b.attrs)
                {
                    // Underway at sea: at least the minimum speed. The same imo/mmsi is the
                    // same vessel whatever its speed (it may have called at a port unseen).
                    continue;
                }
                let Some(time) = passage_time(dist_m, dt_s, theta) else {
                    continue;
                };
                let w = attr + time - ln_sea_rate + lp.passage_prior + traveller;
                push(&mut pass_c, v, LinkKind::Passage, w);
            }
            let mut kept = ret_c.into_kept();
            kept.extend(keep_best(vec![pass_c.cands], MIN_CANDIDATE_WEIGHT));
            kept
        })
        .collect();
    // The index is done with: free it before the candidates are gathered and sorted (at
    // 1M this is the run's peak of memory).
    drop(search);
    let mut all: Vec<Candidate> = per_node.into_iter().flatten().collect();
    all.sort_by_key(|c| (c.from, c.to));
    let pair = refine::pair_terms(&all, |k| &info[k].attrs);
    (all, pair)
}

/// Each stay's detections (indices into the observations, in time order), kept flat: as a
/// `Vec` each, hundreds of thousands of lone sightings would cost an allocation apiece.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StayMembers {
    flat: Vec<usize>,
    /// End of each stay's detections in `flat`.
    end: Vec<usize>,
}

impl StayMembers {
    /// Adds a stay with the detections `members`.
    pub fn push(&mut self, members: &[usize]) {
        self.flat.extend_from_slice(members);
        self.end.push(self.flat.len());
    }

    /// The number of stays.
    pub fn len(&self) -> usize {
        self.end.len()
    }

    pub fn is_empty(&self) -> bool {
        self.end.is_empty()
    }

    /// The detections of stay `s`.
    pub fn get(&self, s: usize) -> &[usize] {
        let start = s.checked_sub(1).map_or(0, |p| self.end[p]);
        &self.flat[start..self.end[s]]
    }
}

impl<'a> FromIterator<&'a [usize]> for StayMembers {
    fn from_iter<I: IntoIterator<Item = &'a [usize]>>(stays: I) -> StayMembers {
        let mut out = StayMembers::default();
        for members in stays {
            out.push(members);
        }
        out
    }
}

/// Runs both stages.
pub fn link(input: &LinkInput) -> Linked {
    let obs = input.obs;
    let n = obs.len();
    let mut timings = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &str, timings: &mut Vec<(String, f64)>| {
        timings.push((name.to_string(), clock.elapsed().as_secs_f64()));
        clock = std::time::Instant::now();
    };
    // Where each identity was seen: a hard constraint on links and on whole chains.
    let ids = IdentityTimes::new(obs, input.config.linking.max_speed_kn);
    // Stage 1: stays.
    let cands = stay_candidates_with(input, &ids, search::Mode::Pruned);
    lap("linking: stay candidates", &mut timings);
    let mut counts = vec![(
        "linking: stay candidates".to_string(),
        format!(
            "{} candidates between {} port detections",
            cands.len(),
            input.port_of.iter().flatten().count()
        ),
    )];
    let min_p = input.config.linking.min_link_probability;
    let mut stay_links = choose(n, &cands, min_p);
    lap("linking: stay assignment", &mut timings);
    let stay_candidates = cands.len();
    let mut cands = if input.config.linking.berth_density {
        // Moved in, so that the first pass is freed here.
        let first_pass = cands;
        let reweighed = berth_reweigh(input, &first_pass, &stay_links);
        stay_links = choose(n, &reweighed, min_p);
        lap("linking: berth reuse", &mut timings);
        reweighed
    } else {
        cands
    };
    // Identity on whole stays (see `identity.rs`); a stage-1 node is one detection.
    let near_m = input.config.stays.berth_radius_m;
    let single: Vec<usize> = if ids.is_empty() {
        Vec::new()
    } else {
        (0..n).collect()
    };
    let split = input
        .config
        .linking
        .split_stays
        .then(|| StaySplit::new(&input.config.sensors));
    let stay_links = identity::honour(
        n,
        &mut cands,
        stay_links,
        min_p,
        MAX_IDENTITY_ROUNDS,
        |links, changed| {
            let mut bad = identity::contradicted_links(
                &ids,
                obs,
                links,
                |k| ChainNode {
                    members: &single[k..=k],
                    t_first: obs[k].observed_at,
                    t_last: obs[k].observed_at,
                    ecef: to_ecef_m(obs[k].lon, obs[k].lat),
                },
                |i| input.port_of[i].map(|_| i),
                near_m,
                changed,
            );
            if let Some(split) = &split {
                bad.extend(split.contradicted(obs, links, changed));
                bad.sort_unstable();
                bad.dedup();
            }
            bad
        },
    );
    drop(split);
    lap("linking: stay identity", &mut timings);
    // Each stay's detections: stage 2 needs just what its nodes compare, and `derive` only
    // the stays tracks keep in full (memory: at a million detections, hundreds of
    // thousands of stays, most of them lone sightings).
    let mut members = StayMembers::default();
    let mut stay_port = Vec::new();
    let mut chain = Vec::new();
    for &i in &time_order(obs) {
        let Some(p) = input.port_of[i] else { continue };
        if stay_links.predecessor[i].is_some() {
            continue;
        }
        chain.clear();
        stay_links.push_chain(i, &mut chain);
        members.push(&chain);
        stay_port.push(p);
    }
    // Stage 1's candidates and links are done with (memory: they are per observation).
    drop((cands, stay_links, single));
    let summarise = |s: usize| {
        crate::stays::summarise(
            members.get(s).to_vec(),
            &input.ports[stay_port[s]].port_id,
            obs,
            input.empty,
        )
    };
    // Stage 2: voyages and tracks.
    let mut nodes: Vec<Node> = (0..members.len()).map(Node::Stay).collect();
    nodes.extend(
        time_order(obs)
            .into_iter()
            .filter(|&i| input.port_of[i].is_none())
            .map(Node::Sea),
    );
    lap("linking: stays", &mut timings);
    counts.push((
        "linking: stays".to_string(),
        format!(
            "{} stays, {} detections at sea",
            members.len(),
            nodes.len() - members.len()
        ),
    ));
    let info = node_infos(input, &nodes, |s| {
        NodeInfo::of_stay(&summarise(s), stay_port[s], obs, &input.config.sensors)
    });
    // What the identity check reads of a stay but its detections: first and last sighting
    // and position.
    let stay_span: Vec<(Time, Time, [f64; 3])> = info[..members.len()]
        .iter()
        .map(|k| (k.t_first, k.t_last, k.ecef))
        .collect();
    let (mut cands2, pair) = track_candidates_with(input, info, &ids, search::Mode::Pruned);
    lap("linking: track candidates", &mut timings);
    counts.push((
        "linking: track candidates".to_string(),
        format!("{} candidates", cands2.len()),
    ));
    let mut links = choose(nodes.len(), &cands2, min_p);
    let mut lowered = 0;
    if input.config.linking.route_shares {
        lowered = route_reweigh(&mut cands2, &links, &nodes, &stay_port, input.ports.len());
        if lowered > 0 {
            links = choose(nodes.len(), &cands2, min_p);
        }
    }
    lap("linking: track assignment", &mut timings);
    let linked_count = |links: &Links| links.successor.iter().flatten().count();
    counts.push((
        "linking: track assignment".to_string(),
        format!(
            "{} links; {lowered} passages lowered by route shares",
            linked_count(&links)
        ),
    ));
    // Identity as a hard constraint on whole tracks.
    let mut node_of_obs = vec![usize::MAX; if ids.is_empty() { 0 } else { n }];
    if !ids.is_empty() {
        for (k, node) in nodes.iter().enumerate() {
            for &i in node.observations(&members) {
                node_of_obs[i] = k;
            }
        }
    }
    let contradicted = |links: &Links, changed: Option<&[usize]>| {
        identity::contradicted_links(
            &ids,
            obs,
            links,
            |k| match nodes[k] {
                Node::Stay(s) => ChainNode {
                    members: members.get(s),
                    t_first: stay_span[s].0,
                    t_last: stay_span[s].1,
                    ecef: stay_span[s].2,
                },
                Node::Sea(i) => ChainNode {
                    members: nodes[k].observations(&members),
                    t_first: obs[i].observed_at,
                    t_last: obs[i].observed_at,
                    ecef: to_ecef_m(obs[i].lon, obs[i].lat),
                },
            },
            |i| node_of_obs.get(i).copied().filter(|&k| k != usize::MAX),
            near_m,
            changed,
        )
    };
    let mut links = if input.config.linking.refine_rounds > 0 {
        let (links, parts) = refine::refine(
            &refine::Tracks {
                obs,
                nodes: &nodes,
                stays: &members,
                sensors: &input.config.sensors,
            },
            cands2,
            pair,
            links,
            refine::Limits {
                rounds: input.config.linking.refine_rounds,
                swaps: input.config.linking.track_swaps,
                identity_rounds: MAX_IDENTITY_ROUNDS,
                min_p,
            },
            contradicted,
        );
        lap("linking: track refinement", &mut timings);
        counts.push((
            "linking: track refinement".to_string(),
            format!("{} links", linked_count(&links)),
        ));
        // Its parts, after the whole (the whole is what the bench reads).
        for (part, s) in [
            ("rounds", parts.rounds_s),
            ("swaps", parts.swaps_s),
            ("identity", parts.identity_s),
        ] {
            timings.push((format!("linking: track refinement: {part}"), s));
        }
        links
    } else {
        identity::honour(
            nodes.len(),
            &mut cands2,
            links,
            min_p,
            MAX_IDENTITY_ROUNDS,
            contradicted,
        )
    };
    // Whole tracks of one vessel across gaps no link could span; each round's joins make
    // the tracks' attributes surer for the next.
    let stitch_rounds = if input.config.linking.stitch_tracks {
        STITCH_ROUNDS
    } else {
        0
    };
    let stitching = stitch::StitchInput {
        obs,
        nodes: &nodes,
        members: &members,
        stay_port: &stay_port,
        stay_span: &stay_span,
        sea: input.sea,
        sensors: &input.config.sensors,
        params: &input.config.linking,
        ids: &ids,
    };
    for _ in 0..stitch_rounds {
        let joined = stitch::stitch(&stitching, &mut links);
        if joined == 0 {
            break;
        }
        // A join sees only the two tracks' ends; undo those whose track now contradicts
        // its identity elsewhere (every join in such a track).
        if !ids.is_empty() {
            let blamed = contradicted(&links, None);
            undo_joins(&mut links, &blamed);
        }
    }
    if stitch_rounds > 0 {
        lap("linking: stitching", &mut timings);
        counts.push((
            "linking: stitching".to_string(),
            format!("{} links", linked_count(&links)),
        ));
    }
    Linked {
        stays: members,
        stay_port,
        nodes,
        links,
        stay_candidates,
        timings,
        counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::obs;

    /// Passages between ports the tracks seldom sail are lowered by the pair's share of
    /// the passages against the traffic share; well-sailed pairs, returns and passages
    /// from the sea keep their weights.
    #[test]
    fn route_shares_lower_seldom_sailed_port_pairs() {
        // Ports 0 (a), 1 (b), 2 (c), stays of equal traffic: 6 at each port.
        // One track sails a, b, a, b, a, b (5 passages between a and b, none to c).
        let stay_port = [0, 1, 0, 1, 0, 1, 2, 2, 2, 2, 2, 2, 0, 1, 0, 1, 0, 1];
        let mut nodes: Vec<Node> = (0..stay_port.len()).map(Node::Stay).collect();
        nodes.push(Node::Sea(0));
        let sea = nodes.len() - 1;
        let mut links = Links::none(nodes.len(), 0);
        for k in 0..5 {
            links.set(k, k + 1, LinkKind::Passage, 1.0, 1.0);
        }
        let cand = |from, to, kind| Candidate {
            from,
            to,
            kind,
            weight: 2.0,
        };
        let mut cands = vec![
            cand(12, 13, LinkKind::Passage), // a -> b: sailed
            cand(12, 6, LinkKind::Passage),  // a -> c: never sailed
            cand(6, 13, LinkKind::Passage),  // c -> b: nothing sails out of c
            cand(12, 14, LinkKind::Return),
            cand(sea, 6, LinkKind::Passage),
        ];
        let lowered = route_reweigh(&mut cands, &links, &nodes, &stay_port, 3);
        assert_eq!(lowered, 1);
        // a's passages: 3 to b, none to c. Traffic share of c from a: 6 / 12.
        let share = 0.5;
        let habit = (0.0 + ROUTE_PSEUDO_PASSAGES * share) / (3.0 + ROUTE_PSEUDO_PASSAGES);
        assert!((cands[1].weight - (2.0 + (habit / share).ln())).abs() < 1e-12);
        assert!(cands[1].weight < 1.5);
        for k in [0, 2, 3, 4] {
            assert_eq!(cands[k].weight, 2.0, "candidate {k}");
        }
    }

    #[test]
    fn undoing_joins_cuts_only_the_blamed_tracks_gap_links() {
        // 0 -> 1 =gap=> 2 -> 3, and 4 =gap=> 5 elsewhere.
        let mut l = Links::none(6, 0);
        for (a, b, kind) in [
            (0, 1, LinkKind::Passage),
            (1, 2, LinkKind::Gap),
            (2, 3, LinkKind::Passage),
            (4, 5, LinkKind::Gap),
        ] {
            l.set(a, b, kind, 0.0, 0.0);
        }
        undo_joins(&mut l, &[(2, 3)]);
        assert_eq!(l.successor[1], None);
        assert_eq!(l.predecessor[2], None);
        assert_eq!(l.successor[0], Some(1), "plain links stay");
        assert_eq!(l.successor[2], Some(3));
        assert_eq!(l.successor[4], Some(5), "another track's join stays");
    }

    #[test]
    fn detector_confidence_as_existence() {
        let mut a = obs("a", 130.3, 42.2, 0);
        assert_eq!(real_llr(&[&a]), 0.0, "no confidence: surely real");
        a.confidence = Some(0.5);
        assert!((real_llr(&[&a]) - 0.5f64.ln()).abs() < 1e-12);
        let mut b = a.clone();
        b.confidence = Some(0.5);
        assert!(
            (real_llr(&[&a, &b]) - 0.75f64.ln()).abs() < 1e-12,
            "one of two is real"
        );
        a.confidence = Some(0.0);
        assert!(real_llr(&[&a]) >= 0.02f64.ln() - 1e-12, "floored");
    }

    /// A dense random scene: stays of 1-3 detections in the four built-in ports and at-sea
    /// detections, with every attribute sometimes missing, some identities and names, and
    /// empty-berth bounds; so that many nodes have more than `MAX_CANDIDATES` candidates.
    fn dense_scene(
        seed: u64,
        n: usize,
        jitter_deg: f64,
    ) -> (Vec<Observation>, Vec<Option<usize>>, EmptyBerth) {
        use crate::model::Sensor;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let ports = crate::ports::builtin();
        let sensors = [
            Sensor::Sentinel1,
            Sensor::Sentinel2,
            Sensor::Planetscope,
            Sensor::Skysat,
        ];
        let classes = [VesselClass::Cargo, VesselClass::Container, VesselClass::Tug];
        let colours = ["red", "blue", "black"];
        let (mut out, mut port_of) = (Vec::new(), Vec::new());
        let mut empty = EmptyBerth::default();
        for k in 0..n {
            let t = rng.gen_range(0..20 * 86_400i64);
            let port = (rng.gen_range(0..5usize) < 4).then(|| rng.gen_range(0..ports.len()));
            let (lon, lat) = match port {
                Some(p) => (
                    ports[p].berth_lon + jitter_deg * rng.gen_range(-1.5..1.5),
                    ports[p].berth_lat + jitter_deg * rng.gen_range(-1.0..1.0),
                ),
                None => (rng.gen_range(130.0..132.0), rng.gen_range(42.0..43.0)),
            };
            let mut o = obs(&format!("o{k:05}"), lon, lat, t);
            o.sensor = sensors[rng.gen_range(0..sensors.len())];
            o.scene_id = Some(format!("s{}", rng.gen_range(0..200)).into());
            o.confidence = rng.gen_bool(0.5).then(|| rng.gen_range(0.3..1.0));
            o.length_m = rng.gen_bool(0.9).then(|| rng.gen_range(40.0..200.0));
            o.beam_m = rng.gen_bool(0.7).then(|| rng.gen_range(8.0..30.0));
            o.vessel_class = rng
                .gen_bool(0.7)
                .then(|| classes[rng.gen_range(0..classes.len())].clone());
            o.hull_color = rng
                .gen_bool(0.6)
                .then(|| colours[rng.gen_range(0..colours.len())].into());
            o.containers = rng.gen_bool(0.3).then(|| rng.gen_range(0..200));
            o.identity_mut().imo = rng
                .gen_bool(0.1)
                .then(|| format!("{}", rng.gen_range(0..20)));
            o.identity_mut().mmsi = rng
                .gen_bool(0.1)
                .then(|| format!("{}", rng.gen_range(0..20)));
            // Names compare without case.
            o.identity_mut().name = rng
                .gen_bool(0.3)
                .then(|| ["a", "A", "b", "Tug 7"][rng.gen_range(0..4)].to_string());
            empty
                .before
                .push(rng.gen_bool(0.3).then(|| t - rng.gen_range(0..86_400)));
            empty
                .after
                .push(rng.gen_bool(0.3).then(|| t + rng.gen_range(0..86_400)));
            out.push(o);
            port_of.push(port);
        }
        (out, port_of, empty)
    }

    /// Links of equal imo/mmsi join one vessel for certain: the other sightings of that
    /// identity do not compete with them, so they are never cut as improbable; plain links
    /// still are.
    #[test]
    fn identity_links_are_not_diluted_by_each_other() {
        let cand = |from, to, weight| Candidate {
            from,
            to,
            kind: LinkKind::Passage,
            weight,
        };
        let mut cands = Vec::new();
        for i in 0..5 {
            for j in i + 1..5 {
                cands.push(cand(i, j, 44.0 - (j - i) as f64));
            }
        }
        cands.push(cand(5, 6, 1.0));
        cands.push(cand(5, 7, 1.0));
        let links = choose(8, &cands, 0.7);
        for i in 0..4 {
            assert_eq!(links.successor[i], Some(i + 1), "identity chain at {i}");
            assert!(links.probability[i] > 0.99, "{}", links.probability[i]);
        }
        assert_eq!(
            links.successor[5], None,
            "a plain link with an equal rival is cut"
        );
    }

    /// A quay berth that a new vessel takes every two days (clear scenes show it empty in
    /// between): a sighting there a day after another counts for less than at a spot no
    /// other vessel uses; weights never rise.
    #[test]
    fn reused_berths_weaken_stay_links() {
        let config = Config::default();
        let ports = crate::ports::builtin();
        let najin = ports.iter().position(|p| p.port_id == "najin").unwrap_or(0);
        let (quay, quiet) = ((130.300, 42.236), (130.306, 42.226));
        let mut o = Vec::new();
        for k in 0..30 {
            let t = k * 2 * 86_400;
            for (j, dt) in [0, 86_400].into_iter().enumerate() {
                let mut x = obs(&format!("q{k:02}{j}"), quay.0, quay.1, t + dt);
                x.length_m = Some(100.0);
                o.push(x);
            }
        }
        for (j, t) in [(0, 10 * 86_400), (1, 11 * 86_400)] {
            let mut x = obs(&format!("z{j}"), quiet.0, quiet.1, t);
            x.sensor = crate::model::Sensor::Skysat;
            x.length_m = Some(60.0);
            o.push(x);
        }
        let port_of = vec![Some(najin); o.len()];
        // A clear scene shows the quay empty between two vessels.
        let empty = EmptyBerth {
            before: vec![None; o.len()],
            after: o
                .iter()
                .map(|x| {
                    let second = x.id.starts_with('q') && x.id.ends_with('1');
                    second.then_some(x.observed_at + 43_200)
                })
                .collect(),
        };
        let sea = sea_between(vec![vec![0.0; ports.len()]; ports.len()]);
        let input = LinkInput {
            obs: &o,
            port_of: &port_of,
            ports: &ports,
            empty: &empty,
            sea: &sea,
            config: &config,
        };
        let cands = stay_candidates(&input);
        let links = choose(o.len(), &cands, 0.0);
        let after = berth_reweigh(&input, &cands, &links);
        let shift = |from: usize, to: usize| {
            let i = cands.iter().position(|c| c.from == from && c.to == to);
            i.map(|i| after[i].weight - cands[i].weight)
        };
        let at_quay = shift(20, 21).expect("quay pair is a candidate");
        let alone = shift(60, 61).expect("quiet pair is a candidate");
        assert!(at_quay < -1.0, "quay link should weaken: {at_quay}");
        assert!(
            alone.abs() < 1e-9,
            "a lone vessel's link should not change: {alone}"
        );
        assert!(after.iter().zip(&cands).all(|(a, c)| a.weight <= c.weight));
    }

    /// The stays `link` makes of `o`, all in the built-in port `port_id` (no scenes, every
    /// port 0 km apart), with the config `tweak` leaves.
    fn stays_at(o: &[Observation], port_id: &str, tweak: impl Fn(&mut Config)) -> Vec<Vec<usize>> {
        let ports = crate::ports::builtin();
        let p = ports.iter().position(|p| p.port_id == port_id);
        let port_of = vec![Some(p.expect("a built-in port")); o.len()];
        let empty = EmptyBerth {
            before: vec![None; o.len()],
            after: vec![None; o.len()],
        };
        let sea = sea_between(vec![vec![0.0; ports.len()]; ports.len()]);
        let mut config = Config::default();
        tweak(&mut config);
        let linked = link(&LinkInput {
            obs: o,
            port_of: &port_of,
            ports: &ports,
            empty: &empty,
            sea: &sea,
            config: &config,
        });
        (0..linked.stays.len())
            .map(|s| linked.stays.get(s).to_vec())
            .collect()
    }

    /// One quay berth, a sighting a day: a green 118 m cargo ship measured closely, three
    /// sightings of about its length without colour or class, then a red 131 m ro-ro
    /// measured closely three times. Each link fits its two ends, so the pairwise stay runs
    /// from the green ship into the red one; judged with the stay's sides, the links
    /// between the two vessels do not hold, and the stay is split at the worst of them.
    #[test]
    fn a_stay_splits_where_its_sides_are_two_vessels() {
        use crate::model::Sensor;
        let quay = (130.300, 42.236);
        let green = (Sensor::Skysat, Some("green"), Some(VesselClass::Cargo));
        let unknown = (Sensor::Planetscope, None, None);
        let red = (Sensor::Skysat, Some("red"), Some(VesselClass::Roro));
        let sightings = [
            (118.0, green.clone()),
            (119.0, unknown.clone()),
            (120.0, unknown.clone()),
            (121.0, unknown),
            (131.0, red.clone()),
            (130.5, red.clone()),
            (131.5, red),
        ];
        let o: Vec<Observation> = sightings
            .iter()
            .enumerate()
            .map(|(k, (length, (sensor, colour, class)))| {
                let mut x = obs(&format!("q{k}"), quay.0, quay.1, k as i64 * 86_400);
                x.sensor = *sensor;
                x.length_m = Some(*length);
                x.hull_color = colour.map(Into::into);
                x.vessel_class = class.clone();
                x
            })
            .collect();
        let stays_with =
            |split: bool| stays_at(&o, "najin", |c: &mut Config| c.linking.split_stays = split);
        assert_eq!(
            stays_with(false),
            vec![(0..7).collect::<Vec<_>>()],
            "pairwise, the two vessels are one stay"
        );
        assert_eq!(stays_with(true), vec![vec![0, 1, 2, 3], vec![4, 5, 6]]);
    }

    #[test]
    fn a_stay_candidate_skipping_a_sighting_of_its_vessel_is_dropped() {
        let o: Vec<Observation> = (0..4)
            .map(|k| obs(&format!("q{k}"), 130.3, 42.236, k as i64 * 3_600))
            .collect();
        let cand = |from, to| Candidate {
            from,
            to,
            kind: LinkKind::Stay,
            weight: 5.0,
        };
        // 0 -> 2 skips 1 (a candidate from 0 and to 2); 1 -> 3 skips 2 likewise; 0 -> 3
        // skips both. 2 -> 3 has nothing between.
        let all = vec![
            cand(0, 1),
            cand(0, 2),
            cand(0, 3),
            cand(1, 2),
            cand(1, 3),
            cand(2, 3),
        ];
        let kept: Vec<(usize, usize)> = next_sightings_only(all.clone(), &o)
            .iter()
            .map(|c| (c.from, c.to))
            .collect();
        assert_eq!(kept, vec![(0, 1), (1, 2), (2, 3)]);
        // Without 1 -> 2, nothing lies between 0 and 2 (1 is no candidate to 2) nor between
        // 1 and 3; 0 -> 3 still skips 1 (0 -> 1 and 1 -> 3).
        let without: Vec<Candidate> = all
            .into_iter()
            .filter(|c| (c.from, c.to) != (1, 2))
            .collect();
        let kept: Vec<(usize, usize)> = next_sightings_only(without, &o)
            .iter()
            .map(|c| (c.from, c.to))
            .collect();
        assert_eq!(kept, vec![(0, 1), (0, 2), (1, 3), (2, 3)]);
    }

    /// Six sightings of one grey 100-110 m ship at a Dunay quay over two days (simulated
    /// seed 4, local-0008): pairwise, two long links outweigh the short ones between, and the
    /// assignment threads the sightings into two interleaved stays.
    #[test]
    fn one_vessels_sightings_at_one_spot_are_one_stay() {
        use crate::model::Sensor;
        use VesselClass::{Cargo, Naval, Unknown};
        let grey = Some("grey");
        // (seconds, lon, lat) and (sensor, length, colour, class, confidence).
        let at = [
            (0, 132.355_773, 42.905_338),
            (73_216, 132.355_967, 42.905_624),
            (90_336, 132.355_764, 42.905_395),
            (91_056, 132.355_703, 42.905_374),
            (91_613, 132.355_567, 42.905_393),
            (174_730, 132.355_706, 42.905_366),
        ];
        let seen = [
            (Sensor::Planetscope, 109.2, grey, Naval, 0.81),
            (Sensor::Sentinel1, 123.0, None, Unknown, 0.56),
            (Sensor::Planetscope, 106.7, grey, Cargo, 0.78),
            (Sensor::Skysat, 100.5, grey, Naval, 0.81),
            (Sensor::Sentinel2, 92.0, grey, Naval, 0.77),
            (Sensor::Planetscope, 106.8, grey, Cargo, 0.69),
        ];
        let o: Vec<Observation> = at
            .iter()
            .zip(seen)
            .enumerate()
            .map(
                |(k, (&(t, lon, lat), (sensor, length, colour, class, conf)))| {
                    let mut x = obs(&format!("q{k}"), lon, lat, t);
                    x.sensor = sensor;
                    x.length_m = Some(length);
                    x.hull_color = colour.map(Into::into);
                    x.vessel_class = Some(class);
                    x.confidence = Some(conf);
                    x
                },
            )
            .collect();
        let stays_with = |next_only: bool| {
            stays_at(&o, "dunay", |c: &mut Config| {
                c.linking.stay_next_sighting = next_only
            })
        };
        let pairwise = stays_with(false);
        assert!(
            pairwise.len() > 1,
            "pairwise, the sightings are more than one stay: {pairwise:?}"
        );
        assert_eq!(stays_with(true), vec![(0..6).collect::<Vec<_>>()]);
    }

    /// Stage-2 candidates (every pair scored) of one-detection stays at the built-in ports,
    /// 200 km apart by sea.
    fn one_sighting_stays(o: &[Observation], port_of: &[Option<usize>]) -> Vec<Candidate> {
        let ports = crate::ports::builtin();
        let sea = sea_between(
            (0..ports.len())
                .map(|a| {
                    (0..ports.len())
                        .map(|b| if a == b { 0.0 } else { 200.0 })
                        .collect()
                })
                .collect(),
        );
        one_sighting_candidates(
            o,
            port_of,
            &sea,
            &Config::default(),
            search::Mode::Exhaustive,
        )
    }

    /// Stage-2 candidates over `o`, each detection a stay of its own (all in ports).
    fn one_sighting_candidates(
        o: &[Observation],
        port_of: &[Option<usize>],
        sea: &SeaDistances,
        config: &Config,
        mode: search::Mode,
    ) -> Vec<Candidate> {
        let ports = crate::ports::builtin();
        let empty = EmptyBerth::default();
        let input = LinkInput {
            obs: o,
            port_of,
            ports: &ports,
            empty: &empty,
            sea,
            config,
        };
        let stays: Vec<_> = (0..o.len())
            .map(|i| {
                let p = port_of[i].expect("in a port");
                crate::stays::summarise(vec![i], &ports[p].port_id, o, &empty)
            })
            .collect();
        let nodes: Vec<Node> = (0..o.len()).map(Node::Stay).collect();
        let info = node_infos(&input, &nodes, |s| {
            NodeInfo::of_stay(&stays[s], port_of[s].unwrap(), o, &config.sensors)
        });
        let ids = IdentityTimes::new(o, config.linking.max_speed_kn);
        track_candidates_with(&input, info, &ids, mode).0
    }

    fn weight_of(cands: &[Candidate], a: usize, b: usize) -> f64 {
        cands
            .iter()
            .find(|c| (c.from, c.to) == (a, b))
            .unwrap_or_else(|| panic!("{a} -> {b} is a candidate"))
            .weight
    }

    /// Two ships leave Najin half a day apart and two arrive in Dunay half a day apart, all
    /// alike: the unseen time of a port-to-port passage is two waits (after the last sighting,
    /// before the first), so the pairing in order, two ordinary gaps, outweighs the crossed
    /// one, a gap too short for any unseen time and a long one. Under one exponential the
    /// two pairings weigh the same (the gaps sum alike), and near-twins were swapped.
    #[test]
    fn port_passages_pair_in_order() {
        let ports = crate::ports::builtin();
        let (dunay, najin) = (0, 1);
        assert_eq!(ports[najin].port_id, "najin");
        let sail_s = (200_000.0 / (TYPICAL_SPEED_KN * M_PER_NM) * 3600.0) as i64;
        let day = 86_400;
        let at = |id: &str, p: usize, t: i64| {
            let mut o = obs(id, ports[p].berth_lon, ports[p].berth_lat, t);
            o.length_m = Some(134.0);
            o
        };
        let o = vec![
            at("left-1", najin, 0),
            at("left-2", najin, day / 2),
            at("came-1", dunay, sail_s + day * 3 / 4),
            at("came-2", dunay, sail_s + day * 5 / 4),
        ];
        let cands = one_sighting_stays(&o, &[Some(najin), Some(najin), Some(dunay), Some(dunay)]);
        let w = |a, b| weight_of(&cands, a, b);
        let in_order = w(0, 2) + w(1, 3);
        let crossed = w(0, 3) + w(1, 2);
        assert!(in_order > crossed + 0.3, "{in_order} vs {crossed}");
        assert!(w(0, 2) > w(1, 2), "a quarter day unseen is too little");
        // (One stay of the two at one berth half a day apart would win over both.)
        let passages: Vec<Candidate> = cands
            .into_iter()
            .filter(|c| c.kind == LinkKind::Passage)
            .collect();
        let links = choose(4, &passages, Config::default().linking.min_link_probability);
        assert_eq!(links.successor[0], Some(2));
        assert_eq!(links.successor[1], Some(3));
    }

    /// A tug (or a vessel surely under 60 m) seen in Najin comes back to Najin more often
    /// than it sails to Dunay: its return weighs up to `harbour_craft_return_prior` more than
    /// a cargo ship's, its passage up to `harbour_craft_passage_prior` less; for a class from
    /// one report, right with probability `p`, `ln(p e^w + 1 - p)` of each prior `w`.
    #[test]
    fn harbour_craft_return_home() {
        let ports = crate::ports::builtin();
        let (dunay, najin) = (0, 1);
        let lp = Config::default().linking;
        assert!(lp.harbour_craft_return_prior > 0.0);
        let day = 86_400;
        let scene = |class: VesselClass, length_m: f64| {
            let at = |id: &str, p: usize, t: i64| {
                let mut o = obs(id, ports[p].berth_lon, ports[p].berth_lat, t);
                o.length_m = Some(length_m);
                o.vessel_class = Some(class.clone());
                o
            };
            let o = vec![
                at("home", najin, 0),
                at("away", dunay, 2 * day),
                at("back", najin, 2 * day + 3600),
            ];
            one_sighting_stays(&o, &[Some(najin), Some(dunay), Some(najin)])
        };
        let cargo = scene(VesselClass::Cargo, 100.0);
        let tug = scene(VesselClass::Tug, 100.0);
        let small = scene(VesselClass::Cargo, 30.0);
        let (ret, pass) = ((0, 2), (0, 1));
        let diff = |a: &[Candidate], b: &[Candidate], (x, y): (usize, usize)| {
            weight_of(a, x, y) - weight_of(b, x, y)
        };
        // One class report, right with probability p: the priors are weighed by it.
        let mut one = obs("x", 0.0, 0.0, 0);
        one.vessel_class = Some(VesselClass::Tug);
        let p = Attrs::of(&one, &Config::default().sensors).class.unwrap().1;
        assert!((0.6..1.0).contains(&p), "{p}");
        let mix = |w: f64| (p * w.exp() + 1.0 - p).ln();
        assert!((diff(&tug, &cargo, ret) - mix(lp.harbour_craft_return_prior)).abs() < 1e-9);
        assert!((diff(&tug, &cargo, pass) - mix(lp.harbour_craft_passage_prior)).abs() < 1e-9);
        // Weaker than the full prior (the report may be wrong), yet well below 0.
        assert!(diff(&tug, &cargo, pass) > lp.harbour_craft_passage_prior + 0.1);
        assert!(diff(&tug, &cargo, pass) < -1.0);
        let small_ret = diff(&small, &cargo, ret);
        assert!(
            small_ret > lp.harbour_craft_return_prior - 0.5,
            "{small_ret}"
        );
        assert!(weight_of(&tug, 0, 2) > weight_of(&tug, 0, 1));
    }

    /// Sea distances between ports as given; between points unknown (geodesic).
    fn sea_between(port_km: Vec<Vec<f64>>) -> SeaDistances<'static> {
        SeaDistances {
            port_km,
            point_km: None,
        }
    }

    #[test]
    fn narrowed_stay_search_is_exact() {
        let config = Config::default();
        let ports = crate::ports::builtin();
        let sea = sea_between(vec![vec![0.0; ports.len()]; ports.len()]);
        let mut kept = 0;
        for seed in 1..=2 {
            let (o, port_of, empty) = dense_scene(seed, 3000, 0.002);
            let input = LinkInput {
                obs: &o,
                port_of: &port_of,
                ports: &ports,
                empty: &empty,
                sea: &sea,
                config: &config,
            };
            let ids = IdentityTimes::new(&o, config.linking.max_speed_kn);
            let narrowed = stay_candidates_with(&input, &ids, search::Mode::Pruned);
            let all = stay_candidates_with(&input, &ids, search::Mode::Exhaustive);
            kept += all.len();
            assert_eq!(narrowed, all, "seed {seed}");
        }
        assert!(kept > 100, "the scenes should give stay links: {kept}");
    }

    #[test]
    fn chains_are_flat_and_in_order_of_their_heads() {
        let mut links = Links::none(6, 0);
        for (a, b) in [(0, 2), (2, 3), (4, 5)] {
            links.set(a, b, LinkKind::Return, 1.0, 1.0);
        }
        let chains = Chains::of(&links);
        let all: Vec<&[usize]> = chains.iter().collect();
        assert_eq!(all, [&[0, 2, 3][..], &[1], &[4, 5]]);
        assert_eq!(chains.len(), 3);
        assert_eq!(chains.get(2), links.chain_from(4).as_slice());
        assert!(Chains::of(&Links::none(0, 0)).is_empty());
    }

    #[test]
    fn returns_are_found_out_to_the_split_radius() {
        // A busy port, where only returns near the berth reach the floor, so the return
        // search walks the cells within a radius of the berth and skips members beyond it
        // on their position. Look-alike sightings at growing distances from a berth, each
        // an hour after the last: the pruned search must keep the same returns as scoring
        // every pair, the farthest included.
        let ports = crate::ports::builtin();
        let najin = 1;
        let (lon, lat) = (ports[najin].berth_lon, ports[najin].berth_lat);
        let m_per_deg_lon = crate::geodesy::M_PER_DEG * lat.to_radians().cos();
        let mut config = Config::default();
        config.linking.return_prior = -6.0;
        config.linking.low_return_candidates = 0;
        let ship = |id: &str, east_m: f64, north_m: f64, t: i64| {
            let mut o = obs(
                id,
                lon + east_m / m_per_deg_lon,
                lat + north_m / crate::geodesy::M_PER_DEG,
                t,
            );
            o.sensor = crate::model::Sensor::Skysat;
            o.length_m = Some(120.0);
            o.beam_m = Some(18.0);
            o.vessel_class = Some(VesselClass::Cargo);
            o.hull_color = Some("red".into());
            o.confidence = Some(0.99);
            o
        };
        let mut o = Vec::new();
        for k in 0..4 {
            // Four origins around the berth, then their look-alikes further and further out.
            let (e, n) = [(0.0, 0.0), (400.0, 0.0), (0.0, 400.0), (-400.0, -400.0)][k];
            o.push(ship(&format!("home{k}"), e, n, k as i64));
            for j in 0..12 {
                let d = 15.0 * (j + 1) as f64;
                let angle = (j * 5 + k) as f64;
                o.push(ship(
                    &format!("near{k}-{j:02}"),
                    e + d * angle.cos(),
                    n + d * angle.sin(),
                    3600 * (j as i64 + 1) + k as i64,
                ));
            }
        }
        // Traffic elsewhere in the port over ten days, so that a trip out and back is
        // not worth a link (only an interrupted stay, at the berth, is).
        for k in 0..400 {
            let e = -1500.0 + 3000.0 * ((k * 37) % 100) as f64 / 100.0;
            let n = -1000.0 + 2000.0 * ((k * 61) % 100) as f64 / 100.0;
            o.push(ship(
                &format!("z{k:03}"),
                e,
                n,
                86_400 * 10 * k as i64 / 400 + 50_000,
            ));
        }
        let port_of = vec![Some(najin); o.len()];
        let sea = sea_between(vec![vec![0.0; ports.len()]; ports.len()]);
        let with = |mode, cell_m| {
            search::TEST_CELL_M.with(|c| c.set(cell_m));
            let cands = one_sighting_candidates(&o, &port_of, &sea, &config, mode);
            search::TEST_CELL_M.with(|c| c.set(search::CELL_M));
            cands
        };
        let all = with(search::Mode::Exhaustive, search::CELL_M);
        let reached: Vec<f64> = all
            .iter()
            .map(|c| (c, &o[c.from], &o[c.to]))
            .filter(|(c, a, _)| c.kind == LinkKind::Return && a.id.starts_with("home"))
            .map(|(_, a, b)| local_m((a.lon, a.lat), (b.lon, b.lat)))
            .collect();
        let found = reached.len();
        let reach = reached.iter().copied().fold(0.0, f64::max);
        eprintln!("{found} returns from the origins, the farthest at {reach:.0} m");
        // Returns out to some distance, not all of them (the rest fall short).
        assert!((8..48).contains(&found), "{found}");
        for cell_m in [40.0, 120.0, search::CELL_M] {
            assert_eq!(
                with(search::Mode::Pruned, cell_m),
                all,
                "cells of {cell_m} m"
            );
        }
    }

    #[test]
    fn pruned_search_is_exact() {
        // Weak returns off but on seed 5 (and on seed 6 only where traffic is light).
        let mut default = Config::default();
        default.linking.low_return_candidates = 0;
        // Seed 4: a busy port's returns, as at a million detections (few reach the
        // threshold away from the berth, so the search splits the port at it).
        let mut busy = default.clone();
        busy.linking.return_prior = -6.0;
        let ports = crate::ports::builtin();
        let sea = sea_between(
            (0..ports.len())
                .map(|a| {
                    (0..ports.len())
                        .map(|b| if a == b { 0.0 } else { 80.0 * (a + b) as f64 })
                        .collect()
                })
                .collect(),
        );
        // Seed 5: weak returns kept too (`low_return_candidates`, on by default); seed 6:
        // not at ports busier than `low_return_max_per_day`.
        let low = Config::default();
        assert!(low.linking.low_return_candidates > 0);
        let mut busy_port = Config::default();
        busy_port.linking.low_return_max_per_day = 0.5;
        let mut truncated = false;
        for seed in 1..=7 {
            // Seed 4 spreads each port's detections over a few kilometres, so that returns
            // are split into cells near the berth and the rest of the port.
            let (jitter_deg, config) = match seed {
                4 => (0.02, &busy),
                5 => (0.0, &low),
                6 => (0.0, &busy_port),
                _ => (0.0, &default),
            };
            let (mut o, port_of, empty) = dense_scene(seed, 1500, jitter_deg);
            if seed == 7 {
                // Sightings in images of many at one time, as over a busy coast: the walk
                // jumps over an at-sea node's own image, and at a port starts after the
                // node's last sighting.
                for x in o.iter_mut() {
                    x.observed_at -= x.observed_at.rem_euclid(6 * 3600);
                    x.scene_id = Some(format!("image {}", x.observed_at).into());
                }
            }
            // Small cells, so that the cells near a berth are a few of many.
            let cell_m = if seed == 4 { 120.0 } else { search::CELL_M };
            search::TEST_CELL_M.with(|c| c.set(cell_m));
            let input = LinkInput {
                obs: &o,
                port_of: &port_of,
                ports: &ports,
                empty: &empty,
                sea: &sea,
                config,
            };
            // Stays of up to three detections of one port, in time order.
            let mut stays = Vec::new();
            let mut stay_port = Vec::new();
            for (p, port) in ports.iter().enumerate() {
                let members: Vec<usize> = time_order(&o)
                    .into_iter()
                    .filter(|&i| port_of[i] == Some(p))
                    .collect();
                for chunk in members.chunks(1 + seed as usize % 3) {
                    stays.push(crate::stays::summarise(
                        chunk.to_vec(),
                        &port.port_id,
                        &o,
                        &empty,
                    ));
                    stay_port.push(p);
                }
            }
            let mut nodes: Vec<Node> = (0..stays.len()).map(Node::Stay).collect();
            nodes.extend(
                (0..o.len())
                    .filter(|&i| port_of[i].is_none())
                    .map(Node::Sea),
            );
            let ids = IdentityTimes::new(&o, config.linking.max_speed_kn);
            let with = |mode| {
                let info = node_infos(&input, &nodes, |s| {
                    NodeInfo::of_stay(&stays[s], stay_port[s], &o, &config.sensors)
                });
                track_candidates_with(&input, info, &ids, mode).0
            };
            let (pruned, all) = (with(search::Mode::Pruned), with(search::Mode::Exhaustive));
            let mut per_from = vec![0usize; nodes.len()];
            for c in &all {
                per_from[c.from] += 1;
            }
            truncated |= per_from.iter().any(|&k| k >= MAX_CANDIDATES);
            assert!(all.iter().any(|c| c.kind == LinkKind::Return));
            assert!(all.iter().any(|c| c.kind == LinkKind::Passage));
            let weak =
                |c: &&Candidate| c.kind == LinkKind::Return && c.weight <= MIN_CANDIDATE_WEIGHT;
            assert_eq!(
                all.iter().filter(weak).count() > 0,
                seed == 5,
                "seed {seed}"
            );
            assert_eq!(pruned, all, "seed {seed}");
        }
        assert!(truncated, "the scenes should make the search truncate");
    }
}
