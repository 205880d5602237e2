//! Output directory tests (issues 2 and 4): hand-made layers in the lead's schemas, written as
//! GeoJSON and (feature `gdal`) GeoPackage, then checked in QGIS by tests/qgis/check_outputs.py.
//!
//! The QGIS check runs when Debian's /usr/bin/python3 can import `qgis`; without QGIS it is
//! skipped (with a message) unless the env var `CI` is set, where it must run.

use std::path::{Path, PathBuf};
use std::process::Command;

use geo::{Geometry, LineString, Point};
use shiplink::model::parse_time;
use shiplink::output::layer::{Feature, Field, FieldKind as K, GeomKind, Layer, Value as V};
use shiplink::output::write::{write_output, OutputFormat};

const NAJIN: (f64, f64) = (130.30, 42.236);
const DUNAY: (f64, f64) = (132.3545, 42.9045);

fn t(s: &str) -> V {
    V::Time(parse_time(s).expect("test time"))
}

fn s(x: &str) -> V {
    V::Str(x.to_string())
}

fn arr(items: &[&str]) -> V {
    V::StrArray(items.iter().map(|x| x.to_string()).collect())
}

fn pt(p: (f64, f64)) -> Option<Geometry<f64>> {
    Some(Geometry::Point(Point::new(p.0, p.1)))
}

fn line(pts: &[(f64, f64)]) -> Option<Geometry<f64>> {
    Some(Geometry::LineString(LineString::from(pts.to_vec())))
}

fn fields(spec: &[(&str, K)]) -> Vec<Field> {
    spec.iter().map(|(n, k)| Field::new(n, *k)).collect()
}

fn feature(id: &str, geometry: Option<Geometry<f64>>, values: Vec<V>) -> Feature {
    Feature {
        id: id.to_string(),
        geometry,
        values,
        extra: vec![],
    }
}

