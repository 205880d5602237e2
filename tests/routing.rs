//! Sea routing (issue 3, "Sea routes that never cross land"): routes on the built-in GSHHG-f
//! land and on synthetic island / peninsula / strait / lake shapes never cross land, report
//! their geodesic length, snap end points on land, and fail with clear messages.

use std::process::Command;
use std::sync::OnceLock;

use geo::{LineString, Polygon};
use proptest::prelude::*;
use shiplink::config::RouteParams;
use shiplink::geodesy::{geodesic_m, polyline_km};
use shiplink::routing::{route_feature_geojson, Route, Router};

const NAJIN_BERTH: (f64, f64) = (130.3000, 42.2360);
const DUNAY_BERTH: (f64, f64) = (132.3545, 42.9045);

fn builtin() -> &'static Router {
    static R: OnceLock<Router> = OnceLock::new();
    R.get_or_init(|| Router::builtin(&RouteParams::default()).expect("built-in land model"))
}

fn rect(w: f64, s: f64, e: f64, n: f64) -> Polygon<f64> {
    Polygon::new(
        LineString::from(vec![(w, s), (e, s), (e, n), (w, n), (w, s)]),
        vec![],
    )
}

/// The synthetic box: 10.0–10.1 E, 50.0–50.1 N (about 7 km x 11 km).
const BOX: [f64; 4] = [10.0, 50.0, 10.1, 50.1];

fn synthetic(polygons: Vec<Polygon<f64>>) -> Router {
    Router::with_extent(polygons, Some(BOX), &RouteParams::default()).expect("synthetic router")
}

fn island() -> &'static Router {
    static R: OnceLock<Router> = OnceLock::new();
    R.get_or_init(|| {
        synthetic(vec![
            rect(10.04, 50.04, 10.06, 50.06),
            rect(10.02, 50.075, 10.03, 50.08),
        ])
    })
}

/// A finger of land from the south edge of the box up to 50.08 N.
fn peninsula() -> &'static Router {
    static R: OnceLock<Router> = OnceLock::new();
    R.get_or_init(|| {
        let ring = vec![
            (10.0, 50.0),
            (10.1, 50.0),
            (10.1, 50.02),
            (10.055, 50.02),
            (10.055, 50.08),
            (10.045, 50.08),
            (10.045, 50.02),
            (10.0, 50.02),
            (10.0, 50.0),
        ];
        synthetic(vec![Polygon::new(LineString::from(ring), vec![])])
    })
}

/// A wall across the box at 50.045–50.055 N with a 200 m gap (narrower than twice the
/// 300 m clearance) at 10.0486–10.0514 E.
fn strait() -> &'static Router {
    static R: OnceLock<Router> = OnceLock::new();
    R.get_or_init(|| {
        synthetic(vec![
            rect(10.0, 50.045, 10.0486, 50.055),
            rect(10.0514, 50.045, 10.1, 50.055),
        ])
    })
}

/// Checks what every route must satisfy and returns it.
fn check_route(router: &Router, a: (f64, f64), b: (f64, f64)) -> Route {
    let r = router
        .route(&[a, b])
        .unwrap_or_else(|e| panic!("route {a:?} -> {b:?}: {e}"));
    assert_eq!(
        router.land_crossings(&r.coords),
        0,
        "route crosses land: {:?}",
        r.coords
    );
    assert!(
        (r.km - polyline_km(&r.coords)).abs() < 1e-9,
        "km {} vs geometry",
        r.km
    );
    assert_eq!(r.coords.first(), Some(&a), "starts at the sea point");
    assert_eq!(r.coords.last(), Some(&b), "ends at the sea point");
    assert!(
        r.km * 1000.0 >= geodesic_m(a, b) - 1e-6,
        "shorter than the straight line"
    );
    assert_eq!((r.snapped_from_m, r.snapped_to_m), (0.0, 0.0));
    r
}

