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

use super::cost::{self, Attrs};
use super::{choose, Candidate, LinkKind, Links, Node, CONTAINERS_DRIFT};
use crate::config::SensorModels;
use crate::model::{Observation, Stay};

/// Nodes of a track, on each side of a link, whose sightings are combined.
pub const TRACK_CONTEXT: usize = 6;

/// What refinement reads: the stage-2 nodes, their observations and attributes.
pub struct Tracks<'a> {
    pub obs: &'a [Observation],
    pub nodes: &'a [Node],
    pub stays: &'a [Stay],
    /// Attributes of each node on its own (what the candidates were weighed with).
    pub attrs: &'a [Attrs],
    pub sensors: &'a SensorModels,
}

impl Tracks<'_> {
    fn node_obs(&self, k: usize) -> &[usize] {
        match &self.nodes[k] {
            Node::Stay(s) => &self.stays[*s].observations,
            Node::Sea(i) => std::slice::from_ref(i),
        }
    }

    /// Combined attributes of the last `TRACK_CONTEXT` nodes of each node's track up to it
    /// (`head`) and the first ones from it on (`tail`).
    fn track_attrs(&self, links: &Links) -> (Vec<Attrs>, Vec<Attrs>) {
        let n = self.nodes.len();
        let mut head = vec![Attrs::default(); n];
        let mut tail = vec![Attrs::default(); n];
        for start in (0..n).filter(|&k| links.predecessor[k].is_none()) {
            let chain = links.chain_from(start);
            let combine = |range: std::ops::Range<usize>| -> Attrs {
                let mut o: Vec<&Observation> = chain[range]
                    .iter()
                    .flat_map(|&k| self.node_obs(k))
                    .map(|&i| &self.obs[i])
                    .collect();
                o.sort_by_key(|x| x.observed_at);
                Attrs::combine(&o, self.sensors)
            };
            for (p, &k) in chain.iter().enumerate() {
                head[k] = combine(p.saturating_sub(TRACK_CONTEXT - 1)..p + 1);
                tail[k] = combine(p..(p + TRACK_CONTEXT).min(chain.len()));
            }
        }
        (head, tail)
    }
}

/// Whether a link of this kind compares deck loads (cargo does not change at sea).
fn compares_containers(kind: LinkKind) -> bool {
    matches!(kind, LinkKind::Passage | LinkKind::Duplicate)
}

/// The attribute LLR of a candidate between two attribute sets (`None`: identity forbids).
fn attr_llr(a: &Attrs, b: &Attrs, kind: LinkKind) -> Option<f64> {
    let cmp = compares_containers(kind);
    let drift = if cmp { CONTAINERS_DRIFT } else { 0.0 };
    cost::attribute_llr(a, b, cmp, drift)
}

/// Refines `links` for up to `rounds` rounds, stopping early when the links settle.
/// Candidates whose pair comparison identity forbids are dropped.
pub fn refine(
    t: &Tracks,
    cands: &[Candidate],
    mut links: Links,
    rounds: usize,
    min_p: f64,
) -> Links {
    // The pair term of each candidate's weight, once: rounds only swap it for the tracks'.
    let (cands, pair): (Vec<Candidate>, Vec<f64>) = cands
        .iter()
        .filter_map(|c| Some((*c, attr_llr(&t.attrs[c.from], &t.attrs[c.to], c.kind)?)))
        .unzip();
    for _ in 0..rounds {
        let next = refine_round(t, &cands, &pair, &links, min_p).0;
        let settled = next.successor == links.successor;
        links = next;
        if settled {
            break;
        }
    }
    links
}

/// One round: re-weighs `cands` (their attribute term `pair`, from the nodes' own
/// attributes to the attributes of `links`' tracks) and solves again. Returns the new links
/// and weights.
fn refine_round(
    t: &Tracks,
    cands: &[Candidate],
    pair: &[f64],
    links: &Links,
    min_p: f64,
) -> (Links, Vec<Candidate>) {
    let (head, tail) = t.track_attrs(links);
    let reweighed: Vec<Candidate> = cands
        .iter()
        .zip(pair)
        .map(|(c, &pair)| {
            let track = attr_llr(&head[c.from], &tail[c.to], c.kind).unwrap_or(pair);
            Candidate {
                weight: c.weight - pair + track,
                ..*c
            }
        })
        .collect();
    (choose(t.nodes.len(), &reweighed, min_p), reweighed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::obs;
    use crate::model::Sensor;

    fn stay_of(i: usize, o: &Observation) -> Stay {
        Stay {
            stay_id: String::new(),
            port_id: "najin".into(),
            first_seen: o.observed_at,
            last_seen: o.observed_at,
            observations: vec![i],
            lon: o.lon,
            lat: o.lat,
            length_m: o.length_m,
            beam_m: None,
            vessel_class: None,
            hull_color: None,
            containers_first: None,
            containers_last: None,
            imo: None,
            mmsi: None,
            name: None,
            empty_before: None,
            empty_after: None,
        }
    }

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
        let stays: Vec<Stay> = o.iter().enumerate().map(|(i, x)| stay_of(i, x)).collect();
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
                attrs: base,
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
        o2[0].imo = Some("9000001".into());
        o2[3].imo = Some("9000002".into());
        let base2: Vec<Attrs> = o2.iter().map(|x| Attrs::of(x, &sensors)).collect();
        let re2 = round(&o2, &base2);
        let w2 = |f: usize| re2.iter().find(|c| c.from == f).map(|c| c.weight).unwrap();
        assert_eq!(w2(1), 1.0);
        assert_eq!(w2(2), 1.0);
    }
}
