//! The image passes of a scenario: when each sensor looks, where, and through how much cloud.
//!
//! Per day: one PlanetScope scene per port (about 45% lost to cloud); every 5 days a
//! Sentinel-2 pass (one tile per port, clouded like PlanetScope); every 6 days a Sentinel-1
//! SAR pass over one wide swath (ports and open sea, never clouded); high-resolution passes
//! (SkySat and WorldView, alternating) over Najin and Dunay every 10 days and Vostochny
//! every 20, half of them minutes after that day's PlanetScope scene of the same port (the
//! same ships seen twice: duplicates to merge). Times are UTC Unix seconds.

use rand::Rng;

use crate::model::{fmt_time, Time};
use crate::ports;

use super::stream;

const PASS_DOMAIN: u64 = 0x5041_5353; // "PASS"

/// The sensors the simulator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimSensor {
    Sentinel1,
    Sentinel2,
    Planetscope,
    Skysat,
    Worldview,
}

impl SimSensor {
    pub fn as_str(self) -> &'static str {
        match self {
            SimSensor::Sentinel1 => "sentinel-1",
            SimSensor::Sentinel2 => "sentinel-2",
            SimSensor::Planetscope => "planetscope",
            SimSensor::Skysat => "skysat",
            SimSensor::Worldview => "worldview",
        }
    }

    fn short(self) -> &'static str {
        match self {
            SimSensor::Sentinel1 => "s1",
            SimSensor::Sentinel2 => "s2",
            SimSensor::Planetscope => "ps",
            SimSensor::Skysat => "skysat",
            SimSensor::Worldview => "wv",
        }
    }

    pub fn is_sar(self) -> bool {
        self == SimSensor::Sentinel1
    }

    pub fn is_high_res(self) -> bool {
        matches!(self, SimSensor::Skysat | SimSensor::Worldview)
    }
}

/// One image: its footprint (a closed counter-clockwise ring) and conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    pub scene_id: String,
    pub sensor: SimSensor,
    pub time: Time,
    pub footprint: Vec<(f64, f64)>,
    pub cloud_fraction: f64,
    /// Port indices whose berth point lies in the footprint.
    pub ports: Vec<usize>,
}

impl Pass {
    /// Clear enough to see ships (cloudy scenes yield almost nothing).
    pub fn is_clear(&self) -> bool {
        self.cloud_fraction <= 0.2
    }

    /// The observation file name: `<time>_<sensor>_<scene>.geojson` (no `:` in it).
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}.geojson",
            fmt_time(self.time).replace(':', "-"),
            self.sensor.as_str(),
            self.scene_id
        )
    }

    /// True when `(lon, lat)` lies inside the footprint.
    pub fn covers(&self, lon: f64, lat: f64) -> bool {
        ring_contains(&self.footprint, lon, lat)
    }
}

/// Even-odd point-in-ring test (the ring is closed: first == last).
pub fn ring_contains(ring: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let ((xa, ya), (xb, yb)) = (w[0], w[1]);
        if (ya > y) != (yb > y) {
            let xi = xa + (y - ya) * (xb - xa) / (yb - ya);
            if x < xi {
                inside = !inside;
            }
        }
    }
    inside
}

fn rect(w: f64, s: f64, e: f64, n: f64) -> Vec<(f64, f64)> {
    vec![(w, s), (e, s), (e, n), (w, n), (w, s)]
}

/// The wide Sentinel-1 swath: ports and the whole sea between them.
const S1_SWATH: [(f64, f64); 5] = [
    (129.90, 41.90),
    (133.30, 41.75),
    (133.50, 43.35),
    (130.10, 43.45),
    (129.90, 41.90),
];

