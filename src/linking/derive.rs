//! From chosen links to results: chains become vessel tracks, runs of `Stay` links in one
//! port become stays, and consecutive stays at two different ports become voyages (with the
//! at-sea detections between them as the via list). Every observation ends up in exactly
//! one of: a stay, a voyage's via list, or the unmatched list.

use crate::evidence::EmptyBerth;
use crate::linking::{LinkKind, Links};
use crate::model::{Event, Observation, Port, RouteMethod, Stay, Track, Voyage};
use crate::stays::{median, summarise};

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

enum Elem {
    Stay(usize),
    Sea(usize),
}

/// Derives the results from the links.
pub fn derive(
    obs: &[Observation],
    port_of: &[Option<usize>],
    ports: &[Port],
    links: &Links,
    empty: &EmptyBerth,
) -> Derived {
    let n = obs.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| (obs[a].observed_at, &obs[a].id).cmp(&(obs[b].observed_at, &obs[b].id)));

    let mut stays: Vec<Stay> = Vec::new();
    let mut unmatched: Vec<usize> = Vec::new();
    // Per chain: its elements.
    let mut chains: Vec<Vec<Elem>> = Vec::new();
    for &start in &order {
        if links.predecessor[start].is_some() {
            continue;
        }
        let mut chain = vec![start];
        let mut k = start;
        while let Some(next) = links.successor[k] {
            chain.push(next);
            k = next;
            if chain.len() > n {
                break; // cannot happen: links go forward in time
            }
        }
        if chain.len() < 2 {
            unmatched.push(start);
            continue;
        }
        let mut elems: Vec<Elem> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        let mut current_port: Option<usize> = None;
        for (pos, &i) in chain.iter().enumerate() {
            let joined = pos > 0
                && links.kind[chain[pos - 1]] == Some(LinkKind::Stay)
                && port_of[i].is_some()
                && port_of[i] == current_port;
            if !joined && !current.is_empty() {
                let p = current_port.unwrap_or(0);
                stays.push(summarise(
                    std::mem::take(&mut current),
                    &ports[p].port_id,
                    obs,
                    empty,
                ));
                elems.push(Elem::Stay(stays.len() - 1));
            }
            match port_of[i] {
                Some(p) => {
                    current_port = Some(p);
                    current.push(i);
                }
                None => {
                    current_port = None;
                    elems.push(Elem::Sea(i));
                }
            }
        }
        if !current.is_empty() {
            let p = current_port.unwrap_or(0);
            stays.push(summarise(current, &ports[p].port_id, obs, empty));
            elems.push(Elem::Stay(stays.len() - 1));
        }
        if !elems.iter().any(|e| matches!(e, Elem::Stay(_))) {
            unmatched.extend(chain);
            continue;
        }
        chains.push(elems);
    }

    // Stay ids by (first_seen, port, first observation id).
    let mut stay_order: Vec<usize> = (0..stays.len()).collect();
    stay_order.sort_by(|&a, &b| {
        let (x, y) = (&stays[a], &stays[b]);
        (x.first_seen, &x.port_id, &obs[x.observations[0]].id).cmp(&(
            y.first_seen,
            &y.port_id,
            &obs[y.observations[0]].id,
        ))
    });
    let mut new_pos = vec![0usize; stays.len()];
    for (k, &s) in stay_order.iter().enumerate() {
        new_pos[s] = k;
    }
    let total = stays.len();
    let mut sorted_stays: Vec<Option<Stay>> = vec![None; total];
    for (old, s) in stays.into_iter().enumerate() {
        let mut s = s;
        s.stay_id = make_id("stay", new_pos[old], total);
        sorted_stays[new_pos[old]] = Some(s);
    }
    let stays: Vec<Stay> = sorted_stays.into_iter().flatten().collect();
    for c in chains.iter_mut() {
        for e in c.iter_mut() {
            if let Elem::Stay(s) = e {
                *s = new_pos[*s];
            }
        }
    }

    // Tracks by (first_seen, first observation id).
    let first_obs = |c: &[Elem]| -> usize {
        match c[0] {
            Elem::Stay(s) => stays[s].observations[0],
            Elem::Sea(i) => i,
        }
    };
    chains.sort_by(|a, b| {
        let (x, y) = (first_obs(a), first_obs(b));
        (obs[x].observed_at, &obs[x].id).cmp(&(obs[y].observed_at, &obs[y].id))
    });
    let n_tracks = chains.len();
    let mut vessel_of: Vec<Option<usize>> = vec![None; n];
    let mut tracks = Vec::with_capacity(n_tracks);
    let mut voyages: Vec<Voyage> = Vec::new();
    for (t, elems) in chains.iter().enumerate() {
        let vessel_id = make_id("vessel", t, n_tracks);
        let mut events = Vec::new();
        let mut members: Vec<usize> = Vec::new();
        for e in elems {
            match *e {
                Elem::Stay(s) => {
                    events.push(Event::Stay(s));
                    members.extend(&stays[s].observations);
                }
                Elem::Sea(i) => {
                    events.push(Event::AtSea(i));
                    members.push(i);
                }
            }
        }
        for &i in &members {
            vessel_of[i] = Some(t);
        }
        // Voyages between consecutive stays at different ports.
        let stay_positions: Vec<usize> = elems
            .iter()
            .enumerate()
            .filter_map(|(k, e)| matches!(e, Elem::Stay(_)).then_some(k))
            .collect();
        let mut in_via = vec![false; elems.len()];
        let mut voyage_count = 0;
        for w in stay_positions.windows(2) {
            let (Elem::Stay(a), Elem::Stay(b)) = (&elems[w[0]], &elems[w[1]]) else {
                continue;
            };
            if stays[*a].port_id == stays[*b].port_id {
                continue;
            }
            let via: Vec<usize> = (w[0] + 1..w[1])
                .filter_map(|k| match elems[k] {
                    Elem::Sea(i) => {
                        in_via[k] = true;
                        Some(i)
                    }
                    Elem::Stay(_) => None,
                })
                .collect();
            // Confidence: every link from the origin's last detection to the destination's first.
            let mut confidence = 1.0;
            let mut cost = 0.0;
            let mut k = *stays[*a].observations.last().unwrap_or(&0);
            let end = stays[*b].observations[0];
            while k != end {
                confidence *= links.probability[k];
                cost -= links.weight[k];
                match links.successor[k] {
                    Some(next) => k = next,
                    None => break,
                }
            }
            voyages.push(Voyage {
                voyage_id: String::new(),
                vessel_id: vessel_id.clone(),
                origin_stay: *a,
                destination_stay: *b,
                via,
                confidence,
                cost,
                geometry: Vec::new(),
                route_method: RouteMethod::Straight,
                route_km: 0.0,
            });
            voyage_count += 1;
        }
        for (k, e) in elems.iter().enumerate() {
            if let Elem::Sea(i) = e {
                if !in_via[k] {
                    unmatched.push(*i);
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
        });
    }
    // Voyage ids by (departure, vessel).
    voyages.sort_by(|x, y| {
        (stays[x.origin_stay].last_seen, &x.vessel_id)
            .cmp(&(stays[y.origin_stay].last_seen, &y.vessel_id))
    });
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
    use crate::index::tests::obs;

    fn links_for(n: usize, chain: &[(usize, usize, LinkKind)]) -> Links {
        let mut l = Links {
            successor: vec![None; n],
            predecessor: vec![None; n],
            kind: vec![None; n],
            weight: vec![0.0; n],
            probability: vec![0.0; n],
            candidates: 0,
        };
        for &(a, b, k) in chain {
            l.successor[a] = Some(b);
            l.predecessor[b] = Some(a);
            l.kind[a] = Some(k);
            l.weight[a] = 3.0;
            l.probability[a] = 0.9;
        }
        l
    }

    #[test]
    fn ids_are_zero_padded() {
        assert_eq!(make_id("stay", 0, 5), "stay-0001");
        assert_eq!(make_id("stay", 41, 12_000), "stay-00042");
    }

    #[test]
    fn no_links_everything_unmatched() {
        let o = vec![obs("a", 130.3, 42.236, 0), obs("b", 131.0, 42.5, 10)];
        let d = derive(
            &o,
            &[Some(0), None],
            &crate::ports::builtin(),
            &links_for(2, &[]),
            &EmptyBerth::default(),
        );
        assert!(d.stays.is_empty() && d.voyages.is_empty() && d.tracks.is_empty());
        assert_eq!(d.unmatched, vec![0, 1]);
    }

    #[test]
    fn a_shuttle_chain_gives_two_stays_one_voyage_and_a_via() {
        let ports = crate::ports::builtin(); // 0 dunay, 1 najin
        let o = vec![
            obs("n1", 130.300, 42.236, 0),
            obs("n2", 130.300, 42.236, 86_400),
            obs("sea", 131.5, 42.5, 100_000),
            obs("d1", 132.3545, 42.9045, 150_000),
            obs("fp", 131.0, 42.0, 5),
        ];
        let port_of = [Some(1), Some(1), None, Some(0), None];
        let l = links_for(
            5,
            &[
                (0, 1, LinkKind::Stay),
                (1, 2, LinkKind::Passage),
                (2, 3, LinkKind::Passage),
            ],
        );
        let d = derive(&o, &port_of, &ports, &l, &EmptyBerth::default());
        assert_eq!(d.stays.len(), 2);
        assert_eq!(d.stays[0].port_id, "najin");
        assert_eq!(d.stays[0].observations, vec![0, 1]);
        assert_eq!(d.voyages.len(), 1);
        let v = &d.voyages[0];
        assert_eq!((v.origin_stay, v.destination_stay), (0, 1));
        assert_eq!(v.via, vec![2]);
        assert!((v.confidence - 0.81).abs() < 1e-9, "two links of 0.9");
        assert_eq!(d.unmatched, vec![4]);
        assert_eq!(d.tracks.len(), 1);
        assert_eq!(d.tracks[0].voyage_count, 1);
        // Conservation: 2 + 1 in stays, 1 via, 1 unmatched.
        let in_stays: usize = d.stays.iter().map(|s| s.observations.len()).sum();
        assert_eq!(in_stays + 1 + d.unmatched.len(), o.len());
    }

    #[test]
    fn return_to_the_same_port_is_a_new_stay_but_no_voyage() {
        let ports = crate::ports::builtin();
        let o = vec![
            obs("a", 130.300, 42.236, 0),
            obs("sea", 130.6, 42.2, 40_000),
            obs("b", 130.305, 42.230, 500_000),
        ];
        let l = links_for(3, &[(0, 1, LinkKind::Passage), (1, 2, LinkKind::Passage)]);
        let d = derive(
            &o,
            &[Some(1), None, Some(1)],
            &ports,
            &l,
            &EmptyBerth::default(),
        );
        assert_eq!(d.stays.len(), 2);
        assert!(d.voyages.is_empty());
        assert_eq!(
            d.unmatched,
            vec![1],
            "sea detection between same-port stays is not a via"
        );
    }
}
