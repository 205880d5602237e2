//! The simulated fleet and each vessel's true timeline (stays, sailings, absences).
//!
//! Every vessel's schedule is drawn from its own random stream (`seed`, vessel index), so a
//! vessel's life does not depend on how many other vessels there are. Times are UTC Unix
//! seconds; lengths metres; speeds knots.
//!
//! One "group" (scale 1) is: four shuttles (two near-twins) running Najin <-> Dunay (about
//! 10% of Najin departures go to Vostochny), one of which goes away for repairs for 10–20
//! days; a 115 m freighter trading out of Najin; and fourteen local vessels (tugs, fishing
//! boats, a naval ship at Dunay, a tanker at Vostochny, a passenger ship at Vladivostok).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::geodesy::{polyline_km, M_PER_NM};
use crate::model::Time;

use super::geo_tables::{
    EXIT_DUNAY, EXIT_NAJIN, EXIT_VOSTOCHNY, LANE_DUNAY, LANE_NAJIN, LANE_VOSTOCHNY,
};
use super::stream;

/// Port indices, in `ports::builtin()` order (sorted by id).
pub const DUNAY: usize = 0;
pub const NAJIN: usize = 1;
pub const VLADIVOSTOK: usize = 2;
pub const VOSTOCHNY: usize = 3;
pub const PORT_IDS: [&str; 4] = ["dunay", "najin", "vladivostok", "vostochny"];

/// Random-stream domain of vessel schedules.
const SCHEDULE_DOMAIN: u64 = 0x5348_4950; // "SHIP"

/// What a vessel does in the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Shuttle,
    Freighter,
    Local,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Shuttle => "shuttle",
            Role::Freighter => "freighter",
            Role::Local => "local",
        }
    }
}

/// One true vessel.
#[derive(Debug, Clone)]
pub struct Vessel {
    pub vessel_id: String,
    pub name: String,
    pub role: Role,
    pub class: &'static str,
    pub length_m: f64,
    pub beam_m: f64,
    pub hull_color: &'static str,
    /// Deck container capacity (0 = carries none).
    pub capacity: u32,
    /// Identity evidence sometimes attached to detections (local traffic only).
    pub mmsi: Option<String>,
    pub imo: Option<String>,
    /// Home port (locals and freighter) or first port (shuttles).
    pub home: usize,
}

/// Why a vessel is out of the scenario area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwayReason {
    Repair,
    Trade,
    Sea,
}

impl AwayReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AwayReason::Repair => "repair",
            AwayReason::Trade => "trade",
            AwayReason::Sea => "sea",
        }
    }
}

/// One piece of a vessel's timeline; segments tile time without gaps.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    /// Moored at a port. `slot` is filled in by berth assignment.
    Stay {
        port: usize,
        slot: usize,
        arrive: Time,
        depart: Time,
        containers_arrive: u32,
        containers_depart: u32,
    },
    /// Sailing between two ports along a sea lane.
    Sail {
        from: usize,
        to: usize,
        depart: Time,
        arrive: Time,
        containers: u32,
    },
    /// Out of the scenario area (repairs, trading elsewhere, fishing far off).
    Away {
        from: usize,
        to: usize,
        left: Time,
        back: Time,
        reason: AwayReason,
    },
}

impl Seg {
    pub fn start(&self) -> Time {
        match *self {
            Seg::Stay { arrive, .. } => arrive,
            Seg::Sail { depart, .. } => depart,
            Seg::Away { left, .. } => left,
        }
    }

    pub fn end(&self) -> Time {
        match *self {
            Seg::Stay { depart, .. } => depart,
            Seg::Sail { arrive, .. } => arrive,
            Seg::Away { back, .. } => back,
        }
    }
}

/// A vessel with its timeline (segments in time order).
#[derive(Debug, Clone)]
pub struct Life {
    pub vessel: Vessel,
    pub segs: Vec<Seg>,
}

impl Life {
    /// Index of the segment covering time `t`, if any.
    pub fn seg_at(&self, t: Time) -> Option<usize> {
        let i = self.segs.partition_point(|s| s.start() <= t);
        if i == 0 {
            return None;
        }
        let s = &self.segs[i - 1];
        (t < s.end()).then_some(i - 1)
    }
}

