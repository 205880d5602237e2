//! The land model: land polygons read from GeoJSON (or given), projected to a local metric
//! plane, with the indexes the router needs (point location, nearest coast, segment clearance).
//!
//! # Units
//! Input is lon/lat degrees (WGS84). Geometry inside the model is in metres on an
//! equirectangular plane about the extent's centre: `x = (lon - lon0) * kx`,
//! `y = (lat - lat0) * ky`. The map is affine in lon/lat, so a straight segment on the plane is
//! the same straight segment a GIS draws between the two lon/lat vertices; distances on the
//! plane are off by the cosine ratio (about ±3 % across the 3.5° Najin–Dunay box), which only
//! matters for clearances, never for reported lengths (those are geodesic).
//!
//! # Example
//! ```ignore
//! let land = Land::new(polygons, extent)?; // polygons in lon/lat
//! assert!(land.locate(land.proj.fwd(130.30, 42.236)) == Where::Sea);
//! ```

use geo::Polygon;
use rstar::primitives::{GeomWithData, Line, Rectangle};
use rstar::{RTree, AABB};

use super::grid::{seg_point_dist, segs_intersect, EdgeGrid, P};
use super::slabs::Slabs;

/// West, south, east, north in degrees.
pub type Extent = [f64; 4];

/// Equirectangular projection about (lon0, lat0), metres.
#[derive(Debug, Clone, Copy)]
pub struct Proj {
    pub lon0: f64,
    pub lat0: f64,
    pub kx: f64,
    pub ky: f64,
}

impl Proj {
    pub fn about(lon0: f64, lat0: f64) -> Proj {
        let m_per_deg = crate::geodesy::EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        Proj {
            lon0,
            lat0,
            kx: m_per_deg * lat0.to_radians().cos().max(0.01),
            ky: m_per_deg,
        }
    }

    pub fn fwd(&self, lon: f64, lat: f64) -> P {
        [(lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky]
    }

    pub fn inv(&self, p: P) -> (f64, f64) {
        (p[0] / self.kx + self.lon0, p[1] / self.ky + self.lat0)
    }
}

/// Where a point lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    Land,
    /// Water inside a hole of a land polygon (a lake: GSHHG levels 1-4 are land minus lakes).
    Lake,
    Sea,
}

/// One ring of a land polygon on the plane (open: the closing vertex is not repeated).
pub struct Ring {
    pub pts: Vec<P>,
    /// True when land lies to the left of the walking direction.
    pub land_on_left: bool,
    /// The edges by y, for point-in-ring tests.
    slabs: Slabs,
}

struct PolyRings {
    outer: usize,
    holes: Vec<usize>,
}

/// Land polygons on the plane with their indexes.
pub struct Land {
    pub extent: Extent,
    pub proj: Proj,
    pub rings: Vec<Ring>,
    polys: Vec<PolyRings>,
    poly_tree: RTree<GeomWithData<Rectangle<P>, usize>>,
    pub edges: Vec<[P; 2]>,
    edge_tree: RTree<GeomWithData<Line<P>, u32>>,
    pub grid: EdgeGrid,
}

