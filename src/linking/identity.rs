//! Identity (imo, mmsi) as a hard constraint on links and chains.
//!
//! The same imo or mmsi is always the same vessel, so where its sightings are says where
//! that vessel was. Two checks use it:
//!
//! * per candidate link ([`IdentityTimes::conflicts`]): a link may not skip a sighting of
//!   either end's identity, nor put the vessel somewhere it could not reach in time from
//!   the identity's sighting before it (or to the one after it);
//! * per chosen chain ([`contradicted_links`]): a chain (a stay in stage 1, a track in stage
//!   2) that carries an identity must not pass over a sighting of that identity elsewhere.
//!   A link looks only at its two ends, so a chain can still do this through unidentified
//!   members (an unidentified ship at the berth continues the identified ship's stay while
//!   that ship is seen in the other port). The links that pass over such a sighting are
//!   forbidden and the assignment is solved again, until no chain does (lazy constraints).
//!
//! Distances are chords on the mean sphere (metres), a lower bound of any route, so a
//! feasible link is never refused. Times are UTC seconds.

use std::collections::HashMap;

use super::cost::{self, Attrs};
use super::{choose, same_image, Candidate, Chains, Links};
use crate::geodesy::{ecef_chord_m, to_ecef_m, M_PER_NM};
use crate::model::{Observation, Time};

/// One sighting of an identity: when, where (ECEF metres) and which detection.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    t: Time,
    ecef: [f64; 3],
    obs: usize,
}

/// An identity: imo (`true`) or mmsi (`false`), and its text.
type Key<'a> = (bool, &'a str);

/// The identities a detection carries, as [`cost::identity_str`] gives them.
fn keys<'a>(imo: Option<&'a str>, mmsi: Option<&'a str>) -> impl Iterator<Item = Key<'a>> {
    [(true, imo), (false, mmsi)]
        .into_iter()
        .filter_map(|(is_imo, text)| Some((is_imo, cost::identity_str(text)?)))
}

/// When and where each imo and mmsi was seen, in time order. A link joins a sighting to the
/// *next* sighting of the same vessel, so no link may skip over a sighting that carries the
/// identity of either end: the vessel was seen in between (e.g. at sea on a trip that a
/// return link would bridge, or in another port during what would be one stay). Nor may a
/// link put the vessel where it could not be: the identified sighting just before the link
/// must be reachable from its origin, and the one just after from its destination (an
/// unidentified ship at a berth is not the identified ship that was 200 km away an hour
/// earlier).
#[derive(Debug, Default)]
pub(crate) struct IdentityTimes {
    /// Each imo's and mmsi's number, an index into `seen`.
    imo: HashMap<String, u32>,
    mmsi: HashMap<String, u32>,
    /// The sightings of each identity.
    seen: Vec<Vec<Sighting>>,
    /// The identities each detection carries, imo then mmsi ([`NONE`]: none), so that a
    /// chain's are gathered without reading its detections' texts again.
    of_obs: Vec<[u32; 2]>,
    /// The highest speed a vessel can make, metres per second.
    max_mps: f64,
}

/// No identity, in [`IdentityTimes::of_obs`].
const NONE: u32 = u32::MAX;

/// Position slack between two exact sightings, metres (as the linker's own speed check).
const SIGHTING_SLACK_M: f64 = 500.0;

/// Position slack of the reachability check, metres: a stay node's position is its
/// members' centre, not the sighting that ends it, and a port zone is a few km across.
const IDENTITY_REACH_SLACK_M: f64 = 5_000.0;

/// A link's end as the identity check sees it: the node's attributes (for its imo/mmsi), the
/// time of the sighting at that end and the node's position (ECEF metres).
pub(crate) struct LinkEnd<'a> {
    pub attrs: &'a Attrs,
    pub t: Time,
    pub ecef: [f64; 3],
}

