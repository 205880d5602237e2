//! Track-level refinement of stage 2: re-weighs every candidate link with what the tracks of
//! the first solution know, and solves again.
//!
//! Pairwise, a link compares two nodes: a lone radar sighting (length ±15 m, no colour) says
//! little about anything. But a vessel's attributes do not change, so once a first solution
//! has put nodes into tracks, a candidate `u → v` can compare *everything the track ending at
//! `u` has seen* (its last [`TRACK_CONTEXT`] nodes, combined: a precise length, a voted colour
//! and class, any imo/mmsi) with *everything the track starting at `v` will see*. The link's
//! attribute term is replaced by that group-against-group log-likelihood ratio; its timing
//! and existence terms stay. (Where the tracks carry conflicting imo/mmsi the pairwise weight
//! is kept: the conflict lies somewhere in the first solution, not necessarily at this link.)
//! Each round is one more global
//! assignment over the same candidates ([`super::choose`]), so refinement can move links
//! anywhere, not only locally.

use super::FastMap as HashMap;
use std::borrow::Cow;

use rayon::prelude::*;

use super::cost::{self, Attrs};
use super::{choose, Candidate, Chains, LinkKind, Links, Node, StayMembers, CONTAINERS_DRIFT};
use crate::config::SensorModels;
use crate::model::Observation;

/// Nodes of a track, on each side of a link, whose sightings are combined.
pub const TRACK_CONTEXT: usize = 6;

/// What refinement reads: the stage-2 nodes, their observations and attributes.
pub struct Tracks<'a> {
    pub obs: &'a [Observation],
    pub nodes: &'a [Node],
    /// Each stay's detections.
    pub stays: &'a StayMembers,
    pub sensors: &'a SensorModels,
}

impl Tracks<'_> {
    /// Combined attributes of `nodes`, in time order of their sightings.
    pub(super) fn combine(&self, nodes: &[usize]) -> Attrs {
        let mut o: Vec<&Observation> = nodes
            .iter()
            .flat_map(|&k| self.nodes[k].observations(self.stays))
            .map(|&i| &self.obs[i])
            .collect();
        // A track's nodes, and a stay's detections, are in time order already (mostly).
        if !o.is_sorted_by_key(|x| x.observed_at) {
            o.sort_by_key(|x| x.observed_at);
        }
        Attrs::combine(&o, self.sensors)
    }
}

/// Up to `TRACK_CONTEXT` consecutive nodes of one track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Window {
    nodes: [usize; TRACK_CONTEXT],
    len: usize,
}

impl Window {
    const EMPTY: Window = Window {
        nodes: [usize::MAX; TRACK_CONTEXT],
        len: 0,
    };

    fn of(nodes: &[usize]) -> Window {
        let mut w = Window::EMPTY;
        let len = nodes.len().min(TRACK_CONTEXT);
        w.nodes[..len].copy_from_slice(&nodes[..len]);
        w.len = len;
        w
    }

    fn nodes(&self) -> &[usize] {
        &self.nodes[..self.len]
    }
}

/// The nodes some candidate leaves (`from`) or reaches (`to`), each numbered once in node
/// order (its slot). Only these need track attributes: most nodes are lone detections
/// without any candidate.
struct Ends {
    /// Each node's position among the sorted `from` nodes and among the `to` nodes
    /// ([`NO_SLOT`]: none), up to the last of them (a lookup per node of every track,
    /// every round).
    from_slot: Vec<u32>,
    to_slot: Vec<u32>,
    /// How many `from` and `to` nodes there are.
    from_count: usize,
    to_count: usize,
}

/// Not in a list of [`Ends`].
const NO_SLOT: u32 = u32::MAX;

impl Ends {
    fn of(cands: &[Candidate]) -> Ends {
        // Each end's slots, numbered in node order, and how many there are.
        let slots = |end: fn(&Candidate) -> usize| {
            let mut slot = vec![NO_SLOT; cands.iter().map(|c| end(c) + 1).max().unwrap_or(0)];
            for c in cands {
                slot[end(c)] = 0;
            }
            let mut count = 0;
            for s in slot.iter_mut().filter(|s| **s != NO_SLOT) {
                *s = count;
                count += 1;
            }
            (slot, count as usize)
        };
        let ((from_slot, from_count), (to_slot, to_count)) = (slots(|c| c.from), slots(|c| c.to));
        Ends {
            from_slot,
            to_slot,
            from_count,
            to_count,
        }
    }

    /// The slot of `node` among the `from` nodes.
    fn slot_from(&self, node: usize) -> Option<usize> {
        slot(&self.from_slot, node)
    }