/// The sea lane between two ports' berths, without the berth end points.
pub fn lane(from: usize, to: usize) -> Vec<(f64, f64)> {
    let out_of = |p: usize| -> Vec<(f64, f64)> {
        match p {
            NAJIN => LANE_NAJIN.to_vec(),
            DUNAY => {
                let mut v = LANE_DUNAY.to_vec();
                v.reverse();
                v
            }
            _ => {
                let mut v = LANE_VOSTOCHNY.to_vec();
                v.reverse();
                v
            }
        }
    };
    // Lanes are stored Najin-outwards; the junction (131.9, 42.62) ends LANE_NAJIN.
    let mut a = out_of(from);
    let mut b = out_of(to);
    b.reverse();
    if from == NAJIN || to == NAJIN {
        a.extend(b);
        a
    } else {
        // Dunay <-> Vostochny (not used by the schedules, kept total): via the junction.
        a.push((131.9, 42.62));
        a.extend(b);
        a
    }
}

/// The exit path from a port's harbour out of the area (without the berth); None where no
/// checked lane exists (Vladivostok: vessels there simply vanish while away).
pub fn exit_lane(port: usize) -> Option<&'static [(f64, f64)]> {
    match port {
        NAJIN => Some(EXIT_NAJIN),
        DUNAY => Some(EXIT_DUNAY),
        VOSTOCHNY => Some(EXIT_VOSTOCHNY),
        _ => None,
    }
}

fn lane_km(from: usize, to: usize) -> f64 {
    polyline_km(&lane(from, to))
}

fn hours(h: f64) -> Time {
    (h * 3600.0).round() as Time
}

fn days(d: f64) -> Time {
    hours(d * 24.0)
}

/// Sailing time, seconds, for `km` at `speed_kn`.
fn sail_s(km: f64, speed_kn: f64) -> Time {
    hours(km * 1000.0 / M_PER_NM / speed_kn)
}

/// A valid IMO number (7 digits, last a check digit) from six digits.
fn imo_from(six: u32) -> String {
    let d: Vec<u32> = format!("{:06}", six % 1_000_000)
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    let check: u32 = d.iter().zip((2..=7).rev()).map(|(x, w)| x * w).sum::<u32>() % 10;
    format!(
        "{}{}",
        d.iter().map(|x| x.to_string()).collect::<String>(),
        check
    )
}

struct LocalSpec {
    port: usize,
    class: &'static str,
    length_m: (f64, f64),
    hull: &'static [&'static str],
    /// Stay length range, days, and time away range, days.
    stay_d: (f64, f64),
    away_d: (f64, f64),
    /// Share of such vessels that carry identity evidence.
    id_share: f64,
}

