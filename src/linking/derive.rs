//! From chosen links to results: chains become vessel tracks, runs of `Stay` links in one
//! port become stays, and consecutive stays at two different ports become voyages (with the
//! at-sea detections between them as the via list). Every observation ends up in exactly
//! one of: a stay, a voyage's via list, or the unmatched list.

use crate::config::Config;
use crate::evidence::EmptyBerth;
use crate::geodesy::geodesic_m;
use crate::linking::{cost, LinkKind, Linked, Node, StayMembers};
use crate::model::{Event, Observation, Port, RouteMethod, Stay, Time, Track, TrackLink, Voyage};
use crate::stays::median;

/// Stays, voyages (without route geometry yet), tracks and what is left.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    /// Sorted by stay_id.
    pub stays: Vec<Stay>,
    /// Sorted by voyage_id; `geometry` empty until routing.
    pub voyages: Vec<Voyage>,
    /// Sorted by vessel_id.
    pub tracks: Vec<Track>,
    /// Observation indices in no stay and no voyage's via list, ascending.
    pub unmatched: Vec<usize>,
    /// Track (vessel) of each observation, when it is in one.
    pub vessel_of: Vec<Option<usize>>,
}

/// Zero-padded id: `prefix-0007` (at least 4 digits).
pub fn make_id(prefix: &str, k: usize, n: usize) -> String {
    let width = n.to_string().len().max(4);
    format!("{prefix}-{:0width$}", k + 1)
}

/// Derives the results from both stages' links. A chain that is a single stay of one
/// detection, or that has no stay, leaves its detections unmatched.
///
/// Consecutive stays of a chain at the same berth joined by a `Return` link at most
/// `stays.merge_gap_hours` apart, with no clear scene between them showing the berth empty,
/// are one stay whose sightings were interrupted (clouds, a missed detection): they are
/// merged, in `linked` itself (its chains stay the same; a 1M-detection run has no memory
/// for a second copy of the linking output).
pub fn derive(
    obs: &[Observation],
    linked: &mut Linked,
    ports: &[Port],
    empty: &EmptyBerth,
    config: &Config,
) -> Derived {
    merge_interrupted(obs, linked, ports, empty, config);
    // The cast saturates: a huge limit is no limit.
    let max_unseen_s = (config.linking.voyage_max_unseen_days * 86_400.0) as Time;
    let mut d = derive_merged(obs, linked, ports, empty, max_unseen_s);
    let lp = &config.linking;
    for t in &mut d.tracks {
        for l in &mut t.links {
            l.confidence = calibrate(l.confidence, lp.confidence_slope, lp.confidence_intercept);
        }
    }
    let inputs = confidence_inputs(obs, &d);
    for (v, x) in d.voyages.iter_mut().zip(inputs) {
        v.confidence_inputs = x;
        v.confidence = lp.voyage_confidence.confidence(&x);
    }
    d
}

/// Voyages of a track counted for a voyage's confidence at most: over a long run every
/// shuttle's track has hundreds, far beyond the 60-day scenarios the model was fitted on
/// (at most 19 voyages a track there). Uncapped, the confidences of a simulated year were
/// too sure (log loss 0.639 against 0.569 for a constant); capped at 3, 5 or 10 they beat
/// the old scaling on seeds 41-70 and over one and ten years, 10 best.
const TRACK_VOYAGES_CAP: usize = 10;

