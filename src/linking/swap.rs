//! Track swaps: a local search over whole tracks after refinement.
//!
//! Refinement re-weighs each candidate with the last few nodes of the tracks at its ends and
//! solves the assignment again, so a round judges a link by tracks the *previous* round made.
//! Here every move is judged by the tracks it makes. The objective is the assignment's own,
//! with each link's attribute term taken between the whole tracks it joins: over the links,
//! the sum of their timing and prior terms (`rest`) and of the attribute log-likelihood
//! ratio of the whole track before the link against the whole track after it. That ratio is
//! what joining two tracks adds to the log-likelihood ratio of "one vessel" for their
//! sightings, so a move's gain is a sum of such terms. A move links one candidate `u → x`:
//!
//! * `u` leaves its successor `v` and `x` its predecessor `y`; `y → v` takes the freed ends
//!   where that is a candidate and gains (a swap of the two tracks' tails);
//! * or, when `x` heads a track, that whole track goes in between `u` and `v` where its end
//!   links to `v` and that gains (a sighting or a stay the pairwise links left out);
//! * or, when `x` lies further along `u`'s own track, the nodes between are cut out into a
//!   track of their own (a false alarm or another vessel threaded into the track);
//!
//! and a chosen link whose term over whole tracks is negative is cut. Each pass evaluates
//! the moves that touch a track changed by the last pass (all of them at first) and applies
//! the best ones that touch disjoint tracks (so each applied gain is exact), until none
//! gains. A move's gain depends only on the tracks of `u` and `x`.

use super::FastMap as HashMap;
use std::borrow::Cow;

use rayon::prelude::*;

use super::cost::Attrs;
use super::refine::{attr_llr, Tracks};
use super::{Candidate, Chains, LinkKind, Links};

/// Most passes.
const MAX_PASSES: usize = 30;
/// Least gain (nats) a move must bring.
const MIN_GAIN: f64 = 1e-6;
/// Most nodes of a track, on each side of a link, whose sightings a move combines. Far
/// more than a vessel shows in a few months (at most 24 nodes a track on the 60-day
/// seeds, where the cap changes nothing); over years of imagery whole tracks made every
/// move cost the length of its tracks (ten simulated years: 10 s in the swaps).
const RUN_CAP: usize = 64;

/// A run of consecutive nodes of one track, by its first and last node.
type Key = (usize, usize);

/// The tracks of some links: each node's track and position in it.
struct Layout {
    chains: Chains,
    track: Vec<usize>,
    pos: Vec<usize>,
}

impl Layout {
    fn new(links: &Links) -> Layout {
        let n = links.successor.len();
        let chains = Chains::of(links);
        let mut track = vec![usize::MAX; n];
        let mut pos = vec![0; n];
        for (t, chain) in chains.iter().enumerate() {
            for (p, &k) in chain.iter().enumerate() {
                track[k] = t;
                pos[k] = p;
            }
        }
        Layout { chains, track, pos }
    }

    /// The track of `k` up to and including it (its last [`RUN_CAP`] nodes).
    fn prefix(&self, k: usize) -> Key {
        let chain = self.chains.get(self.track[k]);
        (chain[(self.pos[k] + 1).saturating_sub(RUN_CAP)], k)
    }

    /// The track of `k` from it on (its first [`RUN_CAP`] nodes).
    fn suffix(&self, k: usize) -> Key {
        let chain = self.chains.get(self.track[k]);
        (k, chain[(self.pos[k] + RUN_CAP - 1).min(chain.len() - 1)])
    }

    /// The nodes of a run.
    fn nodes(&self, (first, last): Key) -> &[usize] {
        let chain = self.chains.get(self.track[first]);
        &chain[self.pos[first]..=self.pos[last]]
    }
}

/// Combined attributes of runs of two track nodes or more, kept across passes while their
/// nodes stay linked as they were (a move in a long track leaves its runs away from the
/// move as they were).
struct Runs<'a, 'b> {
    t: &'a Tracks<'b>,
    attrs: HashMap<Key, Attrs>,
}

impl Runs<'_, '_> {
    /// Whether run `k` is one to keep (two nodes or more) and not yet known.
    fn wanted(&self, k: Key) -> bool {
        k.0 != k.1 && !self.attrs.contains_key(&k)
    }

    /// Combines the runs of `keys` (in parallel): runs [`Runs::wanted`], repeats allowed
    /// (the callers leave out the known ones as they gather them).
    fn fill(&mut self, lay: &Layout, mut keys: Vec<Key>) {
        keys.sort_unstable();
        keys.dedup();
        let new: Vec<Attrs> = keys
            .par_iter()
            .map(|&k| self.t.combine(lay.nodes(k)))
            .collect();
        self.attrs.extend(keys.into_iter().zip(new));
    }