fn point_in(ext: [f64; 4]) -> impl Strategy<Value = (f64, f64)> {
    (ext[0]..ext[2], ext[1]..ext[3])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn builtin_routes_never_cross_land(a in point_in([129.6, 41.0, 133.5, 43.3]), b in point_in([129.6, 41.0, 133.5, 43.3])) {
        let r = builtin();
        prop_assume!(r.is_sea(a.0, a.1) && r.is_sea(b.0, b.1));
        check_route(r, a, b);
    }

    #[test]
    fn coastal_builtin_routes_never_cross_land(a in point_in([131.7, 42.6, 132.5, 43.2]), b in point_in([130.2, 42.1, 132.6, 43.0])) {
        let r = builtin();
        prop_assume!(r.is_sea(a.0, a.1) && r.is_sea(b.0, b.1));
        prop_assume!(r.coast_distance_m(a.0, a.1) < 3000.0 && r.coast_distance_m(b.0, b.1) < 3000.0);
        check_route(r, a, b);
    }

    #[test]
    fn island_routes_never_cross_land(a in point_in(BOX), b in point_in(BOX)) {
        let r = island();
        prop_assume!(r.is_sea(a.0, a.1) && r.is_sea(b.0, b.1));
        check_route(r, a, b);
    }

    #[test]
    fn peninsula_routes_never_cross_land(a in point_in(BOX), b in point_in(BOX)) {
        let r = peninsula();
        prop_assume!(r.is_sea(a.0, a.1) && r.is_sea(b.0, b.1));
        check_route(r, a, b);
    }

    #[test]
    fn strait_routes_never_cross_land(a in point_in(BOX), b in point_in(BOX)) {
        let r = strait();
        prop_assume!(r.is_sea(a.0, a.1) && r.is_sea(b.0, b.1));
        check_route(r, a, b);
    }
}

#[test]
fn najin_to_dunay_berths_is_198_to_210_km() {
    let r = check_route(builtin(), NAJIN_BERTH, DUNAY_BERTH);
    assert!(r.km > 198.0 && r.km < 210.0, "najin->dunay {} km", r.km);
    // The straight line is 184 km and crosses land.
    assert!(builtin().land_crossings(&[NAJIN_BERTH, DUNAY_BERTH]) > 0);
    let back = builtin().sea_distance_km(DUNAY_BERTH, NAJIN_BERTH).unwrap();
    assert!(
        (back - r.km).abs() < 1.0,
        "dunay->najin {back} km vs {} km",
        r.km
    );
}

#[test]
fn all_builtin_ports_route_to_each_other() {
    let ports = shiplink::ports::builtin();
    for a in &ports {
        for b in &ports {
            if a.port_id < b.port_id {
                let r = check_route(
                    builtin(),
                    (a.berth_lon, a.berth_lat),
                    (b.berth_lon, b.berth_lat),
                );
                assert!(r.km > 10.0, "{} -> {}: {} km", a.port_id, b.port_id, r.km);
            }
        }
    }
}

#[test]
fn routes_go_around_the_island_and_the_peninsula() {
    let r = check_route(island(), (10.03, 50.05), (10.07, 50.05));
    assert!(r.coords.len() >= 3 && r.km > 2.9, "{r:?}");
    let r = check_route(peninsula(), (10.03, 50.05), (10.07, 50.05));
    // Up the west side of the finger, round its tip (50.08 N) and down: about 2 x 3.3 km.
    assert!(r.km > 5.0, "{} km", r.km);
    assert!(r.coords.iter().any(|c| c.1 > 50.08), "{:?}", r.coords);
}

#[test]
fn narrow_strait_is_used_when_it_is_the_only_way() {
    let r = check_route(strait(), (10.05, 50.02), (10.05, 50.08));
    assert!(r.km < 7.0, "{} km", r.km);
    // Every vertex near the wall is inside the gap.
    for c in &r.coords {
        if (50.044..=50.056).contains(&c.1) {
            assert!((10.0486..=10.0514).contains(&c.0), "{c:?}");
        }
    }
}

#[test]
fn clearance_is_kept_in_open_water() {
    // South of the island, a route from west to east at the island's latitude bends round it.
    let r = check_route(island(), (10.03, 50.045), (10.07, 50.045));
    for c in &r.coords[1..r.coords.len() - 1] {
        let d = island().coast_distance_m(c.0, c.1);
        assert!(d > 250.0, "vertex {c:?} only {d} m from land");
    }
}

#[test]
fn via_points_are_visited_in_order() {
    let via = (10.05, 50.09);
    let r = island()
        .route(&[(10.03, 50.05), via, (10.07, 50.05)])
        .unwrap();
    assert!(r.coords.contains(&via));
    assert_eq!(island().land_crossings(&r.coords), 0);
    let direct = island().route(&[(10.03, 50.05), (10.07, 50.05)]).unwrap();
    assert!(r.km > direct.km);
}

