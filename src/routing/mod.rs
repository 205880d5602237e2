//! Sea routing over a land model: routes that never cross land.
//!
//! A [`Router`] holds the land polygons (built-in GSHHG-f Najin–Dunay, a GeoJSON file, or
//! polygons from any reader) and a water graph built once from them; [`Router::route`] then
//! answers in milliseconds and may be called from many threads. See docs/routing.md for the
//! method: a reduced visibility graph over coast nodes offset into the water, clearance as a
//! soft cost, A* search, line-of-sight smoothing, and a final check of every segment against
//! the original land with an R-tree.
//!
//! # Units
//! Waypoints and route coordinates are lon/lat degrees (WGS84); `km` is the geodesic length
//! of the coordinates; snap distances are geodesic metres.
//!
//! # Example
//! ```no_run
//! use shiplink::{config::RouteParams, routing::Router};
//! let router = Router::builtin(&RouteParams::default()).unwrap();
//! let r = router.route(&[(130.3000, 42.2360), (132.3545, 42.9045)]).unwrap();
//! assert!(r.km > 198.0 && r.km < 210.0);
//! ```

mod graph;
mod grid;
mod io;
mod land;
mod slabs;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use geo::{BoundingRect, Polygon};

pub(crate) use land::Proj;

use crate::config::RouteParams;
use crate::error::{Error, Result};
use crate::geodesy::{geodesic_m, polyline_km, to_ecef_m};

pub use io::{parse_land, parse_lon_lat, route_feature_geojson, LandData};

use graph::{edge_cost, sph_m, Graph};
use grid::P;
use land::{Land, Where};

/// The built-in land: GSHHG 2.3.6 full resolution, Najin–Dunay box (see data/land/README.md).
const BUILTIN_LAND: &str = include_str!("../../data/land/gshhg-f_najin-dunay.geojson");

/// Padding, degrees, added around the polygons' bounding box when the data has no `bbox`.
pub const EXTENT_PAD_DEG: f64 = 0.1;

/// Largest accepted clearance, metres.
pub const MAX_CLEARANCE_M: f64 = 5000.0;

/// Land polygons and the water graph built from them (built once, reused for every route).
pub struct Router {
    params: RouteParams,
    land: Land,
    graph: Graph,
    /// The land polygons as a GeoJSON FeatureCollection (for the output's context layer).
    land_geojson: Vec<u8>,
    /// [`Router::sea_distance_km`] answers by end points (lon/lat bits), at most
    /// [`DISTANCE_CACHE_MAX`] entries.
    distance_cache: Mutex<HashMap<[u64; 4], f64>>,
}

/// Most sea distances remembered; the cache is emptied when full.
pub const DISTANCE_CACHE_MAX: usize = 100_000;

/// A route over water.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// lon/lat vertices from the (snapped) start to the (snapped) end.
    pub coords: Vec<(f64, f64)>,
    /// Geodesic length of `coords`.
    pub km: f64,
    pub snapped_from_m: f64,
    pub snapped_to_m: f64,
}

/// A waypoint moved to water.
struct Snapped {
    lonlat: (f64, f64),
    p: P,
    ecef: [f64; 3],
    snap_m: f64,
    label: String,
}

fn fmt_pt(p: (f64, f64)) -> String {
    format!("{:.4},{:.4}", p.0, p.1)
}

fn fmt_num(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn label(i: usize, n: usize) -> String {
    if i == 0 {
        "from".into()
    } else if i + 1 == n {
        "to".into()
    } else {
        format!("via {i}")
    }
}

/// Polygons as a GeoJSON FeatureCollection, coordinates as given.
fn land_to_geojson(polygons: &[Polygon<f64>]) -> Vec<u8> {
    let features: Vec<geojson::Feature> = polygons
        .iter()
        .map(|p| geojson::Feature {
            bbox: None,
            geometry: Some(geojson::Geometry::from(p)),
            id: None,
            properties: None,
            foreign_members: None,
        })
        .collect();
    let fc = geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    };
    serde_json::to_vec(&fc).unwrap_or_default()
}

impl Router {
    /// The land polygons as GeoJSON (written beside the outputs for context).
    pub fn land_geojson(&self) -> Vec<u8> {
        self.land_geojson.clone()
    }

