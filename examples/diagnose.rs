//! Link-level diagnosis of `match` on a simulated scenario (a tuning aid): stay purity,
//! and for each stay/at-sea node whose true next node is known, whether that link was a
//! candidate and whether it was chosen; then the wrong links by kind and role.
//!
//! `cargo run --release --example diagnose -- SCENARIO_DIR [CONFIG.toml]`

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use shiplink::linking::Node;
use shiplink::pipeline::load_config;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(&args[0]);
    let config = load_config(args.get(1).map(PathBuf::from).as_ref())?;
    let sc = common::solve_scenario(&dir, &config)?;
    let (truth, res, stays) = (&sc.truth, &sc.res, &sc.stays);
    let obs = &res.observations;
    let lk = &res.linked;
    let role: BTreeMap<String, String> = truth
        .vessels
        .iter()
        .map(|v| (v.vessel_id.clone(), v.role.clone()))
        .collect();
    // Each node's vessel by truth (None: a false alarm) and whether the node is pure.
    let labels = sc.node_vessels();
    let impure = labels.iter().filter(|l| !l.1).count();
    println!(
        "stays {} (impure {impure}), sea nodes {}",
        lk.stays.len(),
        lk.nodes.len() - lk.stays.len()
    );
    let t = |k: usize| sc.first_seen(k);
    let place = |k: usize| match lk.nodes[k] {
        Node::Stay(s) => stays[s].port_id.clone(),
        Node::Sea(_) => "sea".to_string(),
    };
    // The stage-2 candidates again (same inputs as solve, geodesic port distances).
    let cands = sc.track_candidates(&config);
    let lab = |k: usize| labels[k].0.clone().unwrap_or_else(|| "FP".into());
    let attrs_of = |k: usize| -> String {
        let (members, eb, ea, t1, t2): (Vec<&shiplink::model::Observation>, _, _, _, _) =
            match lk.nodes[k] {
                Node::Stay(s) => {
                    let st = &stays[s];
                    (
                        st.observations.iter().map(|&i| &obs[i]).collect(),
                        st.empty_before,
                        st.empty_after,
                        st.first_seen,
                        st.last_seen,
                    )
                }
                Node::Sea(i) => (
                    vec![&obs[i]],
                    None,
                    None,
                    obs[i].observed_at,
                    obs[i].observed_at,
                ),
            };
        let a = shiplink::linking::cost::Attrs::combine(&members, &config.sensors);
        let sensors: Vec<String> = members.iter().map(|o| format!("{:?}", o.sensor)).collect();
        format!(
            "n={} [{}] t {}..{} empty {:?}/{:?} len {:?} col {:?} cls {:?} cont {:?}/{:?} conf {:?}",
            members.len(), sensors.join(","), t1, t2, eb.map(|x: i64| x - t1), ea.map(|x: i64| x - t2),
            a.length_m.map(|(l, s)| format!("{l:.0}±{s:.0}")), a.colour, a.class, a.containers_first, a.containers_last,
            members.iter().map(|o| o.confidence).collect::<Vec<_>>()
        )
    };
    let dump = |a: usize, b: usize| {
        println!("      A: {}", attrs_of(a));
        println!("      B: {}", attrs_of(b));
        for c in cands.iter().filter(|c| c.from == a) {
            println!(
                "      out {:?} -> {} {} t={} w={:.2}{}",
                c.kind,
                lab(c.to),
                place(c.to),
                t(c.to),
                c.weight,
                if c.to == b { "  <== true" } else { "" }
            );
        }
        for c in cands.iter().filter(|c| c.to == b) {
            println!(
                "      in  {:?} <- {} {} t={} w={:.2}",
                c.kind,
                lab(c.from),
                place(c.from),
                t(c.from),
                c.weight
            );
        }
    };
    // True next node per vessel.
    let by_vessel = sc.true_sequences(&labels);
    let mut tally: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    let show = std::env::var("SHOW").unwrap_or_default();
    for (v, list) in &by_vessel {
        for w in list.windows(2) {
            let (a, b) = (w[0], w[1]);
            let kind = if place(a) == place(b) {
                "same-place"
            } else {
                "passage"
            };
            let key = format!("{kind:>10} {:>9}", role[v]);
            let e = tally.entry(key.clone()).or_default();
            e[0] += 1;
            match lk.links.successor[a] {
                Some(s) if s == b => e[1] += 1,
                Some(s) => {
                    e[2] += 1;
                    if show == role[v] {
                        println!(
                            "  wrong: {v} {} t={} -> chose {:?} at {} (p={:.2} w={:.2}) instead of {} t={}",
                            place(a), t(a), labels[s].0, place(s), lk.links.probability[a], lk.links.weight[a], place(b), t(b)
                        );
                        dump(a, b);
                    }
                }
                None => {
                    e[3] += 1;
                    if show == role[v] {
                        println!(
                            "  none: {v} {} t={} -> {} t={} (dt {:.1} h)",
                            place(a),
                            t(a),
                            place(b),
                            t(b),
                            (t(b) - t(a)) as f64 / 3600.0
                        );
                        dump(a, b);
                    }
                }
            }
        }
    }
    println!("true next node / role: total, chosen right, chosen wrong, none");
    for (k, v) in &tally {
        println!("  {k}: {v:?}");
    }
    let mut wrong: BTreeMap<String, usize> = BTreeMap::new();
    for k in 0..lk.nodes.len() {
        if let Some(s) = lk.links.successor[k] {
            let ok = labels[k].0.is_some() && labels[k].0 == labels[s].0;
            let shown = match show.as_str() {
                "RET" => lk.links.kind[k] == Some(shiplink::linking::LinkKind::Return),
                "FP" => labels[k].0.is_none(),
                _ => false,
            };
            if !ok && shown {
                println!(
                    "  {show} link {:?} {} {} -> {} {} p={:.2} w={:.2}",
                    lk.links.kind[k],
                    lab(k),
                    place(k),
                    lab(s),
                    place(s),
                    lk.links.probability[k],
                    lk.links.weight[k]
                );
                dump(k, s);
            }
            if !ok {
                let r =
                    |l: &Option<String>| l.as_ref().map(|v| role[v].clone()).unwrap_or("FP".into());
                *wrong
                    .entry(format!(
                        "{:?} {}->{}",
                        lk.links.kind[k],
                        r(&labels[k].0),
                        r(&labels[s].0)
                    ))
                    .or_default() += 1;
            }
        }
    }
    println!("wrong links:");
    for (k, v) in &wrong {
        println!("  {k}: {v}");
    }
    // Pairwise objective of the chosen links and of truth's (candidate weights; a link that
    // is not a candidate is counted apart): is the model or the search short?
    let wmap: std::collections::HashMap<(usize, usize), f64> =
        cands.iter().map(|c| ((c.from, c.to), c.weight)).collect();
    let objective = |pairs: &mut dyn Iterator<Item = (usize, usize)>| {
        let (mut sum, mut n, mut missing) = (0.0, 0, 0);
        for (a, b) in pairs {
            match wmap.get(&(a, b)) {
                Some(w) => {
                    sum += w;
                    n += 1;
                }
                None => missing += 1,
            }
        }
        (sum, n, missing)
    };
    let chosen =
        objective(&mut (0..lk.nodes.len()).filter_map(|k| lk.links.successor[k].map(|s| (k, s))));
    let truth_links = objective(
        &mut by_vessel
            .values()
            .flat_map(|l| l.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>()),
    );
    println!(
        "pairwise objective: chosen {:.1} over {} links ({} not candidates); truth {:.1} over {} ({} not candidates)",
        chosen.0, chosen.1, chosen.2, truth_links.0, truth_links.1, truth_links.2
    );
    if std::env::var("MISSING").is_ok() {
        for (v, l) in &by_vessel {
            for w in l.windows(2) {
                if lk.links.successor[w[0]] != Some(w[1]) {
                    println!(
                        "  missing {} {v}: {} -> {} dt {:.1} h w {:?}",
                        role[v],
                        place(w[0]),
                        place(w[1]),
                        (t(w[1]) - t(w[0])) as f64 / 3600.0,
                        wmap.get(&(w[0], w[1]))
                    );
                }
            }
        }
    }
    // Oracle: the same stays linked by truth (majority vessel), to bound what stage 2 can do.
    let mut oracle = lk.clone();
    let n = oracle.nodes.len();
    oracle.links.successor = vec![None; n];
    oracle.links.predecessor = vec![None; n];
    oracle.links.kind = vec![None; n];
    oracle.links.probability = vec![1.0; n];
    for list in by_vessel.values() {
        for w in list.windows(2) {
            let (a, b) = (w[0], w[1]);
            oracle.links.successor[a] = Some(b);
            oracle.links.predecessor[b] = Some(a);
            oracle.links.kind[a] = Some(if place(a) == place(b) {
                shiplink::linking::LinkKind::Return
            } else {
                shiplink::linking::LinkKind::Passage
            });
        }
    }
    let ports = shiplink::ports::builtin();
    let score_of = |l: &shiplink::linking::Linked| {
        let d = shiplink::linking::derive::derive(obs, &mut l.clone(), &ports, &res.empty, &config);
        let mut rs = shiplink::evaluate::ResultSet::default();
        for tr in &d.tracks {
            for e in &tr.events {
                if let shiplink::model::Event::Stay(s) = e {
                    rs.stays.push(shiplink::evaluate::PredStay {
                        stay_id: d.stays[*s].stay_id.clone(),
                        vessel_id: tr.vessel_id.clone(),
                        observation_ids: d.stays[*s]
                            .observations
                            .iter()
                            .map(|&i| obs[i].id.clone())
                            .collect(),
                    });
                }
            }
        }
        for v in &d.voyages {
            let ids = |s: usize| {
                d.stays[s]
                    .observations
                    .iter()
                    .map(|&i| obs[i].id.clone())
                    .collect()
            };
            rs.voyages.push(shiplink::evaluate::PredVoyage {
                voyage_id: v.voyage_id.clone(),
                vessel_id: v.vessel_id.clone(),
                from_port: d.stays[v.origin_stay].port_id.clone(),
                to_port: d.stays[v.destination_stay].port_id.clone(),
                confidence: v.confidence,
                origin_observation_ids: ids(v.origin_stay),
                destination_observation_ids: ids(v.destination_stay),
                ..Default::default()
            });
        }
        shiplink::evaluate::score::score(&shiplink::evaluate::truth_set(truth.clone()), &rs)
    };
    let m = score_of(lk);
    println!(
        "as linked: P {:.3} R {:.3} F1 {:.3} IDF1 {:.3}",
        m.voyage_precision, m.voyage_recall, m.voyage_f1, m.idf1
    );
    let m = score_of(&oracle);
    println!(
        "oracle stage 2: P {:.3} R {:.3} F1 {:.3} IDF1 {:.3}",
        m.voyage_precision, m.voyage_recall, m.voyage_f1, m.idf1
    );
    Ok(())
}
