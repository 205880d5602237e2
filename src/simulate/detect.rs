//! What one image pass sees: true vessels (with sensor errors and misses) and false
//! positives, written as one GeoJSON FeatureCollection in the `shiplink match` contract.
//!
//! Error model per sensor (1-sigma): position Sentinel-1 25 m, Sentinel-2 12 m,
//! PlanetScope 8 m, SkySat/WorldView 2 m; length 15 / 10 / 6 / 2 m; beam 6 / 4 / 2.5 /
//! 0.8 m; heading 12 / 8 / 5 / 2 degrees (SAR flips 180 degrees a quarter of the time).
//! Missed detections 15% SAR, 10% optical (5% high resolution), more for vessels under
//! 30 m. Hull colour only from optical sensors, deck containers only from high-resolution
//! ones (count error 1-sigma 1). Cloudy scenes (cloud fraction > 0.2) see each vessel with
//! probability 0.15 * (1 - cloud fraction). False positives: Poisson per covered port
//! (SAR 1.0, Sentinel-2 and PlanetScope 0.4, high-res 0.2 per group), half near berths,
//! plus SAR clutter at sea.

use std::fmt::Write as _;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

use crate::model::{fmt_time, Time};

use super::berths::PortSlots;
use super::fleet::{exit_lane, lane, Life, Seg, DUNAY, NAJIN, VOSTOCHNY};
use super::passes::{Pass, SimSensor};

/// Exit and return legs of trips out of the area are sailed at this speed.
const EXIT_SPEED_KN: f64 = 10.0;

struct Model {
    pos_sigma_m: f64,
    length_sigma_m: f64,
    beam_sigma_m: f64,
    heading_sigma_deg: f64,
    flip_p: f64,
    miss_p: f64,
    small_miss_p: f64,
    class_correct_p: f64,
    class_unknown_p: f64,
    /// (correct, wrong) colour probabilities; the rest reports none. None for SAR.
    color: Option<(f64, f64)>,
    containers_sigma: Option<f64>,
    polygon: bool,
    fp_per_port: f64,
    confidence: (f64, f64),
}

fn model(s: SimSensor) -> Model {
    match s {
        SimSensor::Sentinel1 => Model {
            pos_sigma_m: 25.0,
            length_sigma_m: 15.0,
            beam_sigma_m: 6.0,
            heading_sigma_deg: 12.0,
            flip_p: 0.25,
            miss_p: 0.15,
            small_miss_p: 0.5,
            class_correct_p: 0.2,
            class_unknown_p: 0.7,
            color: None,
            containers_sigma: None,
            polygon: false,
            fp_per_port: 1.0,
            confidence: (0.55, 0.97),
        },
        SimSensor::Sentinel2 => Model {
            pos_sigma_m: 12.0,
            length_sigma_m: 10.0,
            beam_sigma_m: 4.0,
            heading_sigma_deg: 8.0,
            flip_p: 0.1,
            miss_p: 0.10,
            small_miss_p: 0.6,
            class_correct_p: 0.35,
            class_unknown_p: 0.55,
            color: Some((0.7, 0.1)),
            containers_sigma: None,
            polygon: false,
            fp_per_port: 0.4,
            confidence: (0.6, 0.98),
        },
        SimSensor::Planetscope => Model {
            pos_sigma_m: 8.0,
            length_sigma_m: 6.0,
            beam_sigma_m: 2.5,
            heading_sigma_deg: 5.0,
            flip_p: 0.05,
            miss_p: 0.10,
            small_miss_p: 0.25,
            class_correct_p: 0.6,
            class_unknown_p: 0.25,
            color: Some((0.85, 0.05)),
            containers_sigma: None,
            polygon: true,
            fp_per_port: 0.4,
            confidence: (0.65, 0.99),
        },
        SimSensor::Skysat | SimSensor::Worldview => Model {
            pos_sigma_m: 2.0,
            length_sigma_m: 2.0,
            beam_sigma_m: 0.8,
            heading_sigma_deg: 2.0,
            flip_p: 0.0,
            miss_p: 0.05,
            small_miss_p: 0.05,
            class_correct_p: 0.9,
            class_unknown_p: 0.05,
            color: Some((0.97, 0.02)),
            containers_sigma: Some(1.0),
            polygon: true,
            fp_per_port: 0.2,
            confidence: (0.8, 0.99),
        },
    }
}

