//! Track stitching: joins whole tracks that are clearly one vessel across a gap that no
//! single link could afford.
//!
//! A link's timing term falls exponentially with the unseen time (see `docs/linking.md`),
//! so after days of clouds, misses or a stay nobody imaged, "no link" wins even between two
//! long tracks of one distinctive vessel. Whole tracks carry far more evidence than any
//! pair of their nodes: every sighting's length, colour and class combined. So after the
//! assignment, each track's end is compared with the start of every track that begins
//! later within `linking.max_gap_days` and could be reached at `linking.max_speed_kn`:
//! the weight is the attribute log-likelihood ratio of the two tracks' combined
//! sightings (no deck containers: cargo changes over unseen port calls) plus
//! [`STITCH_PRIOR`], with no timing term beyond feasibility. The same sparse assignment
//! picks at most one continuation per track, and a join is kept only when its
//! soft-assignment probability is at least [`STITCH_MIN_P`]: a track that several others
//! resemble (a tug among tugs) stays apart.
//!
//! A join is a [`LinkKind::Gap`] link: the tracks are one vessel, but what it did in between
//! is unknown, so no voyage is made across it (`derive`).

use rayon::prelude::*;

use super::cost::{self, Attrs};
use super::identity::{IdentityTimes, LinkEnd};
use super::{
    choose, keep_best, lengths_apart, Candidate, LinkKind, Links, Node, SeaDistances, StayMembers,
    LENGTH_GATE_SIGMAS, MIN_CANDIDATE_WEIGHT, POSITION_SLACK_M,
};
use crate::config::{LinkParams, SensorModels};
use crate::geodesy::{ecef_chord_m, to_ecef_m, M_PER_NM};
use crate::model::{Observation, Time};

/// Prior log-odds that a track's next track is a given feasible one, before the
/// attributes (most tracks that could follow are another vessel).
pub const STITCH_PRIOR: f64 = -3.0;

/// Lowest soft-assignment probability of a join that is kept.
pub const STITCH_MIN_P: f64 = 0.5;

/// Only tracks whose combined length is known to within this (1 sigma) are joined: a lone
/// radar or Sentinel-2 sighting carries too little to bridge a gap.
const MAX_SIGMA_M: f64 = 10.0;

/// Width of a length bin of the head index, metres.
const BIN_M: f64 = 2.0;

/// A track end with more look-alike tracks than this starting within the gap is left alone:
/// among so many, no join could reach [`STITCH_MIN_P`] (and comparing them all would make
/// stitching quadratic in busy ports).
const CROWD: usize = 64;

/// What stitching reads.
pub(crate) struct StitchInput<'a> {
    pub obs: &'a [Observation],
    pub nodes: &'a [Node],
    pub members: &'a StayMembers,
    pub stay_port: &'a [usize],
    /// First and last sighting and position (ECEF metres) of each stay.
    pub stay_span: &'a [(Time, Time, [f64; 3])],
    pub sea: &'a SeaDistances<'a>,
    pub sensors: &'a SensorModels,
    pub params: &'a LinkParams,
    pub ids: &'a IdentityTimes,
}

/// One track as stitching sees it (compact: at a million detections there are hundreds of
/// thousands of tracks, most of them single sightings).
struct Track {
    head: usize,
    tail: usize,
    t_first: Time,
    t_last: Time,
    /// Combined length and its 1-sigma, metres.
    length_m: Option<(f64, f64)>,
}

