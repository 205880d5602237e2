//! Fuzzes `match` over small inputs, in memory: the fuzz input becomes one or two small
//! GeoJSON files, which go through `ingest` → `pipeline::solve` → `pipeline::layers` →
//! `output::geojson::layer_to_geojson`.
//!
//! Input: text starting with `{` is used verbatim as one file; anything else is decoded,
//! 7 bytes per detection, into plausible Najin–Dunay traffic (see [`decode`]) so the
//! fuzzer spends its time in linking rather than in the JSON parser.
//!
//! Checked on every input: no panic; every observation in exactly one of stays, via lists and
//! unmatched, and `counts.read == in_stays + in_via + unmatched + rejected`; links are
//! mutual, go forward in time and never join two different imo/mmsi; every layer serialises
//! to valid GeoJSON with one feature per layer feature.
#![no_main]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shiplink::config::Config;
use shiplink::linking::cost::{identity, Identity};

const NOW: i64 = 1_710_000_000;
/// 2024-03-01T00:00:00Z.
const T0: i64 = 1_709_251_200;

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let p = std::env::temp_dir().join(format!("shiplink-fuzz-match-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("scratch dir");
        p
    })
}

fn time(t: i64) -> String {
    shiplink::model::fmt_time(t)
}

/// One detection from 7 bytes: place and jitter, time, length, identity/sensor/colour flags,
/// containers. Some byte values make deliberately bad features (no time, length ≤ 0).
fn feature(k: usize, b: &[u8]) -> String {
    let places = [
        (130.300, 42.236),   // Najin berth
        (132.3545, 42.9045), // Dunay berth
        (131.30, 42.45),     // at sea, between
        (130.33, 42.20),     // just outside Najin's zone
        (131.89, 43.105),    // Vladivostok
    ];
    let (lon0, lat0) = places[(b[0] % 5) as usize];
    let jx = (f64::from(b[0] / 5) - 25.0) * 0.0004;
    let jy = (f64::from(b[1]) - 128.0) * 0.00008;
    let (lon, lat) = (lon0 + jx, lat0 + jy);
    let minutes = i64::from(u16::from_be_bytes([b[2], b[3]])) * 2;
    let t = T0 + minutes * 60;
    let flags = b[5];
    let mut props = String::new();
    if b[6] != 255 {
        let _ = write!(props, r#""observed_at":"{}""#, time(t));
    } else {
        props.push_str(r#""observed_at":null"#);
    }
    match b[4] {
        0 => {}
        251 => props.push_str(r#","length_m":0"#),
        252 => props.push_str(r#","length_m":-3"#),
        253 => props.push_str(r#","length_m":1e400"#),
        254 => props.push_str(r#","length_m":600"#),
        l => {
            let _ = write!(props, r#","length_m":{},"beam_m":{}"#, 40 + u32::from(l), 8 + l / 12);
        }
    }
    match flags & 3 {
        0 => {}
        i => {
            let _ = write!(props, r#","imo":"900000{i}""#);
        }
    }
    let sensor = ["planetscope", "sentinel-1", "skysat", ""][((flags >> 4) & 3) as usize];
    if !sensor.is_empty() {
        let _ = write!(props, r#","sensor":"{sensor}""#);
    }
    if flags & 64 != 0 {
        let c = if flags & 128 != 0 { "red" } else { "blue" };
        let _ = write!(props, r#","hull_color":"{c}""#);
    }
    if b[6] != 0 && b[6] != 255 {
        let _ = write!(props, r#","containers":{}"#, b[6] - 1);
    }
    let id = if flags & 4 != 0 {
        format!(r#","id":"f{k}""#)
    } else {
        String::new()
    };
    let geometry = if flags & 8 != 0 {
        // A 100 m x 20 m outline, east-west.
        let (dx, dy) = (0.0006, 0.00009);
        format!(
            r#"{{"type":"Polygon","coordinates":[[[{},{}],[{},{}],[{},{}],[{},{}],[{},{}]]]}}"#,
            lon - dx, lat - dy, lon + dx, lat - dy, lon + dx, lat + dy, lon - dx, lat + dy, lon - dx, lat - dy
        )
    } else {
        format!(r#"{{"type":"Point","coordinates":[{lon},{lat}]}}"#)
    };
    format!(r#"{{"type":"Feature"{id},"geometry":{geometry},"properties":{{{props}}}}}"#)
}

/// The fuzz bytes as file contents: verbatim, or decoded detections split over 1–2 files.
fn decode(data: &[u8]) -> Vec<Vec<u8>> {
    if data.first() == Some(&b'{') {
        return vec![data.to_vec()];
    }
    let Some((&head, rest)) = data.split_first() else {
        return vec![b"{\"type\":\"FeatureCollection\",\"features\":[]}".to_vec()];
    };
    let n_files = 1 + usize::from(head & 1);
    let mut files: Vec<Vec<String>> = vec![Vec::new(); n_files];
    for (k, chunk) in rest.chunks_exact(7).take(48).enumerate() {
        files[k % n_files].push(feature(k, chunk));
    }
    files
        .into_iter()
        .map(|f| {
            format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, f.join(",\n")).into_bytes()
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct Collection {
    features: Vec<Box<serde_json::value::RawValue>>,
}

fuzz_target!(|data: &[u8]| {
    let d = dir();
    let paths: Vec<PathBuf> = decode(data)
        .into_iter()
        .enumerate()
        .map(|(k, bytes)| {
            let p = d.join(format!("in{k}.geojson"));
            std::fs::write(&p, bytes).expect("write input");
            p
        })
        .collect();
    let config = Config::default();
    let ing = shiplink::ingest::ingest(&paths, &config.ingest, NOW).expect("ingest");
    let r = shiplink::pipeline::solve(ing, shiplink::ports::builtin(), &[], &config, None);
    let n = r.observations.len();

    // Conservation.
    let mut seen = vec![0u8; n];
    for s in &r.derived.stays {
        for &i in &s.observations {
            seen[i] += 1;
        }
    }
    for v in &r.derived.voyages {
        for &i in &v.via {
            seen[i] += 1;
        }
    }
    for &i in &r.derived.unmatched {
        seen[i] += 1;
    }
    assert!(seen.iter().all(|&c| c == 1), "not a partition: {seen:?}");
    let c = r.counts();
    assert_eq!(c.read, c.in_stays + c.in_via + c.unmatched + c.rejected, "{c:?}");

    // Links: mutual, forward in time, never against identity evidence.
    let l = &r.links;
    for i in 0..n {
        if let Some(j) = l.successor[i] {
            assert_eq!(l.predecessor[j], Some(i));
            let (a, b) = (&r.observations[i], &r.observations[j]);
            assert!(a.observed_at <= b.observed_at, "link back in time");
            assert_ne!(identity(a, b), Identity::Different, "{} -> {}", a.id, b.id);
        }
    }

    // Layers serialise to valid GeoJSON, one feature each.
    let layers = shiplink::pipeline::layers(&r);
    for layer in &layers {
        let bytes = shiplink::output::geojson::layer_to_geojson(layer);
        // Grammar-level parse: extra properties may hold numbers like 1e400, valid JSON
        // that serde_json::Value cannot hold.
        let v: Collection = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", layer.name));
        assert_eq!(v.features.len(), layer.features.len(), "{}", layer.name);
    }
    assert_eq!(layers[1].features.len(), r.derived.stays.len());
    assert_eq!(layers[3].features.len(), r.derived.unmatched.len());
    assert_eq!(layers[4].features.len(), c.rejected);
});
