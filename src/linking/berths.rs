//! Where *other* vessels lie in a port, and for how long: a smoothed occupancy of the
//! port's stays, the "another vessel" model of a link at one berth.
//!
//! A stay link `i → j` compares "j is the same vessel, still at i's berth" with "j is
//! another vessel". Taking the other vessel as a detection anywhere in the port zone makes
//! two sightings at one quay berth a strong link whatever they look like (in a 7 km²
//! harbour, +6 nats), yet quays are exactly where the next vessel lies once this one has
//! left. So the linker (`berth_reweigh` in `linking`) estimates, from a first solution's stays,
//! the share of the time that *other* stays occupy j's spot: each stay deposits its
//! occupancy (a share of the period) at its median position, smoothed by a Gaussian of the
//! berth scatter, without the stays of i and j themselves (a vessel alone at its spot is not
//! its own competitor), and never below the zone's mean. Units: metres, occupancy per m².
//!
//! ```
//! use shiplink::linking::berths::PortDensity;
//! // Two stays at one berth (each a tenth of the period), one elsewhere, in a 1.4 km² zone.
//! let d = PortDensity::new(
//!     &[(0, 130.300, 42.236, 0.1), (0, 130.300, 42.236, 0.1), (0, 130.305, 42.240, 0.1)],
//!     &[(130.295, 42.231, 130.310, 42.245, 1.4e6)],
//!     45.0,
//! );
//! let mine = [(130.300, 42.236, 0.1)];
//! let at_berth = d.other_density(0, 130.300, 42.236, mine);
//! assert!(at_berth > 10.0 * d.uniform(0));
//! ```

/// One port's grid of smoothed stay counts.
#[derive(Debug, Clone)]
struct Grid {
    lon0: f64,
    lat0: f64,
    m_per_deg_lon: f64,
    m_per_deg_lat: f64,
    cell_m: f64,
    nx: usize,
    ny: usize,
    /// Kernel-smoothed stay weight per cell, per m².
    smooth: Vec<f64>,
    total: f64,
    area_m2: f64,
}

/// Cells per side at most (the cell grows for large zones).
const MAX_CELLS: usize = 1024;
/// The kernel reaches this many sigmas.
const KERNEL_SIGMAS: f64 = 3.0;

/// Smoothed occupancy of stays per port.
#[derive(Debug, Clone, Default)]
pub struct PortDensity {
    grids: Vec<Option<Grid>>,
    sigma_m: f64,
}

impl PortDensity {
    /// `stays`: (port index, lon, lat, weight) per stay, the weight being its share of the
    /// period; `zones`: per port its bounding box (west, south, east, north) and area in m²;
    /// `sigma_m`: the kernel's standard deviation.
    pub fn new(
        stays: &[(usize, f64, f64, f64)],
        zones: &[(f64, f64, f64, f64, f64)],
        sigma_m: f64,
    ) -> Self {
        let mut grids: Vec<Option<Grid>> = zones
            .iter()
            .map(|&(w, s, e, n, area)| Grid::new(w, s, e, n, area, sigma_m))
            .collect();
        for &(p, lon, lat, weight) in stays {
            if let Some(Some(g)) = grids.get_mut(p) {
                g.deposit(lon, lat, weight);
            }
        }
        for g in grids.iter_mut().flatten() {
            g.blur(sigma_m);
        }
        PortDensity { grids, sigma_m }
    }

    /// Smoothed weight (per m²) of the stays at (`lon`, `lat`) in port `p`, less the
    /// stays in `own` (position, weight), and at least the zone's mean (total weight over
    /// its area). NaN for an unknown port.
    pub fn other_density(
        &self,
        p: usize,
        lon: f64,
        lat: f64,
        own: impl IntoIterator<Item = (f64, f64, f64)>,
    ) -> f64 {
        let Some(Some(g)) = self.grids.get(p) else {
            return f64::NAN;
        };
        let mut sum = g.at(lon, lat);
        let s2 = self.sigma_m * self.sigma_m;
        for (ol, oa, weight) in own {
            let dx = (lon - ol) * g.m_per_deg_lon;
            let dy = (lat - oa) * g.m_per_deg_lat;
            sum -= weight * (-(dx * dx + dy * dy) / (2.0 * s2)).exp()
                / (2.0 * std::f64::consts::PI * s2);
        }
        sum.max(self.uniform(p))
    }

    /// The zone's mean density: total stay weight over its area (per m²).
    pub fn uniform(&self, p: usize) -> f64 {
        self.grids
            .get(p)
            .and_then(|g| g.as_ref())
            .map_or(f64::NAN, |g| g.total / g.area_m2)
    }
}

impl Grid {
    fn new(w: f64, s: f64, e: f64, n: f64, area_m2: f64, sigma_m: f64) -> Option<Grid> {
        if !(w.is_finite() && s.is_finite() && e.is_finite() && n.is_finite()) || e < w || n < s {
            return None;
        }
        let m_per_deg_lat = 111_195.0;
        let m_per_deg_lon = m_per_deg_lat * ((s + n) / 2.0).to_radians().cos();
        // Pad by the kernel's reach so that smoothing does not leak out of the grid.
        let pad_m = KERNEL_SIGMAS * sigma_m;
        let width_m = (e - w) * m_per_deg_lon + 2.0 * pad_m;
        let height_m = (n - s) * m_per_deg_lat + 2.0 * pad_m;
        let cell_m = (sigma_m / 3.0).max(width_m.max(height_m) / MAX_CELLS as f64);
        let nx = ((width_m / cell_m).ceil() as usize).clamp(1, MAX_CELLS + 1);
        let ny = ((height_m / cell_m).ceil() as usize).clamp(1, MAX_CELLS + 1);
        Some(Grid {
            lon0: w - pad_m / m_per_deg_lon,
            lat0: s - pad_m / m_per_deg_lat,
            m_per_deg_lon,
            m_per_deg_lat,
            cell_m,
            nx,
            ny,
            smooth: vec![0.0; nx * ny],
            total: 0.0,
            area_m2: area_m2.max(1.0),
        })
    }

