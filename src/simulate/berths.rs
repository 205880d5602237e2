//! Berth slots per port and the assignment of stays to them.
//!
//! At scale 1 a port has its quay berths (about 200 m apart along the GSHHG coast) and
//! anchorage slots; larger scales add water-mask cells at the widest spacing (200, 150,
//! 100, 70 or 40 m) that gives about 34 slots per group. Stays are assigned in arrival
//! order: ships of 60 m and more take the free quay berth nearest the port's berth point,
//! smaller ones the first free anchorage slot; when every slot is taken (only at large
//! scales) the slot that frees first is shared. Units: degrees, metres, seconds.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use crate::geodesy::geodesic_m;
use crate::model::Time;
use crate::ports;

use super::fleet::{Life, Seg};
use super::geo_tables::{MASKS, SLOTS};

/// One place a vessel can lie, with the heading of a vessel moored there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    pub lon: f64,
    pub lat: f64,
    pub heading_deg: f64,
}

/// The slots of each port (indexed like `fleet::PORT_IDS`) and how many are quay berths.
#[derive(Debug, Clone)]
pub struct PortSlots {
    pub slots: Vec<Slot>,
    pub quay_count: usize,
    /// Every water cell of the zone (for false positives).
    pub water: Vec<(f64, f64)>,
}

/// Slots at every port for `groups` groups of vessels.
pub fn build(groups: usize) -> Vec<PortSlots> {
    let builtin = ports::builtin();
    let mut out = Vec::new();
    for (pi, table) in SLOTS.iter().enumerate() {
        let berth = builtin
            .iter()
            .find(|p| p.port_id == table.port)
            .map(|p| (p.berth_lon, p.berth_lat))
            .unwrap_or(table.quay[0]);
        let mut water = MASKS
            .iter()
            .find(|m| m.port == table.port)
            .map(|m| m.cells())
            .unwrap_or_default();
        let base: Vec<(f64, f64)> = table.quay.iter().chain(table.anchorage).copied().collect();
        let target = base.len().max(34) * groups;
        let mut chosen = base.clone();
        if target > base.len() {
            let mut by_dist: Vec<(f64, usize)> = water
                .iter()
                .enumerate()
                .map(|(i, &c)| (geodesic_m(c, berth), i))
                .collect();
            by_dist.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for spacing_m in [200.0, 150.0, 100.0, 70.0, 40.0] {
                chosen = spaced(&base, by_dist.iter().map(|&(_, i)| water[i]), spacing_m);
                if chosen.len() >= target {
                    break;
                }
            }
        }
        let slots = chosen
            .iter()
            .enumerate()
            .map(|(k, &(lon, lat))| Slot {
                lon,
                lat,
                heading_deg: ((k * 47 + pi * 29) % 180) as f64 + 0.5,
            })
            .collect();
        water.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        out.push(PortSlots {
            slots,
            quay_count: table.quay.len(),
            water,
        });
    }
    out
}

/// `base` followed by the `extra` points at least `spacing_m` from every point kept.
fn spaced(
    base: &[(f64, f64)],
    extra: impl Iterator<Item = (f64, f64)>,
    spacing_m: f64,
) -> Vec<(f64, f64)> {
    // A grid of cells `spacing_m` wide (local metres) for the neighbour test.
    let lat0 = base.first().map_or(42.5, |p| p.1);
    let (mx, my) = (111_320.0 * lat0.to_radians().cos(), 110_950.0);
    let key = |p: (f64, f64)| {
        (
            (p.0 * mx / spacing_m).floor() as i64,
            (p.1 * my / spacing_m).floor() as i64,
        )
    };
    let mut kept: Vec<(f64, f64)> = Vec::new();
    let mut cells: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    fn push(
        p: (f64, f64),
        k: (i64, i64),
        kept: &mut Vec<(f64, f64)>,
        cells: &mut HashMap<(i64, i64), Vec<usize>>,
    ) {
        cells.entry(k).or_default().push(kept.len());
        kept.push(p);
    }
    for &p in base {
        push(p, key(p), &mut kept, &mut cells);
    }
    for p in extra {
        let (kx, ky) = key(p);
        let mut ok = true;
        'outer: for dx in -1..=1 {
            for dy in -1..=1 {
                if let Some(v) = cells.get(&(kx + dx, ky + dy)) {
                    for &i in v {
                        let q = kept[i];
                        let d = (((p.0 - q.0) * mx).powi(2) + ((p.1 - q.1) * my).powi(2)).sqrt();
                        if d < spacing_m {
                            ok = false;
                            break 'outer;
                        }
                    }
                }
            }
        }
        if ok {
            push(p, (kx, ky), &mut kept, &mut cells);
        }
    }
    kept
}

