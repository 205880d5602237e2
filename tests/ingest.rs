//! Ingest against a catalogue of bad input (project issue 6), generated extremes (deep nesting,
//! a 200 MB line), a property test on counts, `shiplink query` through the real binary, and an
//! ignored throughput measurement.

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use serde::Deserialize;
use shiplink::config::IngestParams;
use shiplink::ingest::{ingest, read_scenes, Ingested};

/// Reference time for all cases: 2024-06-01T00:00:00Z.
const NOW: i64 = 1_717_200_000;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

/// What a catalogue case expects (`tests/bad_input/<case>/expect.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    accepted: usize,
    rejected: usize,
    /// Each must occur in some rejection reason.
    #[serde(default)]
    reasons: Vec<String>,
    /// The case is a scenes file, read with `read_scenes`.
    #[serde(default)]
    scenes: bool,
}

fn counts_add_up(ing: &Ingested) {
    for f in &ing.files {
        assert_eq!(f.features, f.accepted + f.rejected, "{f:?}");
        let rej = ing
            .rejected
            .iter()
            .filter(|r| *r.source_file == f.path)
            .count();
        assert_eq!(rej, f.rejected, "{f:?}");
    }
    let acc: usize = ing.files.iter().map(|f| f.accepted).sum();
    assert_eq!(acc, ing.observations.len());
    let mut ids: Vec<&str> = ing.observations.iter().map(|o| o.id.as_str()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(n, ids.len(), "ids are unique");
    assert!(ing
        .observations
        .windows(2)
        .all(|w| (w[0].observed_at, &w[0].id) < (w[1].observed_at, &w[1].id)));
}

/// Runs one case; returns (accepted, rejection reasons).
fn run_case(dir: &Path, scenes: bool) -> (usize, Vec<String>) {
    if scenes {
        let (s, r) = read_scenes(&dir.join("scenes.geojson")).expect("scenes file readable");
        return (s.len(), r.into_iter().map(|r| r.reason).collect());
    }
    let ing = ingest(&[dir.to_path_buf()], &IngestParams::default(), NOW).expect("ingest");
    counts_add_up(&ing);
    for r in &ing.rejected {
        assert!(!r.reason.is_empty());
        assert!(r.source_file.contains(&*dir.to_string_lossy()));
    }
    (
        ing.observations.len(),
        ing.rejected.into_iter().map(|r| r.reason).collect(),
    )
}

#[test]
fn bad_input_catalogue() {
    let root = fixture("bad_input");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "issue 6 asks for at least 40 cases");
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(dir.join("expect.toml"))
            .unwrap_or_else(|e| panic!("{name}: expect.toml: {e}"));
        let want: Expect = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (accepted, reasons) = run_case(dir, want.scenes);
        if accepted != want.accepted || reasons.len() != want.rejected {
            failures.push(format!(
                "{name}: accepted {accepted} (want {}), rejected {} (want {}): {reasons:?}",
                want.accepted,
                reasons.len(),
                want.rejected
            ));
            continue;
        }
        for w in &want.reasons {
            if !reasons.iter().any(|r| r.contains(w.as_str())) {
                failures.push(format!("{name}: no reason contains {w:?}: {reasons:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn write(dir: &Path, name: &str, body: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn point_feature(id: &str, extra_props: &str) -> String {
    format!(
        r#"{{"type":"Feature","id":"{id}","geometry":{{"type":"Point","coordinates":[130.3,42.24]}},"properties":{{"observed_at":"2024-03-01T12:00:00Z"{extra_props}}}}}"#
    )
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let d = tempfile::tempdir().unwrap();
    let depth = 100_000;
    let nest = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    write(d.path(), "a_top.geojson", nest.as_bytes());
    let fc = format!(
        r#"{{"type":"FeatureCollection","features":[{},{nest}]}}"#,
        point_feature("ok1", "")
    );
    write(d.path(), "b_feature.geojson", fc.as_bytes());
    let deep_prop = point_feature("deep", &format!(r#","blob":{nest}"#));
    let seq = format!("{}\n{deep_prop}\n", point_feature("ok2", ""));
    write(d.path(), "c_prop.geojsonl", seq.as_bytes());
    let deep_geom = format!(
        r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":{nest}}},"properties":{{}}}}"#
    );
    write(d.path(), "d_geom.ndjson", deep_geom.as_bytes());
    let ing = ingest(&[d.path().to_path_buf()], &IngestParams::default(), NOW).unwrap();
    counts_add_up(&ing);
    let ids: Vec<&str> = ing.observations.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["ok1", "ok2"]);
    let reasons: Vec<(&str, &str)> = ing
        .rejected
        .iter()
        .map(|r| {
            let f = r.source_file.rsplit('/').next().unwrap();
            (f, r.reason.as_str())
        })
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].1.contains("JSON array"), "{reasons:?}");
    assert!(reasons[2].1.contains("nested too deeply"), "{reasons:?}");
}

/// A single 200 MB line in a GeoJSONSeq file (a feature with a huge string property), next to
/// an ordinary one. Slow in debug builds, hence ignored there; run with
/// `cargo test --release --test ingest -- --ignored huge_line`.
#[test]
#[cfg_attr(debug_assertions, ignore)]
fn huge_line_200_mb() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.geojsonl");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        writeln!(f, "{}", point_feature("small", "")).unwrap();
        let head = r#"{"type":"Feature","id":"big","geometry":{"type":"Point","coordinates":[130.3,42.24]},"properties":{"observed_at":"2024-03-01T12:00:00Z","note":""#;
        f.write_all(head.as_bytes()).unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..200 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\"}}\n").unwrap();
    }
    let ing = ingest(&[p], &IngestParams::default(), NOW).unwrap();
    assert!(ing.rejected.is_empty(), "{:?}", ing.rejected[0].reason);
    assert_eq!(ing.observations.len(), 2);
    let big = ing.observations.iter().find(|o| o.id == "big").unwrap();
    assert_eq!(big.extra[0].1.len(), 200 * (1 << 20) + 2);
}