#[test]
fn end_points_on_land_are_snapped_and_reported() {
    let on_land = (10.05, 50.05); // centre of the island, 700 m from water
    let r = island().route(&[on_land, (10.09, 50.09)]).unwrap();
    assert!(
        r.snapped_from_m > 600.0 && r.snapped_from_m < 800.0,
        "{}",
        r.snapped_from_m
    );
    assert_eq!(r.snapped_to_m, 0.0);
    assert_ne!(r.coords[0], on_land);
    assert!(
        !island().is_sea(on_land.0, on_land.1) && island().is_sea(r.coords[0].0, r.coords[0].1)
    );
    assert_eq!(island().land_crossings(&r.coords), 0);
}

fn route_err(router: &Router, pts: &[(f64, f64)]) -> String {
    match router.route(pts) {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn error_on_land_beyond_snap_limit() {
    let e = route_err(builtin(), &[(131.5, 43.8), NAJIN_BERTH]);
    assert!(
        e.contains("point 131.5000,43.8000 (from) is 22.")
            && e.contains("km from water, beyond the snap limit 5 km"),
        "{e}"
    );
    let e = route_err(builtin(), &[NAJIN_BERTH, (130.9, 43.6)]);
    assert!(
        e.contains("(to)") && e.contains("beyond the snap limit"),
        "{e}"
    );
}

#[test]
fn error_outside_extent() {
    let e = route_err(builtin(), &[(135.2, 42.0), NAJIN_BERTH]);
    assert!(e.contains("point 135.2000,42.0000 (from) is outside the land model's extent (128.5,40.5,134.5,44)"), "{e}");
    let e = route_err(builtin(), &[NAJIN_BERTH, (131.0, 42.0), (131.0, 39.0)]);
    assert!(e.contains("(to) is outside"), "{e}");
    let e = route_err(builtin(), &[NAJIN_BERTH]);
    assert!(e.contains("at least two points"), "{e}");
}

#[test]
fn error_closed_lake() {
    let mut ring = rect(10.02, 50.02, 10.08, 50.08);
    ring.interiors_push(LineString::from(vec![
        (10.04, 50.04),
        (10.06, 50.04),
        (10.06, 50.06),
        (10.04, 50.06),
        (10.04, 50.04),
    ]));
    let r = synthetic(vec![ring]);
    let e = route_err(&r, &[(10.01, 50.01), (10.05, 50.05)]);
    assert!(
        e.contains("no water route from 10.0100,50.0100 (from) to 10.0500,50.0500 (to): destination is in a closed water body (lake)"),
        "{e}"
    );
    let e = route_err(&r, &[(10.05, 50.05), (10.01, 50.01)]);
    assert!(e.contains("origin is in a closed water body (lake)"), "{e}");
    // Within the lake, routing works.
    let lake = r.route(&[(10.045, 50.045), (10.055, 50.055)]).unwrap();
    assert_eq!(r.land_crossings(&lake.coords), 0);
    // The built-in model's north-west reservoir touches the clip box: water, but closed.
    let e = route_err(builtin(), &[(128.9, 43.85), NAJIN_BERTH]);
    assert!(e.contains("origin is in a closed water body"), "{e}");
}

#[test]
fn router_is_send_and_sync_and_deterministic() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Router>();
    let a = builtin().route(&[NAJIN_BERTH, DUNAY_BERTH]).unwrap();
    let b = std::thread::scope(|s| {
        s.spawn(|| builtin().route(&[NAJIN_BERTH, DUNAY_BERTH]).unwrap())
            .join()
            .unwrap()
    });
    assert_eq!(a, b);
    assert_eq!(route_feature_geojson(&a), route_feature_geojson(&b));
}

/// The water graph is the same whatever the number of threads that build it (the edge
/// construction runs on rayon), and so are the routes on it.
#[test]
fn graph_is_the_same_on_any_number_of_threads() {
    let want = builtin().graph_digest();
    let want_route = builtin().route(&[NAJIN_BERTH, DUNAY_BERTH]).unwrap();
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let r = pool
            .install(|| Router::builtin(&RouteParams::default()))
            .unwrap();
        assert_eq!(r.graph_digest(), want, "{threads} thread(s)");
        assert_eq!(r.graph_size(), builtin().graph_size());
        let route = pool.install(|| r.route(&[NAJIN_BERTH, DUNAY_BERTH]).unwrap());
        assert_eq!(route, want_route, "{threads} thread(s)");
    }
}