const COLOURS: [&str; 7] = ["black", "blue", "green", "grey", "orange", "red", "white"];
const CLASSES: [&str; 10] = [
    "cargo",
    "container",
    "roro",
    "tanker",
    "bulk",
    "fishing",
    "tug",
    "passenger",
    "naval",
    "unknown",
];

/// The truth behind one detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub obs_id: String,
    /// Index of the vessel (into the lives), None for a false positive.
    pub vessel: Option<u32>,
    /// Index of the vessel's segment at the time.
    pub seg: u32,
}

struct Det {
    lon: f64,
    lat: f64,
    length_m: f64,
    beam_m: f64,
    heading_deg: f64,
    class: &'static str,
    color: Option<&'static str>,
    containers: Option<u32>,
    confidence: f64,
    /// Vessel whose identity evidence (name, imo, mmsi) is attached.
    identity: Option<usize>,
    truth: Option<(u32, u32)>,
}

/// SplitMix64: a cheap, stable hash for per-stay jitter.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Metres per degree of longitude and latitude at `lat`.
fn m_per_deg(lat: f64) -> (f64, f64) {
    let phi = lat.to_radians();
    (
        111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos(),
        111_132.954 - 559.822 * (2.0 * phi).cos(),
    )
}

fn offset(p: (f64, f64), east_m: f64, north_m: f64) -> (f64, f64) {
    let (mx, my) = m_per_deg(p.1);
    (p.0 + east_m / mx, p.1 + north_m / my)
}

/// Where a vessel lies during stay `si` (slot plus a stable few-metre offset) and its heading.
pub fn stay_pose(
    life_idx: usize,
    si: usize,
    port: usize,
    slot: usize,
    ports: &[PortSlots],
) -> Option<(f64, f64, f64)> {
    let s = ports.get(port)?.slots.get(slot)?;
    let h = mix(((life_idx as u64) << 24) ^ si as u64);
    let (dx, dy) = ((unit(h) - 0.5) * 20.0, (unit(mix(h)) - 0.5) * 20.0);
    let (lon, lat) = offset((s.lon, s.lat), dx, dy);
    let heading = if mix(h ^ 1) & 1 == 0 {
        s.heading_deg
    } else {
        s.heading_deg + 180.0
    };
    Some((lon, lat, heading))
}

/// Point and heading at distance fraction `frac` along a polyline (equirectangular metres).
fn along(path: &[(f64, f64)], frac: f64) -> Option<(f64, f64, f64)> {
    let lens: Vec<f64> = path
        .windows(2)
        .map(|w| {
            let (mx, my) = m_per_deg(w[0].1);
            (((w[1].0 - w[0].0) * mx).powi(2) + ((w[1].1 - w[0].1) * my).powi(2)).sqrt()
        })
        .collect();
    let total: f64 = lens.iter().sum();
    if path.len() < 2 || total <= 0.0 {
        return None;
    }
    let mut left = frac.clamp(0.0, 1.0) * total;
    let last = lens.len() - 1;
    for (k, (w, len)) in path.windows(2).zip(&lens).enumerate() {
        if left <= *len || k == last {
            let f = if *len > 0.0 {
                (left / len).min(1.0)
            } else {
                0.0
            };
            let (mx, my) = m_per_deg(w[0].1);
            let heading = ((w[1].0 - w[0].0) * mx)
                .atan2((w[1].1 - w[0].1) * my)
                .to_degrees();
            return Some((
                w[0].0 + f * (w[1].0 - w[0].0),
                w[0].1 + f * (w[1].1 - w[0].1),
                heading.rem_euclid(360.0),
            ));
        }
        left -= len;
    }
    None
}

