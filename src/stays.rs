//! Port stays: one vessel at one berth over time.
//!
//! Which detections form a stay is decided jointly with the voyages by the global linking
//! step ([`crate::linking`]): a stay is a run of detections in one port joined by
//! [`crate::linking::LinkKind::Stay`] links (same berth within `berth_radius_m`, at most
//! `max_gap_hours` apart, no clear scene showing the berth empty in between). Deciding stays
//! first and voyages second would force early, irreversible choices between a vessel that
//! stayed and one that sailed away and back. This module summarises a stay's detections.

use crate::evidence::EmptyBerth;
use crate::model::{Observation, Stay, VesselClass};

/// Median of the values (mean of the middle two for an even count); `None` when empty.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// The most frequent value (ties: the smallest), `None` when empty.
pub fn mode<T: Ord + Clone>(mut v: Vec<T>) -> Option<T> {
    v.sort();
    let mut best: Option<(usize, T)> = None;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j] == v[i] {
            j += 1;
        }
        if best.as_ref().is_none_or(|(c, _)| j - i > *c) {
            best = Some((j - i, v[i].clone()));
        }
        i = j;
    }
    best.map(|b| b.1)
}

/// Summarises the detections `members` (time-ordered indices into `obs`) at port `port_id`
/// into a [`Stay`]; `stay_id` is assigned later.
pub fn summarise(
    members: Vec<usize>,
    port_id: &str,
    obs: &[Observation],
    empty: &EmptyBerth,
) -> Stay {
    let o = |i: usize| &obs[i];
    let first = members.first().copied().unwrap_or(0);
    let last = members.last().copied().unwrap_or(0);
    let classes: Vec<VesselClass> = members
        .iter()
        .filter_map(|&i| o(i).vessel_class.clone())
        .filter(|c| *c != VesselClass::Unknown)
        .collect();
    let colours: Vec<String> = members
        .iter()
        .filter(|&&i| !o(i).sensor.is_sar())
        .filter_map(|&i| {
            o(i).hull_color
                .as_ref()
                .map(|c| c.trim().to_ascii_lowercase())
        })
        .collect();
    let containers: Vec<u32> = members.iter().filter_map(|&i| o(i).containers).collect();
    let first_some =
        |f: &dyn Fn(&Observation) -> Option<String>| members.iter().find_map(|&i| f(o(i)));
    Stay {
        stay_id: String::new(),
        port_id: port_id.to_string(),
        first_seen: members.iter().map(|&i| o(i).observed_at).min().unwrap_or(0),
        last_seen: members.iter().map(|&i| o(i).observed_at).max().unwrap_or(0),
        lon: median(members.iter().map(|&i| o(i).lon).collect()).unwrap_or(0.0),
        lat: median(members.iter().map(|&i| o(i).lat).collect()).unwrap_or(0.0),
        length_m: median(members.iter().filter_map(|&i| o(i).length_m).collect()),
        beam_m: median(members.iter().filter_map(|&i| o(i).beam_m).collect()),
        vessel_class: mode(classes),
        hull_color: mode(colours),
        containers_first: containers.first().copied(),
        containers_last: containers.last().copied(),
        imo: first_some(&|x| x.imo().map(str::to_string)),
        mmsi: first_some(&|x| x.mmsi().map(str::to_string)),
        name: first_some(&|x| x.name().map(str::to_string)),
        empty_before: empty.before.get(first).copied().flatten(),
        empty_after: empty.after.get(last).copied().flatten(),
        observations: members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::obs;

    #[test]
    fn median_and_mode_edge_cases() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![f64::NAN]), None);
        assert_eq!(median(vec![3.0]), Some(3.0));
        assert_eq!(median(vec![1.0, 5.0, 2.0, 4.0]), Some(3.0));
        assert_eq!(mode::<u8>(vec![]), None);
        assert_eq!(mode(vec![2, 1, 2, 1]), Some(1), "tie: the smallest");
        assert_eq!(mode(vec!["red", "blue", "red"]), Some("red"));
    }

    #[test]
    fn summary_of_a_stay() {
        let mut o = vec![
            obs("a", 130.300, 42.236, 100),
            obs("b", 130.301, 42.236, 200),
            obs("c", 130.302, 42.236, 300),
        ];
        o[0].length_m = Some(130.0);
        o[1].length_m = Some(150.0);
        o[0].containers = Some(10);
        o[2].containers = Some(80);
        o[1].hull_color = Some("Red".into());
        o[2].sensor = crate::model::Sensor::Sentinel1;
        o[2].hull_color = Some("blue".into());
        let s = summarise(vec![0, 1, 2], "najin", &o, &EmptyBerth::default());
        assert_eq!((s.first_seen, s.last_seen), (100, 300));
        assert_eq!(s.length_m, Some(140.0));
        assert_eq!(
            s.hull_color.as_deref(),
            Some("red"),
            "SAR colour ignored, lower-cased"
        );
        assert_eq!(
            (s.containers_first, s.containers_last),
            (Some(10), Some(80))
        );
        assert_eq!(s.lon, 130.301);
        assert_eq!(s.empty_after, None);
    }
}
