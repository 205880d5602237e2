//! A uniform grid over land edges for fast segment clearance queries on the metric plane.
//!
//! `clearance(p, q, cap_m)` returns the minimum distance in metres from segment pq to any land
//! edge, capped at `cap_m`, or `None` if the segment touches or crosses an edge. Only the grid
//! cells within `cap_m` of the segment are visited, rows and columns ordered from p towards q, so
//! a blocked segment usually stops after a few cells and an open-water segment costs little more
//! than walking empty cells.
//!
//! # Example
//! ```ignore
//! let g = EdgeGrid::build(&edges, [0.0, 0.0], [1000.0, 1000.0]);
//! assert_eq!(g.clearance(&edges, [0.0, 0.0], [10.0, 0.0], 300.0), Some(300.0));
//! ```

/// A point on the plane, metres.
pub type P = [f64; 2];

/// Edge indices bucketed by cell (compressed rows).
pub struct EdgeGrid {
    x0: f64,
    y0: f64,
    cell_m: f64,
    nx: usize,
    ny: usize,
    start: Vec<u32>,
    items: Vec<u32>,
}

fn orient(a: P, b: P, c: P) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

fn on_segment(a: P, b: P, p: P) -> bool {
    p[0] >= a[0].min(b[0])
        && p[0] <= a[0].max(b[0])
        && p[1] >= a[1].min(b[1])
        && p[1] <= a[1].max(b[1])
}

/// Do segments pq and ab cross or touch?
pub fn segs_intersect(p: P, q: P, a: P, b: P) -> bool {
    let d1 = orient(a, b, p);
    let d2 = orient(a, b, q);
    let d3 = orient(p, q, a);
    let d4 = orient(p, q, b);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && on_segment(a, b, p))
        || (d2 == 0.0 && on_segment(a, b, q))
        || (d3 == 0.0 && on_segment(p, q, a))
        || (d4 == 0.0 && on_segment(p, q, b))
}

