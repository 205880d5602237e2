//! Fuzzes `shiplink::ingest::validate_feature` with arbitrary text: it must never panic,
//! and what it accepts must satisfy the input contract (finite WGS84 position, a time not in
//! the future, plausible sizes); what it rejects must name a reason and keep the original.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use shiplink::config::IngestParams;

/// Reference "now" for future-time checks: 2024-03-09T16:00:00Z.
const NOW: i64 = 1_710_000_000;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let src: Arc<str> = Arc::from("fuzz/obs.geojson");
    let params = IngestParams::default();
    match shiplink::ingest::validate_feature(&raw, &src, 7, &params, NOW) {
        Ok(o) => {
            assert!(!o.id.trim().is_empty(), "empty id accepted");
            assert!(o.lon.is_finite() && o.lat.is_finite());
            assert!((-180.0..=180.0).contains(&o.lon), "lon {}", o.lon);
            assert!((-90.0..=90.0).contains(&o.lat), "lat {}", o.lat);
            assert!(o.observed_at <= NOW + 86_400, "future time accepted");
            if let Some(l) = o.length_m {
                assert!(l > 0.0 && l <= params.max_length_m, "length {l}");
            }
            if let Some(b) = o.beam_m {
                assert!(b > 0.0 && b.is_finite(), "beam {b}");
                if let Some(l) = o.length_m {
                    assert!(b <= l, "beam {b} > length {l}");
                }
            }
            if let Some(h) = o.heading_deg {
                assert!((0.0..360.0).contains(&h), "heading {h}");
            }
            if let Some(c) = o.confidence {
                assert!((0.0..=1.0).contains(&c), "confidence {c}");
            }
            assert_eq!(o.feature_index, 7);
            for (k, v) in &o.extra {
                // Extra properties travel as raw JSON text: it must be JSON again (grammar
                // only: `1e400` is valid JSON that serde_json::Value cannot hold).
                assert!(
                    serde_json::from_str::<Box<serde_json::value::RawValue>>(v).is_ok(),
                    "extra {k} not JSON: {v}"
                );
            }
        }
        Err(r) => {
            assert!(!r.reason.is_empty());
            assert_eq!(r.feature_index, Some(7));
            assert!(r.original.is_some());
        }
    }
});
