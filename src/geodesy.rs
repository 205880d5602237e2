//! Distances on the WGS84 ellipsoid and a metric embedding for R-trees.
//!
//! # Units
//! Inputs are lon/lat degrees; outputs are metres (`_m`) or kilometres (`_km`).

use geo::{Distance, Geodesic, Point};

/// Mean Earth radius used by the ECEF embedding, metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Metres per degree of latitude (and of longitude at the equator) on that sphere.
pub const M_PER_DEG: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// Metres per nautical mile.
pub const M_PER_NM: f64 = 1852.0;

/// Geodesic (WGS84) distance in metres between two lon/lat points.
///
/// ```
/// let d = shiplink::geodesy::geodesic_m((130.0, 42.0), (130.0, 43.0));
/// assert!((d - 111_079.0).abs() < 50.0);
/// ```
pub fn geodesic_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    Geodesic.distance(Point::new(a.0, a.1), Point::new(b.0, b.1))
}

/// Distance in metres by the equirectangular approximation on the mean sphere: within 0.5 %
/// of the geodesic for points a few kilometres apart (harbour scale), and ~50× cheaper.
/// Use [`geodesic_m`] for anything longer.
pub fn local_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = ((a.1 + b.1) / 2.0).to_radians();
    let dx = (b.0 - a.0).to_radians() * lat.cos();
    let dy = (b.1 - a.1).to_radians();
    // Not `hypot`: its overflow guard is dear, and harbour-scale radians cannot overflow.
    EARTH_RADIUS_M * (dx * dx + dy * dy).sqrt()
}

/// Geodesic length of a lon/lat polyline in kilometres.
pub fn polyline_km(coords: &[(f64, f64)]) -> f64 {
    coords
        .windows(2)
        .map(|w| geodesic_m(w[0], w[1]))
        .sum::<f64>()
        / 1000.0
}

/// A point on a sphere of radius [`EARTH_RADIUS_M`], in metres (x, y, z).
///
/// Straight-line (chord) distance between two embedded points grows monotonically with
/// the great-circle distance, so an R-tree over these points answers "within r metres"
/// anywhere on Earth without a local projection; see [`chord_for_m`].
pub fn to_ecef_m(lon: f64, lat: f64) -> [f64; 3] {
    let (lo, la) = (lon.to_radians(), lat.to_radians());
    [
        EARTH_RADIUS_M * la.cos() * lo.cos(),
        EARTH_RADIUS_M * la.cos() * lo.sin(),
        EARTH_RADIUS_M * la.sin(),
    ]
}

/// The chord length, metres, that matches a great-circle distance of `d_m` metres.
pub fn chord_for_m(d_m: f64) -> f64 {
    let half = (d_m / (2.0 * EARTH_RADIUS_M)).min(std::f64::consts::FRAC_PI_2);
    2.0 * EARTH_RADIUS_M * half.sin()
}

