//! A uniform grid over land edges for fast segment clearance queries on the metric plane.
//!
//! `clearance(p, q, cap_m)` returns the minimum distance in metres from segment pq to any land
//! edge, capped at `cap_m`, or `None` if the segment touches or crosses an edge. The segment is
//! marched from p to q: each cell stores its Chebyshev distance (in cells) to the nearest cell
//! holding an edge, which gives a lower bound on the distance from any point in it to land, so
//! stretches of open water are skipped in one step (sphere tracing). Near land, a piece of a
//! few kilometres is checked exactly: every edge in the cells within `cap_m` of the piece is
//! tested against the whole segment pq (edges wholly on one side of pq's line and farther from
//! it than the minimum so far are passed over with two dot products). The answer is the same,
//! to the bit, as testing every edge within `cap_m` of pq (the skipped stretches are provably
//! farther than `cap_m` from land), so a blocked segment stops near the first land it meets
//! and an open-water segment costs a few steps.
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
    /// Per cell: Chebyshev distance in cells to the nearest cell holding an edge (0 for such a
    /// cell), capped at 255.
    empty_r: Vec<u8>,
}

/// Rounding margin, metres, subtracted from the empty-space bound (edges are bucketed with
/// `floor`, so a point on a cell border may sit in the neighbouring cell).
const BOUND_MARGIN_M: f64 = 1e-3;

/// Margin, metres, on the line-distance test that skips edges which cannot lower the
/// clearance (far above the rounding error of plane coordinates, so the minimum found is the
/// same to the bit).
const LINE_MARGIN_M: f64 = 1e-6;

/// Exact pieces are at least this many cells long.
const PIECE_CELLS: f64 = 8.0;

/// Exact pieces are at least this many times the cap long: consecutive pieces visit the
/// cells within the cap of their common end twice.
const PIECE_CAP_FACTOR: f64 = 8.0;