    /// Attribute LLR of run `a` continuing as run `b`; `None` where identity forbids.
    fn merge(&self, a: Key, b: Key, kind: LinkKind) -> Option<f64> {
        let (a, b) = (self.get(a)?, self.get(b)?);
        attr_llr(&a, &b, kind)
    }

    /// Combined attributes of a run: kept for runs of two nodes or more, combined when
    /// asked for a lone node (memory: at a million detections most runs are lone nodes).
    fn get(&self, (first, last): Key) -> Option<Cow<'_, Attrs>> {
        if first == last {
            Some(Cow::Owned(self.t.combine(&[first])))
        } else {
            self.attrs.get(&(first, last)).map(Cow::Borrowed)
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Move {
    /// Link candidate `cand` (`u → x`), cutting the links into `x` and out of `u`; then
    /// link candidate `also` if any: `y → v`, or the end of `x`'s track to `v`.
    Link { cand: usize, also: Option<usize> },
    /// Cut the link out of the node.
    Cut(usize),
}

/// What the moves read: candidates, their `rest`, and where each pair's candidate is.
struct Pool<'a> {
    cands: &'a [Candidate],
    rest: &'a [f64],
    index: HashMap<Key, usize>,
}

impl Pool<'_> {
    fn rest_of(&self, u: usize, v: usize) -> f64 {
        self.index.get(&(u, v)).map_or(0.0, |&i| self.rest[i])
    }

    /// The runs a move of candidate `ci` compares.
    fn keys(&self, ci: usize, lay: &Layout, links: &Links, out: &mut Vec<Key>) {
        let Candidate { from: u, to: x, .. } = self.cands[ci];
        out.push(lay.prefix(u));
        out.push(lay.suffix(x));
        let (v, y) = (links.successor[u], links.predecessor[x]);
        if lay.track[u] == lay.track[x] {
            if let (Some(v), Some(y)) = (v, y) {
                out.push((v, y));
            }
        } else if let Some(v) = v {
            out.push(lay.suffix(v));
            if let Some(y) = y {
                out.push(lay.prefix(y));
            }
        }
    }

    /// The best move of candidate `ci` and its gain, if it gains; `cur[a]` is the term of
    /// the chosen link out of `a`.
    fn evaluate(
        &self,
        ci: usize,
        lay: &Layout,
        runs: &Runs,
        links: &Links,
        cur: &[f64],
    ) -> Option<(f64, Move)> {
        let c = self.cands[ci];
        let (u, x) = (c.from, c.to);
        let (v, y) = (links.successor[u], links.predecessor[x]);
        let add = self.rest[ci] + runs.merge(lay.prefix(u), lay.suffix(x), c.kind)?;
        if lay.track[u] == lay.track[x] {
            // x further along u's own track: cut out the nodes between.
            let (Some(v), Some(y)) = (v, y) else {
                return None;
            };
            if lay.pos[x] <= lay.pos[u] {
                return None;
            }
            let ky = links.kind[y].unwrap_or(LinkKind::Passage);
            let inner = self.rest_of(y, x) + runs.merge((v, y), lay.suffix(x), ky)?;
            let gain = add - cur[u] - inner;
            return (gain > MIN_GAIN).then_some((
                gain,
                Move::Link {
                    cand: ci,
                    also: None,
                },
            ));
        }
        let mut gain = add;
        if v.is_some() {
            gain -= cur[u];
        }
        if let Some(y) = y {
            gain -= cur[y];
        }
        // The freed ends joined, when that gains too.
        let mut also = None;
        let mut spliced = 0.0;
        if let Some(v) = v {
            // x's track from x on spliced in between u and v when its end links to v (only
            // a track within the cap, so that the run is the whole of it).
            let end = lay.suffix(x).1;
            let whole = lay.chains.get(lay.track[x]).last() == Some(&end);
            if let Some(&j) = self.index.get(&(end, v)).filter(|_| whole) {
                let mut nodes = lay.nodes(lay.prefix(u)).to_vec();
                nodes.extend_from_slice(lay.nodes(lay.suffix(x)));
                let before = runs.t.combine(&nodes);
                if let Some(m) = runs
                    .get(lay.suffix(v))
                    .and_then(|after| attr_llr(&before, &after, self.cands[j].kind))
                {
                    let g = self.rest[j] + m;
                    if g > 0.0 {
                        spliced = g;
                        also = Some(j);
                    }
                }
            }
        }
        if let (Some(v), Some(y)) = (v, y) {
            if let Some(&j) = self.index.get(&(y, v)) {
                if let Some(m) = runs.merge(lay.prefix(y), lay.suffix(v), self.cands[j].kind) {
                    let g = self.rest[j] + m;
                    if g > spliced {
                        spliced = g;
                        also = Some(j);
                    }
                }
            }
        }
        gain += spliced;
        (gain > MIN_GAIN).then_some((gain, Move::Link { cand: ci, also }))
    }
}