/// All passes of `days` days from `t0`, sorted by (time, scene id).
pub fn schedule(seed: u64, days: u32, t0: Time) -> Vec<Pass> {
    let mut rng = stream(seed, PASS_DOMAIN, 0);
    let ports = ports::builtin();
    let bbox = |i: usize| {
        let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for p in &ports[i].zone.0 {
            for c in p.exterior().coords() {
                b = (b.0.min(c.x), b.1.min(c.y), b.2.max(c.x), b.3.max(c.y));
            }
        }
        b
    };
    let mut passes = Vec::new();
    let mut hr_count = 0usize;
    let clouds = |rng: &mut rand_chacha::ChaCha8Rng, clear: bool| -> f64 {
        let cf: f64 = if clear {
            rng.gen_range(0.0..0.15)
        } else {
            rng.gen_range(0.45..1.0)
        };
        (cf * 100.0).round() / 100.0
    };
    for d in 0..days as i64 {
        let day = t0 + d * 86_400;
        for (p, port) in ports.iter().enumerate() {
            let (w, s, e, n) = bbox(p);
            let ps_time = day + rng.gen_range(1_800..12_600);
            let ps_clear = rng.gen_bool(0.55);
            let cf = clouds(&mut rng, ps_clear);
            passes.push(Pass {
                scene_id: scene_id(SimSensor::Planetscope, ps_time, &port.port_id),
                sensor: SimSensor::Planetscope,
                time: ps_time,
                footprint: rect(w - 0.08, s - 0.05, e + 0.08, n + 0.05),
                cloud_fraction: cf,
                ports: vec![],
            });
            let period_offset = match port.port_id.as_str() {
                "najin" => Some((10, 3)),
                "dunay" => Some((10, 7)),
                "vostochny" => Some((20, 12)),
                _ => None,
            };
            if let Some((period, offset)) = period_offset {
                if d % period == offset {
                    let sensor = if hr_count.is_multiple_of(2) {
                        SimSensor::Skysat
                    } else {
                        SimSensor::Worldview
                    };
                    hr_count += 1;
                    let (time, clear) = if rng.gen_bool(0.5) {
                        let same = rng.gen_bool(0.9);
                        (
                            ps_time + rng.gen_range(180..2_400),
                            if same { ps_clear } else { !ps_clear },
                        )
                    } else {
                        (day + rng.gen_range(0..18_000), rng.gen_bool(0.55))
                    };
                    let cf = clouds(&mut rng, clear);
                    passes.push(Pass {
                        scene_id: scene_id(sensor, time, &port.port_id),
                        sensor,
                        time,
                        footprint: rect(w - 0.03, s - 0.03, e + 0.03, n + 0.03),
                        cloud_fraction: cf,
                        ports: vec![],
                    });
                }
            }
        }
        if d % 5 == 2 {
            let time = day + 7_800 + rng.gen_range(0..300);
            for (p, port) in ports.iter().enumerate() {
                let (w, s, e, n) = bbox(p);
                let (cx, cy) = ((w + e) / 2.0, (s + n) / 2.0);
                let clear = rng.gen_bool(0.55);
                let cf = clouds(&mut rng, clear);
                let t = time + 5 * p as i64;
                passes.push(Pass {
                    scene_id: scene_id(SimSensor::Sentinel2, t, &port.port_id),
                    sensor: SimSensor::Sentinel2,
                    time: t,
                    footprint: rect(cx - 0.25, cy - 0.2, cx + 0.25, cy + 0.2),
                    cloud_fraction: cf,
                    ports: vec![],
                });
            }
        }
        if d % 6 == 4 {
            let time = day + 75_900 + rng.gen_range(0..120);
            passes.push(Pass {
                scene_id: scene_id(SimSensor::Sentinel1, time, "iw"),
                sensor: SimSensor::Sentinel1,
                time,
                footprint: S1_SWATH.to_vec(),
                cloud_fraction: 0.0,
                ports: vec![],
            });
        }
    }
    for pass in &mut passes {
        pass.ports = ports
            .iter()
            .enumerate()
            .filter(|(_, p)| pass.covers(p.berth_lon, p.berth_lat))
            .map(|(i, _)| i)
            .collect();
    }
    passes.sort_by(|a, b| (a.time, &a.scene_id).cmp(&(b.time, &b.scene_id)));
    passes
}

fn scene_id(sensor: SimSensor, t: Time, place: &str) -> String {
    let stamp: String = fmt_time(t).chars().filter(|c| c.is_ascii_digit()).collect();
    let (date, time) = stamp.split_at(8.min(stamp.len()));
    format!("{}-{date}-{time}-{place}", sensor.short())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_contains_edges() {
        let r = rect(0.0, 0.0, 1.0, 1.0);
        assert!(ring_contains(&r, 0.5, 0.5));
        assert!(!ring_contains(&r, 1.5, 0.5));
        assert!(!ring_contains(&[], 0.5, 0.5));
    }

    #[test]
    fn schedule_is_sorted_unique_and_covers_ports() {
        let t0 = 1_709_251_200;
        let passes = schedule(1, 30, t0);
        let mut ids: Vec<&str> = passes.iter().map(|p| p.scene_id.as_str()).collect();
        assert!(passes.windows(2).all(|w| w[0].time <= w[1].time));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), passes.len());
        // PlanetScope every day over every port.
        let ps = passes
            .iter()
            .filter(|p| p.sensor == SimSensor::Planetscope)
            .count();
        assert_eq!(ps, 30 * 4);
        assert!(passes.iter().all(|p| !p.ports.is_empty()));
        let s1: Vec<&Pass> = passes.iter().filter(|p| p.sensor.is_sar()).collect();
        assert_eq!(s1.len(), 5);
        assert!(s1.iter().all(|p| p.ports.len() == 4));
        let clear = passes
            .iter()
            .filter(|p| !p.sensor.is_sar() && p.is_clear())
            .count() as f64;
        let optical = passes.iter().filter(|p| !p.sensor.is_sar()).count() as f64;
        assert!(
            (0.4..0.7).contains(&(clear / optical)),
            "{}",
            clear / optical
        );
        assert_eq!(
            passes[0].file_name(),
            format!(
                "{}_{}_{}.geojson",
                fmt_time(passes[0].time).replace(':', "-"),
                passes[0].sensor.as_str(),
                passes[0].scene_id
            )
        );
    }
}