/// The five layers with a couple of realistic features each (March 2024, Najin ↔ Dunay).
fn sample_layers() -> Vec<Layer> {
    let sea = (131.4, 42.45);
    let mut voyages = Layer::new(
        "voyages",
        GeomKind::LineString,
        fields(&[
            ("voyage_id", K::Str),
            ("vessel_id", K::Str),
            ("from_port", K::Str),
            ("to_port", K::Str),
            ("departed_after", K::DateTime),
            ("departed_before", K::DateTime),
            ("arrived_after", K::DateTime),
            ("arrived_before", K::DateTime),
            ("route_km", K::Real),
            ("route_method", K::Str),
            ("min_speed_kn", K::Real),
            ("confidence", K::Real),
            ("origin_stay_id", K::Str),
            ("destination_stay_id", K::Str),
            ("origin_observation_ids", K::StrArray),
            ("destination_observation_ids", K::StrArray),
            ("via_observation_ids", K::StrArray),
            ("containers_departing", K::Int),
            ("containers_arriving", K::Int),
            ("gap_hours", K::Real),
            ("link_llr", K::Real),
            ("attribute_llr", K::Real),
            ("evidence", K::Str),
        ]),
    );
    // The sample's voyage fields are the real ones, in order.
    let real: Vec<String> = shiplink::output::build::voyages_schema()
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let sample: Vec<String> = voyages.fields.iter().map(|f| f.name.clone()).collect();
    assert_eq!(sample, real);
    voyages.features.push(feature(
        "V0001",
        line(&[NAJIN, (130.6, 42.1), sea, DUNAY]),
        vec![
            s("V0001"),
            s("vessel-001"),
            s("najin"),
            s("dunay"),
            t("2024-03-02T01:40:00Z"),
            t("2024-03-02T13:10:00Z"),
            V::Null,
            t("2024-03-03T02:05:00Z"),
            V::Real(201.4),
            s("sea"),
            V::Real(7.25),
            V::Real(0.86),
            s("S0001"),
            s("S0002"),
            arr(&["obs-1", "obs-2"]),
            arr(&["obs-5"]),
            arr(&["obs-3"]),
            V::Int(48),
            V::Int(46),
            V::Real(23.1),
            V::Real(6.2),
            V::Real(4.4),
            s(
                "origin 2 sightings: red, 131±4 m; destination 1 sighting: red, 128±6 m. \
               Attributes: length +2.1, colour +2.3 = +4.4 nats. 23.1 h between sightings \
               for 201.4 km (at least 7.3 kn), via 1 sighting at sea. Links: +6.2 nats.",
            ),
        ],
    ));
    voyages.features.push(feature(
        "V0002",
        line(&[DUNAY, sea, NAJIN]),
        vec![
            s("V0002"),
            s("vessel-001"),
            s("dunay"),
            s("najin"),
            t("2024-03-05T07:00:00Z"),
            V::Null,
            t("2024-03-06T09:00:00Z"),
            t("2024-03-06T20:30:00Z"),
            V::Real(188.0),
            s("straight"),
            V::Real(4.0),
            V::Real(0.42),
            s("S0002"),
            s("S0003"),
            arr(&["obs-6"]),
            arr(&[]),
            arr(&[]),
            V::Null,
            V::Int(0),
            V::Real(49.5),
            V::Real(1.1),
            V::Null,
            s(
                "origin 1 sighting: 120±15 m; destination 1 sighting. Attributes: no \
               attribute seen at both ends. 49.5 h between sightings for 188.0 km (at \
               least 4.0 kn). Links: +1.1 nats.",
            ),
        ],
    ));

    let mut stays = Layer::new(
        "stays",
        GeomKind::Point,
        fields(&[
            ("stay_id", K::Str),
            ("vessel_id", K::Str),
            ("port", K::Str),
            ("first_seen", K::DateTime),
            ("last_seen", K::DateTime),
            ("observation_count", K::Int),
            ("observation_ids", K::StrArray),
            ("length_m", K::Real),
            ("beam_m", K::Real),
            ("vessel_class", K::Str),
            ("hull_color", K::Str),
            ("containers_first", K::Int),
            ("containers_last", K::Int),
        ]),
    );
    for (id, port, p, a, b, n) in [
        (
            "S0001",
            "najin",
            NAJIN,
            "2024-03-01T02:00:00Z",
            "2024-03-02T01:40:00Z",
            2,
        ),
        (
            "S0002",
            "dunay",
            DUNAY,
            "2024-03-03T02:05:00Z",
            "2024-03-05T07:00:00Z",
            7,
        ),
        (
            "S0003",
            "najin",
            (130.302, 42.238),
            "2024-03-06T20:30:00Z",
            "2024-03-07T03:00:00Z",
            12,
        ),
    ] {
        stays.features.push(feature(
            id,
            pt(p),
            vec![
                s(id),
                s("vessel-001"),
                s(port),
                t(a),
                t(b),
                V::Int(n),
                arr(&["obs-1"]),
                V::Real(121.5),
                V::Real(18.0),
                s("container"),
                s("blue"),
                V::Int(40),
                V::Int(48),
            ],
        ));
    }

    let mut tracks = Layer::new(
        "tracks",
        GeomKind::LineString,
        fields(&[
            ("vessel_id", K::Str),
            ("first_seen", K::DateTime),
            ("last_seen", K::DateTime),
            ("voyage_count", K::Int),
            ("stay_count", K::Int),
            ("length_m", K::Real),
        ]),
    );
    tracks.features.push(feature(
        "vessel-001",
        line(&[NAJIN, sea, DUNAY, sea, NAJIN]),
        vec![
            s("vessel-001"),
            t("2024-03-01T02:00:00Z"),
            t("2024-03-07T03:00:00Z"),
            V::Int(2),
            V::Int(3),
            V::Real(121.5),
        ],
    ));
    tracks.features.push(feature(
        "vessel-002",
        line(&[(130.31, 42.24), (131.0, 42.3)]),
        vec![
            s("vessel-002"),
            t("2024-03-04T00:00:00Z"),
            t("2024-03-04T12:00:00Z"),
            V::Int(0),
            V::Int(1),
            V::Null,
        ],
    ));

    // The links layer as shiplink defines it; a passage that is part of a voyage, a return.
    let mut links = shiplink::output::build::links_schema();
    links.features.push(feature(
        "link-0001",
        line(&[NAJIN, sea]),
        vec![
            s("link-0001"),
            s("vessel-001"),
            s("V0001"),
            s("passage"),
            s("S0001"),
            s("obs-3"),
            s("najin"),
            V::Null,
            t("2024-03-02T01:40:00Z"),
            t("2024-03-02T13:10:00Z"),
            V::Real(11.5),
            V::Real(0.91),
            V::Real(5.2),
            V::Real(1.4),
            s(
                "from 2 sightings: red, 131±4 m; to 1 sighting: 128±15 m. Attributes: \
               length +1.4 = +1.4 nats. 11.5 h between sightings. Link: +5.2 nats.",
            ),
        ],
    ));
    links.features.push(feature(
        "link-0002",
        line(&[NAJIN, NAJIN]),
        vec![
            s("link-0002"),
            s("vessel-001"),
            V::Null,
            s("return"),
            s("S0003"),
            s("S0004"),
            s("najin"),
            s("najin"),
            t("2024-03-06T20:30:00Z"),
            t("2024-03-07T03:00:00Z"),
            V::Real(6.5),
            V::Real(0.55),
            V::Real(0.8),
            V::Null,
            s(
                "from 1 sighting; to 1 sighting. Attributes: none seen at both ends. 6.5 h \
               between sightings. Link: +0.8 nats.",
            ),
        ],
    ));

    let mut unmatched = Layer::new(
        "unmatched",
        GeomKind::Point,
        fields(&[
            ("observation_id", K::Str),
            ("observed_at", K::DateTime),
            ("sensor", K::Str),
            ("scene_id", K::Str),
            ("confidence", K::Real),
            ("length_m", K::Real),
            ("beam_m", K::Real),
            ("heading_deg", K::Real),
            ("vessel_class", K::Str),
            ("hull_color", K::Str),
            ("containers", K::Int),
            ("name", K::Str),
            ("imo", K::Str),
            ("mmsi", K::Str),
            ("port", K::Str),
            ("source_file", K::Str),
            ("feature_index", K::Int),
        ]),
    );
    for (id, p, when, port) in [
        ("obs-90", (131.8, 42.6), "2024-03-04T03:00:00Z", None),
        ("obs-91", DUNAY, "2024-03-04T05:30:00Z", Some("dunay")),
    ] {
        let mut f = feature(
            id,
            pt(p),
            vec![
                s(id),
                t(when),
                s("sentinel-1"),
                s("S1A_20240304"),
                V::Real(0.7),
                V::Real(95.0),
                V::Null,
                V::Real(71.5),
                s("cargo"),
                V::Null,
                V::Null,
                V::Null,
                V::Null,
                V::Null,
                port.map(s).unwrap_or(V::Null),
                s("detections.geojson"),
                V::Int(17),
            ],
        );
        f.extra = vec![
            ("analyst".into(), "\"jk\"".into()),
            ("tags".into(), "[\"a\",1]".into()),
        ];
        unmatched.features.push(f);
    }

    let mut rejected = Layer::new(
        "rejected",
        GeomKind::Any,
        fields(&[
            ("reject_reason", K::Str),
            ("source_file", K::Str),
            ("feature_index", K::Int),
            ("feature_id", K::Str),
            ("original", K::Str),
        ]),
    );
    rejected.features.push(feature(
        "R0001",
        pt((131.0, 42.5)),
        vec![
            s("observed_at \"yesterday\" is not an RFC 3339 time with an offset"),
            s("detections.geojson"),
            V::Int(3),
            s("d3"),
            s("{\"type\":\"Feature\",\"properties\":{\"observed_at\":\"yesterday\"}}"),
        ],
    ));
    rejected.features.push(feature(
        "R0002",
        None,
        vec![
            s("missing geometry"),
            s("detections.geojson"),
            V::Null,
            V::Null,
            s("{\"type\":\"Feature\",\"geometry\":null}"),
        ],
    ));
    vec![voyages, stays, tracks, links, unmatched, rejected]
}