    fn cell(&self, lon: f64, lat: f64) -> Option<usize> {
        let x = ((lon - self.lon0) * self.m_per_deg_lon / self.cell_m).floor();
        let y = ((lat - self.lat0) * self.m_per_deg_lat / self.cell_m).floor();
        if !(x >= 0.0 && y >= 0.0 && (x as usize) < self.nx && (y as usize) < self.ny) {
            return None;
        }
        Some(y as usize * self.nx + x as usize)
    }

    fn deposit(&mut self, lon: f64, lat: f64, weight: f64) {
        if !(weight.is_finite() && weight > 0.0) {
            return;
        }
        self.total += weight;
        if let Some(c) = self.cell(lon, lat) {
            self.smooth[c] += weight;
        }
    }

    /// Separable Gaussian smoothing of the counts, normalised to a density per m².
    fn blur(&mut self, sigma_m: f64) {
        let sc = sigma_m / self.cell_m;
        let r = (KERNEL_SIGMAS * sc).ceil() as isize;
        let kernel: Vec<f64> = (-r..=r)
            .map(|k| (-(k as f64).powi(2) / (2.0 * sc * sc)).exp())
            .collect();
        let total: f64 = kernel.iter().sum();
        let kernel: Vec<f64> = kernel.iter().map(|k| k / total).collect();
        let rows = blur_pass(&self.smooth, self.nx, self.ny, &kernel, true);
        let mut out = blur_pass(&rows, self.nx, self.ny, &kernel, false);
        let cell_area = self.cell_m * self.cell_m;
        for v in out.iter_mut() {
            *v /= cell_area;
        }
        self.smooth = out;
    }

    fn at(&self, lon: f64, lat: f64) -> f64 {
        self.cell(lon, lat).map_or(0.0, |c| self.smooth[c])
    }
}

/// One pass of a centred 1-D kernel over an `nx` × `ny` row-major grid, along x
/// (`along_x`) or y; cells beyond the edge count as empty.
fn blur_pass(src: &[f64], nx: usize, ny: usize, kernel: &[f64], along_x: bool) -> Vec<f64> {
    let r = (kernel.len() / 2) as isize;
    let (nx, ny) = (nx as isize, ny as isize);
    let mut out = vec![0.0; src.len()];
    for y in 0..ny {
        for x in 0..nx {
            let v = src[(y * nx + x) as usize];
            if v == 0.0 {
                continue;
            }
            for (k, w) in kernel.iter().enumerate() {
                let (xx, yy) = if along_x {
                    (x + k as isize - r, y)
                } else {
                    (x, y + k as isize - r)
                };
                if (0..nx).contains(&xx) && (0..ny).contains(&yy) {
                    out[(yy * nx + xx) as usize] += v * w;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: (f64, f64, f64, f64, f64) = (130.29, 42.22, 130.32, 42.245, 7.0e6);

    #[test]
    fn busy_berth_is_denser_than_the_mean_and_quiet_water_is_the_mean() {
        let stays: Vec<(usize, f64, f64, f64)> =
            (0..20).map(|_| (0, 130.300, 42.236, 0.04)).collect();
        let d = PortDensity::new(&stays, &[ZONE], 45.0);
        let busy = d.other_density(0, 130.300, 42.236, []);
        // 20 × 0.04 = 0.8 of the time within a 45 m Gaussian.
        let expect = 0.8 / (2.0 * std::f64::consts::PI * 45.0 * 45.0);
        assert!((busy / expect - 1.0).abs() < 0.1, "{busy} vs {expect}");
        let mean = 0.8 / 7.0e6;
        assert!((d.uniform(0) / mean - 1.0).abs() < 1e-9);
        assert_eq!(d.other_density(0, 130.315, 42.225, []), d.uniform(0));
    }

    #[test]
    fn a_lone_stay_is_not_its_own_competitor() {
        let stays = [(0, 130.300, 42.236, 0.5), (0, 130.31, 42.226, 0.5)];
        let d = PortDensity::new(&stays, &[ZONE], 45.0);
        let own = [(130.300, 42.236, 0.5)];
        assert_eq!(d.other_density(0, 130.300, 42.236, own), d.uniform(0));
        assert!(d.other_density(0, 130.300, 42.236, []) > 100.0 * d.uniform(0));
    }

    #[test]
    fn unknown_port_bad_weights_and_outside_points_do_not_panic() {
        let stays = [
            (3, 0.0, 0.0, 1.0),
            (0, 0.0, 0.0, f64::NAN),
            (0, 130.3, 42.23, -1.0),
        ];
        let d = PortDensity::new(&stays, &[ZONE], 45.0);
        assert!(d.other_density(1, 130.3, 42.2, []).is_nan());
        assert_eq!(d.uniform(0), 0.0);
        assert_eq!(d.other_density(0, -10.0, 95.0, []), 0.0);
    }
}