impl IdentityTimes {
    /// From every detection (imo/mmsi compared as [`cost::identity_str`] gives them);
    /// `max_speed_kn` bounds how far a vessel can go between two sightings.
    pub fn new(obs: &[Observation], max_speed_kn: f64) -> IdentityTimes {
        let mut t = IdentityTimes {
            max_mps: max_speed_kn * M_PER_NM / 3600.0,
            ..IdentityTimes::default()
        };
        for (i, o) in obs.iter().enumerate() {
            for (is_imo, key) in keys(o.imo(), o.mmsi()) {
                let slot = usize::from(!is_imo);
                let map = if is_imo { &mut t.imo } else { &mut t.mmsi };
                let next = t.seen.len() as u32;
                let id = *map.entry(key.to_string()).or_insert(next);
                if id == next {
                    t.seen.push(Vec::new());
                }
                t.seen[id as usize].push(Sighting {
                    t: o.observed_at,
                    ecef: to_ecef_m(o.lon, o.lat),
                    obs: i,
                });
                if t.of_obs.is_empty() {
                    t.of_obs = vec![[NONE; 2]; obs.len()];
                }
                t.of_obs[i][slot] = id;
            }
        }
        for v in &mut t.seen {
            // Stable: equal times keep the input order, so the result is deterministic.
            v.sort_by_key(|s| s.t);
        }
        t
    }

    /// Whether the link `a → b` contradicts where an identity of either end was seen: a
    /// sighting of it strictly between `a.t` (the origin's last sighting) and `b.t` (the
    /// destination's first) is skipped, or the sighting of `b`'s identity at or before
    /// `a.t` cannot reach `a` in time, or `b` cannot reach the sighting of `a`'s identity
    /// at or after `b.t`. Distances are chords (a lower bound of any route), so a feasible
    /// link is never refused.
    pub fn conflicts(&self, a: &LinkEnd, b: &LinkEnd) -> bool {
        let reach = |from: (Time, &[f64; 3]), to: (Time, &[f64; 3])| {
            self.reaches(from, to, IDENTITY_REACH_SLACK_M)
        };
        let check = |(is_imo, key): Key, of_b: bool| {
            let Some(seen) = self.sightings((is_imo, key)) else {
                return false;
            };
            let k = seen.partition_point(|s| s.t <= a.t);
            if seen.get(k).is_some_and(|s| s.t < b.t) {
                return true;
            }
            if of_b {
                // The identity's sighting at or before the origin's end must reach it.
                k > 0 && !reach((seen[k - 1].t, &seen[k - 1].ecef), (a.t, &a.ecef))
            } else {
                // The destination must reach the identity's sighting at or after it.
                let n = seen.partition_point(|s| s.t < b.t);
                seen.get(n)
                    .is_some_and(|s| !reach((b.t, &b.ecef), (s.t, &s.ecef)))
            }
        };
        keys(a.attrs.imo(), a.attrs.mmsi()).any(|k| check(k, false))
            || keys(b.attrs.imo(), b.attrs.mmsi()).any(|k| check(k, true))
    }

    /// The sightings of an identity, in time order.
    fn sightings(&self, (is_imo, key): Key) -> Option<&[Sighting]> {
        let map = if is_imo { &self.imo } else { &self.mmsi };
        map.get(key).map(|&id| self.seen[id as usize].as_slice())
    }

    /// The numbers of the identities detection `i` carries.
    fn of(&self, i: usize) -> impl Iterator<Item = u32> + '_ {
        self.of_obs
            .get(i)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&id| id != NONE)
    }

    /// Whether a vessel at `from` (time, ECEF position) can be at `to` by then, at the
    /// highest speed, with `slack_m` of position error.
    fn reaches(&self, from: (Time, &[f64; 3]), to: (Time, &[f64; 3]), slack_m: f64) -> bool {
        ecef_chord_m(from.1, to.1) <= self.max_mps * (to.0 - from.0).max(0) as f64 + slack_m
    }

    /// Whether no detection carries an imo or mmsi (then no chain can contradict one).
    pub fn is_empty(&self) -> bool {
        self.imo.is_empty() && self.mmsi.is_empty()
    }
}

/// A node of a chain as [`contradicted_links`] sees it: its detections (indices into the
/// observations, in time order), first and last sighting time and position (ECEF metres).
pub(crate) struct ChainNode<'a> {
    pub members: &'a [usize],
    pub t_first: Time,
    pub t_last: Time,
    pub ecef: [f64; 3],
}