fn path_m(path: &[(f64, f64)]) -> f64 {
    path.windows(2)
        .map(|w| {
            let (mx, my) = m_per_deg(w[0].1);
            (((w[1].0 - w[0].0) * mx).powi(2) + ((w[1].1 - w[0].1) * my).powi(2)).sqrt()
        })
        .sum()
}

/// The true pose of vessel `li` at time `t`, if it is in the scenario area, with the
/// segment index and the containers on deck.
pub fn pose_at(
    lives: &[Life],
    li: usize,
    t: Time,
    ports: &[PortSlots],
) -> Option<(f64, f64, f64, usize, u32)> {
    let life = lives.get(li)?;
    let si = life.seg_at(t)?;
    let berth_of = |k: usize| -> Option<(f64, f64)> {
        match life.segs.get(k)? {
            Seg::Stay { port, slot, .. } => {
                stay_pose(li, k, *port, *slot, ports).map(|p| (p.0, p.1))
            }
            _ => None,
        }
    };
    match life.segs[si] {
        Seg::Stay {
            port,
            slot,
            arrive,
            depart,
            containers_arrive,
            containers_depart,
        } => {
            let (lon, lat, h) = stay_pose(li, si, port, slot, ports)?;
            let f = (t - arrive) as f64 / (depart - arrive).max(1) as f64;
            let c = containers_arrive as f64
                + (containers_depart as f64 - containers_arrive as f64) * f;
            Some((lon, lat, h, si, c.round().max(0.0) as u32))
        }
        Seg::Sail {
            from,
            to,
            depart,
            arrive,
            containers,
        } => {
            let mut path = Vec::with_capacity(16);
            path.extend(si.checked_sub(1).and_then(berth_of));
            path.extend(lane(from, to));
            path.extend(berth_of(si + 1));
            let f = (t - depart) as f64 / (arrive - depart).max(1) as f64;
            let (lon, lat, h) = along(&path, f)?;
            Some((lon, lat, h, si, containers))
        }
        Seg::Away {
            from,
            to,
            left,
            back,
            ..
        } => {
            let speed_m_s = EXIT_SPEED_KN * 1852.0 / 3600.0;
            if let Some(lane_out) = exit_lane(from) {
                let mut out: Vec<(f64, f64)> =
                    si.checked_sub(1).and_then(berth_of).into_iter().collect();
                out.extend(lane_out);
                let out_s = path_m(&out) / speed_m_s;
                if ((t - left) as f64) < out_s {
                    let (lon, lat, h) = along(&out, (t - left) as f64 / out_s)?;
                    return Some((lon, lat, h, si, 0));
                }
            }
            if let Some(lane_in) = exit_lane(to) {
                let mut ret: Vec<(f64, f64)> = lane_in.iter().rev().copied().collect();
                ret.extend(berth_of(si + 1));
                let ret_s = path_m(&ret) / speed_m_s;
                if ((back - t) as f64) < ret_s {
                    let (lon, lat, h) = along(&ret, 1.0 - (back - t) as f64 / ret_s)?;
                    return Some((lon, lat, h, si, 0));
                }
            }
            None
        }
    }
}

/// A cheap pre-check before [`pose_at`]: moored at a port the pass does not cover, or far
/// out of the area (more than 12 hours from the harbour on a trip away), cannot be seen.
fn may_be_seen(life: &Life, pass: &Pass) -> bool {
    let Some(si) = life.seg_at(pass.time) else {
        return false;
    };
    match life.segs[si] {
        Seg::Stay { port, .. } => pass.ports.contains(&port),
        Seg::Sail { .. } => true,
        Seg::Away { left, back, .. } => pass.time - left < 43_200 || back - pass.time < 43_200,
    }
}

fn confuse(class: &str, rng: &mut ChaCha8Rng) -> &'static str {
    let options: &[&'static str] = match class {
        "cargo" => &["container", "bulk", "roro"],
        "container" => &["cargo", "roro"],
        "roro" => &["cargo", "container", "passenger"],
        "tanker" => &["bulk", "cargo"],
        "bulk" => &["cargo", "tanker"],
        "fishing" => &["tug"],
        "tug" => &["fishing"],
        "passenger" => &["roro"],
        _ => &["cargo"],
    };
    options[rng.gen_range(0..options.len())]
}

