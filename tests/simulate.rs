//! `shiplink simulate` and `shiplink evaluate`: determinism, the observation contract,
//! truth consistency, the committed fixture, and scoring a perfect result.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use shiplink::simulate::{write_scenario, SimParams};

const SENSORS: [&str; 6] = [
    "sentinel-1",
    "sentinel-2",
    "planetscope",
    "skysat",
    "worldview",
    "maxar",
];
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

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn params(seed: u64, days: u32) -> SimParams {
    SimParams {
        seed,
        days,
        scale: 1.0,
        overwrite: false,
        easier: Default::default(),
    }
}

/// Every file under `dir` (relative path -> bytes), README.md excluded.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "README.md") {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn same_seed_same_bytes_other_seed_other_scenario() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    write_scenario(&a.path().join("s"), &params(3, 12)).unwrap();
    write_scenario(&b.path().join("s"), &params(3, 12)).unwrap();
    write_scenario(&c.path().join("s"), &params(4, 12)).unwrap();
    let (ta, tb, tc) = (
        tree(&a.path().join("s")),
        tree(&b.path().join("s")),
        tree(&c.path().join("s")),
    );
    assert!(ta.len() > 10);
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(
            tb[k] == *v,
            "{k} differs between two runs with the same seed"
        );
    }
    assert_ne!(ta.get("truth.json"), tc.get("truth.json"));
}

#[test]
fn easier_scenarios_leave_out_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, easier: &str| {
        let mut p = params(5, 20);
        p.easier = shiplink::simulate::Easier::parse(easier).unwrap();
        write_scenario(&dir.path().join(name), &p).unwrap();
        read_json(&dir.path().join(name).join("truth.json"))
    };
    let full = run("full", "");
    let easy = run("easy", "false-positives,twins,locals");
    let fps = |t: &Value| t["counts"]["false_positives"].as_u64().unwrap();
    assert!(fps(&full) > 0);
    assert_eq!(fps(&easy), 0);
    let vessels = |t: &Value| t["vessels"].as_array().unwrap().len();
    assert_eq!(vessels(&easy), 5, "four shuttles and the freighter");
    assert!(vessels(&full) > 5);
    let colour = |t: &Value, id: &str| {
        t["vessels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["vessel_id"] == id)
            .map(|v| v["hull_color"].clone())
    };
    assert_eq!(colour(&full, "shuttle-0003"), colour(&full, "shuttle-0002"));
    assert_ne!(colour(&easy, "shuttle-0003"), colour(&easy, "shuttle-0002"));
    assert!(shiplink::simulate::Easier::parse("sunshine").is_err());
}

#[test]
fn committed_fixture_is_what_the_simulator_makes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nd");
    write_scenario(&out, &params(7, 45)).unwrap();
    let fresh = tree(&out);
    let committed = tree(&fixture("najin-dunay"));
    let only_fresh: Vec<&String> = fresh
        .keys()
        .filter(|k| !committed.contains_key(*k))
        .collect();
    let only_committed: Vec<&String> = committed
        .keys()
        .filter(|k| !fresh.contains_key(*k))
        .collect();
    assert!(
        only_fresh.is_empty() && only_committed.is_empty(),
        "fixture out of date (regenerate: shiplink simulate --out fixtures/najin-dunay --seed 7 --days 45 --overwrite): new {only_fresh:?}, stale {only_committed:?}"
    );
    for (k, v) in &fresh {
        assert!(
            committed[k] == *v,
            "fixtures/najin-dunay/{k} differs from the simulator's output; regenerate it (see fixtures/najin-dunay/README.md)"
        );
    }
}