const LOCALS: &[LocalSpec] = &[
    LocalSpec {
        port: NAJIN,
        class: "tug",
        length_m: (24.0, 34.0),
        hull: &["black", "red"],
        stay_d: (5.0, 20.0),
        away_d: (0.3, 1.0),
        id_share: 0.0,
    },
    LocalSpec {
        port: NAJIN,
        class: "tug",
        length_m: (24.0, 34.0),
        hull: &["black", "grey"],
        stay_d: (5.0, 20.0),
        away_d: (0.3, 1.0),
        id_share: 0.0,
    },
    LocalSpec {
        port: NAJIN,
        class: "fishing",
        length_m: (20.0, 45.0),
        hull: &["white", "blue", "green"],
        stay_d: (2.0, 8.0),
        away_d: (1.0, 4.0),
        id_share: 0.0,
    },
    LocalSpec {
        port: NAJIN,
        class: "fishing",
        length_m: (30.0, 60.0),
        hull: &["white", "blue", "orange"],
        stay_d: (2.0, 8.0),
        away_d: (1.0, 4.0),
        id_share: 0.0,
    },
    LocalSpec {
        port: DUNAY,
        class: "tug",
        length_m: (24.0, 34.0),
        hull: &["black", "orange"],
        stay_d: (5.0, 20.0),
        away_d: (0.3, 1.0),
        id_share: 0.5,
    },
    LocalSpec {
        port: DUNAY,
        class: "fishing",
        length_m: (20.0, 45.0),
        hull: &["white", "blue"],
        stay_d: (2.0, 8.0),
        away_d: (1.0, 4.0),
        id_share: 0.3,
    },
    LocalSpec {
        port: DUNAY,
        class: "fishing",
        length_m: (30.0, 60.0),
        hull: &["white", "green"],
        stay_d: (2.0, 8.0),
        away_d: (1.0, 4.0),
        id_share: 0.3,
    },
    LocalSpec {
        port: DUNAY,
        class: "naval",
        length_m: (95.0, 105.0),
        hull: &["grey"],
        stay_d: (10.0, 40.0),
        away_d: (1.0, 3.0),
        id_share: 0.0,
    },
    LocalSpec {
        port: VOSTOCHNY,
        class: "tug",
        length_m: (24.0, 34.0),
        hull: &["black", "red"],
        stay_d: (5.0, 20.0),
        away_d: (0.3, 1.0),
        id_share: 0.5,
    },
    LocalSpec {
        port: VOSTOCHNY,
        class: "fishing",
        length_m: (25.0, 55.0),
        hull: &["white", "blue"],
        stay_d: (2.0, 8.0),
        away_d: (1.0, 4.0),
        id_share: 0.3,
    },
    LocalSpec {
        port: VOSTOCHNY,
        class: "tanker",
        length_m: (85.0, 100.0),
        hull: &["red", "black"],
        stay_d: (2.0, 6.0),
        away_d: (3.0, 8.0),
        id_share: 0.5,
    },
    LocalSpec {
        port: VLADIVOSTOK,
        class: "tug",
        length_m: (24.0, 34.0),
        hull: &["black", "red"],
        stay_d: (5.0, 20.0),
        away_d: (0.3, 1.0),
        id_share: 0.5,
    },
    LocalSpec {
        port: VLADIVOSTOK,
        class: "fishing",
        length_m: (25.0, 55.0),
        hull: &["white", "blue"],
        stay_d: (2.0, 8.0),
        away_d: (1.0, 4.0),
        id_share: 0.3,
    },
    LocalSpec {
        port: VLADIVOSTOK,
        class: "passenger",
        length_m: (60.0, 75.0),
        hull: &["white"],
        stay_d: (1.0, 4.0),
        away_d: (1.0, 3.0),
        id_share: 0.5,
    },
];

/// Vessels per group (scale 1).
pub const GROUP_SIZE: usize = 4 + 1 + LOCALS.len();

/// Builds every vessel's life for `groups` groups over `[t0 - warm-up, t_end]`.
pub fn build(seed: u64, groups: usize, t0: Time, t_end: Time, easier: &super::Easier) -> Vec<Life> {
    let mut lives = Vec::with_capacity(groups * GROUP_SIZE);
    for g in 0..groups {
        for m in 0..GROUP_SIZE {
            if m >= 5 && easier.no_local_traffic {
                continue; // the locals' draws come from their own streams: others unchanged
            }
            let idx = (g * GROUP_SIZE + m) as u64;
            let mut rng = stream(seed, SCHEDULE_DOMAIN, idx);
            let life = if m < 4 {
                shuttle(&mut rng, g, m, t0, t_end, easier.distinct_twins)
            } else if m == 4 {
                freighter(&mut rng, g, t0, t_end)
            } else {
                local(&mut rng, g, m - 5, &LOCALS[m - 5], t0, t_end)
            };
            lives.push(life);
        }
    }
    lives
}

fn suffix(g: usize) -> String {
    if g == 0 {
        String::new()
    } else {
        format!(" {}", g + 1)
    }
}