/// Chebyshev distance transform of the occupied cells (two chamfer passes), capped at 255.
fn empty_radius(occupied: &[bool], nx: usize, ny: usize) -> Vec<u8> {
    let mut r: Vec<u8> = occupied.iter().map(|&o| if o { 0 } else { 255 }).collect();
    let at = |x: usize, y: usize| y * nx + x;
    for y in 0..ny {
        for x in 0..nx {
            let mut v = r[at(x, y)];
            if x > 0 {
                v = v.min(r[at(x - 1, y)].saturating_add(1));
            }
            if y > 0 {
                v = v.min(r[at(x, y - 1)].saturating_add(1));
                if x > 0 {
                    v = v.min(r[at(x - 1, y - 1)].saturating_add(1));
                }
                if x + 1 < nx {
                    v = v.min(r[at(x + 1, y - 1)].saturating_add(1));
                }
            }
            r[at(x, y)] = v;
        }
    }
    for y in (0..ny).rev() {
        for x in (0..nx).rev() {
            let mut v = r[at(x, y)];
            if x + 1 < nx {
                v = v.min(r[at(x + 1, y)].saturating_add(1));
            }
            if y + 1 < ny {
                v = v.min(r[at(x, y + 1)].saturating_add(1));
                if x + 1 < nx {
                    v = v.min(r[at(x + 1, y + 1)].saturating_add(1));
                }
                if x > 0 {
                    v = v.min(r[at(x - 1, y + 1)].saturating_add(1));
                }
            }
            r[at(x, y)] = v;
        }
    }
    r
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
            empty_r: Vec::new(),
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
        let occupied: Vec<bool> = counts.iter().map(|&n| n > 0).collect();
        g.empty_r = empty_radius(&occupied, nx, ny);
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

    // (A cast truncates towards zero, which is `floor` for the positive values it sees here;
    // NaN and negative values give cell 0, huge ones the last cell.)
    fn col(&self, x: f64) -> usize {
        let c = (x - self.x0) / self.cell_m;
        if c > 0.0 {
            (c as u32 as usize).min(self.nx - 1)
        } else {
            0
        }
    }

    fn row(&self, y: f64) -> usize {
        let r = (y - self.y0) / self.cell_m;
        if r > 0.0 {
            (r as u32 as usize).min(self.ny - 1)
        } else {
            0
        }
    }

    /// A lower bound, metres, on the distance from `x` to any edge: the distance to the border
    /// of the block of empty cells around x's cell (0 outside the grid or next to an edge).
    fn free_bound_m(&self, x: P) -> f64 {
        let fx = (x[0] - self.x0) / self.cell_m;
        let fy = (x[1] - self.y0) / self.cell_m;
        if !(fx >= 0.0 && fy >= 0.0 && fx < self.nx as f64 && fy < self.ny as f64) {
            return 0.0;
        }
        let (ix, iy) = (fx as u32 as usize, fy as u32 as usize);
        let r = self.empty_r[iy * self.nx + ix];
        if r == 0 {
            return 0.0;
        }
        // Cells within Chebyshev distance r-1 are empty: the block [c-(r-1), c+r) in cells.
        let (cx, cy) = (ix as f64, iy as f64);
        let k = f64::from(r) - 1.0;
        let d_cells = (fx - (cx - k))
            .min(cx + k + 1.0 - fx)
            .min(fy - (cy - k))
            .min(cy + k + 1.0 - fy);
        // Edges outside the grid are bucketed into border cells: never trust space beyond the
        // grid's own border.
        let d_border = fx.min(fy).min(self.nx as f64 - fx).min(self.ny as f64 - fy);
        (d_cells.min(d_border) * self.cell_m - BOUND_MARGIN_M).max(0.0)
    }

    /// Minimum distance from pq to the edges, capped at `cap_m`; `None` if pq touches an edge.
    pub fn clearance(&self, edges: &[[P; 2]], p: P, q: P, cap_m: f64) -> Option<f64> {
        self.scan(edges, p, q, cap_m).ok()
    }

    /// An edge that pq touches or crosses (the first met walking from p), if any.
    pub fn touching_edge(&self, edges: &[[P; 2]], p: P, q: P) -> Option<u32> {
        self.scan(edges, p, q, 0.0).err()
    }

    /// The clearance of pq capped at `cap_m`, or the number of an edge that touches pq.
    fn scan(&self, edges: &[[P; 2]], p: P, q: P, cap_m: f64) -> Result<f64, u32> {
        let cap = cap_m.max(0.0);
        let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
        let len = (dx * dx + dy * dy).sqrt();
        if !(len.is_finite() && len > 0.0) {
            return self.clearance_piece(edges, p, q, 0.0, 1.0, cap);
        }
        // Exact pieces are several cells long (each costs a fixed overhead, and with a cap the
        // cells within the cap of a piece's ends are visited twice); skips shorter than half a
        // cell are not worth it.
        let piece = (PIECE_CELLS * self.cell_m).max(PIECE_CAP_FACTOR * cap) / len;
        let min_skip_m = 0.5 * self.cell_m;
        let mut best = cap;
        let mut t = 0.0;
        while t < 1.0 {
            let x = [p[0] + t * dx, p[1] + t * dy];
            let skip_m = self.free_bound_m(x) - cap;
            if skip_m >= min_skip_m && t + skip_m / len > t {
                t += skip_m / len;
                continue;
            }
            let t1 = (t + piece).min(1.0);
            let t1 = if t1 > t { t1 } else { 1.0 };
            best = best.min(self.clearance_piece(edges, p, q, t, t1, cap)?);
            t = t1;
        }
        Ok(best)
    }

    /// Tests the whole segment pq against every edge in the cells within `cap` of its part
    /// between parameters `ta` and `tb`; the minimum distance capped at `cap`, or the number of
    /// an edge that touches pq.
    fn clearance_piece(
        &self,
        edges: &[[P; 2]],
        p: P,
        q: P,
        ta: f64,
        tb: f64,
        cap: f64,
    ) -> Result<f64, u32> {
        let dy = q[1] - p[1];
        let dx = q[0] - p[0];
        let pa = [p[0] + ta * dx, p[1] + ta * dy];
        let pb = [p[0] + tb * dx, p[1] + tb * dy];
        // Unit normal of pq: an edge wholly on one side of the line, at least `best` from it,
        // is at least `best` from pq and cannot lower the minimum (NaN for a point: no skip).
        let len = (dx * dx + dy * dy).sqrt();
        let nrm = [-dy / len, dx / len];
        let off = nrm[0] * p[0] + nrm[1] * p[1];
        let mut best = cap;
        let r0 = self.row(pa[1].min(pb[1]) - cap);
        let r1 = self.row(pa[1].max(pb[1]) + cap);
        let up = dy >= 0.0;
        let right = dx >= 0.0;
        for k in 0..=(r1 - r0) {
            let r = if up { r0 + k } else { r1 - k };
            // The part of the piece whose y lies within this row's band widened by cap.
            let mut band_lo = self.y0 + r as f64 * self.cell_m - cap;
            let mut band_hi = band_lo + self.cell_m + 2.0 * cap;
            if r == 0 {
                band_lo = f64::NEG_INFINITY;
            }
            if r == self.ny - 1 {
                band_hi = f64::INFINITY;
            }
            let (t0, t1) = if dy.abs() < 1e-12 {
                if pa[1] < band_lo || pa[1] > band_hi {
                    continue;
                }
                (ta, tb)
            } else {
                let u0 = (band_lo - p[1]) / dy;
                let u1 = (band_hi - p[1]) / dy;
                (u0.min(u1).max(ta), u0.max(u1).min(tb))
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
                        let sa = nrm[0] * a[0] + nrm[1] * a[1] - off;
                        let sb = nrm[0] * b[0] + nrm[1] * b[1] - off;
                        let far = best + LINE_MARGIN_M;
                        if (sa >= far && sb >= far) || (sa <= -far && sb <= -far) {
                            continue;
                        }
                        let d = seg_seg_dist(p, q, a, b);
                        if d <= 0.0 {
                            return Err(ei);
                        }
                        if d < best {
                            best = d;
                        }
                    } else if segs_intersect(p, q, a, b) {
                        return Err(ei);
                    }
                }
            }
        }
        Ok(best)
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