#[test]
fn repeated_sea_distances_are_the_same() {
    let first = builtin().sea_distance_km(NAJIN_BERTH, DUNAY_BERTH).unwrap();
    let again = builtin().sea_distance_km(NAJIN_BERTH, DUNAY_BERTH).unwrap();
    assert_eq!(first, again);
    let routed = builtin().route(&[NAJIN_BERTH, DUNAY_BERTH]).unwrap().km;
    assert_eq!(first, routed);
    // Errors are reported every time, not remembered as a distance.
    for _ in 0..2 {
        assert!(builtin()
            .sea_distance_km((135.2, 42.0), DUNAY_BERTH)
            .is_err());
    }
}

#[test]
fn land_from_a_geojson_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("land.geojson");
    std::fs::write(
        &path,
        r#"{"type":"FeatureCollection","bbox":[10.0,50.0,10.1,50.1],"features":[
        {"type":"Feature","properties":{},"geometry":{"type":"MultiPolygon","coordinates":[
          [[[10.04,50.04],[10.06,50.04],[10.06,50.06],[10.04,50.06],[10.04,50.04]]]]}}]}"#,
    )
    .unwrap();
    let r = Router::from_path(&path, &RouteParams::default()).unwrap();
    assert_eq!(r.extent(), BOX);
    check_route(&r, (10.03, 50.05), (10.07, 50.05));
    std::fs::write(&path, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}]}"#).unwrap();
    let e = Router::from_path(&path, &RouteParams::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("land.geojson") && e.contains("feature 0") && e.contains("LineString"),
        "{e}"
    );
}

#[test]
fn from_polygons_pads_the_extent() {
    let r = Router::from_polygons(
        vec![rect(10.04, 50.04, 10.06, 50.06)],
        &RouteParams::default(),
    )
    .unwrap();
    let e = r.extent();
    assert!(
        (e[0] - 9.94).abs() < 1e-9 && (e[3] - 50.16).abs() < 1e-9,
        "{e:?}"
    );
    assert!(Router::from_polygons(vec![], &RouteParams::default()).is_err());
    let bad = RouteParams {
        clearance_m: f64::NAN,
        ..RouteParams::default()
    };
    assert!(Router::from_polygons(vec![rect(10.04, 50.04, 10.06, 50.06)], &bad).is_err());
}

/// A land file without a bbox says where land is, not where the data ends: ports beyond the
/// polygons' box are routed round them (before, they were outside the extent, and `match`
/// drew the voyage as a straight line across the island).
#[test]
fn a_land_file_without_bbox_covers_the_points_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("island.geojson");
    // An island at 18-19 E, 57-58 N; `bbox` is a member of the collection or nothing.
    let island = |bbox: &str| {
        format!(
            r#"{{"type":"FeatureCollection",{bbox}"features":[{{"type":"Feature","properties":{{}},"geometry":{{"type":"Polygon","coordinates":[[[18.0,57.0],[19.0,57.0],[19.0,58.0],[18.0,58.0],[18.0,57.0]]]}}}}]}}"#
        )
    };
    std::fs::write(&path, island("")).unwrap();
    let (west, east) = ((17.01, 57.5), (20.01, 57.5));
    let plain = Router::from_path(&path, &RouteParams::default()).unwrap();
    assert!(
        plain.route(&[west, east]).is_err(),
        "outside the polygons' box"
    );
    let r = Router::from_path_covering(&path, &RouteParams::default(), &[west, east]).unwrap();
    let e = r.extent();
    assert!(e[0] < 17.01 && e[2] > 20.01, "{e:?}");
    let route = check_route(&r, west, east);
    assert!(
        route.coords.iter().any(|c| c.1 > 57.99 || c.1 < 57.01),
        "{:?}",
        route.coords
    );
    // A bbox in the file is the extent, whatever is asked for.
    std::fs::write(&path, island(r#""bbox":[17.5,56.5,19.5,58.5],"#)).unwrap();
    let boxed = Router::from_path_covering(&path, &RouteParams::default(), &[west, east]).unwrap();
    assert_eq!(boxed.extent(), [17.5, 56.5, 19.5, 58.5]);
}

#[test]
fn cli_prints_one_feature_and_fails_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let land = dir.path().join("island.geojson");
    std::fs::write(
        &land,
        r#"{"type":"Feature","bbox":[10.0,50.0,10.1,50.1],"properties":{},"geometry":{"type":"Polygon","coordinates":[[[10.04,50.04],[10.06,50.04],[10.06,50.06],[10.04,50.06],[10.04,50.04]]]}}"#,
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_shiplink");
    let out = Command::new(bin)
        .current_dir(dir.path())
        .args([
            "route",
            "--from",
            "10.03,50.05",
            "--to",
            "10.07,50.05",
            "--via",
            "10.05,50.07",
        ])
        .args(["--clearance-m", "200", "--land"])
        .arg(&land)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["type"], "Feature");
    assert_eq!(v["geometry"]["type"], "LineString");
    assert!(v["properties"]["route_km"].as_f64().unwrap() > 4.0);
    assert_eq!(v["properties"]["snapped_from_m"], 0.0);

    let out = Command::new(bin)
        .current_dir(dir.path())
        .args([
            "route",
            "--from",
            "10.03;50.05",
            "--to",
            "10.07,50.05",
            "--land",
        ])
        .arg(&land)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--from") && err.contains("LON,LAT"), "{err}");

    let out = Command::new(bin)
        .current_dir(dir.path())
        .args([
            "route",
            "--from",
            "10.03,50.05",
            "--to",
            "11.5,50.05",
            "--land",
        ])
        .arg(&land)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside the land model's extent"));
}