/// Feature templates: good ones and ones each check must reject.
const GOOD: &[&str] = &[
    r#""geometry":{"type":"Point","coordinates":[130.3,42.24]},"properties":{"observed_at":"2024-03-01T12:00:00Z"}"#,
    r#""geometry":{"type":"Point","coordinates":[130.3,42.24,3]},"properties":{"observed_at":"2024-03-01T21:00:00+09:00","length_m":120,"beam_m":20,"sensor":"s1","x":[1]}"#,
    r#""geometry":{"type":"Polygon","coordinates":[[[130.3,42.24],[130.3005,42.24],[130.3005,42.2403],[130.3,42.2403],[130.3,42.24]]]},"properties":{"observed_at":"2024-03-01T12:00:00Z","containers":4}"#,
];
const BAD: &[&str] = &[
    r#""geometry":null,"properties":{"observed_at":"2024-03-01T12:00:00Z"}"#,
    r#""geometry":{"type":"Point","coordinates":[200,42]},"properties":{"observed_at":"2024-03-01T12:00:00Z"}"#,
    r#""geometry":{"type":"Point","coordinates":[130,42]},"properties":{"observed_at":"2024-03-01T12:00:00"}"#,
    r#""geometry":{"type":"Point","coordinates":[130,42]},"properties":{"observed_at":"2024-03-01T12:00:00Z","length_m":"x"}"#,
    r#""geometry":{"type":"Point","coordinates":[1e999,42]},"properties":{"observed_at":"2024-03-01T12:00:00Z"}"#,
    r#""geometry":{"type":"Point","coordinates":[130,42]},"properties":{"observed_at":"2024-03-01T12:00:00Z","containers":-3}"#,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
    #[test]
    fn every_feature_is_accepted_or_rejected(
        files in proptest::collection::vec(
            (proptest::collection::vec((any::<bool>(), 0usize..6, any::<bool>()), 0..12), any::<bool>()),
            1..4,
        )
    ) {
        let d = tempfile::tempdir().unwrap();
        let mut want_good = 0;
        for (n, (feats, as_seq)) in files.iter().enumerate() {
            let mut texts = Vec::new();
            for (k, &(good, t, with_id)) in feats.iter().enumerate() {
                let body = if good { GOOD[t % GOOD.len()] } else { BAD[t % BAD.len()] };
                let id = if with_id { format!(r#""id":"f{n}-{k}","#) } else { String::new() };
                texts.push(format!(r#"{{"type":"Feature",{id}{body}}}"#));
                want_good += usize::from(good);
            }
            let (name, body) = if *as_seq {
                (format!("f{n}.geojsonl"), texts.iter().map(|t| format!("{t}\n")).collect::<String>())
            } else {
                (format!("f{n}.geojson"), format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, texts.join(",")))
            };
            // An empty sequence file is an (empty-file) rejection; keep the counts simple.
            let body = if body.is_empty() { r#"{"type":"FeatureCollection","features":[]}"#.to_string() } else { body };
            let name = if feats.is_empty() { format!("f{n}.geojson") } else { name };
            write(d.path(), &name, body.as_bytes());
        }
        let ing = ingest(&[d.path().to_path_buf()], &IngestParams::default(), NOW).unwrap();
        counts_add_up(&ing);
        prop_assert_eq!(ing.files.len(), files.len());
        for (f, (feats, _)) in ing.files.iter().zip(files.iter()) {
            prop_assert_eq!(f.features, feats.len());
            let good = feats.iter().filter(|x| x.0).count();
            prop_assert_eq!(f.accepted, good);
        }
        prop_assert_eq!(ing.observations.len(), want_good);
    }
}

fn shiplink(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shiplink"))
        .args(args)
        .output()
        .expect("run shiplink");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ids_of(geojson: &str) -> Vec<String> {
    let fc: geojson::FeatureCollection = geojson
        .parse::<geojson::GeoJson>()
        .unwrap()
        .try_into()
        .unwrap();
    fc.features
        .iter()
        .map(|f| match &f.id {
            Some(geojson::feature::Id::String(s)) => s.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn query_command_filters_and_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    let feats = [
        ("najin-1", 130.30, 42.236, "2024-03-01T02:00:00Z"),
        ("najin-2", 130.301, 42.237, "2024-03-05T02:00:00Z"),
        ("dunay-1", 132.354, 42.904, "2024-03-03T02:00:00Z"),
    ];
    let fc: Vec<String> = feats
        .iter()
        .map(|(id, x, y, t)| {
            format!(
                r#"{{"type":"Feature","id":"{id}","geometry":{{"type":"Point","coordinates":[{x},{y}]}},"properties":{{"observed_at":"{t}","length_m":110,"note":"n"}}}}"#
            )
        })
        .collect();
    let p = write(
        d.path(),
        "obs.geojson",
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            fc.join(",")
        )
        .as_bytes(),
    );
    let ps = p.to_string_lossy().into_owned();

    let (code, out, err) = shiplink(&["query", &ps, "--near", "130.30,42.236", "--within-km", "1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(ids_of(&out), ["najin-1", "najin-2"]);
    assert!(out.contains(r#""observed_at":"2024-03-01T02:00:00Z""#));
    assert!(out.contains(r#""note":"n""#));

    let (code, out, _) = shiplink(&["query", &ps, "--bbox", "132,42,133,43"]);
    assert_eq!((code, ids_of(&out)), (0, vec!["dunay-1".to_string()]));

    let (code, out, _) = shiplink(&[
        "query",
        &ps,
        "--since",
        "2024-03-02T00:00:00Z",
        "--until",
        "2024-03-04T00:00:00+00:00",
    ]);
    assert_eq!((code, ids_of(&out)), (0, vec!["dunay-1".to_string()]));

    // A rejected feature: a warning on stderr and exit 1, the rest still printed.
    write(
        d.path(),
        "bad.geojsonl",
        point_feature("bad", r#","length_m":0"#).as_bytes(),
    );
    let (code, out, err) = shiplink(&["query", &d.path().to_string_lossy()]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(ids_of(&out).len(), 3);
    assert!(
        err.contains("bad.geojsonl: feature 0 (id bad): length_m 0 must be > 0"),
        "{err}"
    );

    // Fatal: bad flags, a missing path, no usable input.
    assert_eq!(shiplink(&["query", &ps, "--bbox", "1,2,3"]).0, 2);
    assert_eq!(shiplink(&["query", &ps, "--near", "130,42"]).0, 2);
    assert_eq!(shiplink(&["query", "/no/such/file.geojson"]).0, 2);
    let junk = write(d.path(), "junk.txt", b"hello");
    let (code, _, err) = shiplink(&["query", &junk.to_string_lossy()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no usable input"), "{err}");
    assert!(
        err.contains("junk.txt: "),
        "the file and its problem: {err}"
    );
    // With several unusable files, each is named with its problem.
    let empty = write(d.path(), "empty.geojsonl", b"");
    let (code, _, err) = shiplink(&["query", &junk.to_string_lossy(), &empty.to_string_lossy()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("none of 2 input files could be used")
            && err.contains("junk.txt: ")
            && err.contains("empty.geojsonl: "),
        "{err}"
    );
}

/// Throughput of `ingest` on a generated ~250 MB FeatureCollection plus the same features as a
/// GeoJSONSeq. Run: `cargo test --release --test ingest -- --ignored throughput --nocapture`.
#[test]
#[ignore]
fn throughput() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let n = 1_000_000;
    let feature = |i: usize| {
        format!(
            r#"{{"type":"Feature","id":"obs-{i:07}","geometry":{{"type":"Point","coordinates":[{:.6},{:.6}]}},"properties":{{"observed_at":"2024-03-{:02}T{:02}:{:02}:00Z","sensor":"Sentinel-2","scene_id":"S2A_{}","confidence":0.87,"length_m":{:.1},"beam_m":{:.1},"heading_deg":{:.1},"vessel_class":"cargo","hull_color":"red","containers":{},"source":"detector-v3"}}}}"#,
            130.0 + (i % 1000) as f64 * 0.002,
            42.0 + (i / 1000) as f64 * 0.0009,
            1 + i % 28,
            i % 24,
            i % 60,
            i % 97,
            60.0 + (i % 200) as f64,
            10.0 + (i % 20) as f64,
            (i % 3600) as f64 / 10.0,
            i % 400
        )
    };
    let fc_path = d.path().join("big.geojson");
    let seq_path = d.path().join("big.geojsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&fc_path).unwrap());
        let mut s = std::io::BufWriter::new(std::fs::File::create(&seq_path).unwrap());
        f.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")
            .unwrap();
        for i in 0..n {
            let t = feature(i);
            if i > 0 {
                f.write_all(b",\n").unwrap();
            }
            f.write_all(t.as_bytes()).unwrap();
            s.write_all(t.as_bytes()).unwrap();
            s.write_all(b"\n").unwrap();
        }
        f.write_all(b"\n]}\n").unwrap();
    }
    for p in [&fc_path, &seq_path] {
        let bytes = std::fs::metadata(p).unwrap().len() as f64;
        let (t0, c0) = (std::time::Instant::now(), cpu_s());
        let ing = ingest(std::slice::from_ref(p), &IngestParams::default(), NOW).unwrap();
        let s = t0.elapsed().as_secs_f64();
        let cpu = cpu_s() - c0;
        assert_eq!(
            ing.observations.len(),
            n,
            "{:?}",
            ing.rejected.first().map(|r| &r.reason)
        );
        println!(
            "{}: {:.0} MB in {s:.2} s wall = {:.0} MB/s, {:.2} M features/s ({} threads); \
             {cpu:.2} CPU s = {:.0} MB per CPU-second",
            p.file_name().unwrap().to_string_lossy(),
            bytes / 1e6,
            bytes / 1e6 / s,
            n as f64 / 1e6 / s,
            rayon::current_num_threads(),
            bytes / 1e6 / cpu,
        );
    }
}

/// CPU time (user + system) of this process so far, seconds (Linux; 0 elsewhere).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// Single-thread cost of validating one typical feature.
#[test]
#[ignore]
fn per_feature_cost() {
    let raw = r#"{"type":"Feature","id":"obs-0000123","geometry":{"type":"Point","coordinates":[130.246000,42.110700]},"properties":{"observed_at":"2024-03-12T03:45:00Z","sensor":"Sentinel-2","scene_id":"S2A_26","confidence":0.87,"length_m":183.0,"beam_m":13.0,"heading_deg":123.4,"vessel_class":"cargo","hull_color":"red","containers":123,"source":"detector-v3"}}"#;
    let src: std::sync::Arc<str> = std::sync::Arc::from("x.geojson");
    let p = IngestParams::default();
    let n = 300_000;
    let t0 = std::time::Instant::now();
    for i in 0..n {
        let o = shiplink::ingest::validate_feature(raw, &src, i, &p, NOW).unwrap();
        std::hint::black_box(o);
    }
    let us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "{us:.2} µs per feature = {:.0} MB/s per core",
        raw.len() as f64 / us
    );
}

/// Issue 6: every catalogue case through the real `shiplink match`: exit 0 when nothing is
/// rejected, 2 when no input file is usable (with the file named on stderr), else 1; and
/// then rejected.geojson holds exactly the rejected features, naming the case's file, with
/// the expected reasons. Scenes cases go in as `--scenes` beside one good observation.
#[test]
fn bad_input_catalogue_through_match() {
    let root = fixture("bad_input");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let work = tempfile::tempdir().unwrap();
    // A tiny land model keeps each run fast (routes fall back to straight lines).
    let land = write(
        work.path(),
        "land.geojson",
        br#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[0.01,0],[0.01,0.01],[0,0.01],[0,0]]]}}]}"#,
    );
    let good = write(
        work.path(),
        "good.geojson",
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            point_feature("good-1", "")
        )
        .as_bytes(),
    );
    let mut failures = Vec::new();
    for (k, dir) in cases.iter().enumerate() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let want: Expect =
            toml::from_str(&std::fs::read_to_string(dir.join("expect.toml")).unwrap()).unwrap();
        let out = work.path().join(format!("out-{k}"));
        let mut args: Vec<String> = vec!["match".into()];
        if want.scenes {
            args.push(good.display().to_string());
            args.push("--scenes".into());
            args.push(dir.join("scenes.geojson").display().to_string());
        } else {
            args.push(dir.display().to_string());
        }
        args.extend([
            "--out".into(),
            out.display().to_string(),
            "--land".into(),
            land.display().to_string(),
            "-q".into(),
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _stdout, stderr) = shiplink(&refs);
        let usable = want.scenes
            || ingest(&[dir.to_path_buf()], &IngestParams::default(), NOW)
                .unwrap()
                .usable_files()
                > 0;
        let want_code = if !usable {
            2
        } else if want.rejected > 0 {
            1
        } else {
            0
        };
        if code != want_code {
            failures.push(format!("{name}: exit {code}, want {want_code}: {stderr}"));
            continue;
        }
        if code == 2 {
            if !stderr.contains(&*dir.to_string_lossy()) {
                failures.push(format!(
                    "{name}: the error does not name the file: {stderr}"
                ));
            }
            continue;
        }
        let rej: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("rejected.geojson")).unwrap()).unwrap();
        let feats = rej["features"].as_array().cloned().unwrap_or_default();
        if feats.len() != want.rejected {
            failures.push(format!(
                "{name}: {} rejected features, want {}",
                feats.len(),
                want.rejected
            ));
            continue;
        }
        let reasons: Vec<String> = feats
            .iter()
            .map(|f| {
                f["properties"]["reject_reason"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        for w in &want.reasons {
            if !reasons.iter().any(|r| r.contains(w.as_str())) {
                failures.push(format!(
                    "{name}: no rejected.geojson reason contains {w:?}: {reasons:?}"
                ));
            }
        }
        for f in &feats {
            let src = f["properties"]["source_file"].as_str().unwrap_or("");
            if !src.contains(&*dir.to_string_lossy()) {
                failures.push(format!(
                    "{name}: source_file {src:?} does not name the case"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