/// Adds [`LinkKind::Gap`] links between tracks (see the module doc); returns how many.
pub(crate) fn stitch(input: &StitchInput, links: &mut Links) -> usize {
    let tracks = tracks_of(input, links);
    let heads = Heads::new(&tracks);
    let max_gap_s = (input.params.max_gap_days * 86_400.0) as Time;
    let max_mps = input.params.max_speed_kn * M_PER_NM / 3600.0;
    // Which track starts could follow each track's end: lengths, time and speed only.
    let pairs: Vec<(usize, Vec<usize>)> = (0..tracks.len())
        .into_par_iter()
        .filter_map(|a| {
            let ta = &tracks[a];
            let (la, sa) = ta.length_m.filter(|l| l.1 <= MAX_SIGMA_M)?;
            let window = (ta.t_last, ta.t_last + max_gap_s);
            // None: crowded, no join could be sure.
            let found = heads.near(la, LENGTH_GATE_SIGMAS * sa.hypot(MAX_SIGMA_M), window)?;
            let (port_a, ecef_a) = place(input, ta.tail);
            let next: Vec<usize> = found
                .into_iter()
                .filter(|&b| {
                    let tb = &tracks[b];
                    if lengths_apart(ta.length_m, tb.length_m) || tb.t_first <= ta.t_last {
                        return false;
                    }
                    let (port_b, ecef_b) = place(input, tb.head);
                    // Sea distance between ports; else the chord, a lower bound of any route.
                    let dist_m = match (port_a, port_b) {
                        (Some(p), Some(q)) => input.sea.port_km[p][q] * 1000.0,
                        _ => ecef_chord_m(&ecef_a, &ecef_b),
                    };
                    let dt_s = (tb.t_first - ta.t_last) as f64;
                    dist_m.is_finite() && dt_s * max_mps >= dist_m - POSITION_SLACK_M
                })
                .collect();
            (!next.is_empty()).then_some((a, next))
        })
        .collect();
    // The attributes of the tracks that take part, combined once each. (`tracks_of`
    // combined every track for its length already, but keeping all those attributes would
    // cost about 160 B per track at the end of linking, near the run's peak; the tracks a
    // join could involve are few, so they are combined again.)
    let mut slot = vec![u32::MAX; tracks.len()];
    let mut involved: Vec<usize> = Vec::new();
    for (a, next) in &pairs {
        for &k in std::iter::once(a).chain(next) {
            if slot[k] == u32::MAX {
                slot[k] = involved.len() as u32;
                involved.push(k);
            }
        }
    }
    let attrs: Vec<Attrs> = involved
        .par_iter()
        .map(|&k| combined(input, links, tracks[k].head))
        .collect();
    let attrs_of = |k: usize| &attrs[slot[k] as usize];
    let per_track: Vec<Vec<Candidate>> = pairs
        .par_iter()
        .map(|(a, next)| {
            let (ta, aa) = (&tracks[*a], attrs_of(*a));
            let mut mine: Vec<Candidate> = Vec::new();
            for &b in next {
                let (tb, ab) = (&tracks[b], attrs_of(b));
                if input.ids.conflicts(
                    &LinkEnd {
                        attrs: aa,
                        t: ta.t_last,
                        ecef: place(input, ta.tail).1,
                    },
                    &LinkEnd {
                        attrs: ab,
                        t: tb.t_first,
                        ecef: place(input, tb.head).1,
                    },
                ) {
                    continue;
                }
                let Some(attr) = cost::attribute_llr(aa, ab, false, 0.0) else {
                    continue;
                };
                mine.push(Candidate {
                    from: *a,
                    to: b,
                    kind: LinkKind::Gap,
                    weight: attr + STITCH_PRIOR,
                });
            }
            keep_best(vec![mine], MIN_CANDIDATE_WEIGHT)
        })
        .collect();
    drop((pairs, attrs));
    let mut cands: Vec<Candidate> = per_track.into_iter().flatten().collect();
    cands.sort_by_key(|c| (c.from, c.to));
    let joins = choose(tracks.len(), &cands, STITCH_MIN_P);
    let mut joined = 0;
    for (a, next) in joins.successor.iter().enumerate() {
        let Some(b) = *next else { continue };
        links.set(
            tracks[a].tail,
            tracks[b].head,
            LinkKind::Gap,
            joins.weight[a],
            joins.probability[a],
        );
        joined += 1;
    }
    joined
}

/// Port (None at sea) and position (ECEF metres) of node `k`.
fn place(input: &StitchInput, k: usize) -> (Option<usize>, [f64; 3]) {
    match input.nodes[k] {
        Node::Stay(s) => (Some(input.stay_port[s]), input.stay_span[s].2),
        Node::Sea(i) => {
            let o = &input.obs[i];
            (None, to_ecef_m(o.lon, o.lat))
        }
    }
}

/// The combined attributes of every sighting of the track that starts at `head`.
fn combined(input: &StitchInput, links: &Links, head: usize) -> Attrs {
    let members: Vec<&Observation> = links
        .chain_from(head)
        .iter()
        .flat_map(|&k| input.nodes[k].observations(input.members))
        .map(|&i| &input.obs[i])
        .collect();
    Attrs::combine(&members, input.sensors)
}