/// Distance from `p` to segment ab and the nearest point on it.
pub fn seg_point_dist(a: P, b: P, p: P) -> (f64, P) {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let c = [a[0] + t * dx, a[1] + t * dy];
    (((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt(), c)
}

/// Distance between segments pq and ab (0 when they touch).
pub fn seg_seg_dist(p: P, q: P, a: P, b: P) -> f64 {
    if segs_intersect(p, q, a, b) {
        return 0.0;
    }
    seg_point_dist(a, b, p)
        .0
        .min(seg_point_dist(a, b, q).0)
        .min(seg_point_dist(p, q, a).0)
        .min(seg_point_dist(p, q, b).0)
}

impl EdgeGrid {
    /// Buckets `edges` into about a million cells (at least 200 m) covering `lo`..`hi`.
    /// Edges outside that box go to the border cells, so queries stay correct.
    pub fn build(edges: &[[P; 2]], lo: P, hi: P) -> EdgeGrid {
        let w = (hi[0] - lo[0]).abs().max(1.0);
        let h = (hi[1] - lo[1]).abs().max(1.0);
        let cell_m = (w * h / 1.0e6).sqrt().max(200.0);
        let nx = ((w / cell_m).ceil() as usize).max(1);
        let ny = ((h / cell_m).ceil() as usize).max(1);
        let mut g = EdgeGrid {
            x0: lo[0].min(hi[0]),
            y0: lo[1].min(hi[1]),
            cell_m,
            nx,
            ny,
            start: vec![0; nx * ny + 1],
            items: Vec::new(),
        };
        let ranges: Vec<(usize, usize, usize, usize)> = edges
            .iter()
            .map(|e| {
                let (c0, c1) = (g.col(e[0][0].min(e[1][0])), g.col(e[0][0].max(e[1][0])));
                let (r0, r1) = (g.row(e[0][1].min(e[1][1])), g.row(e[0][1].max(e[1][1])));
                (c0, c1, r0, r1)
            })
            .collect();
        let mut counts = vec![0u32; nx * ny];
        for &(c0, c1, r0, r1) in &ranges {
            for r in r0..=r1 {
                for c in c0..=c1 {
                    counts[r * nx + c] += 1;
                }
            }
        }
        let mut acc = 0u32;
        for (i, n) in counts.iter().enumerate() {
            g.start[i] = acc;
            acc += n;
        }
        g.start[nx * ny] = acc;
        g.items = vec![0; acc as usize];
        let mut fill = g.start.clone();
        for (ei, &(c0, c1, r0, r1)) in ranges.iter().enumerate() {
            for r in r0..=r1 {
                for c in c0..=c1 {
                    let k = r * nx + c;
                    g.items[fill[k] as usize] = ei as u32;
                    fill[k] += 1;
                }
            }
        }
        g
    }

    fn col(&self, x: f64) -> usize {
        let c = ((x - self.x0) / self.cell_m).floor();
        if c.is_nan() || c < 0.0 {
            0
        } else {
            (c as usize).min(self.nx - 1)
        }
    }

    fn row(&self, y: f64) -> usize {
        let r = ((y - self.y0) / self.cell_m).floor();
        if r.is_nan() || r < 0.0 {
            0
        } else {
            (r as usize).min(self.ny - 1)
        }
    }

    /// Minimum distance from pq to the edges, capped at `cap_m`; `None` if pq touches an edge.
    pub fn clearance(&self, edges: &[[P; 2]], p: P, q: P, cap_m: f64) -> Option<f64> {
        let cap = cap_m.max(0.0);
        let mut best = cap;
        let r0 = self.row(p[1].min(q[1]) - cap);
        let r1 = self.row(p[1].max(q[1]) + cap);
        let dy = q[1] - p[1];
        let dx = q[0] - p[0];
        let up = dy >= 0.0;
        let right = dx >= 0.0;
        for k in 0..=(r1 - r0) {
            let r = if up { r0 + k } else { r1 - k };
            // The part of pq whose y lies within this row's band widened by cap.
            let mut band_lo = self.y0 + r as f64 * self.cell_m - cap;
            let mut band_hi = band_lo + self.cell_m + 2.0 * cap;
            if r == 0 {
                band_lo = f64::NEG_INFINITY;
            }
            if r == self.ny - 1 {
                band_hi = f64::INFINITY;
            }
            let (t0, t1) = if dy.abs() < 1e-12 {
                if p[1] < band_lo || p[1] > band_hi {
                    continue;
                }
                (0.0, 1.0)
            } else {
                let ta = (band_lo - p[1]) / dy;
                let tb = (band_hi - p[1]) / dy;
                (ta.min(tb).max(0.0), ta.max(tb).min(1.0))
            };
            if t0 > t1 {
                continue;
            }
            let xa = p[0] + t0 * dx;
            let xb = p[0] + t1 * dx;
            let c0 = self.col(xa.min(xb) - cap);
            let c1 = self.col(xa.max(xb) + cap);
            for j in 0..=(c1 - c0) {
                let c = if right { c0 + j } else { c1 - j };
                let k = r * self.nx + c;
                let (s, e) = (self.start[k] as usize, self.start[k + 1] as usize);
                for &ei in &self.items[s..e] {
                    let [a, b] = edges[ei as usize];
                    if cap > 0.0 {
                        let d = seg_seg_dist(p, q, a, b);
                        if d <= 0.0 {
                            return None;
                        }
                        if d < best {
                            best = d;
                        }
                    } else if segs_intersect(p, q, a, b) {
                        return None;
                    }
                }
            }
        }
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Vec<[P; 2]> {
        let v = [
            [400.0, 400.0],
            [600.0, 400.0],
            [600.0, 600.0],
            [400.0, 600.0],
        ];
        (0..4).map(|i| [v[i], v[(i + 1) % 4]]).collect()
    }

    #[test]
    fn empty_grid_is_all_clear() {
        let g = EdgeGrid::build(&[], [0.0, 0.0], [1000.0, 1000.0]);
        assert_eq!(
            g.clearance(&[], [0.0, 0.0], [999.0, 999.0], 300.0),
            Some(300.0)
        );
    }

    #[test]
    fn blocked_and_clear_segments() {
        let e = square();
        let g = EdgeGrid::build(&e, [0.0, 0.0], [1000.0, 1000.0]);
        assert_eq!(g.clearance(&e, [0.0, 500.0], [1000.0, 500.0], 300.0), None);
        assert_eq!(g.clearance(&e, [1000.0, 500.0], [0.0, 500.0], 0.0), None);
        let d = g
            .clearance(&e, [0.0, 100.0], [1000.0, 100.0], 1000.0)
            .unwrap();
        assert!((d - 300.0).abs() < 1e-9, "{d}");
        let d = g
            .clearance(&e, [0.0, 100.0], [1000.0, 100.0], 50.0)
            .unwrap();
        assert_eq!(d, 50.0);
        // A corner touch counts as blocked.
        assert_eq!(g.clearance(&e, [300.0, 300.0], [400.0, 400.0], 10.0), None);
    }

    #[test]
    fn distances() {
        assert_eq!(
            seg_seg_dist([0.0, 0.0], [10.0, 0.0], [5.0, -1.0], [5.0, 1.0]),
            0.0
        );
        assert!(
            (seg_seg_dist([0.0, 0.0], [10.0, 0.0], [12.0, 3.0], [12.0, 5.0]) - 13f64.sqrt()).abs()
                < 1e-12
        );
    }
}