/// Everything one pass needs to know about the scenario.
pub struct World<'a> {
    pub lives: &'a [Life],
    pub ports: &'a [PortSlots],
    pub groups: usize,
    pub easier: super::Easier,
}

/// The detections of one pass as GeoJSON text, and their truth rows (in id order).
pub fn render_pass(pass: &Pass, world: &World, rng: &mut ChaCha8Rng) -> (String, Vec<Row>) {
    let m = model(pass.sensor);
    let mut dets: Vec<Det> = Vec::new();
    let clear = pass.is_clear();
    for (li, life) in world.lives.iter().enumerate() {
        if !may_be_seen(life, pass) {
            continue;
        }
        let Some((lon, lat, heading, si, containers)) =
            pose_at(world.lives, li, pass.time, world.ports)
        else {
            continue;
        };
        if !pass.covers(lon, lat) {
            continue;
        }
        let v = &life.vessel;
        let p_seen = if clear {
            1.0 - if v.length_m < 30.0 {
                m.small_miss_p
            } else {
                m.miss_p
            }
        } else {
            0.15 * (1.0 - pass.cloud_fraction)
        };
        if !rng.gen_bool(p_seen.clamp(0.0, 1.0)) {
            continue;
        }
        let e = m.pos_sigma_m;
        let (dlon, dlat) = (z(rng) * e, z(rng) * e);
        let (lon, lat) = offset((lon, lat), dlon, dlat);
        let length_sigma_m = if world.easier.precise_radar && pass.sensor.is_sar() {
            m.length_sigma_m.min(6.0)
        } else {
            m.length_sigma_m
        };
        let length_m = (v.length_m + z(rng) * length_sigma_m).max(5.0);
        let beam_m = (v.beam_m + z(rng) * m.beam_sigma_m).max(2.0).min(length_m);
        let mut heading_deg = heading + z(rng) * m.heading_sigma_deg;
        if m.flip_p > 0.0 && rng.gen_bool(m.flip_p) {
            heading_deg += 180.0;
        }
        let u: f64 = rng.gen();
        let class = if u < m.class_correct_p {
            v.class
        } else if u < m.class_correct_p + m.class_unknown_p {
            "unknown"
        } else {
            confuse(v.class, rng)
        };
        let color = m.color.and_then(|(ok, wrong)| {
            let (ok, wrong) = if world.easier.true_colours {
                (ok + wrong, 0.0)
            } else {
                (ok, wrong)
            };
            let u: f64 = rng.gen();
            if u < ok {
                Some(v.hull_color)
            } else if u < ok + wrong {
                let others: Vec<&'static str> = COLOURS
                    .iter()
                    .copied()
                    .filter(|c| *c != v.hull_color)
                    .collect();
                others.choose(rng).copied()
            } else {
                None
            }
        });
        let containers = match m.containers_sigma {
            Some(sd) if v.capacity > 0 => {
                Some((containers as f64 + (z(rng) * sd).round()).max(0.0) as u32)
            }
            _ => None,
        };
        let (lo, hi) = m.confidence;
        let mut confidence = rng.gen_range(lo..hi);
        if v.length_m < 30.0 {
            confidence *= 0.85;
        }
        let identity = (v.mmsi.is_some() && rng.gen_bool(0.4)).then_some(li);
        dets.push(Det {
            lon,
            lat,
            length_m,
            beam_m,
            heading_deg: heading_deg.rem_euclid(360.0),
            class,
            color,
            containers,
            confidence,
            identity,
            truth: Some((li as u32, si as u32)),
        });
    }
    if (clear || pass.sensor.is_sar()) && !world.easier.no_false_positives {
        false_positives(pass, world, &m, rng, &mut dets);
    }
    dets.shuffle(rng);
    let mut text = String::with_capacity(64 + dets.len() * 520);
    text.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
    let observed_at = fmt_time(pass.time);
    let mut rows = Vec::with_capacity(dets.len());
    for (k, d) in dets.iter().enumerate() {
        let id = format!("{}-{:04}", pass.scene_id, k + 1);
        text.push_str(if k == 0 { "\n" } else { ",\n" });
        write_feature(&mut text, &id, d, pass, &observed_at, &m, world.lives);
        let (vessel, seg) = match d.truth {
            Some((v, s)) => (Some(v), s),
            None => (None, 0),
        };
        rows.push(Row {
            obs_id: id,
            vessel,
            seg,
        });
    }
    text.push_str("\n]}\n");
    (text, rows)
}