/// Improves `links` by moves over whole tracks (see the module doc). `rest[i]` is the part
/// of candidate `i`'s weight that is not the attribute term. Returns the links (weights and
/// probabilities of the new links are left to the caller) and each candidate weighed over
/// the final tracks: its `rest` plus the attribute LLR of the track up to its origin against
/// the track from its destination on (candidates identity forbids left out).
pub fn improve(
    t: &Tracks,
    cands: &[Candidate],
    rest: &[f64],
    mut links: Links,
) -> (Links, Vec<Candidate>) {
    let n = t.nodes.len();
    let mut index: HashMap<Key, usize> =
        HashMap::with_capacity_and_hasher(cands.len(), Default::default());
    for (i, c) in cands.iter().enumerate() {
        index
            .entry((c.from, c.to))
            .and_modify(|j| {
                if rest[i] > rest[*j] {
                    *j = i;
                }
            })
            .or_insert(i);
    }
    let pool = Pool { cands, rest, index };
    let mut runs = Runs {
        t,
        attrs: HashMap::default(),
    };
    let mut dirty = vec![true; n];
    let mut cur = vec![0.0f64; n];
    for _ in 0..MAX_PASSES {
        let lay = Layout::new(&links);
        // The moves to weigh: those touching a changed track.
        let todo: Vec<usize> = (0..cands.len())
            .filter(|&i| {
                let c = &cands[i];
                (dirty[c.from] || dirty[c.to]) && links.successor[c.from] != Some(c.to)
            })
            .collect();
        let chosen: Vec<(usize, usize)> = (0..n)
            .filter(|&u| dirty[u])
            .filter_map(|u| Some((u, links.successor[u]?)))
            .collect();
        // The runs to combine, gathered without those already known (memory: at a million
        // detections over ten simulated years the moves name some nine million runs a
        // pass, nearly all known).
        let mut keys: Vec<Key> = chosen
            .iter()
            .flat_map(|&(u, v)| [lay.prefix(u), lay.suffix(v)])
            .filter(|&k| runs.wanted(k))
            .collect();
        let mut some = Vec::with_capacity(4);
        for &ci in &todo {
            pool.keys(ci, &lay, &links, &mut some);
            keys.extend(some.drain(..).filter(|&k| runs.wanted(k)));
        }
        runs.fill(&lay, keys);
        // The term of each chosen link over whole tracks (unchanged tracks keep theirs).
        for &(u, v) in &chosen {
            let kind = links.kind[u].unwrap_or(LinkKind::Passage);
            cur[u] = pool.rest_of(u, v)
                + runs
                    .merge(lay.prefix(u), lay.suffix(v), kind)
                    .unwrap_or(f64::NEG_INFINITY);
        }
        let mut moves: Vec<(f64, Move)> = chosen
            .iter()
            .filter(|&&(u, _)| cur[u] < -MIN_GAIN)
            .map(|&(u, _)| (-cur[u], Move::Cut(u)))
            .collect();
        moves.par_extend(
            todo.par_iter()
                .filter_map(|&ci| pool.evaluate(ci, &lay, &runs, &links, &cur)),
        );
        // Best first; equal gains in the order found, for the same result every run.
        moves.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut touched = vec![false; lay.chains.len()];
        let successor_before = links.successor.clone();
        for (_, m) in moves {
            let (a, b) = match m {
                Move::Cut(u) => (lay.track[u], lay.track[u]),
                Move::Link { cand, .. } => (lay.track[cands[cand].from], lay.track[cands[cand].to]),
            };
            if touched[a] || touched[b] {
                continue;
            }
            touched[a] = true;
            touched[b] = true;
            match m {
                Move::Cut(u) => links.cut(u),
                Move::Link { cand, also } => {
                    let c = cands[cand];
                    links.cut(c.from);
                    if let Some(y) = links.predecessor[c.to] {
                        links.cut(y);
                    }
                    links.set(c.from, c.to, c.kind, c.weight, 0.0);
                    if let Some(j) = also {
                        let d = cands[j];
                        links.set(d.from, d.to, d.kind, d.weight, 0.0);
                    }
                }
            }
        }
        // The nodes of the changed tracks; runs starting in them are stale.
        dirty.iter_mut().for_each(|d| *d = false);
        let mut any = false;
        for (k, chain) in lay.chains.iter().enumerate() {
            if touched[k] {
                any = true;
                for &node in chain {
                    dirty[node] = true;
                }
            }
        }
        if !any {
            break;
        }
        // A run is stale where a node of it but its last has another successor now: over
        // a long track, the runs away from the moves keep their attributes.
        let cut = cuts_before(&lay, &successor_before, &links.successor);
        runs.attrs
            .retain(|&(first, last), _| cut[first] == cut[last]);
    }
    // Each candidate over the final tracks.
    let lay = Layout::new(&links);
    let keys: Vec<Key> = cands
        .iter()
        .flat_map(|c| [lay.prefix(c.from), lay.suffix(c.to)])
        .filter(|&k| runs.wanted(k))
        .collect();
    runs.fill(&lay, keys);
    let weighed = cands
        .par_iter()
        .zip(rest)
        .filter_map(|(c, &r)| {
            let m = runs.merge(lay.prefix(c.from), lay.suffix(c.to), c.kind)?;
            Some(Candidate {
                weight: r + m,
                ..*c
            })
        })
        .collect();
    (links, weighed)
}