    /// The slot of `node` among the `to` nodes.
    fn slot_to(&self, node: usize) -> Option<usize> {
        slot(&self.to_slot, node)
    }
}

fn slot(slots: &[u32], node: usize) -> Option<usize> {
    slots
        .get(node)
        .filter(|&&s| s != NO_SLOT)
        .map(|&s| s as usize)
}

/// What one round computed, for the next: for each candidate's `from` node the window of
/// the last `TRACK_CONTEXT` nodes of its track up to it (`head`), for each `to` node the
/// first ones from it on (`tail`), the combined attributes of every such window of two
/// nodes or more (a lone node's are combined when needed), and each candidate's track
/// term. A round combines only windows the last round did not have, and
/// recomputes the track term only where a window changed (the same windows give the same
/// values).
#[derive(Default)]
struct Rounds {
    /// Head window per `Ends::from` slot, tail window per `Ends::to` slot.
    head: Vec<Window>,
    tail: Vec<Window>,
    combined: HashMap<Window, Attrs>,
    track: Vec<f64>,
}

impl Rounds {
    /// Brings the track windows and their attributes up to `links`; returns which heads
    /// and tails changed (per slot).
    fn update_tracks(&mut self, t: &Tracks, ends: &Ends, links: &Links) -> (Vec<bool>, Vec<bool>) {
        let mut head = vec![Window::EMPTY; ends.from_count];
        let mut tail = vec![Window::EMPTY; ends.to_count];
        for chain in Chains::of(links).iter() {
            for (p, &k) in chain.iter().enumerate() {
                if let Some(s) = ends.slot_from(k) {
                    head[s] = Window::of(&chain[p.saturating_sub(TRACK_CONTEXT - 1)..p + 1]);
                }
                if let Some(s) = ends.slot_to(k) {
                    tail[s] = Window::of(&chain[p..(p + TRACK_CONTEXT).min(chain.len())]);
                }
            }
        }
        let changed = |new: &[Window], old: &[Window]| -> Vec<bool> {
            (0..new.len())
                .map(|k| old.get(k) != Some(&new[k]))
                .collect()
        };
        let head_changed = changed(&head, &self.head);
        let tail_changed = changed(&tail, &self.tail);
        // Keep the attributes of windows still in use; combine the new ones.
        let mut old = std::mem::take(&mut self.combined);
        let mut todo: Vec<Window> = Vec::new();
        for w in head.iter().chain(&tail) {
            if w.len < 2 || self.combined.contains_key(w) {
                continue;
            }
            match old.remove(w) {
                Some(a) => {
                    self.combined.insert(*w, a);
                }
                None => todo.push(*w),
            }
        }
        drop(old);
        todo.sort_unstable_by_key(|w| (w.len, w.nodes));
        todo.dedup();
        let new: Vec<Attrs> = todo.par_iter().map(|w| t.combine(w.nodes())).collect();
        self.combined.extend(todo.into_iter().zip(new));
        self.head = head;
        self.tail = tail;
        (head_changed, tail_changed)
    }

    /// One round: re-weighs `cands` (their attribute term `pair`, from the nodes' own
    /// attributes to the attributes of `links`' tracks) and solves again. Returns the new
    /// links and weights.
    fn round(
        &mut self,
        t: &Tracks,
        ends: &Ends,
        pool: Pool,
        links: &Links,
        min_p: f64,
    ) -> (Links, Vec<Candidate>) {
        let Pool { cands, pair } = pool;
        let (head_changed, tail_changed) = self.update_tracks(t, ends, links);
        let fresh = self.track.len() != cands.len();
        let (head, tail, combined, old) = (&self.head, &self.tail, &self.combined, &self.track);
        // A lone node's window is combined when needed, not kept (memory: at a million
        // detections most candidates have a lone node at one end).
        let attrs_of = |w: &Window| -> Option<Cow<Attrs>> {
            match w.len {
                0 => None,
                1 => Some(Cow::Owned(t.combine(w.nodes()))),
                _ => combined.get(w).map(Cow::Borrowed),
            }
        };
        let track: Vec<f64> = cands
            .par_iter()
            .zip(pair)
            .enumerate()
            .map(|(i, (c, &pair))| {
                let (Some(f), Some(g)) = (ends.slot_from(c.from), ends.slot_to(c.to)) else {
                    return pair;
                };
                if !fresh && !head_changed[f] && !tail_changed[g] {
                    return old[i];
                }
                match (attrs_of(&head[f]), attrs_of(&tail[g])) {
                    (Some(a), Some(b)) => attr_llr(&a, &b, c.kind).unwrap_or(pair),
                    _ => pair,
                }
            })
            .collect();
        let reweighed: Vec<Candidate> = cands
            .iter()
            .zip(pair)
            .zip(&track)
            .map(|((c, &pair), &track)| Candidate {
                weight: c.weight - pair + track,
                ..*c
            })
            .collect();
        self.track = track;
        (choose(t.nodes.len(), &reweighed, min_p), reweighed)
    }
}

