//! Issue 4 (GDAL input): detections in GeoPackage, Shapefile, FlatGeobuf and CSV (WKT or
//! lon/lat columns) give exactly the voyages, stays and tracks the same detections give as
//! GeoJSON. The real binary runs on a GeoJSON written here and on copies converted with
//! GDAL's `ogr2ogr` (gdal-bin) in a fresh temporary folder.
#![cfg(feature = "gdal")]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The layers compared byte for byte (none carries a source file name).
const SAME_LAYERS: [&str; 3] = ["voyages.geojson", "stays.geojson", "tracks.geojson"];

/// Runs `shiplink match INPUT... --out OUT -q` in `cwd`; returns the exit code and stderr.
fn shiplink_match(cwd: &Path, inputs: &[&str], out: &str) -> (i32, String) {
    let mut args = vec!["match"];
    args.extend_from_slice(inputs);
    args.extend_from_slice(&["--out", out, "-q"]);
    let o = Command::new(env!("CARGO_BIN_EXE_shiplink"))
        .args(&args)
        .current_dir(cwd)
        .output()
        .expect("run shiplink");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `ogr2ogr ARGS...` in `cwd`; panics with GDAL's message when it fails.
fn ogr2ogr(cwd: &Path, args: &[&str]) {
    let o = Command::new("ogr2ogr")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("ogr2ogr (gdal-bin) is installed");
    assert!(
        o.status.success(),
        "ogr2ogr {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `ogrinfo -so -al FILE`: the layer schema as text.
fn schema(cwd: &Path, file: &str) -> String {
    let o = Command::new("ogrinfo")
        .args(["-so", "-al", file])
        .current_dir(cwd)
        .output()
        .expect("ogrinfo (gdal-bin) is installed");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read_json(p: &Path) -> Value {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One detection as (id, lon, lat, observed_at, properties after observed_at).
struct Det {
    id: String,
    lon: f64,
    lat: f64,
    t: String,
    props: Vec<(&'static str, Value)>,
}

const NAJIN: (f64, f64) = (130.3, 42.236);
const DUNAY: (f64, f64) = (132.3545, 42.9045);

/// Three shuttles, each alternating Najin and Dunay stays (two detections per stay, every
/// other stay's times with a +09:00 offset), a lone detection at sea and one bad feature
/// (length 0).
fn detections() -> Vec<Det> {
    let ships = [
        (131.0, 20.0, "red", "planetscope", 0),
        (98.0, 16.0, "blue", "skysat", 7),
        (150.0, 24.0, "black", "sentinel-2", 13),
    ];
    let mut out = Vec::new();
    for (k, &(length_m, beam_m, hull, sensor, hour0)) in ships.iter().enumerate() {
        for stay in 0..4 {
            let (lon, lat) = if stay % 2 == 0 { NAJIN } else { DUNAY };
            for seen in 0..2 {
                let day = 1 + stay * 3 + seen;
                let hour = hour0 + seen * 3;
                let utc = chrono::NaiveDate::from_ymd_opt(2024, 3, day)
                    .and_then(|d| d.and_hms_opt(hour, 0, 0))
                    .expect("valid time")
                    .and_utc();
                // Every other stay written in Korean/Vladivostok time (same instant).
                let t = if stay % 2 == 1 {
                    let kst = chrono::FixedOffset::east_opt(9 * 3600).expect("offset");
                    utc.with_timezone(&kst).to_rfc3339()
                } else {
                    utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                };
                let nudge = (k as f64) * 0.0007 + (seen as f64) * 0.0001;
                out.push(Det {
                    id: format!("s{k}-{stay}-{seen}"),
                    lon: lon + nudge,
                    lat: lat + nudge / 2.0,
                    t,
                    props: vec![
                        ("sensor", sensor.into()),
                        ("scene_id", format!("scene-{k}-{stay}-{seen}").into()),
                        ("confidence", 0.875.into()),
                        ("length_m", length_m.into()),
                        ("beam_m", beam_m.into()),
                        ("heading_deg", (45.5 * (seen as f64 + 1.0)).into()),
                        ("vessel_class", "container".into()),
                        ("hull_color", hull.into()),
                        // Loaded at Najin, unloaded at Dunay.
                        (
                            "containers",
                            (40 * ((stay + seen) as u64 % 2) + k as u64).into(),
                        ),
                        ("imo", (9_100_000 + k as u64).into()),
                        ("note", format!("stay {stay}").into()),
                    ],
                });
            }
        }
    }
    out.push(Det {
        id: "lone".into(),
        lon: 131.5,
        lat: 42.0,
        t: "2024-03-05T05:00:00Z".into(),
        props: vec![("sensor", "sentinel-1".into()), ("length_m", 60.0.into())],
    });
    out.push(Det {
        id: "bad".into(),
        lon: 130.3,
        lat: 42.236,
        t: "2024-03-06T02:00:00Z".into(),
        props: vec![("length_m", 0.0.into())],
    });
    out
}

/// All property names, in the order of the first detection that has them.
fn columns(dets: &[Det]) -> Vec<&'static str> {
    let mut cols: Vec<&'static str> = Vec::new();
    for d in dets {
        for (k, _) in &d.props {
            if !cols.contains(k) {
                cols.push(k);
            }
        }
    }
    cols
}

fn write_geojson(path: &Path, dets: &[Det]) {
    let features: Vec<Value> = dets
        .iter()
        .map(|d| {
            let mut props = serde_json::Map::new();
            props.insert("observed_at".into(), d.t.clone().into());
            for (k, v) in &d.props {
                props.insert((*k).into(), v.clone());
            }
            serde_json::json!({
                "type": "Feature",
                "id": d.id,
                "geometry": {"type": "Point", "coordinates": [d.lon, d.lat]},
                "properties": props,
            })
        })
        .collect();
    let fc = serde_json::json!({"type": "FeatureCollection", "features": features});
    std::fs::write(path, serde_json::to_vec_pretty(&fc).expect("json")).expect("write");
}

/// A CSV with `lon`/`lat` columns, written by hand (empty cell = no value).
fn write_lonlat_csv(path: &Path, dets: &[Det]) {
    let cols = columns(dets);
    let mut s = format!("id,lon,lat,observed_at,{}\n", cols.join(","));
    for d in dets {
        s.push_str(&format!("{},{},{},{}", d.id, d.lon, d.lat, d.t));
        for c in &cols {
            s.push(',');
            match d.props.iter().find(|(k, _)| k == c).map(|(_, v)| v) {
                Some(Value::String(t)) => s.push_str(&format!("\"{t}\"")),
                Some(v) => s.push_str(&v.to_string()),
                None => {}
            }
        }
        s.push('\n');
    }
    std::fs::write(path, s).expect("write");
}

/// Writes `obs.geojson` in `dir` and converts it with `ogr2ogr`: `obs.gpkg`, `obs.fgb`
/// (DateTime fields), `shp/obs.shp` (observed_at kept as RFC 3339 text), `wkt.csv` (WKT
/// column), `obs.kml` (both with observed_at as OGR's text, `2024/03/04 09:00:00+09`),
/// `obs.gml`; and `lonlat.csv` by hand.
fn inputs(dir: &Path) -> Vec<&'static str> {
    let dets = detections();
    write_geojson(&dir.join("obs.geojson"), &dets);
    ogr2ogr(dir, &["-f", "GPKG", "obs.gpkg", "obs.geojson"]);
    ogr2ogr(dir, &["-f", "FlatGeobuf", "obs.fgb", "obs.geojson"]);
    std::fs::create_dir(dir.join("shp")).expect("mkdir");
    ogr2ogr(
        dir,
        &[
            "-f",
            "ESRI Shapefile",
            "shp/obs.shp",
            "obs.geojson",
            "-oo",
            "DATE_AS_STRING=YES",
        ],
    );
    ogr2ogr(
        dir,
        &[
            "-f",
            "CSV",
            "wkt.csv",
            "obs.geojson",
            "-lco",
            "GEOMETRY=AS_WKT",
        ],
    );
    ogr2ogr(dir, &["-f", "KML", "obs.kml", "obs.geojson"]);
    ogr2ogr(dir, &["-f", "GML", "obs.gml", "obs.geojson"]);
    write_lonlat_csv(&dir.join("lonlat.csv"), &dets);
    vec![
        "obs.gpkg",
        "obs.fgb",
        "shp/obs.shp",
        "shp",
        "wkt.csv",
        "lonlat.csv",
        "obs.kml",
        "obs.gml",
    ]
}

/// A layer's features with the fields naming the input file removed, and with `contract_only`
/// the extra properties too (KML and GML readers add fields of their own).
fn without_source(v: &Value, contract_only: bool) -> Vec<Value> {
    const CONTRACT: [&str; 15] = [
        "observation_id",
        "observed_at",
        "port",
        "sensor",
        "scene_id",
        "confidence",
        "length_m",
        "beam_m",
        "heading_deg",
        "vessel_class",
        "hull_color",
        "containers",
        "name",
        "imo",
        "mmsi",
    ];
    let mut feats = v["features"].as_array().expect("features").clone();
    for f in &mut feats {
        if let Some(p) = f["properties"].as_object_mut() {
            p.remove("source_file");
            p.remove("feature_index");
            if contract_only {
                p.retain(|k, _| CONTRACT.contains(&k.as_str()));
            }
        }
    }
    feats
}

/// (feature id, reason) of each rejection in an output folder.
fn reasons(out: &Path) -> Vec<(String, String)> {
    let v = read_json(&out.join("rejected.geojson"));
    v["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let p = &f["properties"];
            let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (text("feature_id"), text("reject_reason"))
        })
        .collect()
}

#[test]
fn every_format_gives_the_geojson_results() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path();
    let converted = inputs(dir);
    // The converted files really have the quirks the reader must handle: DateTime fields
    // (with offsets), Shapefile names cut to 10 characters.
    for file in ["obs.gpkg", "obs.fgb"] {
        let info = schema(dir, file);
        assert!(info.contains("observed_at: DateTime"), "{file}: {info}");
    }
    for file in ["wkt.csv", "obs.kml"] {
        let text = std::fs::read_to_string(dir.join(file)).expect(file);
        assert!(text.contains("2024/03/04 09:00:00+09"), "{file}: {text}");
    }
    let info = schema(dir, "shp/obs.shp");
    assert!(
        info.contains("observed_a: String") && info.contains("vessel_cla: String"),
        "{info}"
    );

    let (code, err) = shiplink_match(dir, &["obs.geojson"], "out-geojson");
    assert_eq!(code, 1, "the bad feature is rejected: {err}");
    let want = |layer: &str| std::fs::read(dir.join("out-geojson").join(layer)).expect(layer);
    let voyages = read_json(&dir.join("out-geojson/voyages.geojson"));
    assert_eq!(
        voyages["features"].as_array().map(Vec::len),
        Some(9),
        "three ships, three voyages each: {voyages}"
    );
    let stays = read_json(&dir.join("out-geojson/stays.geojson"));
    let stay_ids = stays["features"][0]["properties"]["observation_ids"].to_string();
    assert!(stay_ids.contains("\"s"), "input ids kept: {stay_ids}");
    let unmatched_layer = read_json(&dir.join("out-geojson/unmatched.geojson"));
    let unmatched = without_source(&unmatched_layer, false);
    assert_eq!(unmatched.len(), 1, "{unmatched:?}");
    let run = read_json(&dir.join("out-geojson/run.json"));
    assert_eq!(
        reasons(&dir.join("out-geojson")),
        [("bad".to_string(), "length_m 0 must be > 0".to_string())]
    );

    for input in converted {
        let out = format!("out-{}", input.replace(['/', '.'], "-"));
        let (code, err) = shiplink_match(dir, &[input], &out);
        assert_eq!(code, 1, "{input}: {err}");
        for layer in SAME_LAYERS {
            let got = std::fs::read(dir.join(&out).join(layer)).expect(layer);
            assert!(
                got == want(layer),
                "{input}: {layer} differs:\n{}\nwant\n{}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want(layer))
            );
        }
        let got_unmatched = read_json(&dir.join(&out).join("unmatched.geojson"));
        let contract_only = input.ends_with(".kml") || input.ends_with(".gml");
        assert_eq!(
            without_source(&got_unmatched, contract_only),
            without_source(&unmatched_layer, contract_only),
            "{input}: unmatched.geojson"
        );
        assert_eq!(
            reasons(&dir.join(&out)),
            [("bad".to_string(), "length_m 0 must be > 0".to_string())],
            "{input}"
        );
        let got_run = read_json(&dir.join(&out).join("run.json"));
        assert_eq!(got_run["counts"], run["counts"], "{input}: counts");
    }
}

#[test]
fn input_file_entries_and_mixed_inputs() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path();
    inputs(dir);
    std::fs::write(dir.join("broken.fgb"), b"not a flatgeobuf").expect("write");
    // The same detections as GeoJSON and GeoPackage: every GeoPackage feature is a duplicate
    // (quoted from the GeoPackage), plus a file GDAL cannot open.
    let (code, err) = shiplink_match(dir, &["obs.geojson", "obs.gpkg", "broken.fgb"], "out");
    assert_eq!(code, 1, "{err}");
    let rejected = read_json(&dir.join("out/rejected.geojson"));
    let rejected = rejected["features"].as_array().expect("features");
    let n = detections().len();
    // Each format: 1 bad feature; the GeoPackage's other n-1 features are duplicates.
    assert_eq!(rejected.len(), 1 + n + 1, "{rejected:#?}");
    let from = |file: &str| {
        rejected
            .iter()
            .filter(|r| r["properties"]["source_file"] == file)
            .collect::<Vec<_>>()
    };
    let broken = from("broken.fgb");
    assert_eq!(broken.len(), 1);
    let reason = broken[0]["properties"]["reject_reason"]
        .as_str()
        .expect("reason");
    assert!(
        reason.starts_with("not a vector file GDAL can read: ") && reason.contains("broken.fgb"),
        "{reason}"
    );
    assert!(broken[0]["properties"]["feature_index"].is_null());
    let dups = from("obs.gpkg");
    assert_eq!(dups.len(), n);
    for r in &dups {
        let p = &r["properties"];
        let reason = p["reject_reason"].as_str().expect("reason");
        let original = p["original"].as_str().expect("original");
        if p["feature_id"] == "bad" {
            assert!(reason.contains("length_m 0"), "{reason}");
            continue;
        }
        assert!(
            reason.starts_with("duplicate id ") && reason.contains("first seen in obs.geojson"),
            "{reason}"
        );
        let quoted: Value = serde_json::from_str(original).expect("quoted feature is JSON");
        assert_eq!(quoted["id"], p["feature_id"], "{original}");
        assert_eq!(quoted["type"], "Feature");
    }

    let run = read_json(&dir.join("out/run.json"));
    let files = run["inputs"].as_array().expect("run.json lists the inputs");
    let gpkg = files
        .iter()
        .find(|f| f["path"] == "obs.gpkg")
        .expect("obs.gpkg entry");
    let bytes = std::fs::read(dir.join("obs.gpkg")).expect("gpkg");
    assert_eq!(gpkg["bytes"], bytes.len() as u64);
    assert_eq!(gpkg["features"], n as u64);
    assert_eq!(gpkg["accepted"], 0);
    assert_eq!(gpkg["rejected"], n as u64);
    let sha = Command::new("sha256sum")
        .arg("obs.gpkg")
        .current_dir(dir)
        .output()
        .expect("sha256sum");
    let sha = String::from_utf8_lossy(&sha.stdout);
    assert_eq!(gpkg["sha256"].as_str(), sha.split_whitespace().next());
}

#[test]
fn shapefile_date_without_time_is_rejected_with_the_reason() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path();
    write_geojson(&dir.join("obs.geojson"), &detections());
    // Default conversion: observed_at becomes a DBF Date (ogr2ogr warns and drops the time).
    ogr2ogr(dir, &["dated.shp", "obs.geojson"]);
    let (code, err) = shiplink_match(dir, &["dated.shp"], "out");
    assert_eq!(code, 1, "{err}");
    let rejected = read_json(&dir.join("out/rejected.geojson"));
    let rejected = rejected["features"].as_array().expect("features");
    assert_eq!(rejected.len(), detections().len());
    for r in rejected {
        let reason = r["properties"]["reject_reason"].as_str().expect("reason");
        assert!(
            reason.contains("is a date without a time of day or offset"),
            "{reason}"
        );
        assert!(r["properties"]["feature_id"].is_string(), "ids kept: {r}");
    }
}