/// A standard normal draw.
fn z(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

fn false_positives(
    pass: &Pass,
    world: &World,
    m: &Model,
    rng: &mut ChaCha8Rng,
    dets: &mut Vec<Det>,
) {
    let g = world.groups.max(1) as f64;
    let mut spots: Vec<(f64, f64)> = Vec::new();
    for &p in &pass.ports {
        let Some(ps) = world.ports.get(p) else {
            continue;
        };
        let n = poisson(m.fp_per_port * g, rng);
        let used = ps.slots.len().min(34 * world.groups.max(1));
        for _ in 0..n {
            if rng.gen_bool(0.5) && used > 0 {
                let s = ps.slots[rng.gen_range(0..used)];
                let d = rng.gen_range(60.0..250.0);
                let b: f64 = rng.gen_range(0.0..std::f64::consts::TAU);
                spots.push(offset((s.lon, s.lat), d * b.sin(), d * b.cos()));
            } else if !ps.water.is_empty() {
                let c = ps.water[rng.gen_range(0..ps.water.len())];
                spots.push(offset(
                    c,
                    rng.gen_range(-20.0..20.0),
                    rng.gen_range(-20.0..20.0),
                ));
            }
        }
    }
    if pass.sensor.is_sar() {
        let n = poisson(1.5 * g, rng);
        for _ in 0..n {
            let to = if rng.gen_bool(0.8) { DUNAY } else { VOSTOCHNY };
            let path = lane(NAJIN, to);
            if let Some((lon, lat, _)) = along(&path, rng.gen_range(0.05..0.95)) {
                spots.push(offset(
                    (lon, lat),
                    rng.gen_range(-3000.0..3000.0),
                    rng.gen_range(-3000.0..3000.0),
                ));
            }
        }
    }
    for (lon, lat) in spots {
        if !pass.covers(lon, lat) {
            continue;
        }
        let u: f64 = rng.gen();
        let length_m = 8.0 + 140.0 * u * u;
        let beam_m = (length_m * rng.gen_range(0.12..0.3)).max(2.0);
        let class = if rng.gen_bool(0.8) {
            "unknown"
        } else {
            CLASSES[rng.gen_range(0..CLASSES.len())]
        };
        let color = if m.color.is_some() && rng.gen_bool(0.5) {
            COLOURS.choose(rng).copied()
        } else {
            None
        };
        dets.push(Det {
            lon,
            lat,
            length_m,
            beam_m,
            heading_deg: rng.gen_range(0.0..360.0),
            class,
            color,
            containers: None,
            confidence: rng.gen_range(0.15..0.7),
            identity: None,
            truth: None,
        });
    }
}

fn poisson(mean: f64, rng: &mut ChaCha8Rng) -> u64 {
    if mean <= 0.0 || !mean.is_finite() {
        return 0;
    }
    match Poisson::new(mean) {
        Ok(p) => {
            let x: f64 = p.sample(rng);
            x.max(0.0) as u64
        }
        Err(_) => 0,
    }
}

/// The corners (closed, counter-clockwise) of a `length_m` x `beam_m` rectangle centred at
/// `(lon, lat)` whose long axis points to `heading_deg` (clockwise from north).
pub fn hull_ring(
    lon: f64,
    lat: f64,
    length_m: f64,
    beam_m: f64,
    heading_deg: f64,
) -> [(f64, f64); 5] {
    let h = heading_deg.to_radians();
    let (ax, ay) = (h.sin(), h.cos());
    let (bx, by) = (h.cos(), -h.sin());
    let (l, b) = (length_m / 2.0, beam_m / 2.0);
    let c = |sa: f64, sb: f64| {
        offset(
            (lon, lat),
            sa * l * ax + sb * b * bx,
            sa * l * ay + sb * b * by,
        )
    };
    let first = c(1.0, -1.0);
    [first, c(-1.0, -1.0), c(-1.0, 1.0), c(1.0, 1.0), first]
}

fn write_feature(
    out: &mut String,
    id: &str,
    d: &Det,
    pass: &Pass,
    observed_at: &str,
    m: &Model,
    lives: &[Life],
) {
    let _ = write!(out, "{{\"type\":\"Feature\",\"id\":\"{id}\",\"geometry\":");
    if m.polygon {
        let ring = hull_ring(d.lon, d.lat, d.length_m, d.beam_m, d.heading_deg);
        out.push_str("{\"type\":\"Polygon\",\"coordinates\":[[");
        for (i, (x, y)) in ring.iter().enumerate() {
            let _ = write!(out, "{}[{x:.6},{y:.6}]", if i == 0 { "" } else { "," });
        }
        out.push_str("]]}");
    } else {
        let _ = write!(
            out,
            "{{\"type\":\"Point\",\"coordinates\":[{:.6},{:.6}]}}",
            d.lon, d.lat
        );
    }
    let _ = write!(
        out,
        ",\"properties\":{{\"observed_at\":\"{observed_at}\",\"sensor\":\"{}\",\"scene_id\":\"{}\",\"confidence\":{:.2},\"length_m\":{:.1},\"beam_m\":{:.1},\"heading_deg\":{:.1},\"vessel_class\":\"{}\"",
        pass.sensor.as_str(),
        pass.scene_id,
        d.confidence,
        d.length_m,
        d.beam_m,
        d.heading_deg,
        d.class
    );
    if let Some(c) = d.color {
        let _ = write!(out, ",\"hull_color\":\"{c}\"");
    }
    if let Some(c) = d.containers {
        let _ = write!(out, ",\"containers\":{c}");
    }
    if let Some(v) = d.identity.and_then(|i| lives.get(i)).map(|l| &l.vessel) {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "null".into());
        let _ = write!(out, ",\"name\":{}", q(&v.name));
        if let Some(imo) = &v.imo {
            let _ = write!(out, ",\"imo\":{}", q(imo));
        }
        if let Some(mmsi) = &v.mmsi {
            let _ = write!(out, ",\"mmsi\":{}", q(mmsi));
        }
    }
    out.push_str("}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geodesy::geodesic_m;

    #[test]
    fn hull_ring_has_the_asked_size() {
        let r = hull_ring(130.3, 42.23, 130.0, 20.0, 45.0);
        assert_eq!(r[0], r[4]);
        let side_a = geodesic_m(r[0], r[1]);
        let side_b = geodesic_m(r[1], r[2]);
        assert!((side_a - 130.0).abs() < 1.0, "{side_a}");
        assert!((side_b - 20.0).abs() < 0.5, "{side_b}");
        // Counter-clockwise: positive shoelace area.
        let area: f64 = r
            .windows(2)
            .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
            .sum();
        assert!(area > 0.0);
    }

    #[test]
    fn along_ends_and_middle() {
        let p = [(130.0, 42.0), (130.0, 42.1), (130.1, 42.1)];
        let a = along(&p, 0.0).unwrap();
        assert_eq!((a.0, a.1), (130.0, 42.0));
        assert!((a.2 - 0.0).abs() < 1e-9, "north");
        let b = along(&p, 1.0).unwrap();
        assert!((b.0 - 130.1).abs() < 1e-12 && (b.1 - 42.1).abs() < 1e-12);
        assert!((b.2 - 90.0).abs() < 1e-9, "east");
        assert!(along(&[(1.0, 1.0)], 0.5).is_none());
        assert!(along(&[], 0.5).is_none());
    }

    #[test]
    fn confusions_are_known_classes() {
        let mut rng = crate::simulate::stream(1, 2, 3);
        for c in CLASSES {
            assert!(CLASSES.contains(&confuse(c, &mut rng)));
        }
    }
}