/// For each node of `lay`, how many nodes before it in its track have a successor in
/// `after` other than in `before`: run `(first, last)` of `lay` still holds the same nodes
/// when the counts at `first` and `last` are equal.
fn cuts_before(lay: &Layout, before: &[Option<usize>], after: &[Option<usize>]) -> Vec<u32> {
    let mut count = vec![0u32; before.len()];
    for chain in lay.chains.iter() {
        let mut c = 0;
        for &k in chain {
            count[k] = c;
            c += u32::from(before[k] != after[k]);
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::SensorModels;
    use crate::index::tests::obs;
    use crate::linking::{Node, StayMembers};
    use crate::model::{Observation, Sensor};

    /// `n` nodes, the first `len` of them one track `0 -> 1 -> … -> len - 1`.
    fn one_track(n: usize, len: usize) -> Links {
        let mut links = Links::none(n, 0);
        for k in 0..len - 1 {
            links.successor[k] = Some(k + 1);
            links.predecessor[k + 1] = Some(k);
        }
        links
    }

    #[test]
    fn runs_of_a_long_track_are_capped() {
        // One track of 200 nodes and a lone node: a move reads at most RUN_CAP nodes on
        // each side of a link, and whole tracks within the cap.
        let links = one_track(201, 200);
        let lay = Layout::new(&links);
        assert_eq!(lay.prefix(150), (150 + 1 - RUN_CAP, 150));
        assert_eq!(lay.suffix(10), (10, 10 + RUN_CAP - 1));
        assert_eq!(lay.nodes(lay.prefix(150)).len(), RUN_CAP);
        assert_eq!(lay.prefix(20), (0, 20));
        assert_eq!(lay.suffix(190), (190, 199));
        assert_eq!((lay.prefix(200), lay.suffix(200)), ((200, 200), (200, 200)));
    }

    #[test]
    fn runs_across_a_changed_link_are_stale_and_no_others() {
        // One track 0 -> 1 -> ... -> 9; the pass cuts 4 -> 5 and links 4 -> 20.
        let mut links = one_track(21, 10);
        let lay = Layout::new(&links);
        let before = links.successor.clone();
        links.cut(4);
        links.set(4, 20, LinkKind::Passage, 1.0, 0.0);
        let cut = cuts_before(&lay, &before, &links.successor);
        let kept = |(first, last): Key| cut[first] == cut[last];
        assert!(kept((0, 3)));
        assert!(
            kept((0, 4)),
            "a run ending at the changed node holds the same nodes"
        );
        assert!(!kept((3, 5)));
        assert!(!kept((0, 9)));
        assert!(!kept((4, 5)));
        assert!(kept((5, 9)));
        // Nothing changed: every run is kept.
        let same = cuts_before(&lay, &links.successor, &links.successor);
        assert!(same.iter().all(|&c| c == 0));
    }

    /// Precise optical sightings, one node each: `(length, colour)` at day `k`.
    fn sightings(ships: &[(f64, &str)]) -> Vec<Observation> {
        ships
            .iter()
            .enumerate()
            .map(|(k, &(len, colour))| {
                let mut o = obs(&format!("o{k}"), 130.3, 42.236, k as i64 * 86_400);
                o.sensor = Sensor::Skysat;
                o.length_m = Some(len);
                o.hull_color = Some(Arc::from(colour));
                o
            })
            .collect()
    }

    /// Every forward pair a candidate, each with the same timing term `rest`.
    fn all_pairs(n: usize, rest: f64) -> (Vec<Candidate>, Vec<f64>) {
        let mut cands = Vec::new();
        for a in 0..n {
            for b in a + 1..n {
                cands.push(Candidate {
                    from: a,
                    to: b,
                    kind: LinkKind::Passage,
                    weight: rest,
                });
            }
        }
        let r = vec![rest; cands.len()];
        (cands, r)
    }

    fn run(o: &[Observation], chain: &[(usize, usize)], rest: f64) -> Links {
        let sensors = SensorModels::default();
        let singles: Vec<usize> = (0..o.len()).collect();
        let stays: StayMembers = singles.chunks(1).collect();
        let nodes: Vec<Node> = (0..o.len()).map(Node::Stay).collect();
        let t = Tracks {
            obs: o,
            nodes: &nodes,
            stays: &stays,
            sensors: &sensors,
        };
        let (cands, r) = all_pairs(o.len(), rest);
        let mut links = Links::none(o.len(), cands.len());
        for &(a, b) in chain {
            links.set(a, b, LinkKind::Passage, rest, 0.5);
        }
        let (links, weighed) = improve(&t, &cands, &r, links);
        // Chosen links are weighed over the final tracks: rest plus a positive agreement.
        for u in 0..o.len() {
            if let Some(v) = links.successor[u] {
                let w = weighed.iter().find(|c| (c.from, c.to) == (u, v)).unwrap();
                assert!(w.weight > rest, "{u}->{v}: {}", w.weight);
            }
        }
        links
    }

    #[test]
    fn swapped_tails_are_swapped_back() {
        // A red 130 m ship (even nodes) and a blue 118 m ship (odd), tails crossed after
        // the second sighting of each.
        let o = sightings(&[
            (130.0, "red"),
            (118.0, "blue"),
            (130.5, "red"),
            (117.5, "blue"),
            (129.5, "red"),
            (118.5, "blue"),
        ]);
        let links = run(&o, &[(0, 2), (2, 5), (1, 3), (3, 4)], 1.0);
        assert_eq!(links.successor[2], Some(4));
        assert_eq!(links.successor[3], Some(5));
        assert_eq!(links.successor[0], Some(2));
        assert_eq!(links.successor[1], Some(3));
    }

    #[test]
    fn another_vessel_threaded_into_a_track_is_cut_out() {
        // red, black 60 m, red, red: the black sighting leaves, the reds join around it.
        let o = sightings(&[
            (130.0, "red"),
            (60.0, "black"),
            (130.5, "red"),
            (129.5, "red"),
        ]);
        let links = run(&o, &[(0, 1), (1, 2), (2, 3)], 1.0);
        assert_eq!(links.successor[0], Some(2));
        assert_eq!(links.predecessor[1], None);
        assert_eq!(links.successor[1], None);
        assert_eq!(links.successor[2], Some(3));
    }

    #[test]
    fn a_left_out_sighting_is_spliced_in() {
        // Red 130 m seen four times; the third sighting was left out of its track.
        let o = sightings(&[
            (130.0, "red"),
            (130.5, "red"),
            (129.5, "red"),
            (130.2, "red"),
        ]);
        let links = run(&o, &[(0, 1), (1, 3)], 0.1);
        assert_eq!(links.successor[1], Some(2));
        assert_eq!(links.successor[2], Some(3));
    }

    #[test]
    fn a_right_solution_stays_and_identity_is_never_crossed() {
        let mut o = sightings(&[
            (130.0, "red"),
            (130.0, "red"),
            (130.0, "red"),
            (130.0, "red"),
        ]);
        o[0].identity_mut().imo = Some("9074729".into());
        o[3].identity_mut().imo = Some("9166778".into());
        // Same-looking ships with different imo: 0 -> 1 -> 2 and 3 alone is one answer;
        // linking 2 -> 3 would put two imo numbers in one track.
        let links = run(&o, &[(0, 1), (1, 2)], 1.0);
        assert_eq!(links.successor[0], Some(1));
        assert_eq!(links.successor[1], Some(2));
        assert_eq!(links.successor[2], None, "never into another imo");
        assert_eq!(links.predecessor[3], None);
    }
}