    /// The built-in Najin–Dunay land model.
    pub fn builtin(params: &RouteParams) -> Result<Router> {
        let d = parse_land(BUILTIN_LAND)
            .map_err(|m| Error::Route(format!("built-in land model: {m}")))?;
        Router::with_extent(d.polygons, d.bbox, params)
    }

    /// Land polygons from a file for any region. GeoJSON (`.geojson`, `.json` or no
    /// extension; Polygon/MultiPolygon features, lon/lat): the extent is the document's `bbox`,
    /// else the polygons' bounding box padded by [`EXTENT_PAD_DEG`]. Any other file
    /// (Shapefile, GeoPackage, FlatGeobuf, ...) is read with GDAL when built with the `gdal`
    /// feature (polygons reprojected to lon/lat, extent = padded bounding box), and is an error
    /// naming the format otherwise.
    pub fn from_path(path: &Path, params: &RouteParams) -> Result<Router> {
        Router::from_path_covering(path, params, &[])
    }

    /// [`Router::from_path`], with an extent that also covers the lon/lat points `cover`
    /// where the file gives none (no GeoJSON `bbox`): what lies outside the land polygons
    /// given is water, so `match` covers its port zones, and a route between ports beyond
    /// the polygons' box goes round them instead of failing and falling back to a straight
    /// line over the land.
    pub fn from_path_covering(
        path: &Path,
        params: &RouteParams,
        cover: &[(f64, f64)],
    ) -> Result<Router> {
        if !crate::ingest::walk::is_geojson(path) {
            return Router::from_other_format(path, params, cover);
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let d = parse_land(&text).map_err(|m| Error::bad_file(path, m))?;
        if d.polygons.is_empty() && d.bbox.is_none() {
            return Err(Error::bad_file(
                path,
                "no land polygons and no bbox: the extent is unknown",
            ));
        }
        Router::covering(d.polygons, d.bbox, cover, params)
    }

    #[cfg(feature = "gdal")]
    fn from_other_format(
        path: &Path,
        params: &RouteParams,
        cover: &[(f64, f64)],
    ) -> Result<Router> {
        let polygons = crate::gdal_io::read_land_polygons(path)?;
        Router::covering(polygons, None, cover, params)
    }

    #[cfg(not(feature = "gdal"))]
    fn from_other_format(
        path: &Path,
        _params: &RouteParams,
        _cover: &[(f64, f64)],
    ) -> Result<Router> {
        Err(Error::bad_file(
            path,
            format!(
                "built without the gdal feature: cannot read land from {}",
                crate::ingest::walk::format_name(path)
            ),
        ))
    }

    /// Land polygons already read (lon/lat), e.g. from a Shapefile or GeoPackage reader.
    /// The extent is their bounding box padded by [`EXTENT_PAD_DEG`].
    pub fn from_polygons(polygons: Vec<Polygon<f64>>, params: &RouteParams) -> Result<Router> {
        Router::with_extent(polygons, None, params)
    }

    /// Land polygons with an explicit extent (W,S,E,N); `None` means the padded bounding box.
    pub fn with_extent(
        polygons: Vec<Polygon<f64>>,
        extent: Option<[f64; 4]>,
        params: &RouteParams,
    ) -> Result<Router> {
        Router::covering(polygons, extent, &[], params)
    }

    /// [`Router::with_extent`]; where `extent` is `None`, the padded bounding box covers the
    /// lon/lat points `cover` as well as the polygons.
    pub fn covering(
        polygons: Vec<Polygon<f64>>,
        extent: Option<[f64; 4]>,
        cover: &[(f64, f64)],
        params: &RouteParams,
    ) -> Result<Router> {
        let c = params.clearance_m;
        if !(c.is_finite() && (0.0..=MAX_CLEARANCE_M).contains(&c)) {
            return Err(Error::Config(format!(
                "routing.clearance_m ({c}) must be between 0 and {MAX_CLEARANCE_M}"
            )));
        }
        if !(params.max_snap_m.is_finite() && params.max_snap_m >= 0.0) {
            return Err(Error::Config(format!(
                "routing.max_snap_m ({}) must be a number >= 0",
                params.max_snap_m
            )));
        }
        let extent = match extent {
            Some(e) => e,
            None => {
                let points = cover
                    .iter()
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .map(|&(x, y)| geo::Point::new(x, y).bounding_rect());
                let mut it = polygons.iter().filter_map(|p| p.bounding_rect());
                let Some(first) = it.next() else {
                    return Err(Error::Route(
                        "land model has no polygons and no extent".into(),
                    ));
                };
                let r = it.chain(points).fold(first, |a, b| {
                    geo::Rect::new(
                        geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                        geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
                    )
                });
                [
                    (r.min().x - EXTENT_PAD_DEG).max(-180.0),
                    (r.min().y - EXTENT_PAD_DEG).max(-90.0),
                    (r.max().x + EXTENT_PAD_DEG).min(180.0),
                    (r.max().y + EXTENT_PAD_DEG).min(90.0),
                ]
            }
        };
        let land = Land::new(&polygons, extent);
        let graph = Graph::build(&land, c);
        let land_geojson = land_to_geojson(&polygons);
        Ok(Router {
            params: params.clone(),
            land,
            graph,
            land_geojson,
            distance_cache: Mutex::new(HashMap::new()),
        })
    }

    /// The model's extent: W, S, E, N degrees.
    pub fn extent(&self) -> [f64; 4] {
        self.land.extent
    }

    /// Graph size: (nodes, undirected edges).
    pub fn graph_size(&self) -> (usize, usize) {
        (self.graph.nodes.len(), self.graph.edge_count())
    }

    /// SHA-256 (hex) of the water graph, bit for bit (same land and parameters give the same
    /// digest whatever the thread count; for tests and benchmarks).
    pub fn graph_digest(&self) -> String {
        self.graph.digest()
    }

    /// The graph's nodes, lon/lat (for drawing and debugging).
    pub fn graph_nodes(&self) -> Vec<(f64, f64)> {
        self.graph
            .nodes
            .iter()
            .map(|n| self.land.proj.inv(n.pos))
            .collect()
    }

    /// Distance, metres (plane approximation), from a lon/lat point to the nearest coast.
    pub fn coast_distance_m(&self, lon: f64, lat: f64) -> f64 {
        self.land.coast_dist_lonlat(lon, lat)
    }

    /// Is the lon/lat point inside the extent and in water (sea or lake)?
    pub fn is_water(&self, lon: f64, lat: f64) -> bool {
        self.land.in_extent(lon, lat)
            && self.land.locate(self.land.proj.fwd(lon, lat)) != Where::Land
    }

    /// Is the lon/lat point inside the extent and in the sea (not land, not a lake)?
    pub fn is_sea(&self, lon: f64, lat: f64) -> bool {
        self.land.in_extent(lon, lat)
            && self.land.locate(self.land.proj.fwd(lon, lat)) == Where::Sea
    }

    /// How many segments of `coords` (lon/lat) cross or touch the land polygons (R-tree over
    /// the original land edges; for checks and tests).
    pub fn land_crossings(&self, coords: &[(f64, f64)]) -> usize {
        coords
            .windows(2)
            .filter(|w| {
                let a = self.land.proj.fwd(w[0].0, w[0].1);
                let b = self.land.proj.fwd(w[1].0, w[1].1);
                self.land.crosses_land_rtree(a, b)
            })
            .count()
    }

    /// Sea distance, km, between two points (the length of [`Router::route`]). Answers are
    /// remembered by end points, so asking again costs a hash look-up (errors are not
    /// remembered).
    pub fn sea_distance_km(&self, a: (f64, f64), b: (f64, f64)) -> Result<f64> {
        let key = [a.0.to_bits(), a.1.to_bits(), b.0.to_bits(), b.1.to_bits()];
        let cached = self
            .distance_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).copied());
        if let Some(km) = cached {
            return Ok(km);
        }
        let km = self.route(&[a, b])?.km;
        if let Ok(mut c) = self.distance_cache.lock() {
            if c.len() >= DISTANCE_CACHE_MAX {
                c.clear();
            }
            c.insert(key, km);
        }
        Ok(km)
    }

    /// A route through `waypoints` (lon/lat, at least two) in order.
    pub fn route(&self, waypoints: &[(f64, f64)]) -> Result<Route> {
        let n = waypoints.len();
        if n < 2 {
            return Err(Error::Route(format!(
                "a route needs at least two points, got {n}"
            )));
        }
        let pts: Vec<Snapped> = waypoints
            .iter()
            .enumerate()
            .map(|(i, &w)| self.snap(w, label(i, n)))
            .collect::<Result<_>>()?;
        let mut plane: Vec<P> = vec![pts[0].p];
        let mut coords = vec![pts[0].lonlat];
        for w in pts.windows(2) {
            let leg = self.leg(&w[0], &w[1])?;
            for &p in &leg[1..leg.len() - 1] {
                plane.push(p);
                coords.push(self.land.proj.inv(p));
            }
            if plane.last() != Some(&w[1].p) {
                plane.push(w[1].p);
                coords.push(w[1].lonlat);
            }
        }
        if coords.len() == 1 {
            // Every waypoint at one spot: a LineString still needs two positions
            // (RFC 7946), so the route is that spot twice, 0 km long.
            coords.push(coords[0]);
        }
        for (k, s) in plane.windows(2).enumerate() {
            if self.land.crosses_land_rtree(s[0], s[1]) {
                return Err(Error::Route(format!(
                    "internal check failed: segment {k} of the route from {} to {} touches land",
                    fmt_pt(pts[0].lonlat),
                    fmt_pt(pts[n - 1].lonlat)
                )));
            }
        }
        Ok(Route {
            km: polyline_km(&coords),
            coords,
            snapped_from_m: pts[0].snap_m,
            snapped_to_m: pts[n - 1].snap_m,
        })
    }

    /// Checks a waypoint and moves it to the nearest water if it is on land.
    fn snap(&self, (lon, lat): (f64, f64), label: String) -> Result<Snapped> {
        if !(lon.is_finite() && lat.is_finite()) {
            return Err(Error::Route(format!(
                "point {lon},{lat} ({label}) is not a finite lon/lat"
            )));
        }
        let e = self.land.extent;
        if !self.land.in_extent(lon, lat) {
            return Err(Error::Route(format!(
                "point {} ({label}) is outside the land model's extent ({},{},{},{})",
                fmt_pt((lon, lat)),
                fmt_num(e[0]),
                fmt_num(e[1]),
                fmt_num(e[2]),
                fmt_num(e[3])
            )));
        }
        let p = self.land.proj.fwd(lon, lat);
        let mut out = Snapped {
            lonlat: (lon, lat),
            p,
            ecef: to_ecef_m(lon, lat),
            snap_m: 0.0,
            label,
        };
        if self.land.locate(p) != Where::Land {
            return Ok(out);
        }
        let limit = || fmt_num(self.params.max_snap_m / 1000.0);
        let Some((d_m, c)) = self.land.nearest_coast(p) else {
            return Err(Error::Route(format!(
                "point {} ({}) is on land",
                fmt_pt((lon, lat)),
                out.label
            )));
        };
        // Cheap early refusal (plane metres are within a few % of geodesic ones).
        if d_m > 1.1 * self.params.max_snap_m + 100.0 {
            return Err(Error::Route(format!(
                "point {} ({}) is {:.1} km from water, beyond the snap limit {} km",
                fmt_pt((lon, lat)),
                out.label,
                d_m / 1000.0,
                limit()
            )));
        }
        let dir = [c[0] - p[0], c[1] - p[1]];
        let len = (dir[0] * dir[0] + dir[1] * dir[1]).sqrt().max(1e-9);
        let dir = [dir[0] / len, dir[1] / len];
        let found = [2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
            .iter()
            .find_map(|&push| {
                let q = [c[0] + dir[0] * push, c[1] + dir[1] * push];
                let (qlon, qlat) = self.land.proj.inv(q);
                (self.land.in_extent(qlon, qlat) && self.land.locate(q) != Where::Land)
                    .then_some((q, (qlon, qlat)))
            });
        let Some((q, ll)) = found else {
            return Err(Error::Route(format!(
                "point {} ({}) is on land and no water was found next to the nearest coast",
                fmt_pt((lon, lat)),
                out.label
            )));
        };
        let snap_m = geodesic_m((lon, lat), ll);
        if snap_m > self.params.max_snap_m {
            return Err(Error::Route(format!(
                "point {} ({}) is {:.1} km from water, beyond the snap limit {} km",
                fmt_pt((lon, lat)),
                out.label,
                snap_m / 1000.0,
                limit()
            )));
        }
        out.lonlat = ll;
        out.p = q;
        out.ecef = to_ecef_m(ll.0, ll.1);
        out.snap_m = snap_m;
        Ok(out)
    }

    /// The plane polyline of one leg, from `a.p` to `b.p`.
    fn leg(&self, a: &Snapped, b: &Snapped) -> Result<Vec<P>> {
        if a.p == b.p {
            return Ok(vec![a.p, b.p]);
        }
        let c = self.graph.clearance_m;
        let direct = self
            .land
            .clearance(a.p, b.p, c)
            .map(|d| edge_cost(sph_m(&a.ecef, &b.ecef), d, c));
        if let Some(cost) = direct {
            if cost <= sph_m(&a.ecef, &b.ecef) * 1.000_001 {
                return Ok(vec![a.p, b.p]);
            }
        }
        let from = self.graph.connect(&self.land, a.p, &a.ecef);
        let to = self.graph.connect(&self.land, b.p, &b.ecef);
        let via = self.graph.search(&from, &b.ecef, &to);
        let mut path = match (direct, via) {
            (Some(dc), Some((gc, nodes))) if gc < dc => self.node_path(a.p, &nodes, b.p),
            (Some(_), _) => vec![a.p, b.p],
            (None, Some((_, nodes))) => self.node_path(a.p, &nodes, b.p),
            (None, None) => return Err(self.no_route(a, b, &from, &to)),
        };
        path = self.smooth(&path);
        Ok(path)
    }

    fn node_path(&self, a: P, nodes: &[u32], b: P) -> Vec<P> {
        let mut v = vec![a];
        v.extend(nodes.iter().map(|&j| self.graph.nodes[j as usize].pos));
        v.push(b);
        v
    }

    /// Greedy line-of-sight shortcuts that never lower the clearance of the part replaced.
    fn smooth(&self, path: &[P]) -> Vec<P> {
        let c = self.graph.clearance_m;
        let last = path.len() - 1;
        let seg: Vec<f64> = path
            .windows(2)
            .map(|w| self.land.clearance(w[0], w[1], c).unwrap_or(0.0))
            .collect();
        let mut out = vec![path[0]];
        let mut i = 0;
        while i < last {
            let mut j = i + 1;
            let mut min_d = seg[i];
            while j < last {
                let need = min_d.min(seg[j]);
                match self.land.clearance(path[i], path[j + 1], c) {
                    Some(d) if d >= need - 1.0 => {
                        min_d = need;
                        j += 1;
                    }
                    _ => break,
                }
            }
            out.push(path[j]);
            i = j;
        }
        out
    }

    fn no_route(&self, a: &Snapped, b: &Snapped, from: &[(u32, f64)], to: &[(u32, f64)]) -> Error {
        let (wa, wb) = (self.land.locate(a.p), self.land.locate(b.p));
        let main = self.main_component();
        let sees_main = |v: &[(u32, f64)]| {
            main.is_some_and(|m| v.iter().any(|&(j, _)| self.graph.comp[j as usize] == m))
        };
        let end_name = |s: &Snapped| {
            if s.label == "to" {
                "destination".to_string()
            } else if s.label == "from" {
                "origin".to_string()
            } else {
                s.label.clone()
            }
        };
        let why = match (wa == Where::Lake, wb == Where::Lake) {
            (false, true) => format!("{} is in a closed water body (lake)", end_name(b)),
            (true, false) => format!("{} is in a closed water body (lake)", end_name(a)),
            (true, true) => {
                "the two points are in different closed water bodies (lakes)".to_string()
            }
            (false, false) => match (sees_main(from), sees_main(to)) {
                (true, false) => format!("{} is in a closed water body", end_name(b)),
                (false, true) => format!("{} is in a closed water body", end_name(a)),
                _ => "the two points are in separate water bodies".to_string(),
            },
        };
        Error::Route(format!(
            "no water route from {} ({}) to {} ({}): {why}",
            fmt_pt(a.lonlat),
            a.label,
            fmt_pt(b.lonlat),
            b.label
        ))
    }

    /// The component with the most nodes (the open sea), if any.
    fn main_component(&self) -> Option<u32> {
        let mut count = std::collections::HashMap::new();
        for &c in &self.graph.comp {
            *count.entry(c).or_insert(0usize) += 1;
        }
        count
            .into_iter()
            .max_by_key(|&(c, k)| (k, std::cmp::Reverse(c)))
            .map(|(c, _)| c)
    }
}