fn signed_area(pts: &[P]) -> f64 {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

impl Land {
    /// Projects `polygons` (lon/lat) about the centre of `extent` and indexes them.
    /// Rings with fewer than three distinct vertices are dropped.
    pub fn new(polygons: &[Polygon<f64>], extent: Extent) -> Land {
        let proj = Proj::about((extent[0] + extent[2]) / 2.0, (extent[1] + extent[3]) / 2.0);
        let mut rings = Vec::new();
        let mut polys = Vec::new();
        let to_ring = |ls: &geo::LineString<f64>, exterior: bool| -> Option<Ring> {
            let mut pts: Vec<P> = Vec::with_capacity(ls.0.len());
            for c in &ls.0 {
                let p = proj.fwd(c.x, c.y);
                if pts.last() != Some(&p) {
                    pts.push(p);
                }
            }
            while pts.len() > 1 && pts.first() == pts.last() {
                pts.pop();
            }
            if pts.len() < 3 {
                return None;
            }
            let ccw = signed_area(&pts) > 0.0;
            Some(Ring {
                slabs: Slabs::new(&pts),
                pts,
                land_on_left: ccw == exterior,
            })
        };
        for poly in polygons {
            let Some(outer) = to_ring(poly.exterior(), true) else {
                continue;
            };
            rings.push(outer);
            let outer = rings.len() - 1;
            let mut holes = Vec::new();
            for h in poly.interiors() {
                if let Some(r) = to_ring(h, false) {
                    rings.push(r);
                    holes.push(rings.len() - 1);
                }
            }
            polys.push(PolyRings { outer, holes });
        }
        let poly_tree = RTree::bulk_load(
            polys
                .iter()
                .enumerate()
                .map(|(i, pr)| {
                    let pts = &rings[pr.outer].pts;
                    let env = AABB::from_points(pts.iter());
                    GeomWithData::new(Rectangle::from_aabb(env), i)
                })
                .collect(),
        );
        let mut edges = Vec::new();
        for r in &rings {
            let n = r.pts.len();
            for i in 0..n {
                edges.push([r.pts[i], r.pts[(i + 1) % n]]);
            }
        }
        let edge_tree = RTree::bulk_load(
            edges
                .iter()
                .enumerate()
                .map(|(i, e)| GeomWithData::new(Line::new(e[0], e[1]), i as u32))
                .collect(),
        );
        let lo = proj.fwd(extent[0], extent[1]);
        let hi = proj.fwd(extent[2], extent[3]);
        let grid = EdgeGrid::build(&edges, lo, hi);
        Land {
            extent,
            proj,
            rings,
            polys,
            poly_tree,
            edges,
            edge_tree,
            grid,
        }
    }

    /// Is the lon/lat point inside the extent (edges included)?
    pub fn in_extent(&self, lon: f64, lat: f64) -> bool {
        lon >= self.extent[0]
            && lon <= self.extent[2]
            && lat >= self.extent[1]
            && lat <= self.extent[3]
    }

    /// Is `p` inside ring `r` (crossing number)?
    fn in_ring(&self, r: usize, p: P) -> bool {
        let ring = &self.rings[r];
        ring.slabs.contains(&ring.pts, p)
    }

    /// Land, lake or sea at a plane point. Land wins over lake (an island in a lake is land).
    pub fn locate(&self, p: P) -> Where {
        let mut lake = false;
        for g in self
            .poly_tree
            .locate_in_envelope_intersecting(&AABB::from_point(p))
        {
            let pr = &self.polys[g.data];
            if !self.in_ring(pr.outer, p) {
                continue;
            }
            if pr.holes.iter().any(|&h| self.in_ring(h, p)) {
                lake = true;
            } else {
                return Where::Land;
            }
        }
        if lake {
            Where::Lake
        } else {
            Where::Sea
        }
    }

    /// The nearest land edge to `p`: (distance m, nearest point on it).
    pub fn nearest_coast(&self, p: P) -> Option<(f64, P)> {
        let e = self.edge_tree.nearest_neighbor(&p)?;
        let [a, b] = self.edges[e.data as usize];
        let (d, c) = seg_point_dist(a, b, p);
        Some((d, c))
    }

    /// Distance from `p` to the nearest land edge, metres (infinite without land).
    pub fn coast_dist(&self, p: P) -> f64 {
        self.nearest_coast(p).map_or(f64::INFINITY, |(d, _)| d)
    }

    /// Minimum distance from segment pq to land, capped at `cap_m`; `None` if it touches land.
    /// (A cheap crossing test first: most candidate segments are blocked.)
    pub fn clearance(&self, p: P, q: P, cap_m: f64) -> Option<f64> {
        self.grid.clearance(&self.edges, p, q, 0.0)?;
        if cap_m <= 0.0 {
            return Some(0.0);
        }
        self.grid.clearance(&self.edges, p, q, cap_m)
    }

    /// A land edge that segment pq touches or crosses (the first met walking from p), if any.
    pub fn touching_edge(&self, p: P, q: P) -> Option<u32> {
        self.grid.touching_edge(&self.edges, p, q)
    }

    /// Does segment pq touch or cross land edge `e` (a number from [`Land::touching_edge`])?
    pub fn touches_edge(&self, p: P, q: P, e: u32) -> bool {
        self.edges
            .get(e as usize)
            .is_some_and(|&[a, b]| segs_intersect(p, q, a, b))
    }

    /// Distance, metres, from a lon/lat point to the nearest land edge.
    pub fn coast_dist_lonlat(&self, lon: f64, lat: f64) -> f64 {
        self.coast_dist(self.proj.fwd(lon, lat))
    }

    /// Independent check with the R-tree over the original land edges: does pq cross or touch
    /// any land edge? (The segment is cut into short pieces so each envelope query is small.)
    pub fn crosses_land_rtree(&self, p: P, q: P) -> bool {
        let len = ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2)).sqrt();
        let pieces = (len / 1000.0).ceil().max(1.0) as usize;
        for k in 0..pieces {
            let t0 = k as f64 / pieces as f64;
            let t1 = (k + 1) as f64 / pieces as f64;
            let a = [p[0] + (q[0] - p[0]) * t0, p[1] + (q[1] - p[1]) * t0];
            let b = [p[0] + (q[0] - p[0]) * t1, p[1] + (q[1] - p[1]) * t1];
            let env = AABB::from_corners(
                [a[0].min(b[0]), a[1].min(b[1])],
                [a[0].max(b[0]), a[1].max(b[1])],
            );
            for e in self.edge_tree.locate_in_envelope_intersecting(&env) {
                let [c, d] = self.edges[e.data as usize];
                if segs_intersect(p, q, c, d) {
                    return true;
                }
            }
        }
        false
    }
}