/// The candidates a round weighs, each with its pair term.
#[derive(Clone, Copy)]
struct Pool<'a> {
    cands: &'a [Candidate],
    pair: &'a [f64],
}

/// How long [`refine`] goes on: at most `rounds` refinement rounds and `identity_rounds`
/// re-solves for identity; links below probability `min_p` are cut.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub rounds: usize,
    /// Track swaps (`src/linking/swap.rs`) after the rounds.
    pub swaps: bool,
    pub identity_rounds: usize,
    pub min_p: f64,
}

/// Whether a link of this kind compares deck loads (cargo does not change at sea).
fn compares_containers(kind: LinkKind) -> bool {
    matches!(kind, LinkKind::Passage | LinkKind::Duplicate)
}

/// The attribute LLR of a candidate between two attribute sets (`None`: identity forbids).
pub(super) fn attr_llr(a: &Attrs, b: &Attrs, kind: LinkKind) -> Option<f64> {
    let cmp = compares_containers(kind);
    let drift = if cmp { CONTAINERS_DRIFT } else { 0.0 };
    cost::attribute_llr(a, b, cmp, drift)
}

/// The pair term of each candidate's weight: the attribute LLR of its two nodes on their
/// own (`attrs` of a node), as the candidate was weighed; `None` where identity forbids.
pub fn pair_terms<'a>(
    cands: &[Candidate],
    attrs: impl Fn(usize) -> &'a Attrs + Sync,
) -> Vec<Option<f64>> {
    cands
        .par_iter()
        .map(|c| attr_llr(attrs(c.from), attrs(c.to), c.kind))
        .collect()
}

/// Refines `links` for up to `rounds` rounds, stopping early when the links settle.
/// `pair` is each candidate's pair term ([`pair_terms`]), so that the nodes' attributes
/// need not be kept; candidates whose pair comparison identity forbids are dropped (the
/// lists are taken, and freed once the kept ones are copied). With `swaps`, track swaps
/// (`src/linking/swap.rs`) then improve the links, judged over whole tracks, and the candidates
/// are weighed over the final tracks.
///
/// Then `contradicted` names the chosen links that make a track contradict its own
/// identity (see `identity.rs`); those candidates are forbidden and the assignment is
/// solved again with the last round's weights, up to `identity_rounds` times.
///
/// Also returns how long each part took (for `-v`).
pub fn refine(
    t: &Tracks,
    cands: Vec<Candidate>,
    pair: Vec<Option<f64>>,
    mut links: Links,
    limits: Limits,
    contradicted: impl Fn(&Links, Option<&[usize]>) -> Vec<(usize, usize)>,
) -> (Links, RefineTimes) {
    let mut times = RefineTimes::default();
    let mut clock = std::time::Instant::now();
    let mut lap = |part: &mut f64| {
        *part = clock.elapsed().as_secs_f64();
        clock = std::time::Instant::now();
    };
    let Limits {
        rounds,
        swaps,
        identity_rounds,
        min_p,
    } = limits;
    // Rounds only swap the pair term for the tracks'.
    let (cands, pair): (Vec<Candidate>, Vec<f64>) = cands
        .into_par_iter()
        .zip(pair)
        .filter_map(|(c, p)| Some((c, p?)))
        .unzip();
    let ends = Ends::of(&cands);
    let mut state = Rounds::default();
    // The candidates as the last round weighed them.
    let mut weighed: Vec<Candidate> = Vec::new();
    for _ in 0..rounds {
        let pool = Pool {
            cands: &cands,
            pair: &pair,
        };
        let (next, w) = state.round(t, &ends, pool, &links, min_p);
        let settled = next.successor == links.successor;
        links = next;
        weighed = w;
        if settled {
            break;
        }
    }
    // The rounds' track windows are not needed again (memory: over ten simulated years at
    // a million detections the run's peak is in the swaps, 1,680 -> 1,515 MB without them).
    drop(state);
    lap(&mut times.rounds_s);
    if swaps {
        // Nor the last round's weights and the pair terms: the swaps weigh the candidates
        // anew (memory: they would be held through the swaps, where the peak is).
        drop(std::mem::take(&mut weighed));
        let rest: Vec<f64> = cands.iter().zip(&pair).map(|(c, p)| c.weight - p).collect();
        drop(pair);
        let (improved, w) = super::swap::improve(t, &cands, &rest, links);
        weighed = w;
        links = super::scored(t.nodes.len(), &weighed, &improved.successor, min_p);
    }
    lap(&mut times.swaps_s);
    // Identity: forbid what contradicts it and solve again with the same weights (a
    // re-weighing round per step would cost a pass over every node each time).
    let links = super::identity::honour(
        t.nodes.len(),
        &mut weighed,
        links,
        min_p,
        identity_rounds,
        contradicted,
    );
    lap(&mut times.identity_s);
    (links, times)
}

