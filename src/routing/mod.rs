//! Sea routing over a land model: routes that never cross land.

use crate::config::RouteParams;
use crate::error::{Error, Result};

/// Land polygons and the water graph built from them (built once, reused for every route).
pub struct Router {
    _params: RouteParams,
}

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

impl Router {
    /// The built-in Najin–Dunay land model.
    pub fn builtin(params: &RouteParams) -> Result<Router> {
        let _ = params;
        Err(Error::Route("routing is not implemented yet".into()))
    }

    /// A user's land polygons (GeoJSON).
    pub fn from_path(path: &std::path::Path, params: &RouteParams) -> Result<Router> {
        let _ = params;
        Err(Error::Route(format!(
            "{}: routing is not implemented yet",
            path.display()
        )))
    }

    /// The land polygons as GeoJSON (written beside the outputs for context).
    pub fn land_geojson(&self) -> Vec<u8> {
        Vec::new()
    }

    /// A route through `waypoints` (at least two) in order.
    pub fn route(&self, waypoints: &[(f64, f64)]) -> Result<Route> {
        let _ = waypoints;
        Err(Error::Route("routing is not implemented yet".into()))
    }
}
