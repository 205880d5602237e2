//! Fuzzes the whole-file ingest path (`shiplink::ingest::ingest`): the input bytes are
//! written as a GeoJSON document (`doc.geojson`) and as a GeoJSON text sequence
//! (`seq.geojsonl`) and read together. It must never panic or fail on file contents, and
//! nothing may be lost: each file's `features == accepted + rejected`, its rejections are
//! listed, accepted ids are unique, and observations come sorted by (time, id).
#![no_main]

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shiplink::config::IngestParams;

const NOW: i64 = 1_710_000_000;

/// A private scratch folder, reused for every input (one per fuzzing process).
fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let p = std::env::temp_dir().join(format!("shiplink-fuzz-ingest-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("scratch dir");
        p
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dir();
    let doc: PathBuf = d.join("doc.geojson");
    let seq: PathBuf = d.join("seq.geojsonl");
    std::fs::write(&doc, data).expect("write doc");
    std::fs::write(&seq, data).expect("write seq");
    let ing = shiplink::ingest::ingest(&[doc, seq], &IngestParams::default(), NOW)
        .expect("existing files never fail ingest as a whole");
    assert_eq!(ing.files.len(), 2);
    for f in &ing.files {
        assert_eq!(f.features, f.accepted + f.rejected, "{f:?}");
        let listed = ing
            .rejected
            .iter()
            .filter(|r| *r.source_file == f.path)
            .count();
        assert_eq!(listed, f.rejected, "{f:?}");
        assert_eq!(f.bytes, data.len() as u64);
    }
    let accepted: usize = ing.files.iter().map(|f| f.accepted).sum();
    assert_eq!(accepted, ing.observations.len());
    let mut ids = HashSet::new();
    for o in &ing.observations {
        assert!(ids.insert(o.id.as_str()), "duplicate id {}", o.id);
    }
    for w in ing.observations.windows(2) {
        assert!(
            (w[0].observed_at, &w[0].id) < (w[1].observed_at, &w[1].id),
            "not sorted"
        );
    }
    for r in &ing.rejected {
        assert!(!r.reason.is_empty());
    }
});