/// A land polygon (Najin's shore, roughly) as the lead would pass it.
const LAND: &str = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","id":"land-1","geometry":{"type":"Polygon","coordinates":[[[129.8,42.2],[130.28,42.2],[130.29,42.3],[130.6,42.6],[131.9,43.2],[132.3,43.0],[132.33,42.92],[132.5,43.3],[129.8,43.3],[129.8,42.2]]]},"properties":{}}
]}
"#;

fn run_json(layers: &[Layer]) -> Vec<u8> {
    let counts: Vec<String> = layers
        .iter()
        .map(|l| format!("\"{}\":{}", l.name, l.features.len()))
        .collect();
    format!("{{\"outputs\":{{{}}}}}\n", counts.join(",")).into_bytes()
}

fn write_sample(dir: &Path, format: OutputFormat) -> Vec<String> {
    let layers = sample_layers();
    let files = vec![
        ("run.json".to_string(), run_json(&layers)),
        (
            "summary.csv".to_string(),
            b"metric,value\nvoyages,2\n".to_vec(),
        ),
        ("summary.json".to_string(), b"{\"voyages\":2}\n".to_vec()),
    ];
    write_output(dir, false, format, &layers, &files, Some(LAND.as_bytes())).expect("write")
}

fn qgis_python_available() -> bool {
    Command::new("/usr/bin/python3")
        .args(["-c", "import qgis.core"])
        .env("QT_QPA_PLATFORM", "offscreen")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs tests/qgis/check_outputs.py on `dir` (or skips it without QGIS outside CI).
fn check_in_qgis(dir: &Path) {
    if !qgis_python_available() {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but /usr/bin/python3 cannot import qgis: install python3-qgis");
        }
        eprintln!(
            "SKIPPED: QGIS check of {} (no python3-qgis here)",
            dir.display()
        );
        return;
    }
    let script: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "qgis",
        "check_outputs.py",
    ]
    .iter()
    .collect();
    let out = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(dir)
        .env("QT_QPA_PLATFORM", "offscreen")
        .output()
        .expect("run check_outputs.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "check_outputs.py failed on {}:\n{stdout}\n{stderr}",
        dir.display()
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn geojson_output_is_complete_and_loads_in_qgis() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    let names = write_sample(&dir, OutputFormat::Geojson);
    for layer in [
        "voyages",
        "stays",
        "tracks",
        "unmatched",
        "rejected",
        "land",
    ] {
        assert!(names.contains(&format!("{layer}.geojson")), "{layer}");
        assert!(names.contains(&format!("{layer}.qml")), "{layer}");
    }
    for f in ["run.json", "summary.csv", "summary.json", "shiplink.qgs"] {
        assert!(names.contains(&f.to_string()), "{f}");
    }
    // Every GeoJSON parses, features sorted by id, times in UTC with Z.
    for layer in sample_layers() {
        let text =
            std::fs::read_to_string(dir.join(format!("{}.geojson", layer.name))).expect("read");
        let gj: geojson::GeoJson = text.parse().expect("valid GeoJSON");
        let geojson::GeoJson::FeatureCollection(fc) = gj else {
            panic!("not a FeatureCollection");
        };
        assert_eq!(fc.features.len(), layer.features.len());
        let ids: Vec<String> = fc
            .features
            .iter()
            .map(|f| match &f.id {
                Some(geojson::feature::Id::String(s)) => s.clone(),
                other => panic!("bad id {other:?}"),
            })
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
    // SHIPLINK_SAMPLE_OUT=DIR keeps a copy of the sample output (e.g. for render_project.py).
    if let Some(keep) = std::env::var_os("SHIPLINK_SAMPLE_OUT") {
        let keep = PathBuf::from(keep);
        let _ = std::fs::remove_dir_all(&keep);
        write_sample(&keep, OutputFormat::Geojson);
    }
    let voyages = std::fs::read_to_string(dir.join("voyages.geojson")).expect("read");
    assert!(voyages.contains("\"departed_after\":\"2024-03-02T01:40:00Z\""));
    check_in_qgis(&dir);
}

#[test]
fn output_is_byte_identical_across_runs() {
    let root = tempfile::tempdir().expect("tempdir");
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    let names = write_sample(&a, OutputFormat::Geojson);
    write_sample(&b, OutputFormat::Geojson);
    for n in names {
        assert_eq!(
            std::fs::read(a.join(&n)).expect("a"),
            std::fs::read(b.join(&n)).expect("b"),
            "{n}"
        );
    }
}

#[cfg(feature = "gdal")]
#[test]
fn gpkg_output_loads_in_qgis() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    let names = write_sample(&dir, OutputFormat::Gpkg);
    assert!(names.contains(&"shiplink.gpkg".to_string()));
    assert!(!names.iter().any(|n| n == "voyages.geojson"));
    check_in_qgis(&dir);
}