fn shuttle(
    rng: &mut ChaCha8Rng,
    g: usize,
    m: usize,
    t0: Time,
    t_end: Time,
    distinct_twins: bool,
) -> Life {
    // Group 0 is the reported fleet; later groups jitter the sizes but keep the twins twins.
    let jitter = if g == 0 {
        0.0
    } else {
        rng.gen_range(-4.0..4.0)
    };
    let (name, class, length_m, beam_m, hull, capacity) = match m {
        0 => ("Angara", "roro", 129.5 + jitter, 20.5, "red", 110),
        1 => ("Maria", "cargo", 134.0 + jitter, 21.0, "blue", 90),
        2 if distinct_twins => ("Maia-1", "cargo", 118.0 + jitter, 17.2, "green", 90),
        2 => ("Maia-1", "cargo", 135.4 + jitter, 21.2, "blue", 90),
        _ => ("Lady R", "roro", 124.0 + jitter, 19.5, "white", 120),
    };
    let vessel = Vessel {
        vessel_id: format!("shuttle-{:04}", g * 4 + m + 1),
        name: format!("{name}{}", suffix(g)),
        role: Role::Shuttle,
        class,
        length_m,
        beam_m,
        hull_color: hull,
        capacity,
        mmsi: None,
        imo: None,
        home: if rng.gen_bool(0.5) { NAJIN } else { DUNAY },
    };
    // Which member of the group goes to repairs, and when.
    let repair_member = (g * 3 + 1) % 4;
    let span = (t_end - t0).max(1);
    let mut repair_at = if m == repair_member {
        Some(t0 + (span as f64 * rng.gen_range(0.15..0.6)) as Time)
    } else {
        None
    };
    let low =
        |rng: &mut ChaCha8Rng, cap: u32| (cap as f64 * rng.gen_range(0.0..0.15)).round() as u32;
    let high =
        |rng: &mut ChaCha8Rng, cap: u32| (cap as f64 * rng.gen_range(0.6..0.95)).round() as u32;

    let mut segs = Vec::new();
    let mut port = vessel.home;
    let mut t = t0 - rng.gen_range(days(0.5)..days(5.0));
    let mut on_board = if port == NAJIN {
        low(rng, capacity)
    } else {
        high(rng, capacity)
    };
    while t < t_end + days(2.0) {
        let stay = rng.gen_range(days(1.0)..days(4.0));
        let depart_load = if port == NAJIN {
            high(rng, capacity)
        } else {
            low(rng, capacity)
        };
        segs.push(Seg::Stay {
            port,
            slot: 0,
            arrive: t,
            depart: t + stay,
            containers_arrive: on_board,
            containers_depart: depart_load,
        });
        t += stay;
        on_board = depart_load;
        if let Some(r) = repair_at {
            if t >= r && port != VOSTOCHNY {
                let back = t + rng.gen_range(days(10.0)..days(20.0));
                segs.push(Seg::Away {
                    from: port,
                    to: NAJIN,
                    left: t,
                    back,
                    reason: AwayReason::Repair,
                });
                repair_at = None;
                t = back;
                port = NAJIN;
                on_board = low(rng, capacity);
                continue;
            }
        }
        let to = if port == NAJIN {
            if rng.gen_bool(0.1) {
                VOSTOCHNY
            } else {
                DUNAY
            }
        } else {
            NAJIN
        };
        let speed_kn = rng.gen_range(8.0..14.0);
        let dur = sail_s(lane_km(port, to) + 4.0, speed_kn);
        segs.push(Seg::Sail {
            from: port,
            to,
            depart: t,
            arrive: t + dur,
            containers: on_board,
        });
        t += dur;
        port = to;
    }
    Life { vessel, segs }
}

fn freighter(rng: &mut ChaCha8Rng, g: usize, t0: Time, t_end: Time) -> Life {
    let length_m = if g == 0 {
        115.0
    } else {
        rng.gen_range(112.0..118.0)
    };
    let vessel = Vessel {
        vessel_id: format!("freighter-{:04}", g + 1),
        name: format!("Freighter{}", suffix(g)),
        role: Role::Freighter,
        class: "cargo",
        length_m,
        beam_m: 18.0,
        hull_color: "black",
        capacity: 30,
        mmsi: None,
        imo: None,
        home: NAJIN,
    };
    let mut segs = Vec::new();
    let mut t = t0 - rng.gen_range(days(0.0)..days(4.0));
    while t < t_end + days(2.0) {
        let stay = rng.gen_range(days(2.0)..days(6.0));
        let c_in = rng.gen_range(0..=30);
        let c_out = rng.gen_range(0..=30);
        segs.push(Seg::Stay {
            port: NAJIN,
            slot: 0,
            arrive: t,
            depart: t + stay,
            containers_arrive: c_in,
            containers_depart: c_out,
        });
        t += stay;
        let away = rng.gen_range(days(2.0)..days(5.0));
        segs.push(Seg::Away {
            from: NAJIN,
            to: NAJIN,
            left: t,
            back: t + away,
            reason: AwayReason::Trade,
        });
        t += away;
    }
    Life { vessel, segs }
}