/// Straight-line (chord) distance between two points of [`to_ecef_m`], metres: a lower
/// bound of the great-circle distance, and of any route between them.
pub fn ecef_chord_m(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Great-circle distance, metres, for a chord length in metres (inverse of [`chord_for_m`]).
pub fn m_for_chord(chord_m: f64) -> f64 {
    2.0 * EARTH_RADIUS_M * (chord_m / (2.0 * EARTH_RADIUS_M)).clamp(-1.0, 1.0).asin()
}

/// Knots needed to cover `dist_m` in `dt_s` seconds (infinite for `dt_s <= 0`).
pub fn speed_kn(dist_m: f64, dt_s: f64) -> f64 {
    if dt_s <= 0.0 {
        if dist_m <= 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        dist_m / M_PER_NM / (dt_s / 3600.0)
    }
}

/// Cells of the sphere about `cell_m` a side, for indexes that read the cells a circle
/// touches: rows of equal latitude span, each cut into columns of longitude at least `cell_m`
/// wide along its poleward edge (so fewer columns toward the poles, and one at a pole).
/// Hand-written: what spatial crates offer is trees (rstar) or hexagons (h3o), and the
/// stage-1 search wants a row's cells in one sorted run.
#[derive(Debug, Clone, Copy)]
pub struct CapGrid {
    /// Latitude span of a row, degrees.
    dlat: f64,
    cell_m: f64,
    rows: i32,
}

impl CapGrid {
    /// A grid of cells about `cell_m` metres a side (at least a metre, at most a row
    /// per hemisphere).
    pub fn new(cell_m: f64) -> CapGrid {
        let cell_m = if cell_m.is_finite() {
            cell_m.clamp(1.0, 90.0 * M_PER_DEG)
        } else {
            1.0
        };
        let dlat = cell_m / M_PER_DEG;
        CapGrid {
            dlat,
            cell_m,
            rows: (180.0 / dlat).ceil() as i32,
        }
    }

    fn row_of(&self, lat: f64) -> i32 {
        (((lat + 90.0) / self.dlat).floor() as i32).clamp(0, self.rows - 1)
    }

    /// The columns of row `row` (a cosine each: worked out once per row a call reads).
    fn columns(&self, row: i32) -> Columns {
        let lo = f64::from(row) * self.dlat - 90.0;
        let edge = lo.abs().max((lo + self.dlat).abs()).min(90.0);
        let width = edge.to_radians().cos() * M_PER_DEG;
        let dlon = if width * 360.0 <= self.cell_m {
            360.0
        } else {
            self.cell_m / width
        };
        Columns {
            dlon,
            last: ((360.0 / dlon).ceil() as i32).max(1) - 1,
        }
    }

    /// The cell `[row, column]` holding `lon, lat` (degrees).
    pub fn cell(&self, lon: f64, lat: f64) -> [i32; 2] {
        let row = self.row_of(lat);
        [row, self.columns(row).of(lon)]
    }

    /// Calls `f(row, first, last)` for runs of cells, columns `first..=last` of `row`, that
    /// together hold every point within `radius_m` (great circle) of `lon, lat`; no cell
    /// twice.
    pub fn cap(&self, (lon, lat): (f64, f64), radius_m: f64, mut f: impl FnMut(i32, i32, i32)) {
        use std::f64::consts::FRAC_PI_2;
        // Angular radius, a hair wide for rounding.
        let alpha = (radius_m.max(0.0) / EARTH_RADIUS_M) * (1.0 + 1e-9) + 1e-12;
        let dlat = alpha.to_degrees() * 1.0001 + 1e-9;
        let (first_row, last_row) = (self.row_of(lat - dlat), self.row_of(lat + dlat));
        // Widest longitude difference of the cap: asin(sin α / cos φ), unless it holds a pole.
        let sin_ratio = alpha.sin() / lat.to_radians().cos();
        let half_lon = if lat.abs() + dlat >= 90.0 || alpha >= FRAC_PI_2 || sin_ratio >= 1.0 {
            None
        } else {
            Some(sin_ratio.asin().to_degrees() * 1.0001 + 1e-9).filter(|&h| h < 180.0)
        };
        for row in first_row..=last_row {
            let columns = self.columns(row);
            let last_col = columns.last;
            let Some(h) = half_lon else {
                f(row, 0, last_col);
                continue;
            };
            let (a, b) = (lon - h, lon + h);
            let col = |x: f64| columns.of(x);
            if a < -180.0 || b > 180.0 {
                // Across the antimeridian: the run's two ends, unless they meet.
                let (west, east) = if a < -180.0 {
                    (col(a + 360.0), col(b))
                } else {
                    (col(a), col(b - 360.0))
                };
                if west <= east {
                    f(row, 0, last_col);
                } else {
                    f(row, west, last_col);
                    f(row, 0, east);
                }
            } else {
                f(row, col(a), col(b));
            }
        }
    }
}

/// The columns of one row of a [`CapGrid`].
struct Columns {
    /// Longitude span of a column, degrees.
    dlon: f64,
    /// Index of the last column.
    last: i32,
}

impl Columns {
    /// The column holding longitude `lon` (degrees).
    fn of(&self, lon: f64) -> i32 {
        (((lon + 180.0) / self.dlon).floor() as i32).clamp(0, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::f64::consts::{FRAC_PI_2, PI};

    /// The point `d_m` metres from `lon, lat` at `bearing` (radians), on the sphere.
    fn destination((lon, lat): (f64, f64), d_m: f64, bearing: f64) -> (f64, f64) {
        let (p1, l1, a) = (lat.to_radians(), lon.to_radians(), d_m / EARTH_RADIUS_M);
        let p2 = (p1.sin() * a.cos() + p1.cos() * a.sin() * bearing.cos()).asin();
        let l2 = l1 + (bearing.sin() * a.sin() * p1.cos()).atan2(a.cos() - p1.sin() * p2.sin());
        let lon2 = (l2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
        (lon2, p2.to_degrees())
    }

    proptest::proptest! {
        /// Every point within the radius lies in a cell the cap visits, and no cell is
        /// visited twice, near the poles and across the antimeridian too.
        #[test]
        fn cap_grid_holds_every_point_of_the_cap(
            cell_m in 1.0f64..50_000.0,
            lon in -180.0f64..180.0,
            lat in -90.0f64..90.0,
            edge in 0usize..4,
            cells_wide in 0.0f64..60.0,
            inside in 0.0f64..=1.0,
            rim in proptest::bool::ANY,
            bearing in 0.0f64..std::f64::consts::TAU,
            side in 0usize..5,
        ) {
            // Centres at the hard places a quarter of the time each.
            let (lon, lat) = match edge {
                0 => (lon, lat),
                1 => (179.999 + lon / 1e5, lat),
                2 => (lon, 89.99 + lat / 1e4),
                _ => (-179.9999, -89.9 + lat / 1e3),
            };
            let grid = CapGrid::new(cell_m);
            let radius_m = cell_m * cells_wide;
            // Half the points on the rim, where a cap drawn too small misses them; the
            // widest longitude is reached east or west, the widest latitude north or south.
            let d_m = if rim { radius_m * (1.0 - 1e-7 * inside) } else { radius_m * inside };
            let bearing = [bearing, 0.0, FRAC_PI_2, PI, 1.5 * PI][side];
            let point = destination((lon, lat), d_m, bearing);
            let want = grid.cell(point.0, point.1);
            let mut cells = Vec::new();
            grid.cap((lon, lat), radius_m, |row, first, last| {
                cells.extend((first..=last).map(|col| [row, col]));
            });
            let seen: std::collections::BTreeSet<[i32; 2]> = cells.iter().copied().collect();
            proptest::prop_assert_eq!(seen.len(), cells.len(), "a cell twice");
            let found = seen.contains(&want);
            proptest::prop_assert!(found, "{point:?} at {want:?} not in the cap of {lon},{lat} r={radius_m}");
        }
    }

    #[test]
    fn zero_distance() {
        assert_eq!(geodesic_m((130.3, 42.2), (130.3, 42.2)), 0.0);
        assert_eq!(polyline_km(&[]), 0.0);
        assert_eq!(polyline_km(&[(1.0, 1.0)]), 0.0);
    }

    #[test]
    fn chord_round_trip() {
        for d in [0.0, 1.0, 250.0, 10_000.0, 1_000_000.0] {
            assert!((m_for_chord(chord_for_m(d)) - d).abs() < 1e-6 * (1.0 + d));
        }
    }

    #[test]
    fn ecef_chord_matches_geodesic_at_harbour_scale() {
        let a = (130.300, 42.236);
        let b = (130.305, 42.238);
        let (pa, pb) = (to_ecef_m(a.0, a.1), to_ecef_m(b.0, b.1));
        let chord =
            ((pa[0] - pb[0]).powi(2) + (pa[1] - pb[1]).powi(2) + (pa[2] - pb[2]).powi(2)).sqrt();
        let g = geodesic_m(a, b);
        assert!((m_for_chord(chord) - g).abs() / g < 0.005, "{chord} vs {g}");
    }

    #[test]
    fn local_distance_matches_geodesic_at_harbour_scale() {
        let (a, b) = ((130.300, 42.236), (130.312, 42.229));
        let (l, g) = (local_m(a, b), geodesic_m(a, b));
        assert!((l - g).abs() / g < 0.005, "{l} vs {g}");
    }

    #[test]
    fn speed() {
        assert!((speed_kn(1852.0, 3600.0) - 1.0).abs() < 1e-12);
        assert_eq!(speed_kn(0.0, 0.0), 0.0);
        assert!(speed_kn(1.0, 0.0).is_infinite());
    }
}