/// A directory walk picks up the GDAL formats and skips a Shapefile's parts and GML schemas.
#[test]
fn directory_walk_reads_each_dataset_once() {
    let d = tempfile::tempdir().expect("tempdir");
    let data = d.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    inputs(&data);
    for f in ["obs.geojson", "obs.fgb", "wkt.csv", "lonlat.csv"] {
        std::fs::remove_file(data.join(f)).expect("remove");
    }
    let parts: Vec<PathBuf> = std::fs::read_dir(data.join("shp"))
        .expect("shp")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(parts.len() >= 4, "obs.shp .shx .dbf .prj: {parts:?}");
    let (code, err) = shiplink_match(d.path(), &["data"], "out");
    assert_eq!(code, 1, "{err}");
    let run = read_json(&d.path().join("out/run.json"));
    let paths: Vec<&str> = run["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    // Not the Shapefile's .dbf/.shx/.prj, nor the GML's .xsd.
    assert_eq!(
        paths,
        [
            "data/obs.gml",
            "data/obs.gpkg",
            "data/obs.kml",
            "data/shp/obs.shp"
        ],
        "{run}"
    );
    // Four copies of each detection: one kept, three duplicates; the bad one four times.
    let n = detections().len() as u64;
    assert_eq!(run["counts"]["rejected"], 3 * (n - 1) + 4, "{run}");
}

/// The help of `match` and `query` lists the GDAL formats a directory walk takes in this
/// build (and `shiplink::ingest::walk::GDAL_EXTENSIONS` is what the walk uses).
#[test]
fn help_lists_the_gdal_formats_walked() {
    for command in ["match", "query"] {
        let o = Command::new(env!("CARGO_BIN_EXE_shiplink"))
            .args([command, "--help"])
            .output()
            .expect("run shiplink");
        let help = String::from_utf8_lossy(&o.stdout);
        for (ext, _) in shiplink::ingest::walk::GDAL_EXTENSIONS {
            assert!(
                help.contains(&format!(".{ext}")),
                "{command}: .{ext}\n{help}"
            );
        }
    }
}