/// Track heads with a length of at most [`MAX_SIGMA_M`], in bins of [`BIN_M`] by length,
/// each in order of first sighting.
struct Heads {
    /// (first sighting, track) per bin; bin `k` holds lengths in `[k, k + 1) * BIN_M`.
    bins: Vec<Vec<(Time, usize)>>,
}

impl Heads {
    fn new(tracks: &[Track]) -> Heads {
        let mut bins: Vec<Vec<(Time, usize)>> = Vec::new();
        for (k, t) in tracks.iter().enumerate() {
            let Some((l, s)) = t.length_m else {
                continue;
            };
            if s > MAX_SIGMA_M || !l.is_finite() {
                continue;
            }
            let bin = (l.max(0.0) / BIN_M) as usize;
            if bin >= bins.len() {
                bins.resize_with(bin + 1, Vec::new);
            }
            bins[bin].push((t.t_first, k));
        }
        for b in &mut bins {
            b.sort_unstable();
        }
        Heads { bins }
    }

    /// The heads within `half_m` of `length_m` that start in `(from, to]`, or None when
    /// there are more than [`CROWD`] of them.
    fn near(&self, length_m: f64, half_m: f64, (from, to): (Time, Time)) -> Option<Vec<usize>> {
        let lo = ((length_m - half_m).max(0.0) / BIN_M) as usize;
        let hi = (((length_m + half_m).max(0.0) / BIN_M) as usize)
            .min(self.bins.len().saturating_sub(1));
        let mut ranges = Vec::new();
        let mut count = 0;
        for bin in self.bins.get(lo..=hi).unwrap_or(&[]) {
            let a = bin.partition_point(|&(t, _)| t <= from);
            let b = bin.partition_point(|&(t, _)| t <= to);
            count += b - a;
            if count > CROWD {
                return None;
            }
            ranges.push(&bin[a..b]);
        }
        Some(ranges.into_iter().flatten().map(|&(_, k)| k).collect())
    }
}

