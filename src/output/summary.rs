//! The summary of voyages and containers by direction and ISO week (summary.csv and
//! summary.json). A voyage counts in the ISO week of its departure (`departed_after`).

use std::collections::BTreeMap;

use chrono::Datelike;
use serde::Serialize;

use super::build::voyage_times;
use crate::model::{Observation, Stay, Time, Voyage};

/// One row: a direction in one week (or `week = "total"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub from_port: String,
    pub to_port: String,
    pub week: String,
    pub voyages: u64,
    /// Sum over voyages with a count at departure.
    pub containers_departing: u64,
    /// Sum over voyages with a count at arrival.
    pub containers_arriving: u64,
    /// Voyages that had a container count at departure.
    pub voyages_with_count_departing: u64,
    pub voyages_with_count_arriving: u64,
    /// Sum of voyage confidences: the expected number of correct voyages.
    pub expected_correct: f64,
}

/// The whole summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub by_week: Vec<Row>,
    pub totals: Vec<Row>,
}

/// ISO week label such as `2024-W09`.
pub fn iso_week(t: Time) -> String {
    match chrono::DateTime::from_timestamp(t, 0) {
        Some(dt) => {
            let w = dt.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        None => "invalid".into(),
    }
}

/// Summarises voyages by (from, to, week) and by (from, to).
pub fn summarise(voyages: &[Voyage], stays: &[Stay], obs: &[Observation]) -> Summary {
    let mut weeks: BTreeMap<(String, String, String), Row> = BTreeMap::new();
    let mut totals: BTreeMap<(String, String), Row> = BTreeMap::new();
    for v in voyages {
        let (o, d) = (&stays[v.origin_stay], &stays[v.destination_stay]);
        let week = iso_week(voyage_times(v, stays, obs).departed_after);
        let row = |week: &str| Row {
            from_port: o.port_id.clone(),
            to_port: d.port_id.clone(),
            week: week.to_string(),
            voyages: 0,
            containers_departing: 0,
            containers_arriving: 0,
            voyages_with_count_departing: 0,
            voyages_with_count_arriving: 0,
            expected_correct: 0.0,
        };
        let add = |r: &mut Row| {
            r.voyages += 1;
            if let Some(c) = o.containers_last {
                r.containers_departing += u64::from(c);
                r.voyages_with_count_departing += 1;
            }
            if let Some(c) = d.containers_first {
                r.containers_arriving += u64::from(c);
                r.voyages_with_count_arriving += 1;
            }
            r.expected_correct += v.confidence;
        };
        add(weeks
            .entry((o.port_id.clone(), d.port_id.clone(), week.clone()))
            .or_insert_with(|| row(&week)));
        add(totals
            .entry((o.port_id.clone(), d.port_id.clone()))
            .or_insert_with(|| row("total")));
    }
    let fix = |mut r: Row| {
        r.expected_correct = (r.expected_correct * 1000.0).round() / 1000.0;
        r
    };
    Summary {
        by_week: weeks.into_values().map(fix).collect(),
        totals: totals.into_values().map(fix).collect(),
    }
}

/// summary.csv: the weekly rows, then the totals (week = "total").
pub fn to_csv(s: &Summary) -> Vec<u8> {
    let mut out = String::from(
        "from_port,to_port,week,voyages,containers_departing,containers_arriving,voyages_with_count_departing,voyages_with_count_arriving,expected_correct\n",
    );
    let esc = |x: &str| {
        if x.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", x.replace('"', "\"\""))
        } else {
            x.to_string()
        }
    };
    for r in s.by_week.iter().chain(&s.totals) {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            esc(&r.from_port),
            esc(&r.to_port),
            r.week,
            r.voyages,
            r.containers_departing,
            r.containers_arriving,
            r.voyages_with_count_departing,
            r.voyages_with_count_arriving,
            r.expected_correct
        ));
    }
    out.into_bytes()
}

/// summary.json.
pub fn to_json(s: &Summary) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(s).unwrap_or_default();
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks() {
        assert_eq!(iso_week(1_709_294_400), "2024-W09"); // 2024-03-01
        assert_eq!(iso_week(1_704_067_200), "2024-W01"); // 2024-01-01 (a Monday)
        assert_eq!(iso_week(1_703_980_800), "2023-W52"); // 2023-12-31
    }

    #[test]
    fn empty_summary_has_a_header_only() {
        let s = summarise(&[], &[], &[]);
        assert!(s.by_week.is_empty() && s.totals.is_empty());
        let csv = String::from_utf8(to_csv(&s)).unwrap();
        assert_eq!(csv.lines().count(), 1);
    }
}
