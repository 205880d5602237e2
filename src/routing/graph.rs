//! The water graph: a reduced visibility graph over coast nodes offset into the water, built
//! once per land model, and the A* search over it.
//!
//! Nodes: every land ring is simplified (Douglas–Peucker, tolerance level/4) for each clearance
//! level `c, c/2, c/4, c/8` (at least [`MIN_LEVEL_M`]); each vertex where the land is convex
//! (the coast points into the water) gets a node on its outward bisector, 1.1 × level from both
//! incident edges. The top level's node is kept when it lies in water at least 0.8 × level
//! from land; a lower level's node is kept only where every higher level failed at that vertex
//! (narrow water, e.g. the Chazhma inlet), so the graph stays small on open coasts.
//!
//! Edges: pairs of nodes whose segment is tangent to the coast at both ends (the only edges a
//! shortest path can use) and touches no land. The cost of an edge is its spherical length in
//! metres times `1 + PENALTY * shortfall`, where shortfall = (c - d)/c for an edge that comes
//! within d < c of land: clearance is a soft cost, so narrow passages remain usable, and the
//! search takes the widest passage when there is a choice.
//!
//! # Units
//! Plane metres (see `land.rs`); costs in metres.
//!
//! # Example
//! ```ignore
//! let g = Graph::build(&land, 300.0);
//! let path = g.search(&land, start, &from_start, goal, &to_goal);
//! ```

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use geo::{Coord, LineString, Simplify};
use rayon::prelude::*;

use super::grid::P;
use super::land::{Land, Where};
use crate::geodesy::{m_for_chord, to_ecef_m};

/// Lowest clearance level, metres: nodes never sit closer than this to the coast.
pub const MIN_LEVEL_M: f64 = 12.0;

/// Weight of the clearance shortfall in an edge's cost.
pub const PENALTY: f64 = 1.0;

/// A node: a point in water off a convex coast vertex.
#[derive(Debug, Clone)]
pub struct Node {
    pub pos: P,
    pub ecef: [f64; 3],
    /// Directions from the coast vertex to its two neighbours on the simplified ring.
    pub ea: P,
    pub eb: P,
}

/// The graph (compressed adjacency, both directions stored).
pub struct Graph {
    pub nodes: Vec<Node>,
    adj_start: Vec<u32>,
    adj: Vec<(u32, f32)>,
    /// Connected component of each node.
    pub comp: Vec<u32>,
    /// Soft clearance target, metres.
    pub clearance_m: f64,
}

fn cross(a: P, b: P) -> f64 {
    a[0] * b[1] - a[1] * b[0]
}

/// Angular slack of the tangent test, degrees: nodes sit at offsets of different levels and
/// simplifications, so an edge a shortest path needs can miss exact tangency by some degrees.
pub const TANGENT_SLACK_DEG: f64 = 10.0;

fn exact_tangent(n: &Node, w: P) -> bool {
    cross(w, n.ea) * cross(w, n.eb) >= 0.0
}

/// Is the line through a node along `w` tangent to the coast there (both ring neighbours on
/// one side), within [`TANGENT_SLACK_DEG`]? Shortest paths bend only where they wrap around
/// the coast, so other edges are never needed.
pub fn tangent(n: &Node, w: P) -> bool {
    if exact_tangent(n, w) {
        return true;
    }
    let (s, c) = TANGENT_SLACK_DEG.to_radians().sin_cos();
    exact_tangent(n, [w[0] * c - w[1] * s, w[0] * s + w[1] * c])
        || exact_tangent(n, [w[0] * c + w[1] * s, -w[0] * s + w[1] * c])
}