#[cfg(feature = "gdal")]
/// Synthetic land without a `bbox` (so every format gives the same padded extent): the two
/// islands of [`island`].
const ISLANDS_GEOJSON: &str = r#"{"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"name":"big"},"geometry":{"type":"Polygon","coordinates":[
      [[10.04,50.04],[10.06,50.04],[10.06,50.06],[10.04,50.06],[10.04,50.04]]]}},
    {"type":"Feature","properties":{"name":"small"},"geometry":{"type":"Polygon","coordinates":[
      [[10.02,50.075],[10.03,50.075],[10.03,50.08],[10.02,50.08],[10.02,50.075]]]}}]}"#;

#[cfg(not(feature = "gdal"))]
#[test]
fn land_in_other_formats_needs_gdal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("land.gpkg");
    std::fs::write(&path, b"not read").unwrap();
    let e = Router::from_path(&path, &RouteParams::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("land.gpkg")
            && e.contains("built without the gdal feature: cannot read land from GeoPackage"),
        "{e}"
    );
}

/// `--land` in GeoPackage and Shapefile (converted with `ogr2ogr`) routes as the GeoJSON does.
#[cfg(feature = "gdal")]
#[test]
fn land_from_geopackage_and_shapefile_routes_as_geojson() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("land.geojson");
    std::fs::write(&src, ISLANDS_GEOJSON).unwrap();
    let params = RouteParams::default();
    let from_geojson = Router::from_path(&src, &params).unwrap();
    let legs = [
        [(10.03, 50.05), (10.07, 50.05)],
        [(10.03, 50.045), (10.07, 50.045)],
        [(10.01, 50.078), (10.045, 50.085)],
    ];
    for (name, driver) in [("land.gpkg", "GPKG"), ("land.shp", "ESRI Shapefile")] {
        let dst = dir.path().join(name);
        let out = Command::new("ogr2ogr")
            .args(["-f", driver])
            .arg(&dst)
            .arg(&src)
            .output()
            .expect("ogr2ogr (gdal-bin) runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = Router::from_path(&dst, &params).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.extent(), from_geojson.extent(), "{name}");
        assert_eq!(r.graph_size(), from_geojson.graph_size(), "{name}");
        for [a, b] in legs {
            let want = check_route(&from_geojson, a, b);
            let got = check_route(&r, a, b);
            assert!(
                (got.km - want.km).abs() < 1e-9,
                "{name}: {} vs {} km",
                got.km,
                want.km
            );
            assert_eq!(got.coords.len(), want.coords.len(), "{name}");
            for (g, w) in got.coords.iter().zip(&want.coords) {
                assert!(
                    (g.0 - w.0).abs() < 1e-9 && (g.1 - w.1).abs() < 1e-9,
                    "{name}: {g:?} vs {w:?}"
                );
            }
        }
    }
}

/// A route whose waypoints all coincide is still a valid GeoJSON LineString (two positions),
/// 0 km long.
#[test]
fn a_route_to_the_same_point_has_two_positions() {
    let r = island()
        .route(&[(10.01, 50.01), (10.01, 50.01)])
        .expect("route");
    assert_eq!(r.coords.len(), 2, "{:?}", r.coords);
    assert_eq!(r.coords[0], r.coords[1]);
    assert_eq!(r.km, 0.0);
    let v: serde_json::Value =
        serde_json::from_str(&shiplink::routing::route_feature_geojson(&r)).unwrap();
    assert_eq!(v["geometry"]["coordinates"].as_array().unwrap().len(), 2);
}
