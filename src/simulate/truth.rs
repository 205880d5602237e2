//! The ground truth of a simulated scenario (`truth.json`), as written by `simulate` and
//! read by `evaluate`.
//!
//! Times are RFC 3339 UTC strings; lengths metres. Stays and voyages are those inside the
//! scenario window: stays overlapping `[start, end)`, voyages departing at or after `start`
//! and arriving before `end` (so both their stays are listed).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{fmt_time, Time};

use super::berths::PortSlots;
use super::detect::{stay_pose, Row};
use super::fleet::{Life, Seg, PORT_IDS};

/// Schema tag of truth.json.
pub const TRUTH_FORMAT: &str = "shiplink-truth/1";

/// The whole truth document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub format: String,
    pub params: TruthParams,
    pub counts: TruthCounts,
    pub vessels: Vec<TruthVessel>,
    /// Observation id -> truth vessel id (null for a false positive), sorted by id.
    pub observations: BTreeMap<String, Option<String>>,
    pub stays: Vec<TruthStay>,
    pub voyages: Vec<TruthVoyage>,
    pub absences: Vec<TruthAbsence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthParams {
    pub seed: u64,
    pub days: u32,
    pub scale: f64,
    /// Vessel groups simulated (scale rounded, at least 1).
    pub groups: usize,
    pub start: String,
    pub end: String,
    pub simulator: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthCounts {
    pub scenes: usize,
    pub clear_scenes: usize,
    pub detections: usize,
    pub false_positives: usize,
    pub at_sea_detections: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthVessel {
    pub vessel_id: String,
    pub name: String,
    /// shuttle, freighter or local.
    pub role: String,
    pub vessel_class: String,
    pub length_m: f64,
    pub beam_m: f64,
    pub hull_color: String,
    pub home_port: String,
    #[serde(default)]
    pub mmsi: Option<String>,
    #[serde(default)]
    pub imo: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthStay {
    pub stay_id: String,
    pub vessel_id: String,
    pub port: String,
    pub berth_lon: f64,
    pub berth_lat: f64,
    pub arrive: String,
    pub depart: String,
    pub containers_arriving: u32,
    pub containers_departing: u32,
    /// Detections of the vessel during the stay, in time order.
    pub observation_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthVoyage {
    pub voyage_id: String,
    pub vessel_id: String,
    pub from_port: String,
    pub to_port: String,
    pub departed: String,
    pub arrived: String,
    pub containers_departing: u32,
    pub containers_arriving: u32,
    pub origin_stay_id: String,
    pub destination_stay_id: String,
    pub origin_observation_ids: Vec<String>,
    pub destination_observation_ids: Vec<String>,
    /// Detections of the vessel at sea during the voyage.
    pub via_observation_ids: Vec<String>,
    /// At least one detection during both the origin and the destination stay.
    pub observed_both_ends: bool,
}

/// A time out of the scenario area (repairs, trade elsewhere, fishing far off): not a voyage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthAbsence {
    pub vessel_id: String,
    pub reason: String,
    pub from_port: String,
    pub to_port: String,
    pub left: String,
    pub returned: String,
    /// Detections while leaving or returning through the harbour approaches.
    pub observation_ids: Vec<String>,
}

/// Scenario-level inputs of [`build`].
pub struct TruthInput<'a> {
    pub params: TruthParams,
    pub t0: Time,
    pub t_end: Time,
    pub lives: &'a [Life],
    pub ports: &'a [PortSlots],
    /// Truth rows of every pass, in pass (time) order.
    pub rows: Vec<Vec<Row>>,
    pub scenes: usize,
    pub clear_scenes: usize,
}

/// Assembles the truth document.
pub fn build(input: TruthInput) -> Truth {
    let TruthInput {
        params,
        t0,
        t_end,
        lives,
        ports,
        rows,
        scenes,
        clear_scenes,
    } = input;
    // Observation ids per (vessel, segment), in time order.
    let mut per_seg: Vec<Vec<Vec<String>>> = lives
        .iter()
        .map(|l| vec![Vec::new(); l.segs.len()])
        .collect();
    let mut observations = BTreeMap::new();
    let mut counts = TruthCounts {
        scenes,
        clear_scenes,
        detections: 0,
        false_positives: 0,
        at_sea_detections: 0,
    };
    for row in rows.into_iter().flatten() {
        counts.detections += 1;
        let vessel_id = row
            .vessel
            .and_then(|v| lives.get(v as usize))
            .map(|l| l.vessel.vessel_id.clone());
        match row.vessel {
            Some(v) => {
                let v = v as usize;
                if let Some(list) = per_seg.get_mut(v).and_then(|s| s.get_mut(row.seg as usize)) {
                    list.push(row.obs_id.clone());
                }
                if !matches!(lives[v].segs.get(row.seg as usize), Some(Seg::Stay { .. })) {
                    counts.at_sea_detections += 1;
                }
            }
            None => counts.false_positives += 1,
        }
        observations.insert(row.obs_id, vessel_id);
    }
    let port = |p: usize| PORT_IDS.get(p).copied().unwrap_or("unknown").to_string();
    let mut vessels = Vec::new();
    let mut stays = Vec::new();
    let mut voyages = Vec::new();
    let mut absences = Vec::new();
    // Stay id per (vessel, segment) for the voyages' references.
    let mut stay_ids: Vec<Vec<Option<String>>> =
        lives.iter().map(|l| vec![None; l.segs.len()]).collect();
    for (li, life) in lives.iter().enumerate() {
        let v = &life.vessel;
        vessels.push(TruthVessel {
            vessel_id: v.vessel_id.clone(),
            name: v.name.clone(),
            role: v.role.as_str().to_string(),
            vessel_class: v.class.to_string(),
            length_m: round1(v.length_m),
            beam_m: round1(v.beam_m),
            hull_color: v.hull_color.to_string(),
            home_port: port(v.home),
            mmsi: v.mmsi.clone(),
            imo: v.imo.clone(),
        });
        for (si, seg) in life.segs.iter().enumerate() {
            if let Seg::Stay {
                port: p,
                slot,
                arrive,
                depart,
                containers_arrive,
                containers_depart,
            } = *seg
            {
                if arrive < t_end && depart > t0 {
                    let id = format!("ts-{:06}", stays.len() + 1);
                    let (lon, lat, _) =
                        stay_pose(li, si, p, slot, ports).unwrap_or((0.0, 0.0, 0.0));
                    stays.push(TruthStay {
                        stay_id: id.clone(),
                        vessel_id: v.vessel_id.clone(),
                        port: port(p),
                        berth_lon: round6(lon),
                        berth_lat: round6(lat),
                        arrive: fmt_time(arrive),
                        depart: fmt_time(depart),
                        containers_arriving: containers_arrive,
                        containers_departing: containers_depart,
                        observation_ids: per_seg[li][si].clone(),
                    });
                    stay_ids[li][si] = Some(id);
                }
            }
        }
        for (si, seg) in life.segs.iter().enumerate() {
            match *seg {
                Seg::Sail {
                    from,
                    to,
                    depart,
                    arrive,
                    ..
                } if depart >= t0 && arrive < t_end => {
                    let (Some(Some(o)), Some(Some(d))) = (
                        si.checked_sub(1).and_then(|k| stay_ids[li].get(k)),
                        stay_ids[li].get(si + 1),
                    ) else {
                        continue;
                    };
                    let cont = |k: usize, dep: bool| match life.segs.get(k) {
                        Some(Seg::Stay {
                            containers_arrive,
                            containers_depart,
                            ..
                        }) => {
                            if dep {
                                *containers_depart
                            } else {
                                *containers_arrive
                            }
                        }
                        _ => 0,
                    };
                    let origin = per_seg[li][si - 1].clone();
                    let dest = per_seg[li][si + 1].clone();
                    voyages.push(TruthVoyage {
                        voyage_id: format!("tv-{:06}", voyages.len() + 1),
                        vessel_id: v.vessel_id.clone(),
                        from_port: port(from),
                        to_port: port(to),
                        departed: fmt_time(depart),
                        arrived: fmt_time(arrive),
                        containers_departing: cont(si - 1, true),
                        containers_arriving: cont(si + 1, false),
                        origin_stay_id: o.clone(),
                        destination_stay_id: d.clone(),
                        observed_both_ends: !origin.is_empty() && !dest.is_empty(),
                        origin_observation_ids: origin,
                        destination_observation_ids: dest,
                        via_observation_ids: per_seg[li][si].clone(),
                    });
                }
                Seg::Away {
                    from,
                    to,
                    left,
                    back,
                    reason,
                } if left < t_end && back > t0 => absences.push(TruthAbsence {
                    vessel_id: v.vessel_id.clone(),
                    reason: reason.as_str().to_string(),
                    from_port: port(from),
                    to_port: port(to),
                    left: fmt_time(left),
                    returned: fmt_time(back),
                    observation_ids: per_seg[li][si].clone(),
                }),
                _ => {}
            }
        }
    }
    Truth {
        format: TRUTH_FORMAT.to_string(),
        params,
        counts,
        vessels,
        observations,
        stays,
        voyages,
        absences,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
