//! Link-level diagnosis of `match` on a simulated scenario: for every true "next sighting"
//! of a vessel, was it a candidate, was it chosen; and what the wrong links were.
//!
//! `cargo run --release --example diagnose -- SCENARIO_DIR [CONFIG.toml]`

use std::collections::BTreeMap;
use std::path::PathBuf;

use shiplink::config::IngestParams;
use shiplink::evidence::empty_berth;
use shiplink::geodesy::geodesic_m;
use shiplink::index::{assign_ports, ObsIndex};
use shiplink::linking::{candidates, LinkInput, LinkKind, SeaDistances};
use shiplink::pipeline::{load_config, solve};
use shiplink::simulate::truth::Truth;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(&args[0]);
    let config = load_config(args.get(1).map(PathBuf::from).as_ref())?;
    let truth: Truth = serde_json::from_slice(&std::fs::read(dir.join("truth.json"))?)?;
    let ing = shiplink::ingest::ingest(
        &[dir.join("observations")],
        &IngestParams::default(),
        4_000_000_000,
    )?;
    let (scenes, _) = shiplink::ingest::read_scenes(&dir.join("scenes.geojson"))?;
    let ports = shiplink::ports::builtin();
    let obs = ing.observations.clone();
    let port_of = assign_ports(&obs, &ports);
    let index = ObsIndex::new(&obs);
    let in_port: Vec<bool> = port_of.iter().map(Option::is_some).collect();
    let empty = empty_berth(
        &obs,
        &in_port,
        &scenes,
        config.stays.clear_cloud_fraction,
        config.stays.empty_berth_radius_m,
        (config.stays.max_gap_hours * 3600.0) as i64,
    );
    let n = ports.len();
    let mut port_km = vec![vec![0.0; n]; n];
    for a in 0..n {
        for b in 0..n {
            port_km[a][b] = geodesic_m(
                (ports[a].berth_lon, ports[a].berth_lat),
                (ports[b].berth_lon, ports[b].berth_lat),
            ) / 1000.0;
        }
    }
    let pk = |_: (f64, f64), _: (f64, f64)| -> Option<f64> { None };
    let sea = SeaDistances {
        port_km,
        point_km: &pk,
    };
    let cands = candidates(&LinkInput {
        obs: &obs,
        port_of: &port_of,
        ports: &ports,
        index: &index,
        empty: &empty,
        sea: &sea,
        config: &config,
    });
    let res = solve(ing, ports.clone(), &scenes, &config, None);
    let links = &res.links;

    let vessel: Vec<Option<String>> = obs
        .iter()
        .map(|o| truth.observations.get(&o.id).cloned().flatten())
        .collect();
    let mut stay_of: BTreeMap<String, String> = BTreeMap::new();
    for s in &truth.stays {
        for id in &s.observation_ids {
            stay_of.insert(id.clone(), s.stay_id.clone());
        }
    }
    let role: BTreeMap<String, String> = truth
        .vessels
        .iter()
        .map(|v| (v.vessel_id.clone(), v.role.clone()))
        .collect();
    // True successor of each observation.
    let mut by_vessel: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, v) in vessel.iter().enumerate() {
        if let Some(v) = v {
            by_vessel.entry(v.clone()).or_default().push(i);
        }
    }
    let mut true_next = vec![None; obs.len()];
    for list in by_vessel.values_mut() {
        list.sort_by_key(|&i| (obs[i].observed_at, obs[i].id.clone()));
        for w in list.windows(2) {
            true_next[w[0]] = Some(w[1]);
        }
    }
    let mut cand_of: BTreeMap<(usize, usize), (LinkKind, f64)> = BTreeMap::new();
    for c in &cands {
        cand_of.insert((c.from, c.to), (c.kind, c.weight));
    }
    // Tally: (true kind, role) -> [total, candidate, chosen right, chosen other, chosen none]
    let mut tally: BTreeMap<(String, String), [usize; 5]> = BTreeMap::new();
    for i in 0..obs.len() {
        let Some(j) = true_next[i] else { continue };
        let v = vessel[i].clone().unwrap_or_default();
        let kind = match (stay_of.get(&obs[i].id), stay_of.get(&obs[j].id)) {
            (Some(a), Some(b)) if a == b => "stay",
            _ if port_of[i].is_some() && port_of[i] == port_of[j] => "same-port",
            _ => "passage",
        };
        let e = tally
            .entry((kind.to_string(), role.get(&v).cloned().unwrap_or_default()))
            .or_default();
        e[0] += 1;
        if cand_of.contains_key(&(i, j)) {
            e[1] += 1;
        }
        match links.successor[i] {
            Some(s) if s == j => e[2] += 1,
            Some(_) => e[3] += 1,
            None => e[4] += 1,
        }
    }
    let show = std::env::var("SHOW").unwrap_or_default();
    for i in 0..obs.len() {
        let Some(j) = true_next[i] else { continue };
        let v = vessel[i].clone().unwrap_or_default();
        let kind = match (stay_of.get(&obs[i].id), stay_of.get(&obs[j].id)) {
            (Some(a), Some(b)) if a == b => "stay",
            _ if port_of[i].is_some() && port_of[i] == port_of[j] => "same-port",
            _ => "passage",
        };
        if kind != show.as_str() || links.successor[i] == Some(j) {
            continue;
        }
        let pn = |k: usize| {
            port_of[k]
                .map(|p| ports[p].port_id.clone())
                .unwrap_or("sea".into())
        };
        let chosen = links.successor[i].map(|s| {
            format!(
                "{} {:?} w={:.2} -> {} {} at {} dt={:.1}h",
                obs[s].id,
                links.kind[i],
                links.weight[i],
                vessel[s].clone().unwrap_or("FP".into()),
                obs[s].length_m.unwrap_or(0.0),
                pn(s),
                (obs[s].observed_at - obs[i].observed_at) as f64 / 3600.0
            )
        });
        let pred = links.predecessor[j].map(|p| {
            format!(
                "{} ({})",
                obs[p].id,
                vessel[p].clone().unwrap_or("FP".into())
            )
        });
        println!(
            "{} [{} {} {:?} {:?}] -> {} [{} {:?} {:?}] dt={:.1}h cand={:?} chosen={:?} pred(j)={:?}",
            obs[i].id, v, pn(i), obs[i].sensor, obs[i].length_m, obs[j].id, pn(j), obs[j].sensor, obs[j].length_m,
            (obs[j].observed_at - obs[i].observed_at) as f64 / 3600.0,
            cand_of.get(&(i, j)), chosen, pred
        );
    }
    println!("true link kind / role: total, candidate, chosen right, chosen wrong, none");
    for ((k, r), t) in &tally {
        println!("  {k:>10} {r:>10}: {:?}", t);
    }
    // Wrong links by chosen kind and what they joined.
    let mut wrong: BTreeMap<String, usize> = BTreeMap::new();
    let mut right: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..obs.len() {
        if let Some(j) = links.successor[i] {
            let k = format!("{:?}", links.kind[i].unwrap());
            let ok = vessel[i].is_some() && vessel[i] == vessel[j];
            let tag = format!(
                "{k:>9} {}->{}",
                vessel[i]
                    .as_ref()
                    .map(|v| role[v].clone())
                    .unwrap_or("FP".into()),
                vessel[j]
                    .as_ref()
                    .map(|v| role[v].clone())
                    .unwrap_or("FP".into())
            );
            *if ok {
                right.entry(tag).or_default()
            } else {
                wrong.entry(tag).or_default()
            } += 1;
        }
    }
    println!("chosen links right:");
    for (k, v) in &right {
        println!("  {k}: {v}");
    }
    println!("chosen links wrong:");
    for (k, v) in &wrong {
        println!("  {k}: {v}");
    }
    Ok(())
}