/// The chains of chosen links that carry an identity, flat: chain `c`'s nodes (indices
/// into the linking graph) are `ids[start[c]..start[c + 1]]`, and `nodes` says what each is.
#[derive(Default)]
struct IdentifiedChains<'a> {
    ids: Vec<usize>,
    nodes: Vec<ChainNode<'a>>,
    start: Vec<usize>,
}

impl<'a> IdentifiedChains<'a> {
    /// Chain `c`'s node ids and nodes.
    fn get(&self, c: usize) -> (&[usize], &[ChainNode<'a>]) {
        let r = self.start[c]..self.start[c + 1];
        (&self.ids[r.clone()], &self.nodes[r])
    }
}

/// The chosen links that make a chain contradict its own identity (imo or mmsi): sorted,
/// without duplicates; empty when every chain is consistent. A chain (of `links`, over
/// nodes described by `node`; `node_of` gives the node of a detection) that carries an identity says that all its nodes are that
/// vessel, so for each sighting of the identity outside the chain:
///
/// * within the chain's time span: the link that spans its time passes over it, as no link
///   may (for a single-detection node seen at the same time, further than `near_m` away or
///   beside it in the same image, the link into that node is wrong; nearer, in another
///   image, it may be the same vessel seen twice);
/// * just before (after) the chain, and the chain's first (last) node cannot be reached from
///   (cannot reach) it in time: the chain's first (last) link joins another vessel.
///
/// And two chains that carry one identity and overlap in time, further than `near_m`
/// apart, cannot both be that vessel over the overlap: the earlier chain's link into the
/// overlap and the later chain's link out of it are marked. A chain that carries two imos
/// (or two mmsis) is two vessels: the least probable link between a sighting of one and
/// the next sighting of the other is marked.
///
/// `changed`: when the links are those of a check that found contradictions, solved again
/// so that only these nodes' successors or predecessors changed, only the identities of
/// their chains are checked, and the result is the same as checking all. A chain that is
/// not one of the last check's holds a changed node; a chain's own marks depend on its
/// nodes alone, and two chains' overlap on the two; so an identity none of whose chains
/// changed keeps the marks it had, and it had none (a marked link is forbidden, so both
/// chains it leaves hold a changed node).
pub(crate) fn contradicted_links<'a>(
    ids: &IdentityTimes,
    obs: &[Observation],
    links: &Links,
    node: impl Fn(usize) -> ChainNode<'a>,
    node_of: impl Fn(usize) -> Option<usize>,
    near_m: f64,
    changed: Option<&[usize]>,
) -> Vec<(usize, usize)> {
    if ids.is_empty() {
        return Vec::new();
    }
    // With `changed`, only the identities carried by the chains of its nodes can have a
    // contradiction (see above), so only their chains are checked.
    let affected: Option<Vec<bool>> = changed.map(|nodes| {
        let mut a = vec![false; ids.seen.len()];
        for &k in Chains::holding(links, nodes).iter().flatten() {
            for id in node(k).members.iter().flat_map(|&i| ids.of(i)) {
                a[id as usize] = true;
            }
        }
        a
    });
    let is_affected = |id: u32| affected.as_ref().is_none_or(|a| a[id as usize]);
    let n = links.successor.len();
    // Chain ends are compared at their exact sightings, hence the smaller slack.
    let reach =
        |from: (Time, &[f64; 3]), to: (Time, &[f64; 3])| ids.reaches(from, to, SIGHTING_SLACK_M);
    let at = |i: usize| to_ecef_m(obs[i].lon, obs[i].lat);
    // The chains that hold an identified sighting (single nodes too: they can overlap
    // another), by their first node. Each node's head is remembered, so long chains are
    // walked once, not once per sighting.
    let mut head_of = vec![usize::MAX; n];
    let mut path: Vec<usize> = Vec::new();
    let mut heads: Vec<usize> = Vec::new();
    let seen = (0..ids.seen.len() as u32).filter(|&id| is_affected(id));
    for s in seen.flat_map(|id| &ids.seen[id as usize]) {
        let Some(mut k) = node_of(s.obs) else {
            continue;
        };
        path.clear();
        let head = loop {
            if head_of[k] != usize::MAX {
                break head_of[k];
            }
            path.push(k);
            match links.predecessor[k] {
                // Links go forward in time, so this ends; the length check is a guard.
                Some(p) if path.len() <= n => k = p,
                _ => break k,
            }
        };
        for &k in &path {
            head_of[k] = head;
        }
        heads.push(head);
    }
    heads.sort_unstable();
    heads.dedup();
    // The chains, flat (tens of thousands of short chains per round at scale): chain c's
    // nodes are `ids[start[c]..start[c + 1]]`, described by `nodes` at the same places.
    let mut chain_of = vec![usize::MAX; obs.len()];
    let mut chains = IdentifiedChains::default();
    // (identity, chain's first sighting, chain) for every identity a chain carries.
    let mut carriers: Vec<(u32, Time, usize)> = Vec::new();
    let mut chain_keys: Vec<u32> = Vec::new();
    for head in heads {
        let from = chains.ids.len();
        links.push_chain(head, &mut chains.ids);
        chains
            .nodes
            .extend(chains.ids[from..].iter().map(|&k| node(k)));
        chain_keys.clear();
        chain_keys.extend(
            chains.nodes[from..]
                .iter()
                .flat_map(|cn| cn.members)
                .flat_map(|&i| ids.of(i)),
        );
        if chain_keys.is_empty() {
            chains.ids.truncate(from);
            chains.nodes.truncate(from);
            continue;
        }
        chain_keys.sort_unstable();
        chain_keys.dedup();
        let c = chains.start.len();
        for cn in &chains.nodes[from..] {
            for &i in cn.members {
                chain_of[i] = c;
            }
        }
        let t0 = chains.nodes[from].t_first;
        chains.start.push(from);
        carriers.extend(
            chain_keys
                .iter()
                .filter(|&&key| is_affected(key))
                .map(|&key| (key, t0, c)),
        );
    }
    chains.start.push(chains.ids.len());
    let mut out = Vec::new();
    // A chain that carries two imos (or two mmsis) is two vessels: between a sighting of
    // one and the next sighting of the other, some link is wrong; the least probable one
    // is marked (each round marks one, so a correct link beside it is not forbidden too).
    for c in 0..chains.start.len() - 1 {
        let (chain, nodes) = chains.get(c);
        // Per slot (imo, mmsi): the identity last seen and the node that carried it.
        let mut last: [Option<(u32, usize)>; 2] = [None; 2];
        for (k, cn) in nodes.iter().enumerate() {
            for &i in cn.members {
                let Some(of) = ids.of_obs.get(i) else {
                    continue;
                };
                for (slot, &id) in of.iter().enumerate() {
                    if id == NONE {
                        continue;
                    }
                    match last[slot] {
                        Some((prev, j)) if prev != id && j < k => {
                            let weakest = (j..k)
                                .min_by(|&x, &y| {
                                    links.probability[chain[x]]
                                        .total_cmp(&links.probability[chain[y]])
                                        .then(
                                            links.weight[chain[x]]
                                                .total_cmp(&links.weight[chain[y]]),
                                        )
                                })
                                .expect("j < k");
                            out.push((chain[weakest], chain[weakest + 1]));
                        }
                        _ => {}
                    }
                    last[slot] = Some((id, k));
                }
            }
        }
    }
    // By identity, each identity's chains by first sighting.
    carriers.sort_unstable();
    for group in carriers.chunk_by(|a, b| a.0 == b.0) {
        let seen = &ids.seen[group[0].0 as usize];
        for &(_, _, c) in group {
            let (chain, nodes) = chains.get(c);
            let last = nodes.len() - 1;
            if last == 0 {
                continue; // a single node has no link to mark
            }
            let (t0, t1) = (nodes[0].t_first, nodes[last].t_last);
            let far = |cn: &ChainNode, s: &Sighting| ecef_chord_m(&cn.ecef, &s.ecef) > near_m;
            let from = seen.partition_point(|s| s.t < t0);
            let first_at = nodes[0].members.first().map(|&i| at(i));
            if let (Some(p), Some(first_at)) = (from.checked_sub(1).map(|k| &seen[k]), first_at) {
                if chain_of[p.obs] != c && !reach((p.t, &p.ecef), (t0, &first_at)) {
                    out.push((chain[0], chain[1]));
                }
            }
            let to = seen.partition_point(|s| s.t <= t1);
            let last_at = nodes[last].members.last().map(|&i| at(i));
            if let (Some(q), Some(last_at)) = (seen.get(to), last_at) {
                if chain_of[q.obs] != c && !reach((t1, &last_at), (q.t, &q.ecef)) {
                    out.push((chain[last - 1], chain[last]));
                }
            }
            for s in &seen[from..to] {
                if chain_of[s.obs] == c {
                    continue;
                }
                // The last node of the chain seen at or before the sighting.
                let k = nodes
                    .partition_point(|cn| cn.t_first <= s.t)
                    .saturating_sub(1);
                let link = if s.t > nodes[k].t_last {
                    // Between node k and the next: the link k -> k+1 passes over it.
                    (k < last).then(|| (chain[k], chain[k + 1]))
                } else if nodes[k].members.len() == 1
                    && (far(&nodes[k], s) || same_image(&obs[nodes[k].members[0]], &obs[s.obs]))
                {
                    // Seen elsewhere when this node was seen, or beside it in the same
                    // image: the node is not that vessel.
                    Some(if k > 0 {
                        (chain[k - 1], chain[k])
                    } else {
                        (chain[0], chain[1])
                    })
                } else {
                    // Inside a stay's own span: stage 1 has dealt with it.
                    None
                };
                out.extend(link);
            }
        }
        // Chains of one identity that overlap in time, in different places.
        for w in group.windows(2) {
            let ((a_ids, a), (b_ids, b)) = (chains.get(w[0].2), chains.get(w[1].2));
            let a_t1 = a[a.len() - 1].t_last;
            if b[0].t_first > a_t1 {
                continue;
            }
            // a's first node inside the overlap, and b's last one.
            let ka = a.partition_point(|cn| cn.t_last < b[0].t_first);
            let kb = b.partition_point(|cn| cn.t_first <= a_t1).saturating_sub(1);
            let (Some(na), Some(nb)) = (a.get(ka), b.get(kb)) else {
                continue;
            };
            if ecef_chord_m(&na.ecef, &nb.ecef) <= near_m {
                continue; // one place: duplicate sightings, not a contradiction
            }
            if ka > 0 {
                out.push((a_ids[ka - 1], a_ids[ka]));
            }
            if kb + 1 < b.len() {
                out.push((b_ids[kb], b_ids[kb + 1]));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Solves the assignment of `cands` again while `contradicted` names chosen links that
/// break an identity, forbidding those candidates each time, at most `rounds` times; what
/// still contradicts one after the last round is cut (`rounds` 0: no check at all).
/// `links` is the solution to start from. `n` nodes; links below `min_p` are cut.
pub(crate) fn honour(
    n: usize,
    cands: &mut Vec<Candidate>,
    mut links: Links,
    min_p: f64,
    rounds: usize,
    contradicted: impl Fn(&Links, Option<&[usize]>) -> Vec<(usize, usize)>,
) -> Links {
    let mut parts: Option<Parts> = None;
    if rounds == 0 {
        return links;
    }
    // The nodes whose links the last round changed (None: check everything).
    let mut changed: Option<Vec<usize>> = None;
    for round in 0..=rounds {
        let bad = contradicted(&links, changed.as_deref());
        debug_assert!(
            changed.is_none() || bad == contradicted(&links, None),
            "checking the changed chains alone differs from checking all"
        );
        if bad.is_empty() {
            break;
        }
        if round == rounds {
            // Out of rounds: what still contradicts an identity is cut, not solved again,
            // so that no chain is left that mixes two vessels' identities.
            for (a, b) in bad {
                if links.successor[a] == Some(b) {
                    links.cut(a);
                }
            }
            break;
        }
        let parts = parts.get_or_insert_with(|| Parts::of(n, cands));
        cands.retain(|c| bad.binary_search(&(c.from, c.to)).is_err());
        changed = Some(parts.solve_again(&mut links, cands, &bad, min_p));
    }
    links
}

/// The connected parts of the candidate graph, so that forbidding a few links solves again
/// only the parts that hold them: the assignment and the link probabilities of a part
/// depend on its own candidates alone, so this is what [`choose`] over all of them gives.
/// Removing candidates only splits parts, so the parts of the first round stay valid.
struct Parts {
    /// Per node, its part (the smallest node in it).
    part: Vec<usize>,
    /// Per node, its number within the parts being solved again (scratch).
    local: Vec<usize>,
}

impl Parts {
    fn of(n: usize, cands: &[Candidate]) -> Parts {
        // Union-find by smallest root, with path halving.
        let mut parent: Vec<usize> = (0..n).collect();
        fn root(parent: &mut [usize], mut k: usize) -> usize {
            while parent[k] != k {
                parent[k] = parent[parent[k]];
                k = parent[k];
            }
            k
        }
        for c in cands.iter().filter(|c| c.from < n && c.to < n) {
            let (a, b) = (root(&mut parent, c.from), root(&mut parent, c.to));
            let (lo, hi) = (a.min(b), a.max(b));
            parent[hi] = lo;
        }
        let part = (0..n).map(|k| root(&mut parent, k)).collect();
        Parts {
            part,
            local: vec![usize::MAX; n],
        }
    }

    /// Solves again, in place, the parts that hold a link of `bad` (`cands` without them);
    /// returns the nodes whose successor or predecessor changed.
    fn solve_again(
        &mut self,
        links: &mut Links,
        cands: &[Candidate],
        bad: &[(usize, usize)],
        min_p: f64,
    ) -> Vec<usize> {
        let n = self.part.len();
        // The parts to solve again, marked by their smallest node.
        let mut touched = vec![false; n];
        for &(a, _) in bad.iter().filter(|&&(a, _)| a < n) {
            touched[self.part[a]] = true;
        }
        let hit = |k: usize| touched[self.part[k]];
        // Nodes of the touched parts, numbered in order (the solver breaks ties by order).
        let nodes: Vec<usize> = (0..n).filter(|&k| hit(k)).collect();
        for (i, &k) in nodes.iter().enumerate() {
            self.local[k] = i;
        }
        let sub: Vec<Candidate> = cands
            .iter()
            .filter(|c| c.from < n && c.to < n && hit(c.from))
            .map(|c| Candidate {
                from: self.local[c.from],
                to: self.local[c.to],
                ..*c
            })
            .collect();
        let solved = choose(nodes.len(), &sub, min_p);
        let before: Vec<(Option<usize>, Option<usize>)> = nodes
            .iter()
            .map(|&k| (links.successor[k], links.predecessor[k]))
            .collect();
        // Every link starts in the part of its end (links are candidates), so cutting the
        // links out of these nodes clears their parts.
        for &k in &nodes {
            links.cut(k);
        }
        for (i, &k) in nodes.iter().enumerate() {
            if let (Some(j), Some(kind)) = (solved.successor[i], solved.kind[i]) {
                links.set(k, nodes[j], kind, solved.weight[i], solved.probability[i]);
            }
        }
        links.candidates = cands.len();
        for &k in &nodes {
            self.local[k] = usize::MAX;
        }
        nodes
            .into_iter()
            .zip(before)
            .filter(|&(k, was)| was != (links.successor[k], links.predecessor[k]))
            .map(|(k, _)| k)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SensorModels;
    use crate::index::tests::obs;

    const NAJIN: (f64, f64) = (130.300, 42.236);
    const DUNAY: (f64, f64) = (132.3545, 42.9045);

    fn at(id: &str, p: (f64, f64), t: Time, imo: Option<&str>) -> Observation {
        let mut o = obs(id, p.0, p.1, t);
        o.identity_mut().imo = imo.map(str::to_string);
        o
    }

    fn links_of(n: usize, pairs: &[(usize, usize)]) -> Links {
        let mut l = Links::none(n, pairs.len());
        for &(a, b) in pairs {
            l.successor[a] = Some(b);
            l.predecessor[b] = Some(a);
        }
        l
    }

    fn single<'a>(obs: &'a [Observation], idx: &'a [usize]) -> impl Fn(usize) -> ChainNode<'a> {
        move |k| ChainNode {
            members: &idx[k..=k],
            t_first: obs[k].observed_at,
            t_last: obs[k].observed_at,
            ecef: to_ecef_m(obs[k].lon, obs[k].lat),
        }
    }

    /// The links [`contradicted_links`] marks, each detection a node of its own (node `k`
    /// is detection `k`), a near distance of 250 m.
    fn marked(
        ids: &IdentityTimes,
        o: &[Observation],
        links: &Links,
        changed: Option<&[usize]>,
    ) -> Vec<(usize, usize)> {
        let idx: Vec<usize> = (0..o.len()).collect();
        contradicted_links(ids, o, links, single(o, &idx), Some, 250.0, changed)
    }

    #[test]
    fn a_link_may_not_put_the_vessel_out_of_reach() {
        // The identified ship is in Najin at 0 and in Dunay (200 km by sea) a day later.
        let o = vec![
            at("x-najin", NAJIN, 0, Some("9100001")),
            at("y-dunay-soon", DUNAY, 3_000, None),
            at("y-dunay-later", DUNAY, 80_000, None),
            at("x-dunay", DUNAY, 86_400, Some("9100001")),
        ];
        let ids = IdentityTimes::new(&o, 20.0);
        let s = SensorModels::default();
        let attrs: Vec<Attrs> = o.iter().map(|x| Attrs::of(x, &s)).collect();
        let end = |i: usize| LinkEnd {
            attrs: &attrs[i],
            t: o[i].observed_at,
            ecef: to_ecef_m(o[i].lon, o[i].lat),
        };
        assert!(
            ids.conflicts(&end(1), &end(3)),
            "50 minutes after Najin the ship cannot be at Dunay"
        );
        assert!(!ids.conflicts(&end(2), &end(3)), "22 hours later it can");
        assert!(
            !ids.conflicts(&end(0), &end(3)),
            "the identity's own passage stays possible"
        );
    }

    #[test]
    fn a_stay_over_its_identity_seen_elsewhere_is_cut() {
        // An unidentified ship at the Dunay berth, then the identified one, chained as one
        // stay, while the identified ship was seen in Najin in between.
        let o = vec![
            at("y1", DUNAY, 0, None),
            at("y2", DUNAY, 20_000, None),
            at("x-dunay", DUNAY, 200_000, Some("9100001")),
            at("x-najin", NAJIN, 100_000, Some("9100001")),
        ];
        let ids = IdentityTimes::new(&o, 20.0);
        let links = links_of(o.len(), &[(0, 1), (1, 2)]);
        assert_eq!(marked(&ids, &o, &links, None), vec![(1, 2)]);
        // Without the sighting in Najin nothing contradicts the stay.
        let o3 = o[..3].to_vec();
        let ids3 = IdentityTimes::new(&o3, 20.0);
        let links3 = links_of(3, &[(0, 1), (1, 2)]);
        assert!(marked(&ids3, &o3, &links3, None).is_empty());
    }

    #[test]
    fn two_chains_of_one_identity_may_not_overlap_in_two_places() {
        // Chain A: x in Najin, then an unidentified ship there until 50,000 s. Chain B: an
        // unidentified ship in Dunay from 30,000 s, then x there at 90,000 s.
        let o = vec![
            at("x-najin", NAJIN, 0, Some("9100001")),
            at("y-najin", NAJIN, 50_000, None),
            at("z-dunay", DUNAY, 30_000, None),
            at("x-dunay", DUNAY, 90_000, Some("9100001")),
        ];
        let ids = IdentityTimes::new(&o, 20.0);
        let links = links_of(o.len(), &[(0, 1), (2, 3)]);
        assert_eq!(marked(&ids, &o, &links, None), vec![(0, 1), (2, 3)]);
    }

    #[test]
    fn a_chain_of_two_imos_is_cut_at_its_least_probable_link() {
        // At one Dunay berth: x (imo 1), two unidentified sightings, then y (imo 2), chained
        // as one stay. Nothing else is known of either imo, so only the mix says the chain
        // is two vessels; the least probable link between them is the one to forbid.
        let o = vec![
            at("x", DUNAY, 0, Some("9100001")),
            at("u1", DUNAY, 20_000, None),
            at("u2", DUNAY, 40_000, None),
            at("y", DUNAY, 60_000, Some("9100002")),
            at("y-again", DUNAY, 80_000, Some("9100002")),
        ];
        let ids = IdentityTimes::new(&o, 20.0);
        let mut links = links_of(o.len(), &[(0, 1), (1, 2), (2, 3), (3, 4)]);
        for (a, p) in [(0, 0.9), (1, 0.4), (2, 0.7), (3, 0.2)] {
            links.probability[a] = p;
        }
        let found = |l: &Links| marked(&ids, &o, l, None);
        // (3, 4) is the least probable link of the chain, but joins y to y: not marked.
        assert_eq!(found(&links), vec![(1, 2)]);
        links.probability[2] = 0.1;
        assert_eq!(found(&links), vec![(2, 3)]);
        // Two mmsis are two vessels as well; an imo and an mmsi are not.
        let mut m = o.clone();
        m[0].identity_mut().imo = None;
        m[0].identity_mut().mmsi = Some("273000001".to_string());
        let idm = IdentityTimes::new(&m, 20.0);
        assert!(
            marked(&idm, &m, &links, None).is_empty(),
            "an mmsi and an imo may be one vessel"
        );
        m[3].identity_mut().mmsi = Some("273000002".to_string());
        let idm = IdentityTimes::new(&m, 20.0);
        assert_eq!(marked(&idm, &m, &links, None), vec![(2, 3)]);

        // With one round: forbidding the first marked link (1 -> 2) makes the solver take
        // 1 -> 3, which mixes x and y again, and no round is left to forbid it; the marked
        // link is cut instead.
        use crate::linking::LinkKind;
        let mut cands: Vec<Candidate> = [(0, 1, 3.0), (1, 2, 3.0), (1, 3, 5.0), (2, 3, 3.0)]
            .into_iter()
            .chain([(3, 4, 3.0)])
            .map(|(from, to, weight)| Candidate {
                from,
                to,
                kind: LinkKind::Stay,
                weight,
            })
            .collect();
        let chosen = choose(o.len(), &cands, 0.1);
        assert_eq!(chosen.successor[..4], [Some(1), Some(2), Some(3), Some(4)]);
        let cut = honour(o.len(), &mut cands, chosen, 0.1, 1, |l, changed| {
            marked(&ids, &o, l, changed)
        });
        assert!(found(&cut).is_empty(), "{:?}", cut.successor);
        let head_of = |mut k: usize| {
            while let Some(p) = cut.predecessor[k] {
                k = p;
            }
            k
        };
        assert_ne!(head_of(0), head_of(3), "x and y end in two chains");
        assert_eq!(head_of(3), head_of(4), "y stays with y");
    }

    #[test]
    fn solving_again_by_parts_is_choosing_again_over_all() {
        use crate::linking::LinkKind;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for round in 0..40 {
            let n = 60;
            // Forward links in small clusters (so there are many parts), ties included.
            let mut cands: Vec<Candidate> = Vec::new();
            for from in 0..n {
                for _ in 0..rng.gen_range(0..4) {
                    let to = (from + rng.gen_range(1..6)).min(n - 1);
                    if to != from && (from / 12 == to / 12 || rng.gen_bool(0.05)) {
                        let weight = f64::from(rng.gen_range(-2..8)) * 0.5;
                        cands.push(Candidate {
                            from,
                            to,
                            kind: LinkKind::Passage,
                            weight,
                        });
                    }
                }
            }
            cands.sort_by_key(|c| (c.from, c.to));
            cands.dedup_by_key(|c| (c.from, c.to));
            let min_p = 0.1;
            let mut links = choose(n, &cands, min_p);
            let mut parts = Parts::of(n, &cands);
            // Forbid a few chosen links, twice, as the identity rounds do.
            for _ in 0..2 {
                let mut bad: Vec<(usize, usize)> = (0..n)
                    .filter_map(|a| links.successor[a].map(|b| (a, b)))
                    .filter(|_| rng.gen_bool(0.3))
                    .collect();
                bad.sort_unstable();
                cands.retain(|c| bad.binary_search(&(c.from, c.to)).is_err());
                parts.solve_again(&mut links, &cands, &bad, min_p);
                assert_eq!(links, choose(n, &cands, min_p), "round {round}");
            }
        }
    }

    #[test]
    fn no_identity_no_work() {
        let o = vec![at("a", DUNAY, 0, None), at("b", DUNAY, 10, None)];
        let ids = IdentityTimes::new(&o, 20.0);
        assert!(ids.is_empty());
        let links = links_of(2, &[(0, 1)]);
        assert!(marked(&ids, &o, &links, None).is_empty());
    }
}