/// Each voyage's [`Voyage::confidence_inputs`], from its links' joint probability (the
/// voyage's `confidence` before this) and from what its ends and its track show.
fn confidence_inputs(
    obs: &[Observation],
    d: &Derived,
) -> Vec<[f64; crate::config::VOYAGE_CONFIDENCE_INPUTS]> {
    // Voyages per pair of ports, either way, and per track.
    let pair = |v: &Voyage| {
        let (a, b) = (
            &d.stays[v.origin_stay].port_id,
            &d.stays[v.destination_stay].port_id,
        );
        if a <= b {
            (a.as_str(), b.as_str())
        } else {
            (b.as_str(), a.as_str())
        }
    };
    let mut per_pair: std::collections::HashMap<(&str, &str), usize> =
        std::collections::HashMap::new();
    let mut per_track: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for v in &d.voyages {
        *per_pair.entry(pair(v)).or_default() += 1;
        *per_track.entry(v.vessel_id.as_str()).or_default() += 1;
    }
    let total = d.voyages.len().max(1) as f64;
    let end = |s: usize| {
        let st = &d.stays[s];
        let n = st.observations.len().max(1) as f64;
        let radar = !st.observations.is_empty()
            && st
                .observations
                .iter()
                .all(|&i| obs[i].sensor == crate::model::Sensor::Sentinel1);
        let detector = st
            .observations
            .iter()
            .map(|&i| obs[i].confidence.unwrap_or(1.0))
            .fold(0.0f64, f64::max)
            .max(1e-3);
        (n.ln(), f64::from(u8::from(radar)), detector.ln())
    };
    d.voyages
        .iter()
        .map(|v| {
            let (o, t) = (&d.stays[v.origin_stay], &d.stays[v.destination_stay]);
            let (on, or, od) = end(v.origin_stay);
            let (dn, dr, dd) = end(v.destination_stay);
            let unseen_days = ((t.first_seen - o.last_seen) as f64 / 86_400.0).clamp(0.0, 10.0);
            [
                logit(v.confidence),
                on,
                dn,
                or,
                dr,
                unseen_days,
                f64::from(u8::from(!v.via.is_empty())),
                (per_pair[&pair(v)] as f64 / total).ln(),
                (1.0 + (per_track[v.vessel_id.as_str()].min(TRACK_VOYAGES_CAP)) as f64).ln(),
                od,
                dd,
            ]
        })
        .collect()
}