/// Checks the observation contract of `shiplink match` on the committed fixture and the
/// consistency of its truth.
#[test]
fn fixture_follows_the_contract_and_truth_is_consistent() {
    let dir = fixture("najin-dunay");
    let scenes = read_json(&dir.join("scenes.geojson"));
    let mut scene_of: BTreeMap<String, (String, String, f64)> = BTreeMap::new();
    for f in scenes["features"].as_array().unwrap() {
        let p = &f["properties"];
        let id = p["scene_id"].as_str().unwrap().to_string();
        assert_eq!(f["id"].as_str(), Some(id.as_str()));
        assert!(matches!(
            f["geometry"]["type"].as_str(),
            Some("Polygon" | "MultiPolygon")
        ));
        let cf = p["cloud_fraction"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&cf));
        let prev = scene_of.insert(
            id.clone(),
            (
                p["observed_at"].as_str().unwrap().to_string(),
                p["sensor"].as_str().unwrap().to_string(),
                cf,
            ),
        );
        assert!(prev.is_none(), "scene {id} listed twice");
    }
    let truth = read_json(&dir.join("truth.json"));
    let vessels: BTreeMap<&str, &Value> = truth["vessels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["vessel_id"].as_str().unwrap(), v))
        .collect();
    let obs_truth = truth["observations"].as_object().unwrap();

    let mut seen_ids = BTreeSet::new();
    let mut files = 0;
    for e in std::fs::read_dir(dir.join("observations")).unwrap() {
        let path = e.unwrap().path();
        files += 1;
        let fc = read_json(&path);
        assert_eq!(fc["type"], "FeatureCollection");
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for f in fc["features"].as_array().unwrap() {
            let id = f["id"].as_str().expect("string id").to_string();
            assert!(seen_ids.insert(id.clone()), "{id} twice");
            let g = &f["geometry"];
            let coords: Vec<Value> = match g["type"].as_str().unwrap() {
                "Point" => vec![g["coordinates"].clone()],
                "Polygon" => {
                    let ring = g["coordinates"][0].as_array().unwrap().clone();
                    assert_eq!(ring.len(), 5);
                    assert_eq!(ring[0], ring[4], "closed ring");
                    ring
                }
                other => panic!("{id}: geometry {other}"),
            };
            for c in coords {
                let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
                assert!(
                    (129.5..134.0).contains(&x) && (41.5..43.6).contains(&y),
                    "{id} at {x},{y}"
                );
            }
            let p = f["properties"].as_object().unwrap();
            let at = p["observed_at"].as_str().unwrap();
            assert!(
                at.ends_with('Z') && shiplink::model::parse_time(at).is_ok(),
                "{at}"
            );
            let sensor = p["sensor"].as_str().unwrap();
            assert!(SENSORS.contains(&sensor));
            let scene = p["scene_id"].as_str().unwrap();
            let (s_at, s_sensor, _) = scene_of
                .get(scene)
                .unwrap_or_else(|| panic!("{id}: unknown scene {scene}"));
            assert_eq!((s_at.as_str(), s_sensor.as_str()), (at, sensor));
            assert!(
                name.contains(scene) && name.contains(sensor),
                "{name} vs {scene}"
            );
            let conf = p["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&conf));
            assert!(p["length_m"].as_f64().unwrap() > 0.0);
            assert!(p["beam_m"].as_f64().unwrap() > 0.0);
            let h = p["heading_deg"].as_f64().unwrap();
            assert!((0.0..=360.0).contains(&h));
            assert!(CLASSES.contains(&p["vessel_class"].as_str().unwrap()));
            if sensor == "sentinel-1" {
                assert!(!p.contains_key("hull_color"), "SAR sees no colour");
                assert_eq!(g["type"], "Point");
            }
            if p.contains_key("containers") {
                assert!(sensor == "skysat" || sensor == "worldview", "{id}");
                assert!(p["containers"].as_u64().is_some());
            }
            // Identity evidence is rare and never wrong.
            let tv = obs_truth
                .get(&id)
                .unwrap_or_else(|| panic!("{id} not in truth"));
            if let Some(n) = p.get("name") {
                let v = vessels[tv.as_str().expect("evidence only on true vessels")];
                assert_eq!(v["name"], *n);
                assert_eq!(v["role"], "local");
                if let Some(m) = p.get("mmsi") {
                    assert_eq!(v["mmsi"], *m);
                }
                if let Some(i) = p.get("imo") {
                    assert_eq!(v["imo"], *i);
                }
            }
        }
    }
    assert_eq!(files, scene_of.len(), "one observation file per scene");
    let truth_ids: BTreeSet<String> = obs_truth.keys().cloned().collect();
    assert_eq!(truth_ids, seen_ids, "truth lists exactly the detections");
    let fps = obs_truth.values().filter(|v| v.is_null()).count();
    assert_eq!(
        truth["counts"]["false_positives"].as_u64(),
        Some(fps as u64)
    );
    assert!((400..1500).contains(&seen_ids.len()), "{}", seen_ids.len());

    // Every detection is in at most one stay, voyage via list or absence, of its own vessel.
    let mut placed: BTreeMap<String, String> = BTreeMap::new();
    let mut place = |ids: &Value, vessel: &str, what: &str| {
        for o in ids.as_array().unwrap() {
            let o = o.as_str().unwrap();
            assert_eq!(obs_truth[o].as_str(), Some(vessel), "{what}: {o}");
            if let Some(prev) = placed.insert(o.to_string(), what.to_string()) {
                panic!("{o} in {prev} and {what}");
            }
        }
    };
    let mut stay_obs: BTreeMap<&str, &Value> = BTreeMap::new();
    for s in truth["stays"].as_array().unwrap() {
        let v = s["vessel_id"].as_str().unwrap();
        place(&s["observation_ids"], v, s["stay_id"].as_str().unwrap());
        stay_obs.insert(s["stay_id"].as_str().unwrap(), &s["observation_ids"]);
    }
    let voyages = truth["voyages"].as_array().unwrap();
    for v in voyages {
        let vid = v["vessel_id"].as_str().unwrap();
        place(
            &v["via_observation_ids"],
            vid,
            v["voyage_id"].as_str().unwrap(),
        );
        assert_eq!(
            v["origin_observation_ids"],
            *stay_obs[v["origin_stay_id"].as_str().unwrap()]
        );
        assert_eq!(
            v["destination_observation_ids"],
            *stay_obs[v["destination_stay_id"].as_str().unwrap()]
        );
        assert_eq!(vessels[vid]["role"], "shuttle");
        assert_ne!(v["from_port"], v["to_port"]);
        let both = !v["origin_observation_ids"].as_array().unwrap().is_empty()
            && !v["destination_observation_ids"]
                .as_array()
                .unwrap()
                .is_empty();
        assert_eq!(v["observed_both_ends"].as_bool(), Some(both));
    }
    for a in truth["absences"].as_array().unwrap() {
        place(
            &a["observation_ids"],
            a["vessel_id"].as_str().unwrap(),
            "absence",
        );
    }
    let true_dets = obs_truth.values().filter(|v| !v.is_null()).count();
    assert_eq!(placed.len(), true_dets, "every true detection is placed");
    // The hard parts are there.
    assert!(voyages.iter().any(|v| v["to_port"] == "vostochny"));
    assert!(truth["absences"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["reason"] == "repair"));
    assert!(voyages
        .iter()
        .any(|v| !v["via_observation_ids"].as_array().unwrap().is_empty()));
}

fn shiplink(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shiplink"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn refuses_a_non_empty_folder_without_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "x").unwrap();
    let o = out.to_str().unwrap();
    let r = shiplink(&["simulate", "--out", o, "--days", "3"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--overwrite"));
    let r = shiplink(&["simulate", "--out", o, "--days", "3", "--overwrite"]);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(out.join("truth.json").is_file() && out.join("keep.txt").is_file());
    let r = shiplink(&["simulate", "--out", o, "--days", "0", "--overwrite"]);
    assert_eq!(r.status.code(), Some(2));
}

/// A result folder that is exactly the truth: stays and voyages with the true vessel ids.
fn write_perfect_result(truth: &Value, dir: &Path) {
    let stays: Vec<Value> = truth["stays"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["observation_ids"].as_array().unwrap().is_empty())
        .map(|s| {
            json!({"type": "Feature", "geometry": null, "properties": {
                "stay_id": s["stay_id"], "vessel_id": s["vessel_id"], "port": s["port"],
                "observation_ids": s["observation_ids"]}})
        })
        .collect();
    let voyages: Vec<Value> = truth["voyages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["observed_both_ends"] == true)
        .map(|v| {
            json!({"type": "Feature", "geometry": null, "properties": {
                "voyage_id": v["voyage_id"], "vessel_id": v["vessel_id"],
                "from_port": v["from_port"], "to_port": v["to_port"], "confidence": 0.9,
                "origin_observation_ids": v["origin_observation_ids"],
                "destination_observation_ids": v["destination_observation_ids"],
                "via_observation_ids": v["via_observation_ids"],
                "containers_departing": v["containers_departing"],
                "containers_arriving": v["containers_arriving"]}})
        })
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    for (name, feats) in [("stays.geojson", stays), ("voyages.geojson", voyages)] {
        let fc = json!({"type": "FeatureCollection", "features": feats});
        std::fs::write(dir.join(name), serde_json::to_string(&fc).unwrap()).unwrap();
    }
}

/// `shiplink evaluate --truth TRUTH --result RESULT EXTRA...`.
fn evaluate(truth: &Path, result: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "evaluate",
        "--truth",
        truth.to_str().unwrap(),
        "--result",
        result.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    shiplink(&args)
}

#[test]
fn evaluate_scores_a_perfect_result_as_perfect() {
    let truth_path = fixture("najin-dunay").join("truth.json");
    let truth = read_json(&truth_path);
    let dir = tempfile::tempdir().unwrap();
    write_perfect_result(&truth, dir.path());
    let m = shiplink::evaluate::evaluate_paths(&truth_path, dir.path()).unwrap();
    assert_eq!(m.voyage_precision, 1.0);
    assert_eq!(m.voyage_recall, 1.0);
    assert!(m.truth_voyages_observed > 20);
    // Only the few detections on trips out of the area are left as singletons.
    assert!(m.idf1 > 0.97, "{}", m.idf1);

    let r = evaluate(&truth_path, dir.path(), &["--json"]);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let j: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["voyage_f1"], 1.0);
    let r = evaluate(&truth_path, dir.path(), &[]);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains("najin -> dunay") && text.contains("calibration"),
        "{text}"
    );

    let r = evaluate(&truth_path, Path::new("/nonexistent/result"), &[]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("result folder not found"));

    // A missing truth file: one error line naming it, its cause not printed twice.
    let missing = dir.path().join("no-truth.json");
    let r = evaluate(&missing, dir.path(), &[]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("no-truth.json: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn long_scenarios_start_earlier_and_never_reach_the_future() {
    use shiplink::simulate::{start_for, LATEST_END, START};
    // Up to two years: unchanged (every committed fixture and measured seed).
    assert_eq!(start_for(60), START);
    assert_eq!(start_for(730), START);
    // Longer: they end by LATEST_END, which is in the past, so `match` (which rejects
    // detections dated after its clock) keeps every detection.
    assert_eq!(start_for(3650) + 3650 * 86_400, LATEST_END);
    assert!(LATEST_END < chrono::Utc::now().timestamp());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    write_scenario(&out, &params(3, 731)).unwrap();
    let truth = read_json(&out.join("truth.json"));
    assert_eq!(truth["params"]["start"], "2024-02-29T00:00:00Z");
    let mut latest = String::new();
    for e in std::fs::read_dir(out.join("observations")).unwrap() {
        let doc = read_json(&e.unwrap().path());
        for f in doc["features"].as_array().unwrap() {
            let t = f["properties"]["observed_at"].as_str().unwrap().to_string();
            latest = latest.max(t);
        }
    }
    assert!(
        !latest.is_empty() && latest.as_str() < "2026-03-01T00:00:00Z",
        "{latest}"
    );
}