fn local(
    rng: &mut ChaCha8Rng,
    g: usize,
    k: usize,
    spec: &LocalSpec,
    t0: Time,
    t_end: Time,
) -> Life {
    let n = g * LOCALS.len() + k + 1;
    let length_m = (rng.gen_range(spec.length_m.0..spec.length_m.1) * 10.0_f64).round() / 10.0;
    let beam_m = ((length_m * rng.gen_range(0.17..0.24)) * 10.0).round() / 10.0;
    let hull = spec.hull[rng.gen_range(0..spec.hull.len())];
    let has_id = rng.gen_bool(spec.id_share);
    let (mmsi, imo) = if has_id {
        let mmsi = format!("273{:06}", rng.gen_range(100_000..999_999));
        let imo = (length_m >= 50.0).then(|| imo_from(rng.gen_range(100_000..999_999)));
        (Some(mmsi), imo)
    } else {
        (None, None)
    };
    let capacity = if spec.class == "fishing" || spec.class == "tug" || spec.class == "naval" {
        0
    } else {
        20
    };
    let vessel = Vessel {
        vessel_id: format!("local-{:04}", n),
        name: format!("{} {}", capitalise(spec.class), n),
        role: Role::Local,
        class: spec.class,
        length_m,
        beam_m,
        hull_color: hull,
        capacity,
        mmsi,
        imo,
        home: spec.port,
    };
    let mut segs = Vec::new();
    let mut t = t0 - rng.gen_range(days(0.0)..days(spec.stay_d.1));
    while t < t_end + days(2.0) {
        let stay = rng.gen_range(days(spec.stay_d.0)..days(spec.stay_d.1));
        let c = if capacity > 0 {
            rng.gen_range(0..=capacity)
        } else {
            0
        };
        segs.push(Seg::Stay {
            port: spec.port,
            slot: 0,
            arrive: t,
            depart: t + stay,
            containers_arrive: c,
            containers_depart: c,
        });
        t += stay;
        let away = rng.gen_range(days(spec.away_d.0)..days(spec.away_d.1));
        segs.push(Seg::Away {
            from: spec.port,
            to: spec.port,
            left: t,
            back: t + away,
            reason: AwayReason::Sea,
        });
        t += away;
    }
    Life { vessel, segs }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imo_check_digit() {
        // IMO 9074729 is the textbook example.
        assert_eq!(imo_from(907472), "9074729");
    }

    #[test]
    fn timelines_tile_time_and_twins_are_twins() {
        let t0 = 1_709_251_200;
        let lives = build(3, 2, t0, t0 + days(60.0), &Default::default());
        assert_eq!(lives.len(), 2 * GROUP_SIZE);
        for l in &lives {
            assert!(!l.segs.is_empty());
            for w in l.segs.windows(2) {
                assert_eq!(w[0].end(), w[1].start(), "{}", l.vessel.vessel_id);
                assert!(w[0].start() < w[0].end());
            }
            assert!(l.segs[0].start() < t0);
        }
        for g in 0..2 {
            let a = &lives[g * GROUP_SIZE + 1].vessel;
            let b = &lives[g * GROUP_SIZE + 2].vessel;
            assert!((a.length_m - b.length_m).abs() <= 2.0);
            assert_eq!((a.class, a.hull_color), (b.class, b.hull_color));
        }
        let repairs = lives
            .iter()
            .flat_map(|l| &l.segs)
            .filter(|s| {
                matches!(
                    s,
                    Seg::Away {
                        reason: AwayReason::Repair,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(repairs, 2);
    }

    #[test]
    fn lanes_join_at_the_junction() {
        let l = lane(NAJIN, DUNAY);
        assert_eq!(l.first(), Some(&(130.300, 42.225)));
        assert_eq!(l.last(), Some(&(132.362, 42.899)));
        let back = lane(DUNAY, NAJIN);
        assert_eq!(back.first(), l.last());
        let km = polyline_km(&l);
        assert!((180.0..230.0).contains(&km), "{km}");
    }
}