/// Every chain of `links`, with its combined length.
fn tracks_of(input: &StitchInput, links: &Links) -> Vec<Track> {
    let time = |k: usize| -> (Time, Time) {
        match input.nodes[k] {
            Node::Stay(s) => (input.stay_span[s].0, input.stay_span[s].1),
            Node::Sea(i) => (input.obs[i].observed_at, input.obs[i].observed_at),
        }
    };
    let heads: Vec<usize> = (0..input.nodes.len())
        .filter(|&k| links.predecessor[k].is_none())
        .collect();
    heads
        .par_iter()
        .map(|&head| {
            let chain = links.chain_from(head);
            let tail = chain[chain.len() - 1];
            Track {
                head,
                tail,
                t_first: time(head).0,
                t_last: time(tail).1,
                length_m: combined(input, links, head).length_m,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::index::tests::obs;
    use crate::model::Sensor;

    const DAY: Time = 86_400;
    const NAJIN: (f64, f64) = (130.300, 42.236);
    const DUNAY: (f64, f64) = (132.3545, 42.9045);

    /// A precise optical sighting of a `length_m` vessel of `colour` at `at`, day `day`.
    fn seen(id: &str, at: (f64, f64), day: f64, length_m: f64, colour: &str) -> Observation {
        let mut o = obs(id, at.0, at.1, (day * DAY as f64) as Time);
        o.sensor = Sensor::Skysat;
        o.length_m = Some(length_m);
        o.beam_m = Some(length_m / 6.0);
        o.hull_color = Some(Arc::from(colour));
        o
    }

    /// Stays of the given observations (index ranges), each at its port, unlinked.
    fn run(obs: &[Observation], stays: &[(std::ops::Range<usize>, usize)]) -> (Links, usize) {
        let mut members = StayMembers::default();
        let mut stay_span = Vec::new();
        for (r, _) in stays {
            members.push(&r.clone().collect::<Vec<_>>());
            let o = &obs[r.start];
            stay_span.push((
                o.observed_at,
                obs[r.end - 1].observed_at,
                to_ecef_m(o.lon, o.lat),
            ));
        }
        let stay_port: Vec<usize> = stays.iter().map(|s| s.1).collect();
        let nodes: Vec<Node> = (0..stays.len()).map(Node::Stay).collect();
        let sea = SeaDistances {
            port_km: vec![vec![0.0, 200.0], vec![200.0, 0.0]],
            point_km: None,
        };
        let config = Config::default();
        let ids = IdentityTimes::new(obs, config.linking.max_speed_kn);
        let mut links = Links::none(nodes.len(), 0);
        let joined = stitch(
            &StitchInput {
                obs,
                nodes: &nodes,
                members: &members,
                stay_port: &stay_port,
                stay_span: &stay_span,
                sea: &sea,
                sensors: &config.sensors,
                params: &config.linking,
                ids: &ids,
            },
            &mut links,
        );
        (links, joined)
    }

    #[test]
    fn one_distinctive_vessel_is_joined_across_a_week() {
        // An orange 152 m vessel at Najin on days 0-1, at Dunay on days 8-9; a grey 60 m
        // one at Dunay meanwhile.
        let obs = vec![
            seen("a1", NAJIN, 0.0, 152.0, "orange"),
            seen("a2", NAJIN, 1.0, 151.0, "orange"),
            seen("b1", DUNAY, 8.0, 152.5, "orange"),
            seen("b2", DUNAY, 9.0, 151.5, "orange"),
            seen("c1", DUNAY, 3.0, 60.0, "grey"),
        ];
        let (links, joined) = run(&obs, &[(0..2, 0), (2..4, 1), (4..5, 1)]);
        assert_eq!(joined, 1);
        assert_eq!(links.successor[0], Some(1));
        assert_eq!(links.kind[0], Some(LinkKind::Gap));
        assert!(links.probability[0] >= STITCH_MIN_P);
        assert_eq!(links.successor[2], None, "the grey vessel is another");
        assert_eq!(links.predecessor[2], None);
    }

    #[test]
    fn look_alikes_and_impossible_gaps_stay_apart() {
        // Two equally good continuations: neither is sure.
        let obs = vec![
            seen("a1", NAJIN, 0.0, 152.0, "orange"),
            seen("b1", DUNAY, 6.0, 152.0, "orange"),
            seen("c1", DUNAY, 7.0, 152.0, "orange"),
        ];
        let (links, joined) = run(&obs, &[(0..1, 0), (1..2, 1), (2..3, 1)]);
        assert_eq!(joined, 0, "{links:?}");
        // Beyond the maximum gap, or too fast for the distance: never.
        let far = vec![
            seen("a1", NAJIN, 0.0, 152.0, "orange"),
            seen("b1", DUNAY, 10.5, 152.0, "orange"),
        ];
        assert_eq!(run(&far, &[(0..1, 0), (1..2, 1)]).1, 0);
        let fast = vec![
            seen("a1", NAJIN, 0.0, 152.0, "orange"),
            seen("b1", DUNAY, 0.1, 152.0, "orange"),
        ];
        assert_eq!(run(&fast, &[(0..1, 0), (1..2, 1)]).1, 0);
        // Different colour and length: another vessel.
        let other = vec![
            seen("a1", NAJIN, 0.0, 152.0, "orange"),
            seen("b1", DUNAY, 5.0, 120.0, "blue"),
        ];
        assert_eq!(run(&other, &[(0..1, 0), (1..2, 1)]).1, 0);
    }

    #[test]
    fn a_crowd_of_look_alikes_is_left_alone() {
        let mut obs = vec![seen("a1", NAJIN, 0.0, 152.0, "orange")];
        let mut stays = vec![(0..1, 0)];
        for k in 0..(CROWD + 1) {
            obs.push(seen(
                &format!("b{k}"),
                DUNAY,
                2.0 + k as f64 * 0.05,
                152.0,
                "orange",
            ));
            stays.push((k + 1..k + 2, 1));
        }
        assert_eq!(run(&obs, &stays).1, 0);
        // The rule itself (look-alikes alone would also keep the join below 0.5): one
        // more start than CROWD in the window, and the end is not compared at all.
        let tracks: Vec<Track> = (0..=CROWD)
            .map(|k| Track {
                head: k,
                tail: k,
                t_first: 100 + k as Time,
                t_last: 100 + k as Time,
                length_m: Some((152.0, 2.0)),
            })
            .collect();
        let heads = Heads::new(&tracks);
        assert!(heads.near(152.0, 10.0, (0, 1_000)).is_none());
        let some = heads.near(152.0, 10.0, (100, 1_000));
        assert_eq!(some.map(|v| v.len()), Some(CROWD), "starts after 100 only");
    }
}