/// Gives every stay a slot (see the module doc).
pub fn assign(lives: &mut [Life], ports: &[PortSlots]) {
    let mut stays: Vec<(Time, usize, usize)> = Vec::new();
    for (li, life) in lives.iter().enumerate() {
        for (si, seg) in life.segs.iter().enumerate() {
            if let Seg::Stay { arrive, .. } = seg {
                stays.push((*arrive, li, si));
            }
        }
    }
    stays.sort_unstable();
    let mut free: Vec<BTreeSet<usize>> =
        ports.iter().map(|p| (0..p.slots.len()).collect()).collect();
    let mut busy: Vec<BinaryHeap<Reverse<(Time, usize)>>> =
        ports.iter().map(|_| BinaryHeap::new()).collect();
    for (arrive, li, si) in stays {
        let big = lives[li].vessel.length_m >= 60.0;
        let Seg::Stay { port, depart, .. } = lives[li].segs[si] else {
            continue;
        };
        let (Some(free), Some(busy), Some(ps)) =
            (free.get_mut(port), busy.get_mut(port), ports.get(port))
        else {
            continue;
        };
        while let Some(&Reverse((t, s))) = busy.peek() {
            if t > arrive {
                break;
            }
            busy.pop();
            free.insert(s);
        }
        let pick = if big {
            free.first().copied()
        } else {
            free.range(ps.quay_count..)
                .next()
                .or_else(|| free.first())
                .copied()
        };
        let slot = match pick {
            Some(s) => {
                free.remove(&s);
                busy.push(Reverse((depart, s)));
                s
            }
            None => match busy.pop() {
                Some(Reverse((t, s))) => {
                    busy.push(Reverse((t.max(depart), s)));
                    s
                }
                None => 0,
            },
        };
        if let Seg::Stay { slot: sl, .. } = &mut lives[li].segs[si] {
            *sl = slot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::fleet;

    #[test]
    fn slots_are_spaced_and_in_the_zone() {
        use geo::Contains;
        let builtin = ports::builtin();
        for groups in [1, 5] {
            let ps = build(groups);
            assert_eq!(ps.len(), 4);
            for (p, slots) in builtin.iter().zip(&ps) {
                assert!(
                    slots.slots.len() >= 30,
                    "{} {}",
                    p.port_id,
                    slots.slots.len()
                );
                for s in &slots.slots {
                    assert!(
                        p.zone.contains(&geo::Point::new(s.lon, s.lat)),
                        "{}",
                        p.port_id
                    );
                }
                for w in slots.slots[..slots.quay_count].windows(2) {
                    assert!(geodesic_m((w[0].lon, w[0].lat), (w[1].lon, w[1].lat)) >= 190.0);
                }
            }
            if groups == 5 {
                assert!(ps[1].slots.len() >= 150, "{}", ps[1].slots.len());
            }
        }
    }

    #[test]
    fn no_two_vessels_share_a_slot_at_scale_one() {
        let t0 = 1_709_251_200;
        let mut lives = fleet::build(11, 1, t0, t0 + 60 * 86_400, &Default::default());
        let ports = build(1);
        assign(&mut lives, &ports);
        let mut occ: Vec<(usize, usize, Time, Time)> = Vec::new();
        for l in &lives {
            for s in &l.segs {
                if let Seg::Stay {
                    port,
                    slot,
                    arrive,
                    depart,
                    ..
                } = *s
                {
                    occ.push((port, slot, arrive, depart));
                }
            }
        }
        occ.sort();
        for w in occ.windows(2) {
            if w[0].0 == w[1].0 && w[0].1 == w[1].1 {
                assert!(w[0].3 <= w[1].2, "{w:?}");
            }
        }
    }
}