/// All layers empty (a run where nothing matched): every layer still loads, styled, in QGIS.
fn write_empty(dir: &Path, format: OutputFormat) {
    let mut layers = sample_layers();
    for l in &mut layers {
        l.features.clear();
    }
    let files = vec![
        ("run.json".to_string(), run_json(&layers)),
        ("summary.csv".to_string(), b"metric,value\n".to_vec()),
        ("summary.json".to_string(), b"{}\n".to_vec()),
    ];
    write_output(dir, false, format, &layers, &files, Some(LAND.as_bytes())).expect("write");
}

#[test]
fn empty_geojson_layers_load_in_qgis() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    write_empty(&dir, OutputFormat::Geojson);
    check_in_qgis(&dir);
}

#[cfg(feature = "gdal")]
#[test]
fn empty_gpkg_layers_load_in_qgis() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    write_empty(&dir, OutputFormat::Gpkg);
    check_in_qgis(&dir);
}

/// Runs the real `shiplink match` on the shipped fixture into `out` (issue 4: the QGIS check
/// runs on a fixture run's outputs, not only on hand-made layers).
fn match_fixture(out: &Path, format: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let fx = Path::new(root).join("fixtures/najin-dunay");
    let status = Command::new(env!("CARGO_BIN_EXE_shiplink"))
        .arg("match")
        .arg(fx.join("observations"))
        .arg("--scenes")
        .arg(fx.join("scenes.geojson"))
        .arg("--out")
        .arg(out)
        .args(["-f", format, "-q"])
        .status()
        .expect("run shiplink");
    assert!(matches!(status.code(), Some(0) | Some(1)), "{status:?}");
}

#[test]
fn fixture_run_geojson_loads_in_qgis() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    match_fixture(&out, "geojson");
    assert!(out.join("land.geojson").is_file(), "context land layer");
    check_in_qgis(&out);
}

#[cfg(feature = "gdal")]
#[test]
fn fixture_run_gpkg_loads_in_qgis() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    match_fixture(&out, "gpkg");
    assert!(out.join("shiplink.gpkg").is_file());
    check_in_qgis(&out);
}