/// Seconds spent in each part of [`refine`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RefineTimes {
    /// The re-weighing rounds (with the candidates' filtering before them).
    pub rounds_s: f64,
    /// The track swaps (0 without them).
    pub swaps_s: f64,
    /// The identity check of whole tracks and its re-solves.
    pub identity_s: f64,
}

/// One round from scratch (see [`Rounds::round`]).
#[cfg(test)]
fn refine_round(
    t: &Tracks,
    cands: &[Candidate],
    pair: &[f64],
    links: &Links,
    min_p: f64,
) -> (Links, Vec<Candidate>) {
    let pool = Pool { cands, pair };
    Rounds::default().round(t, &Ends::of(cands), pool, links, min_p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::obs;
    use crate::model::Sensor;

    /// A 130 m ship seen precisely twice (127 m, 133 m), then a radar sighting of 118 m:
    /// pairwise the radar sighting is compared with 133 m, with the track with 130 m, which
    /// makes the link better. Conflicting imo in the tracks keeps the pairwise weight.
    #[test]
    fn track_context_changes_weights() {
        let sensors = SensorModels::default();
        let mut o = vec![
            obs("a", 130.3, 42.236, 0),
            obs("b", 132.35, 42.90, 100_000),
            obs("c", 130.3, 42.236, 200_000),
            obs("d", 132.35, 42.90, 300_000),
        ];
        for (x, (len, s)) in o.iter_mut().zip([
            (127.0, Sensor::Skysat),
            (133.0, Sensor::Skysat),
            (118.0, Sensor::Sentinel1),
            (131.0, Sensor::Skysat),
        ]) {
            x.length_m = Some(len);
            x.sensor = s;
        }
        let singles: Vec<usize> = (0..4).collect();
        let stays: StayMembers = singles.chunks(1).collect();
        let nodes: Vec<Node> = (0..4).map(Node::Stay).collect();
        let base: Vec<Attrs> = o.iter().map(|x| Attrs::of(x, &sensors)).collect();
        let cand = |from, to, weight| Candidate {
            from,
            to,
            kind: LinkKind::Passage,
            weight,
        };
        let cands = vec![cand(0, 1, 5.0), cand(1, 2, 1.0), cand(2, 3, 1.0)];
        let first = choose(4, &cands, 0.0);
        assert_eq!(first.successor, vec![Some(1), Some(2), Some(3), None]);
        let round = |o: &[Observation], base: &[Attrs]| {
            let t = Tracks {
                obs: o,
                nodes: &nodes,
                stays: &stays,
                sensors: &sensors,
            };
            let pair: Vec<f64> = cands
                .iter()
                .map(|c| attr_llr(&base[c.from], &base[c.to], c.kind).unwrap())
                .collect();
            refine_round(&t, &cands, &pair, &first, 0.0).1
        };
        let re = round(&o, &base);
        let w = |f: usize| re.iter().find(|c| c.from == f).map(|c| c.weight).unwrap();
        assert!(
            w(1) > 1.0 + 0.1,
            "track length 130 m fits 118 m better: {}",
            w(1)
        );

        // Different imo at both ends of the first track: the pairwise weights stay.
        let mut o2 = o.clone();
        o2[0].identity_mut().imo = Some("9000001".into());
        o2[3].identity_mut().imo = Some("9000002".into());
        let base2: Vec<Attrs> = o2.iter().map(|x| Attrs::of(x, &sensors)).collect();
        let re2 = round(&o2, &base2);
        let w2 = |f: usize| re2.iter().find(|c| c.from == f).map(|c| c.weight).unwrap();
        assert_eq!(w2(1), 1.0);
        assert_eq!(w2(2), 1.0);
    }
}
