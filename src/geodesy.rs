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

#[cfg(test)]
mod tests {
    use super::*;

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