/// What two consecutive events of a track show and how their attributes compare, as a
/// link of `kind` compares them (deck loads across the sea only): `(from, to, terms)`,
/// `terms` `None` when identity evidence says two vessels. For the voyages' and links'
/// `evidence` (a voyage's ends compare as a passage's).
pub fn link_evidence(
    obs: &[Observation],
    stays: &[Stay],
    from: Event,
    to: Event,
    kind: &str,
    sensors: &crate::config::SensorModels,
) -> (String, String, Option<Vec<(&'static str, f64)>>) {
    let members = |e: Event| -> Vec<&Observation> {
        match e {
            Event::Stay(s) => stays[s].observations.iter().map(|&i| &obs[i]).collect(),
            Event::AtSea(i) => vec![&obs[i]],
        }
    };
    let (ma, mb) = (members(from), members(to));
    let (a, b) = (
        cost::Attrs::combine(&ma, sensors),
        cost::Attrs::combine(&mb, sensors),
    );
    let across_sea = kind == LinkKind::Passage.as_str() || kind == LinkKind::Duplicate.as_str();
    let drift = if across_sea {
        super::CONTAINERS_DRIFT
    } else {
        0.0
    };
    (
        describe(ma.len(), &a),
        describe(mb.len(), &b),
        cost::attribute_terms(&a, &b, across_sea, drift),
    )
}

/// "Attributes: length +1.9, colour +1.6 = +3.5 nats" (or why there is nothing to say).
pub fn terms_text(terms: Option<&[(&'static str, f64)]>) -> String {
    let signed = |x: f64| format!("{x:+.1}");
    match terms {
        None => "Attributes: identity says two vessels".to_string(),
        Some([]) => "Attributes: none seen at both ends".to_string(),
        Some(terms) => {
            let total = cost::terms_total(terms);
            let listed: Vec<String> = terms
                .iter()
                .map(|(name, x)| format!("{name} {}", signed(*x)))
                .collect();
            format!("Attributes: {} = {} nats", listed.join(", "), signed(total))
        }
    }
}

/// "2 sightings: red, roro, 126±4 m, beam 20±2 m, 34 containers, imo 9074729" (what is
/// known).
fn describe(sightings: usize, a: &cost::Attrs) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some((c, _)) = &a.colour {
        parts.push(c.to_string());
    }
    if let Some((c, _)) = &a.class {
        parts.push(c.as_str().to_string());
    }
    if let Some((l, s)) = a.length_m {
        parts.push(format!("{l:.0}±{s:.0} m"));
    }
    if let Some((l, s)) = a.beam_m {
        parts.push(format!("beam {l:.0}±{s:.0} m"));
    }
    if let (Some((first, _)), Some((last, _))) = (a.containers_first, a.containers_last) {
        parts.push(if first == last {
            format!("{first:.0} containers")
        } else {
            format!("{first:.0} then {last:.0} containers")
        });
    }
    for (key, v) in [("imo", a.imo()), ("mmsi", a.mmsi()), ("name", a.name())] {
        if let Some(v) = v {
            parts.push(format!("{key} {v}"));
        }
    }
    let noun = if sightings == 1 {
        "sighting"
    } else {
        "sightings"
    };
    if parts.is_empty() {
        format!("{sightings} {noun}")
    } else {
        format!("{sightings} {noun}: {}", parts.join(", "))
    }
}

/// Platt scaling of a probability: `1 / (1 + exp(-(slope * logit(p) + intercept)))`
/// (`p` is clamped away from 0 and 1 first).
///
/// ```
/// use shiplink::linking::derive::calibrate;
/// assert!((calibrate(0.3, 1.0, 0.0) - 0.3).abs() < 1e-12);
/// assert!(calibrate(0.1, 0.5, 1.0) > 0.1);
/// ```
pub fn calibrate(p: f64, slope: f64, intercept: f64) -> f64 {
    let z = slope * logit(p) + intercept;
    1.0 / (1.0 + (-z).exp())
}

/// The log-odds of a probability, clamped away from 0 and 1 first.
fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// Merges interrupted stays (see [`derive`]) in place: each run of absorbed stays joins the
/// stay that heads it (summarised again over all their detections), the absorbed nodes and
/// stays are removed (the others keep their order), and the head links to where the run's
/// last node linked.
fn merge_interrupted(
    obs: &[Observation],
    linked: &mut Linked,
    ports: &[Port],
    empty: &EmptyBerth,
    config: &Config,
) {
    let merge_gap_s = (config.stays.merge_gap_hours * 3600.0) as i64;
    let radius_m = config.stays.berth_radius_m;
    let nodes = &linked.nodes;
    let l = &linked.links;
    let stay = |s: usize| linked.stay(s, obs, ports, empty);
    // absorbed[k]: node k is merged into its predecessor's stay.
    let absorbed: Vec<bool> = (0..nodes.len())
        .map(|k| {
            let Some(p) = l.predecessor[k] else {
                return false;
            };
            let (Node::Stay(a), Node::Stay(b)) = (nodes[p], nodes[k]) else {
                return false;
            };
            if l.kind[p] != Some(LinkKind::Return) {
                return false;
            }
            let (sa, sb) = (stay(a), stay(b));
            sa.port_id == sb.port_id
                && sb.first_seen - sa.last_seen <= merge_gap_s
                && sa.empty_after.is_none_or(|t| t > sb.first_seen)
                && geodesic_m((sa.lon, sa.lat), (sb.lon, sb.lat)) <= radius_m
        })
        .collect();
    if !absorbed.iter().any(|&x| x) {
        return;
    }
    // The last node of the run of absorbed nodes each node heads (itself when none).
    let run_end = |k: usize| {
        let mut j = k;
        while let Some(next) = l.successor[j].filter(|&x| absorbed[x]) {
            j = next;
        }
        j
    };
    // Heads of runs: their stay and all the run's detections, in (time, id) order.
    let mut merged: Vec<(usize, Vec<usize>)> = Vec::new();
    for k in (0..nodes.len()).filter(|&k| !absorbed[k] && run_end(k) != k) {
        let Node::Stay(s) = nodes[k] else { continue };
        let mut m = linked.stays.get(s).to_vec();
        let mut j = k;
        while let Some(next) = l.successor[j].filter(|&x| absorbed[x]) {
            if let Node::Stay(t) = nodes[next] {
                m.extend(linked.stays.get(t));
            }
            j = next;
        }
        m.sort_by(|&a, &b| (obs[a].observed_at, &obs[a].id).cmp(&(obs[b].observed_at, &obs[b].id)));
        merged.push((s, m));
    }
    // New places of the nodes and stays left.
    let mut stay_absorbed = vec![false; linked.stays.len()];
    for (k, node) in nodes.iter().enumerate() {
        if let (true, Node::Stay(s)) = (absorbed[k], node) {
            stay_absorbed[*s] = true;
        }
    }
    let new_place = |gone: &[bool]| -> Vec<usize> {
        let mut next = 0;
        gone.iter()
            .map(|&g| {
                let at = next;
                next += usize::from(!g);
                at
            })
            .collect()
    };
    let new_node = new_place(&absorbed);
    let new_stay = new_place(&stay_absorbed);
    // Links: from each head to the successor of its run's last node.
    let n2 = absorbed.iter().filter(|&&x| !x).count();
    let mut links = crate::linking::Links::none(n2, l.candidates);
    for k in (0..nodes.len()).filter(|&k| !absorbed[k]) {
        let j = run_end(k);
        if let Some(next) = l.successor[j] {
            let (a, b) = (new_node[k], new_node[next]);
            links.successor[a] = Some(b);
            links.predecessor[b] = Some(a);
            links.kind[a] = l.kind[j];
            links.weight[a] = l.weight[j];
            links.probability[a] = l.probability[j];
        }
    }
    linked.links = links;
    drop_marked(&mut linked.nodes, &absorbed);
    for node in &mut linked.nodes {
        if let Node::Stay(s) = node {
            *s = new_stay[*s];
        }
    }
    // The stays left, each run's head with all the run's detections.
    merged.sort_by_key(|(s, _)| *s);
    let mut merged = merged.into_iter().peekable();
    let mut stays = StayMembers::default();
    for (s, &gone) in stay_absorbed.iter().enumerate() {
        match merged.next_if(|(head, _)| *head == s) {
            Some((_, m)) => stays.push(&m),
            None if !gone => stays.push(linked.stays.get(s)),
            None => {}
        }
    }
    linked.stays = stays;
    drop_marked(&mut linked.stay_port, &stay_absorbed);
}

/// Removes the items whose position is marked in `gone` (the rest keep their order).
fn drop_marked<T>(v: &mut Vec<T>, gone: &[bool]) {
    let mut k = 0;
    v.retain(|_| {
        k += 1;
        !gone[k - 1]
    });
}

/// `max_unseen_s`: see `LinkParams::voyage_max_unseen_days`.
fn derive_merged(
    obs: &[Observation],
    linked: &Linked,
    ports: &[Port],
    empty: &EmptyBerth,
    max_unseen_s: Time,
) -> Derived {
    let n = obs.len();
    let nodes = &linked.nodes;
    let links = &linked.links;
    // A stay's first sighting, as `summarise` gives it.
    let first_seen = |s: usize| {
        let members = linked.stays.get(s);
        members
            .iter()
            .map(|&i| obs[i].observed_at)
            .min()
            .unwrap_or(0)
    };
    let node_time = |k: usize| match nodes[k] {
        Node::Stay(s) => (first_seen(s), obs[linked.stays.get(s)[0]].id.as_str()),
        Node::Sea(i) => (obs[i].observed_at, obs[i].id.as_str()),
    };
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|&a, &b| node_time(a).cmp(&node_time(b)));

    let mut unmatched: Vec<usize> = Vec::new();
    let mut chains: Vec<Vec<usize>> = Vec::new();
    for &start in &order {
        if links.predecessor[start].is_some() {
            continue;
        }
        let chain = links.chain_from(start);
        let has_stay = chain.iter().any(|&k| matches!(nodes[k], Node::Stay(_)));
        let lone_sighting = chain.len() == 1
            && matches!(nodes[chain[0]], Node::Stay(s) if linked.stays.get(s).len() < 2);
        if !has_stay || lone_sighting {
            for &k in &chain {
                match nodes[k] {
                    Node::Stay(s) => unmatched.extend(linked.stays.get(s)),
                    Node::Sea(i) => unmatched.push(i),
                }
            }
            continue;
        }
        chains.push(chain);
    }

    // Safety net for conservation: a node on no chain (only a loop of links could do that,
    // and links only go forward in time) is unmatched rather than lost.
    let mut on_chain = vec![false; nodes.len()];
    for c in &chains {
        for &k in c {
            on_chain[k] = true;
        }
    }
    for &k in &order {
        if !on_chain[k] {
            let mut k2 = k;
            let mut walked = 0;
            while links.predecessor[k2].is_some() && walked <= nodes.len() {
                k2 = links.predecessor[k2].unwrap_or(k2);
                walked += 1;
            }
            if walked > nodes.len() {
                match nodes[k] {
                    Node::Stay(s) => unmatched.extend(linked.stays.get(s)),
                    Node::Sea(i) => unmatched.push(i),
                }
            }
        }
    }

    // Stays kept, summarised, with ids by (first_seen, port, first observation id).
    let mut kept: Vec<(usize, Stay)> = chains
        .iter()
        .flatten()
        .filter_map(|&k| match nodes[k] {
            Node::Stay(s) => Some((s, linked.stay(s, obs, ports, empty))),
            Node::Sea(_) => None,
        })
        .collect();
    let key = |st: &Stay| {
        (
            st.first_seen,
            st.port_id.clone(),
            obs[st.observations[0]].id.clone(),
        )
    };
    kept.sort_by_key(|(_, st)| key(st));
    let mut new_pos = vec![usize::MAX; linked.stays.len()];
    let total = kept.len();
    let mut stays = Vec::with_capacity(total);
    for (k, (s, mut st)) in kept.into_iter().enumerate() {
        new_pos[s] = k;
        st.stay_id = make_id("stay", k, total);
        stays.push(st);
    }

    let n_tracks = chains.len();
    let mut vessel_of: Vec<Option<usize>> = vec![None; n];
    let mut tracks = Vec::with_capacity(n_tracks);
    let mut voyages: Vec<Voyage> = Vec::new();
    for (t, chain) in chains.iter().enumerate() {
        let vessel_id = make_id("vessel", t, n_tracks);
        let mut events = Vec::new();
        let mut members: Vec<usize> = Vec::new();
        for &k in chain {
            match nodes[k] {
                Node::Stay(s) => {
                    events.push(Event::Stay(new_pos[s]));
                    members.extend(linked.stays.get(s));
                }
                Node::Sea(i) => {
                    events.push(Event::AtSea(i));
                    members.push(i);
                }
            }
        }
        for &i in &members {
            vessel_of[i] = Some(t);
        }
        let stay_at: Vec<usize> = (0..chain.len())
            .filter(|&p| matches!(nodes[chain[p]], Node::Stay(_)))
            .collect();
        let mut in_via = vec![false; chain.len()];
        let mut voyage_count = 0;
        // Each link to the next event; its voyage (by index before sorting) below.
        let mut track_links: Vec<TrackLink> = chain
            .windows(2)
            .map(|w| TrackLink {
                kind: links.kind[w[0]].map_or("passage", LinkKind::as_str),
                confidence: links.probability[w[0]],
                weight: links.weight[w[0]],
                voyage: None,
            })
            .collect();
        for w in stay_at.windows(2) {
            let (Node::Stay(a), Node::Stay(b)) = (nodes[chain[w[0]]], nodes[chain[w[1]]]) else {
                continue;
            };
            let (from, to) = (&stays[new_pos[a]], &stays[new_pos[b]]);
            // Not a voyage: a return, a stitched join, or so long unseen that the vessel
            // has most likely called somewhere between.
            if from.port_id == to.port_id
                || chain[w[0]..w[1]]
                    .iter()
                    .any(|&k| links.kind[k] == Some(LinkKind::Gap))
                || to.first_seen - from.last_seen > max_unseen_s
            {
                continue;
            }
            let mut via = Vec::new();
            for (p, flag) in in_via.iter_mut().enumerate().take(w[1]).skip(w[0] + 1) {
                if let Node::Sea(i) = nodes[chain[p]] {
                    *flag = true;
                    via.push(i);
                }
            }
            // Confidence: every link from the origin stay to the destination stay.
            let mut confidence = 1.0;
            let mut cost = 0.0;
            for &k in &chain[w[0]..w[1]] {
                confidence *= links.probability[k];
                cost -= links.weight[k];
            }
            for l in &mut track_links[w[0]..w[1]] {
                l.voyage = Some(voyages.len());
            }
            voyages.push(Voyage {
                voyage_id: String::new(),
                vessel_id: vessel_id.clone(),
                origin_stay: new_pos[a],
                destination_stay: new_pos[b],
                via,
                confidence,
                confidence_inputs: [0.0; crate::config::VOYAGE_CONFIDENCE_INPUTS],
                cost,
                geometry: Vec::new(),
                route_method: RouteMethod::Straight,
                route_km: 0.0,
            });
            voyage_count += 1;
        }
        for (p, &k) in chain.iter().enumerate() {
            if let Node::Sea(i) = nodes[k] {
                if !in_via[p] {
                    unmatched.push(i);
                }
            }
        }
        let times: Vec<i64> = members.iter().map(|&i| obs[i].observed_at).collect();
        tracks.push(Track {
            vessel_id,
            events,
            first_seen: times.iter().copied().min().unwrap_or(0),
            last_seen: times.iter().copied().max().unwrap_or(0),
            length_m: median(members.iter().filter_map(|&i| obs[i].length_m).collect()),
            voyage_count,
            links: track_links,
        });
    }
    // Voyage ids by (departure, vessel); the links follow their voyage.
    let mut tagged: Vec<(usize, Voyage)> = voyages.into_iter().enumerate().collect();
    tagged.sort_by(|(_, x), (_, y)| {
        (stays[x.origin_stay].last_seen, &x.vessel_id)
            .cmp(&(stays[y.origin_stay].last_seen, &y.vessel_id))
    });
    let mut new_index = vec![0; tagged.len()];
    for (k, (old, _)) in tagged.iter().enumerate() {
        new_index[*old] = k;
    }
    for t in &mut tracks {
        for l in &mut t.links {
            l.voyage = l.voyage.map(|v| new_index[v]);
        }
    }
    let mut voyages: Vec<Voyage> = tagged.into_iter().map(|(_, v)| v).collect();
    let nv = voyages.len();
    for (k, v) in voyages.iter_mut().enumerate() {
        v.voyage_id = make_id("voyage", k, nv);
    }
    unmatched.sort_unstable();
    Derived {
        stays,
        voyages,
        tracks,
        unmatched,
        vessel_of,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::EmptyBerth;
    use crate::index::tests::obs;
    use crate::linking::{LinkKind, Links};

    /// `derive_merged` with the built-in ports, no empty-berth scenes and no limit on the
    /// unseen time of a voyage.
    fn derived(o: &[Observation], l: &Linked) -> Derived {
        derive_merged(
            o,
            l,
            &crate::ports::builtin(),
            &EmptyBerth::default(),
            Time::MAX,
        )
    }

    fn port_ix(id: &str) -> usize {
        let ports = crate::ports::builtin();
        ports.iter().position(|p| p.port_id == id).unwrap()
    }

    fn linked(stays: Vec<(Vec<usize>, &str)>, sea: Vec<usize>, chain: &[(usize, usize)]) -> Linked {
        let stay_port = stays.iter().map(|(_, p)| port_ix(p)).collect();
        let stays: StayMembers = stays.iter().map(|(m, _)| m.as_slice()).collect();
        let mut nodes: Vec<Node> = (0..stays.len()).map(Node::Stay).collect();
        nodes.extend(sea.into_iter().map(Node::Sea));
        let mut l = Links::none(nodes.len(), 0);
        for &(a, b) in chain {
            l.set(a, b, LinkKind::Passage, 3.0, 0.9);
        }
        Linked {
            stays,
            stay_port,
            nodes,
            links: l,
            stay_candidates: 0,
            timings: vec![],
            counts: vec![],
        }
    }

    #[test]
    fn ids_are_zero_padded() {
        assert_eq!(make_id("stay", 0, 5), "stay-0001");
        assert_eq!(make_id("stay", 41, 12_000), "stay-00042");
    }

    #[test]
    fn no_links_lone_sightings_unmatched_real_stays_kept() {
        let o = vec![
            obs("a", 130.3, 42.236, 0),
            obs("b", 131.0, 42.5, 10),
            obs("c", 130.3, 42.236, 20),
            obs("d", 130.3, 42.236, 30),
        ];
        let l = linked(
            vec![(vec![0], "najin"), (vec![2, 3], "najin")],
            vec![1],
            &[],
        );
        let d = derived(&o, &l);
        assert_eq!(
            d.unmatched,
            vec![0, 1],
            "a lone port sighting and a sea sighting"
        );
        assert_eq!(d.stays.len(), 1);
        assert_eq!(d.tracks.len(), 1);
        assert!(d.voyages.is_empty());
    }

    #[test]
    fn a_shuttle_chain_gives_two_stays_one_voyage_and_a_via() {
        let o = vec![
            obs("n1", 130.300, 42.236, 0),
            obs("n2", 130.300, 42.236, 86_400),
            obs("sea", 131.5, 42.5, 100_000),
            obs("d1", 132.3545, 42.9045, 150_000),
            obs("fp", 131.0, 42.0, 5),
        ];
        // nodes: 0 stay najin, 1 stay dunay, 2 sea, 3 fp
        let l = linked(
            vec![(vec![0, 1], "najin"), (vec![3], "dunay")],
            vec![2, 4],
            &[(0, 2), (2, 1)],
        );
        let d = derived(&o, &l);
        assert_eq!(d.stays.len(), 2);
        assert_eq!(d.stays[0].port_id, "najin");
        assert_eq!(d.voyages.len(), 1);
        let v = &d.voyages[0];
        assert_eq!((v.origin_stay, v.destination_stay), (0, 1));
        assert_eq!(v.via, vec![2]);
        assert!((v.confidence - 0.81).abs() < 1e-9, "two links of 0.9");
        assert_eq!(d.unmatched, vec![4]);
        assert_eq!(d.tracks[0].voyage_count, 1);
        let in_stays: usize = d.stays.iter().map(|s| s.observations.len()).sum();
        assert_eq!(in_stays + 1 + d.unmatched.len(), o.len(), "conservation");
    }

    #[test]
    fn voyage_confidence_reads_the_ends_and_the_track() {
        // Najin (two PlanetScope sightings, confidences 0.8 and 0.6), at sea, then Dunay
        // (one radar sighting, no confidence given).
        let mut o = vec![
            obs("n1", 130.300, 42.236, 0),
            obs("n2", 130.300, 42.236, 86_400),
            obs("sea", 131.5, 42.5, 100_000),
            obs("d1", 132.3545, 42.9045, 150_000),
        ];
        o[0].confidence = Some(0.8);
        o[1].confidence = Some(0.6);
        o[3].sensor = crate::model::Sensor::Sentinel1;
        let l = linked(
            vec![(vec![0, 1], "najin"), (vec![3], "dunay")],
            vec![2],
            &[(0, 2), (2, 1)],
        );
        let d = derived(&o, &l);
        let x = confidence_inputs(&o, &d)[0];
        let expected = [
            (0.81f64 / 0.19).ln(), // two links of 0.9
            2f64.ln(),             // sightings at the origin
            0.0,                   // one at the destination
            0.0,                   // the origin seen by PlanetScope
            1.0,                   // the destination by radar alone
            (150_000.0 - 86_400.0) / 86_400.0,
            1.0,         // seen at sea on the way
            0.0,         // the run's only pair of ports
            2f64.ln(),   // one voyage in the track
            0.8f64.ln(), // the origin's best detector confidence
            0.0,         // none given at the destination: 1
        ];
        for (i, (a, b)) in x.iter().zip(expected).enumerate() {
            assert!((a - b).abs() < 1e-9, "input {i}: {a} against {b}");
        }
        // Every weight 0: the links' Platt scaling alone.
        let plain = crate::config::VoyageConfidence {
            slope: 0.3,
            intercept: 0.5,
            ..crate::config::VoyageConfidence::from_coefficients(&[0.0; 12])
        };
        assert!((plain.confidence(&x) - calibrate(0.81, 0.3, 0.5)).abs() < 1e-9);
        // A radar-only end counts against the voyage under the default model.
        let m = crate::config::VoyageConfidence::default();
        let mut optical = x;
        optical[4] = 0.0;
        assert!(m.confidence(&x) < m.confidence(&optical));
    }

    #[test]
    fn no_voyage_across_a_stitched_gap() {
        let o = vec![
            obs("n1", 130.300, 42.236, 0),
            obs("sea", 131.5, 42.5, 100_000),
            obs("d1", 132.3545, 42.9045, 700_000),
        ];
        let mut l = linked(
            vec![(vec![0], "najin"), (vec![2], "dunay")],
            vec![1],
            &[(0, 2), (2, 1)],
        );
        l.links.kind[2] = Some(LinkKind::Gap);
        let d = derived(&o, &l);
        assert_eq!(d.tracks.len(), 1, "one vessel");
        assert_eq!(d.stays.len(), 2);
        assert!(d.voyages.is_empty(), "what it did in the gap is unknown");
        assert_eq!(
            d.unmatched,
            vec![1],
            "a detection in no voyage is unmatched"
        );
    }

    #[test]
    fn no_voyage_across_a_long_unseen_time() {
        let o = vec![
            obs("n1", 130.300, 42.236, 0),
            obs("sea", 131.5, 42.5, 100_000),
            obs("d1", 132.3545, 42.9045, 500_000),
        ];
        let l = linked(
            vec![(vec![0], "najin"), (vec![2], "dunay")],
            vec![1],
            &[(0, 2), (2, 1)],
        );
        let ports = crate::ports::builtin();
        let empty = EmptyBerth::default();
        let short = derive_merged(&o, &l, &ports, &empty, 500_000);
        assert_eq!(
            short.voyages.len(),
            1,
            "500,000 s unseen is within the limit"
        );
        let d = derive_merged(&o, &l, &ports, &empty, 499_999);
        assert_eq!(d.tracks.len(), 1, "still one vessel");
        assert_eq!(d.stays.len(), 2);
        assert!(d.voyages.is_empty(), "it may have called somewhere unseen");
        assert_eq!(d.unmatched, vec![1], "the sea sighting is in no voyage");
        assert_eq!(d.tracks[0].voyage_count, 0);
    }

    #[test]
    fn interrupted_stays_merge_in_place() {
        let o = vec![
            obs("a1", 130.300, 42.236, 0),
            obs("a2", 130.300, 42.236, 10_000),
            obs("b1", 130.301, 42.236, 50_000),
            obs("sea", 131.5, 42.5, 100_000),
            obs("d1", 132.3545, 42.9045, 150_000),
            obs("d2", 132.3545, 42.9045, 160_000),
        ];
        // nodes: 0 najin (a), 1 najin (b, 11 h later at the same berth), 2 dunay, 3 sea
        let mut l = linked(
            vec![
                (vec![0, 1], "najin"),
                (vec![2], "najin"),
                (vec![4, 5], "dunay"),
            ],
            vec![3],
            &[(0, 1), (1, 3), (3, 2)],
        );
        l.links.kind[0] = Some(LinkKind::Return);
        let ports = crate::ports::builtin();
        let cfg = Config::default();
        let d = derive(&o, &mut l, &ports, &EmptyBerth::default(), &cfg);
        assert_eq!(l.nodes, vec![Node::Stay(0), Node::Stay(1), Node::Sea(3)]);
        assert_eq!(l.stays.len(), 2);
        assert_eq!(l.stay_port.len(), 2);
        assert_eq!(l.stays.get(0), [0, 1, 2], "b joined a");
        assert_eq!(
            l.stay(0, &o, &ports, &EmptyBerth::default()).last_seen,
            50_000
        );
        assert_eq!(l.links.successor, vec![Some(2), None, Some(1)]);
        assert_eq!(l.links.predecessor, vec![None, Some(2), Some(0)]);
        assert_eq!(l.links.kind[0], Some(LinkKind::Passage), "the link b had");
        assert_eq!(d.stays.len(), 2);
        assert_eq!(d.voyages.len(), 1);
        assert_eq!(d.voyages[0].via, vec![3]);
        assert!(d.unmatched.is_empty());
    }

    #[test]
    fn return_to_the_same_port_is_a_new_stay_but_no_voyage() {
        let o = vec![
            obs("a", 130.300, 42.236, 0),
            obs("sea", 130.6, 42.2, 40_000),
            obs("b", 130.305, 42.230, 500_000),
        ];
        let l = linked(
            vec![(vec![0], "najin"), (vec![2], "najin")],
            vec![1],
            &[(0, 2), (2, 1)],
        );
        let d = derived(&o, &l);
        assert_eq!(d.stays.len(), 2);
        assert!(d.voyages.is_empty());
        assert_eq!(
            d.unmatched,
            vec![1],
            "sea detection between same-port stays is not a via"
        );
    }
}