/// Spherical distance, metres, between two ECEF points.
pub fn sph_m(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    m_for_chord(((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt())
}

/// Cost of a segment of spherical length `len_m` whose clearance is `d_m`.
pub fn edge_cost(len_m: f64, d_m: f64, clearance_m: f64) -> f64 {
    if clearance_m <= 0.0 {
        return len_m;
    }
    let short = ((clearance_m - d_m) / clearance_m).clamp(0.0, 1.0);
    len_m * (1.0 + PENALTY * short)
}

/// Clearance levels for a target clearance: c, c/2, c/4, c/8, none below [`MIN_LEVEL_M`].
pub fn levels(clearance_m: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut l = clearance_m;
    for _ in 0..4 {
        if l < MIN_LEVEL_M {
            break;
        }
        out.push(l);
        l /= 2.0;
    }
    if out.is_empty() {
        out.push(MIN_LEVEL_M);
    }
    out
}

fn norm(v: P) -> Option<P> {
    let l = (v[0] * v[0] + v[1] * v[1]).sqrt();
    (l > 1e-9).then(|| [v[0] / l, v[1] / l])
}

/// Offset candidate nodes for one ring at one level: (vertex, outward unit bisector, offset
/// factor, ea, eb).
type Corner = (P, P, f64, P, P);

fn corners(pts: &[P], land_on_left: bool, tol_m: f64) -> Vec<Corner> {
    let mut ring: Vec<Coord<f64>> = pts.iter().map(|p| Coord { x: p[0], y: p[1] }).collect();
    ring.push(ring[0]);
    let simple = LineString::from(ring).simplify(tol_m);
    let mut v: Vec<P> = simple.0.iter().map(|c| [c.x, c.y]).collect();
    v.pop();
    let n = v.len();
    if n < 3 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in 0..n {
        let (a, p, b) = (v[(i + n - 1) % n], v[i], v[(i + 1) % n]);
        let d1 = [p[0] - a[0], p[1] - a[1]];
        let d2 = [b[0] - p[0], b[1] - p[1]];
        let turn = cross(d1, d2);
        let convex = if land_on_left { turn > 0.0 } else { turn < 0.0 };
        if !convex {
            continue;
        }
        let (Some(u1), Some(u2)) = (norm(d1), norm(d2)) else {
            continue;
        };
        // Outward (water-side) normals of the two edges.
        let out_n = |u: P| {
            if land_on_left {
                [u[1], -u[0]]
            } else {
                [-u[1], u[0]]
            }
        };
        let (n1, n2) = (out_n(u1), out_n(u2));
        let Some(m) = norm([n1[0] + n2[0], n1[1] + n2[1]]) else {
            continue;
        };
        let cos_half = (m[0] * n1[0] + m[1] * n1[1]).max(1.0 / 3.0);
        out.push((
            p,
            m,
            1.0 / cos_half,
            [a[0] - p[0], a[1] - p[1]],
            [b[0] - p[0], b[1] - p[1]],
        ));
    }
    out
}

/// Lower-level nodes are kept within this many levels (times the level above) of a corner
/// where the level above failed.
pub const NARROW_REACH: f64 = 2.5;

/// Nodes closer than this fraction of their level to an earlier node are dropped.
pub const THIN_FRAC: f64 = 0.5;

/// A candidate node: its level index, coast vertex, position and usability.
struct Cand {
    level: usize,
    v: P,
    pos: P,
    ea: P,
    eb: P,
    /// In water, inside the extent and at least 0.8 x level from land.
    usable: bool,
    /// Some higher level is usable at this vertex.
    higher_ok: bool,
    /// The water off this vertex is narrower than 2.2 x the level above (see [`narrow`]).
    narrow_above: bool,
}

/// Is there land within `reach_m` of coast vertex `v` in the directions within 60° of its
/// outward bisector `m`? (Then the passage off `v` is too narrow for the level above, and the
/// lower level's node is needed even where the level above found a usable spot.)
fn narrow(land: &Land, v: P, m: P, reach_m: f64) -> bool {
    (-3..=3).any(|k| {
        let (s, c) = (k as f64 * 20.0f64).to_radians().sin_cos();
        let u = [m[0] * c - m[1] * s, m[0] * s + m[1] * c];
        let a = [v[0] + u[0] * 0.5, v[1] + u[1] * 0.5];
        let b = [v[0] + u[0] * reach_m, v[1] + u[1] * reach_m];
        land.clearance(a, b, 0.0).is_none()
    })
}

/// Points hashed on a grid of cell `r_m`, answering "any point within r_m?".
struct PointSet {
    r_m: f64,
    cells: std::collections::HashMap<(i64, i64), Vec<P>>,
}

impl PointSet {
    fn new(r_m: f64) -> PointSet {
        PointSet {
            r_m: r_m.max(1.0),
            cells: Default::default(),
        }
    }

    fn key(&self, p: P) -> (i64, i64) {
        (
            (p[0] / self.r_m).floor() as i64,
            (p[1] / self.r_m).floor() as i64,
        )
    }

    fn insert(&mut self, p: P) {
        let k = self.key(p);
        self.cells.entry(k).or_default().push(p);
    }

    fn any_within(&self, p: P) -> bool {
        self.any_within_r(p, self.r_m)
    }

    /// Any point within `r_m` (at most the cell size)?
    fn any_within_r(&self, p: P, r_m: f64) -> bool {
        let (kx, ky) = self.key(p);
        (-1..=1).any(|dx| {
            (-1..=1).any(|dy| {
                self.cells.get(&(kx + dx, ky + dy)).is_some_and(|v| {
                    v.iter()
                        .any(|q| (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2) < r_m * r_m)
                })
            })
        })
    }
}

/// Drops each node closer than `frac` x its level to a node kept before it (nodes come
/// top level first, so a lower-level node next to a higher one goes).
fn thin(nodes: Vec<(f64, Node)>, frac: f64) -> Vec<Node> {
    let r_max = nodes.iter().map(|(l, _)| l * frac).fold(1.0, f64::max);
    let mut kept = PointSet::new(r_max);
    let mut out = Vec::new();
    for (level, n) in nodes {
        if !kept.any_within_r(n.pos, level * frac) {
            kept.insert(n.pos);
            out.push(n);
        }
    }
    out
}

/// Land edges remembered per node as recent blockers.
pub const BLOCKER_MEMORY: usize = 8;

/// A monotone stand-in for the direction angle of `w`, in [0, 4) (no trigonometry).
fn pseudo_angle(w: P) -> f64 {
    let s = w[0].abs() + w[1].abs();
    if s.is_nan() || s <= 0.0 {
        return 0.0;
    }
    let t = w[1] / s;
    if w[0] >= 0.0 {
        if t >= 0.0 {
            t
        } else {
            4.0 + t
        }
    } else {
        2.0 - t
    }
}

/// The edges (i, j, cost) from node `i` to the nodes `j > i`, in order of j: segments tangent
/// to the coast at both ends that touch no land. The candidates are taken in order of
/// direction from node i, so consecutive segments tend to be blocked by the same land edge:
/// the last few blocking edges are tried first (the same exact intersection test the grid
/// scan makes, so the result does not change), and only segments they do not block are
/// scanned.
fn visible_from(land: &Land, nodes: &[Node], i: usize, clearance_m: f64) -> Vec<(u32, u32, f32)> {
    let a = &nodes[i];
    // Sort key: the direction quantised to 2^-40 of a quarter turn, then j (integers: cheap
    // to compare, and the same order on every run).
    let mut cands: Vec<(u64, u32)> = nodes
        .iter()
        .enumerate()
        .skip(i + 1)
        .filter_map(|(j, b)| {
            let w = [b.pos[0] - a.pos[0], b.pos[1] - a.pos[1]];
            (tangent(a, w) && tangent(b, w))
                .then(|| ((pseudo_angle(w) * (1u64 << 40) as f64) as u64, j as u32))
        })
        .collect();
    cands.sort_unstable();
    let mut blockers: Vec<u32> = Vec::with_capacity(BLOCKER_MEMORY);
    let mut out = Vec::new();
    for &(_, j) in &cands {
        let b = &nodes[j as usize];
        if let Some(k) = blockers
            .iter()
            .position(|&e| land.touches_edge(a.pos, b.pos, e))
        {
            // Move to front: the latest blocker is the likeliest next one.
            blockers[..=k].rotate_right(1);
            continue;
        }
        if let Some(e) = land.touching_edge(a.pos, b.pos) {
            if blockers.len() == BLOCKER_MEMORY {
                blockers.pop();
            }
            blockers.insert(0, e);
            continue;
        }
        let d = if clearance_m > 0.0 {
            match land.grid.clearance(&land.edges, a.pos, b.pos, clearance_m) {
                Some(d) => d,
                None => continue,
            }
        } else {
            0.0
        };
        let c = edge_cost(sph_m(&a.ecef, &b.ecef), d, clearance_m);
        out.push((i as u32, j, c as f32));
    }
    out.sort_unstable_by_key(|e| e.1);
    out
}

impl Graph {
    /// Builds the nodes and the visibility edges for a soft clearance of `clearance_m`.
    pub fn build(land: &Land, clearance_m: f64) -> Graph {
        let lv = levels(clearance_m);
        let lo = land.proj.fwd(land.extent[0], land.extent[1]);
        let hi = land.proj.fwd(land.extent[2], land.extent[3]);
        let inside = |p: P| p[0] >= lo[0] && p[0] <= hi[0] && p[1] >= lo[1] && p[1] <= hi[1];
        let ok = |p: P, level: f64| {
            inside(p) && land.coast_dist(p) >= 0.8 * level && land.locate(p) != Where::Land
        };
        // Phase 1: every convex corner's candidate at every level, with whether it is usable.
        let cands: Vec<Cand> = land
            .rings
            .par_iter()
            .flat_map_iter(|ring| {
                let mut out = Vec::new();
                for (k, &level) in lv.iter().enumerate() {
                    for (v, m, f, ea, eb) in corners(&ring.pts, ring.land_on_left, level / 4.0) {
                        let at = |l: f64| [v[0] + m[0] * f * 1.1 * l, v[1] + m[1] * f * 1.1 * l];
                        let pos = at(level);
                        let usable = ok(pos, level);
                        let higher_ok = lv[..k].iter().any(|&h| ok(at(h), h));
                        let narrow_above = k > 0 && narrow(land, v, m, 2.2 * lv[k - 1]);
                        out.push(Cand {
                            level: k,
                            v,
                            pos,
                            ea,
                            eb,
                            usable,
                            higher_ok,
                            narrow_above,
                        });
                    }
                }
                out
            })
            .collect();
        // Phase 2: the top level everywhere; a lower level only near corners where the level
        // above failed (narrow water and the headlands leading into it).
        let mut failed: Vec<PointSet> = lv
            .iter()
            .map(|&l| PointSet::new(NARROW_REACH * l))
            .collect();
        for c in cands.iter().filter(|c| !c.usable) {
            failed[c.level].insert(c.v);
        }
        let keep = |c: &Cand| {
            c.usable
                && (c.level == 0
                    || !c.higher_ok
                    || c.narrow_above
                    || failed[c.level - 1].any_within(c.v))
        };
        let mut kept: Vec<&Cand> = cands.iter().filter(|c| keep(c)).collect();
        kept.sort_by_key(|c| c.level);
        let nodes: Vec<(f64, Node)> = kept
            .into_iter()
            .map(|c| {
                let (lon, lat) = land.proj.inv(c.pos);
                let node = Node {
                    pos: c.pos,
                    ecef: to_ecef_m(lon, lat),
                    ea: c.ea,
                    eb: c.eb,
                };
                (lv[c.level], node)
            })
            .collect();
        let nodes = thin(nodes, THIN_FRAC);
        let n = nodes.len();
        let pairs: Vec<Vec<(u32, u32, f32)>> = (0..n)
            .into_par_iter()
            .map(|i| visible_from(land, &nodes, i, clearance_m))
            .collect();
        let mut deg = vec![0u32; n + 1];
        for &(i, j, _) in pairs.iter().flatten() {
            deg[i as usize] += 1;
            deg[j as usize] += 1;
        }
        let mut adj_start = vec![0u32; n + 1];
        let mut acc = 0;
        for i in 0..n {
            adj_start[i] = acc;
            acc += deg[i];
        }
        adj_start[n] = acc;
        let mut fill = adj_start.clone();
        let mut adj = vec![(0u32, 0f32); acc as usize];
        let mut uf: Vec<u32> = (0..n as u32).collect();
        fn find(uf: &mut [u32], mut x: u32) -> u32 {
            while uf[x as usize] != x {
                uf[x as usize] = uf[uf[x as usize] as usize];
                x = uf[x as usize];
            }
            x
        }
        for &(i, j, c) in pairs.iter().flatten() {
            adj[fill[i as usize] as usize] = (j, c);
            fill[i as usize] += 1;
            adj[fill[j as usize] as usize] = (i, c);
            fill[j as usize] += 1;
            let (ri, rj) = (find(&mut uf, i), find(&mut uf, j));
            if ri != rj {
                uf[ri.max(rj) as usize] = ri.min(rj);
            }
        }
        let comp = (0..n as u32).map(|i| find(&mut uf, i)).collect();
        Graph {
            nodes,
            adj_start,
            adj,
            comp,
            clearance_m,
        }
    }

    /// Number of undirected edges.
    pub fn edge_count(&self) -> usize {
        self.adj.len() / 2
    }

    /// SHA-256 (hex) of the node positions and the adjacency with costs, bit for bit: equal
    /// digests mean equal graphs (used to check that the build is deterministic).
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update((self.nodes.len() as u64).to_le_bytes());
        for n in &self.nodes {
            for x in n.pos.iter().chain(&n.ecef).chain(&n.ea).chain(&n.eb) {
                h.update(x.to_bits().to_le_bytes());
            }
        }
        for s in &self.adj_start {
            h.update(s.to_le_bytes());
        }
        for (j, c) in &self.adj {
            h.update(j.to_le_bytes());
            h.update(c.to_bits().to_le_bytes());
        }
        for c in &self.comp {
            h.update(c.to_le_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The nodes a free point sees (segment touches no land, tangent at the node), with costs.
    /// A point closer to the coast than the nodes' offsets skips the tangent test: its paths
    /// run inside the offset band, where the nodes' tangents do not apply.
    pub fn connect(&self, land: &Land, p: P, ecef: &[f64; 3]) -> Vec<(u32, f64)> {
        let near_coast = land.coast_dist(p) < 1.2 * self.clearance_m.max(MIN_LEVEL_M);
        let mut out = Vec::new();
        for (j, nd) in self.nodes.iter().enumerate() {
            let w = [p[0] - nd.pos[0], p[1] - nd.pos[1]];
            if !near_coast && !tangent(nd, w) {
                continue;
            }
            if let Some(d) = land.clearance(p, nd.pos, self.clearance_m) {
                out.push((
                    j as u32,
                    edge_cost(sph_m(ecef, &nd.ecef), d, self.clearance_m),
                ));
            }
        }
        out
    }

    /// A* from a free start (seeing `from_start`) to a free goal (seen by `to_goal`);
    /// returns the cost and the node ids in order, or `None` if the goal is unreachable.
    pub fn search(
        &self,
        from_start: &[(u32, f64)],
        goal_ecef: &[f64; 3],
        to_goal: &[(u32, f64)],
    ) -> Option<(f64, Vec<u32>)> {
        let n = self.nodes.len();
        let mut goal_cost = vec![f64::INFINITY; n];
        for &(j, c) in to_goal {
            goal_cost[j as usize] = c;
        }
        let heur = |j: usize| sph_m(&self.nodes[j].ecef, goal_ecef);
        let mut g = vec![f64::INFINITY; n];
        let mut parent = vec![u32::MAX; n];
        let mut closed = vec![false; n];
        let mut heap = BinaryHeap::new();
        for &(j, c) in from_start {
            if c < g[j as usize] {
                g[j as usize] = c;
                heap.push(Item {
                    f: c + heur(j as usize),
                    node: j,
                });
            }
        }
        let mut best_goal = f64::INFINITY;
        let mut goal_parent = u32::MAX;
        while let Some(Item { f, node }) = heap.pop() {
            if f >= best_goal {
                break;
            }
            let u = node as usize;
            if closed[u] {
                continue;
            }
            closed[u] = true;
            let gu = g[u];
            if goal_cost[u].is_finite() && gu + goal_cost[u] < best_goal {
                best_goal = gu + goal_cost[u];
                goal_parent = node;
            }
            let (s, e) = (self.adj_start[u] as usize, self.adj_start[u + 1] as usize);
            for &(v, c) in &self.adj[s..e] {
                let vi = v as usize;
                let nv = gu + c as f64;
                if nv < g[vi] {
                    g[vi] = nv;
                    parent[vi] = node;
                    heap.push(Item {
                        f: nv + heur(vi),
                        node: v,
                    });
                }
            }
        }
        if goal_parent == u32::MAX {
            return None;
        }
        let mut path = vec![goal_parent];
        let mut cur = goal_parent;
        while parent[cur as usize] != u32::MAX {
            cur = parent[cur as usize];
            path.push(cur);
        }
        path.reverse();
        Some((best_goal, path))
    }
}

#[derive(PartialEq)]
struct Item {
    f: f64,
    node: u32,
}

impl Eq for Item {}

impl Ord for Item {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .f
            .total_cmp(&self.f)
            .then_with(|| other.node.cmp(&self.node))
    }
}

impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_halve_down_to_the_floor() {
        assert_eq!(levels(300.0), vec![300.0, 150.0, 75.0, 37.5]);
        assert_eq!(levels(40.0), vec![40.0, 20.0]);
        assert_eq!(levels(0.0), vec![MIN_LEVEL_M]);
    }

    #[test]
    fn cost_penalises_shortfall_only() {
        assert_eq!(edge_cost(1000.0, 300.0, 300.0), 1000.0);
        assert_eq!(edge_cost(1000.0, 0.0, 300.0), 2000.0);
        assert_eq!(edge_cost(1000.0, 0.0, 0.0), 1000.0);
    }

    #[test]
    fn square_island_has_four_corner_nodes() {
        let sq = geo::Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (0.01, 0.0),
                (0.01, 0.01),
                (0.0, 0.01),
                (0.0, 0.0),
            ]),
            vec![],
        );
        let land = Land::new(&[sq], [-0.05, -0.05, 0.06, 0.06]);
        let g = Graph::build(&land, 300.0);
        assert_eq!(g.nodes.len(), 4);
        // Each corner sees its two neighbours (diagonals cross the island).
        assert_eq!(g.edge_count(), 4);
    }
}
