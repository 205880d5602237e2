//! Point in ring by crossing number, with the ring's edges bucketed into horizontal slabs so a
//! test reads only the edges whose y-range covers the point (a handful) instead of the whole
//! ring (the mainland ring of GSHHG-f has thousands of vertices).
//!
//! The answer is bit for bit that of the plain crossing-number loop: an edge can change the
//! parity only if `min(y) <= p.y < max(y)`, and such an edge is always in p's slab (slab
//! numbers are a monotone function of y).
//!
//! # Units
//! Plane metres (any unit works: only comparisons and one division).
//!
//! # Example
//! ```ignore
//! let sq = vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
//! let s = Slabs::new(&sq);
//! assert!(s.contains(&sq, [5.0, 5.0]) && !s.contains(&sq, [15.0, 5.0]));
//! ```

use super::grid::P;

/// Rings with fewer vertices are tested edge by edge (no index).
const MIN_INDEXED: usize = 32;

/// Average number of ring vertices per slab.
const VERTICES_PER_SLAB: usize = 4;

/// Edge numbers of a ring bucketed by y (compressed rows). Edge `i` joins vertex `i` and the
/// vertex before it (`n - 1` for `i = 0`).
#[derive(Debug, Clone, Default)]
pub struct Slabs {
    y0: f64,
    h: f64,
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Slabs {
    /// Indexes the edges of the open ring `pts`.
    pub fn new(pts: &[P]) -> Slabs {
        let n = pts.len();
        if n < MIN_INDEXED {
            return Slabs::default();
        }
        let (lo, hi) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                (l.min(p[1]), h.max(p[1]))
            });
        if !(lo.is_finite() && hi.is_finite() && hi > lo) {
            return Slabs::default();
        }
        let count = n / VERTICES_PER_SLAB;
        let mut s = Slabs {
            y0: lo,
            h: (hi - lo) / count as f64,
            start: vec![0; count + 1],
            items: Vec::new(),
        };
        let ranges: Vec<(usize, usize)> = (0..n)
            .map(|i| {
                let (a, b) = (pts[i], pts[if i == 0 { n - 1 } else { i - 1 }]);
                (s.slab(a[1].min(b[1])), s.slab(a[1].max(b[1])))
            })
            .collect();
        let mut counts = vec![0u32; count];
        for &(k0, k1) in &ranges {
            for c in &mut counts[k0..=k1] {
                *c += 1;
            }
        }
        let mut acc = 0u32;
        for (k, c) in counts.iter().enumerate() {
            s.start[k] = acc;
            acc += c;
        }
        s.start[count] = acc;
        let mut fill = s.start.clone();
        s.items = vec![0; acc as usize];
        for (i, &(k0, k1)) in ranges.iter().enumerate() {
            for f in &mut fill[k0..=k1] {
                s.items[*f as usize] = i as u32;
                *f += 1;
            }
        }
        s
    }

    /// The slab of a y inside the ring's y-range (clamped; NaN gives slab 0).
    fn slab(&self, y: f64) -> usize {
        let k = (y - self.y0) / self.h;
        let last = self.start.len().saturating_sub(2);
        if k > 0.0 {
            (k as usize).min(last)
        } else {
            0
        }
    }

    /// Is `p` inside the open ring `pts` (the ring these slabs were built from)?
    pub fn contains(&self, pts: &[P], p: P) -> bool {
        let n = pts.len();
        let crosses = |i: usize| {
            let (a, b) = (pts[i], pts[if i == 0 { n - 1 } else { i - 1 }]);
            if (a[1] > p[1]) != (b[1] > p[1]) {
                let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
                p[0] < x
            } else {
                false
            }
        };
        if self.start.is_empty() {
            return (0..n).filter(|&i| crosses(i)).count() % 2 == 1;
        }
        let k = self.slab(p[1]);
        let (s, e) = (self.start[k] as usize, self.start[k + 1] as usize);
        self.items[s..e]
            .iter()
            .filter(|&&i| crosses(i as usize))
            .count()
            % 2
            == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain crossing-number loop the slabs must agree with.
    fn plain(pts: &[P], p: P) -> bool {
        let n = pts.len();
        let mut inside = false;
        let mut j = n - 1;
        for i in 0..n {
            let (a, b) = (pts[i], pts[j]);
            if (a[1] > p[1]) != (b[1] > p[1]) {
                let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
                if p[0] < x {
                    inside = !inside;
                }
            }
            j = i;
        }
        inside
    }

    /// A star with `n` points (2n vertices) of radii 10 and 4 about the origin.
    fn star(n: usize) -> Vec<P> {
        (0..2 * n)
            .map(|k| {
                let r = if k % 2 == 0 { 10.0 } else { 4.0 };
                let t = k as f64 * std::f64::consts::PI / n as f64;
                [r * t.cos(), r * t.sin()]
            })
            .collect()
    }

    #[test]
    fn small_and_degenerate_rings_fall_back_to_the_plain_loop() {
        let sq = vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        let s = Slabs::new(&sq);
        assert!(s.start.is_empty());
        assert!(s.contains(&sq, [5.0, 5.0]) && !s.contains(&sq, [15.0, 5.0]));
        let flat: Vec<P> = (0..40).map(|i| [i as f64, 0.0]).collect();
        assert!(!Slabs::new(&flat).contains(&flat, [3.0, 0.0]));
    }

    #[test]
    fn agrees_with_the_plain_loop_everywhere() {
        let pts = star(40);
        let s = Slabs::new(&pts);
        assert!(!s.start.is_empty());
        let mut inside = 0;
        for i in -60..=60 {
            for j in -60..=60 {
                // Include points exactly on vertex y values (multiples of 0.25 hit some).
                let p = [i as f64 * 0.2, j as f64 * 0.2];
                assert_eq!(s.contains(&pts, p), plain(&pts, p), "{p:?}");
                inside += usize::from(plain(&pts, p));
            }
        }
        for p in &pts {
            assert_eq!(s.contains(&pts, *p), plain(&pts, *p), "vertex {p:?}");
        }
        assert!(!s.contains(&pts, [f64::NAN, 0.0]));
        assert!(inside > 1000, "{inside}");
    }
}
