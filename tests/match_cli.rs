//! `shiplink match` end to end: the real binary in a temporary folder (issue 2 contract).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shiplink(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shiplink"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run shiplink")
}

fn feature(id: &str, lon: f64, lat: f64, t: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"Feature","id":"{id}","geometry":{{"type":"Point","coordinates":[{lon},{lat}]}},"properties":{{"observed_at":"{t}"{extra}}}}}"#
    )
}

/// One shuttle Najin -> Dunay seen twice at each end, a bad feature, a lone detection.
fn shuttle_file(dir: &Path, with_bad: bool) -> PathBuf {
    let ship = r#","sensor":"planetscope","length_m":131,"beam_m":20,"hull_color":"red""#;
    let mut f = vec![
        feature("n1", 130.300, 42.236, "2024-03-01T02:00:00Z", ship),
        feature("n2", 130.3002, 42.2361, "2024-03-02T02:00:00Z", ship),
        feature("d1", 132.3545, 42.9045, "2024-03-03T02:00:00Z", ship),
        feature("d2", 132.3546, 42.9046, "2024-03-04T02:00:00Z", ship),
        feature(
            "lone",
            131.5,
            42.0,
            "2024-03-02T05:00:00Z",
            r#","sensor":"sentinel-1","length_m":60"#,
        ),
    ];
    if with_bad {
        f.push(feature("bad", 130.3, 42.236, "2024-03-04T02:00:00", ""));
    }
    let path = dir.join("obs.geojson");
    std::fs::write(
        &path,
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            f.join(",\n")
        ),
    )
    .unwrap();
    path
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn clean_input_exits_0_and_writes_every_layer() {
    let dir = tempfile::tempdir().unwrap();
    shuttle_file(dir.path(), false);
    let out = shiplink(&["match", "obs.geojson", "--out", "out", "-q"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "voyages.geojson",
        "stays.geojson",
        "tracks.geojson",
        "unmatched.geojson",
        "rejected.geojson",
        "summary.csv",
        "summary.json",
        "run.json",
        "shiplink.qgs",
        "voyages.qml",
    ] {
        assert!(dir.path().join("out").join(f).is_file(), "{f} missing");
    }
    let v = read_json(&dir.path().join("out/voyages.geojson"));
    let feats = v["features"].as_array().unwrap();
    assert_eq!(feats.len(), 1);
    let p = &feats[0]["properties"];
    assert_eq!(p["from_port"], "najin");
    assert_eq!(p["to_port"], "dunay");
    assert_eq!(p["departed_after"], "2024-03-02T02:00:00Z");
    assert_eq!(p["arrived_before"], "2024-03-03T02:00:00Z");
    assert_eq!(p["origin_observation_ids"], serde_json::json!(["n1", "n2"]));
    assert_eq!(
        p["destination_observation_ids"],
        serde_json::json!(["d1", "d2"])
    );
    let c = p["confidence"].as_f64().unwrap();
    assert!(c > 0.0 && c <= 1.0);
    let u = read_json(&dir.path().join("out/unmatched.geojson"));
    assert_eq!(u["features"][0]["id"], "lone");
}

#[test]
fn rejected_input_exits_1_and_every_observation_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    shuttle_file(dir.path(), true);
    let out = shiplink(&["match", "obs.geojson", "--out", "out", "-q"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = read_json(&dir.path().join("out/run.json"));
    let c = &run["counts"];
    let n = |k: &str| c[k].as_u64().unwrap();
    assert_eq!(n("read"), 6);
    assert_eq!(n("rejected"), 1);
    assert_eq!(
        n("in_stays") + n("in_via") + n("unmatched") + n("rejected"),
        n("read")
    );
    let r = read_json(&dir.path().join("out/rejected.geojson"));
    let p = &r["features"][0]["properties"];
    assert_eq!(p["feature_id"], "bad");
    assert_eq!(p["feature_index"], 5);
    assert!(p["reject_reason"].as_str().unwrap().contains("offset"));
    assert_eq!(run["outputs"]["rejected"], 1);
}

#[test]
fn existing_output_needs_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    shuttle_file(dir.path(), false);
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/keep.txt"), "mine").unwrap();
    let out = shiplink(&["match", "obs.geojson", "--out", "out"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--overwrite"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/keep.txt")).unwrap(),
        "mine"
    );
    let out = shiplink(
        &["match", "obs.geojson", "--out", "out", "--overwrite", "-q"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.path().join("out/voyages.geojson").is_file());
}

#[test]
fn fatal_errors_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = shiplink(&["match", "missing.geojson", "--out", "out"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.geojson"));
    assert!(
        !dir.path().join("out").exists(),
        "no output on a fatal error"
    );
    let out = shiplink(&["match", "--out", "out"], dir.path());
    assert_eq!(out.status.code(), Some(2), "no inputs is a usage error");
    shuttle_file(dir.path(), false);
    std::fs::write(dir.path().join("bad.toml"), "[linking]\nmax_sped_kn = 3\n").unwrap();
    let out = shiplink(
        &[
            "match",
            "obs.geojson",
            "--out",
            "out",
            "--config",
            "bad.toml",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
}

#[test]
fn same_input_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    shuttle_file(dir.path(), true);
    for o in ["a", "b"] {
        shiplink(&["match", "obs.geojson", "--out", o, "-q"], dir.path());
    }
    for f in [
        "voyages.geojson",
        "stays.geojson",
        "tracks.geojson",
        "unmatched.geojson",
        "rejected.geojson",
        "summary.csv",
        "summary.json",
        "shiplink.qgs",
    ] {
        let a = std::fs::read(dir.path().join("a").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("b").join(f)).unwrap();
        assert!(a == b, "{f} differs between runs");
    }
}

#[test]
fn ports_prints_the_builtin_zones() {
    let dir = tempfile::tempdir().unwrap();
    let out = shiplink(&["ports"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["port_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dunay", "najin", "vladivostok", "vostochny"]);
}

#[test]
fn verbose_prints_each_stage_with_its_counts_and_quiet_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    shuttle_file(dir.path(), false);
    let out = shiplink(&["match", "obs.geojson", "--out", "v", "-v"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    for line in [
        "ingest:",
        "1 files, 0.0 MB",
        "5 detections kept, 0 rejected",
        "index:",
        "4 of 5 detections in 4 port zones",
        "linking: stays:",
        "2 stays, 1 detections at sea",
        "linking: track candidates:",
        "linking: track refinement:",
        "linking: track refinement: rounds:",
        "linking: track refinement: swaps:",
        "linking: track refinement: identity:",
        "routing:",
        "1 voyages, 1 tracks",
        "total:",
    ] {
        assert!(err.contains(line), "{line:?} missing from:\n{err}");
    }
    let out = shiplink(&["match", "obs.geojson", "--out", "q", "-q"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_voyage_says_why_its_ends_are_one_vessel() {
    let dir = tempfile::tempdir().unwrap();
    shuttle_file(dir.path(), false);
    let out = shiplink(&["match", "obs.geojson", "--out", "out", "-q"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let v = read_json(&dir.path().join("out/voyages.geojson"));
    let p = &v["features"][0]["properties"];
    // n2 (2024-03-02T02:00Z) to d1 (2024-03-03T02:00Z).
    assert_eq!(p["gap_hours"].as_f64(), Some(24.0));
    let evidence = p["evidence"].as_str().unwrap();
    for part in [
        "origin 2 sightings: red, 131±4 m, beam 20±2 m",
        "destination 2 sightings: red, 131±4 m, beam 20±2 m",
        "length +",
        "colour +",
        "24.0 h between sightings",
    ] {
        assert!(evidence.contains(part), "{part:?} not in {evidence:?}");
    }
    // The listed terms add up to attribute_llr; equal red 131 m ends are strong evidence.
    let listed: f64 = evidence
        .split("Attributes: ")
        .nth(1)
        .and_then(|r| r.split(" = ").next())
        .unwrap()
        .split(", ")
        .map(|t| t.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    let total = p["attribute_llr"].as_f64().unwrap();
    assert!((listed - total).abs() < 0.2, "{listed} vs {total}");
    assert!(total > 3.0, "{total}");
    assert!(p["link_llr"].as_f64().unwrap() > 0.0);

    // The links layer: the track's links, the voyage's own one named with its voyage, with
    // the same weight (a one-link voyage), in its own words. Its confidence is the link's
    // probability alone; the voyage's also weighs what its ends and its track show.
    let links = read_json(&dir.path().join("out/links.geojson"));
    let tracks = read_json(&dir.path().join("out/tracks.geojson"));
    let stay_count = tracks["features"][0]["properties"]["stay_count"]
        .as_u64()
        .unwrap();
    let feats = links["features"].as_array().unwrap();
    assert_eq!(feats.len() as u64, stay_count - 1);
    let voyage_id = p["voyage_id"].as_str().unwrap();
    let own: Vec<_> = feats
        .iter()
        .map(|f| &f["properties"])
        .filter(|l| l["voyage_id"].as_str() == Some(voyage_id))
        .collect();
    assert_eq!(own.len(), 1);
    let l = own[0];
    assert_eq!(l["kind"], "passage");
    assert_eq!(l["from_id"], p["origin_stay_id"]);
    assert_eq!(l["to_id"], p["destination_stay_id"]);
    assert_eq!(l["from_port"], "najin");
    assert_eq!(l["to_port"], "dunay");
    for c in [&l["confidence"], &p["confidence"]] {
        let c = c.as_f64().unwrap();
        assert!(c > 0.0 && c < 1.0, "{c}");
    }
    assert_eq!(l["link_llr"], p["link_llr"]);
    assert_eq!(l["attribute_llr"], p["attribute_llr"]);
    assert_eq!(l["gap_hours"].as_f64(), Some(24.0));
    assert!(l["evidence"]
        .as_str()
        .unwrap()
        .starts_with("from 2 sightings: red"));
}
