//! The link likelihood model: how much more likely two detections are of the same vessel
//! than of two different ones, as a log-likelihood ratio (LLR, natural log).
//!
//! Each piece compares "same vessel, seen twice with each sensor's error" against "two
//! vessels drawn from the traffic": lengths and beams by Gaussian errors, class and colour
//! by each sensor's accuracy, deck containers (voyages only: cargo does not change at sea)
//! by a relative error, identity (imo/mmsi) as a hard constraint, names as strong evidence.
//! The timing pieces are in [`crate::linking`], where the kind of link is known.
//! See docs/linking.md for the derivation.

use crate::config::{SensorModel, SensorModels};
use crate::model::{Observation, VesselClass};

/// Spread (1-sigma) of vessel lengths in port traffic, metres.
pub const TRAFFIC_LENGTH_SIGMA_M: f64 = 40.0;
/// Spread of beams in port traffic, metres.
pub const TRAFFIC_BEAM_SIGMA_M: f64 = 7.0;
/// Chance that two random vessels share a reported class.
pub const CLASS_COINCIDENCE: f64 = 0.3;
/// Chance that two random vessels share a reported hull colour.
pub const COLOUR_COINCIDENCE: f64 = 0.25;
/// Spread of deck container counts among loaded ships.
pub const TRAFFIC_CONTAINERS_SIGMA: f64 = 60.0;
/// LLR bonus for equal imo/mmsi (the same vessel, always).
pub const IDENTITY_LLR: f64 = 40.0;
/// LLR for an equal / different name.
pub const NAME_LLR: f64 = 4.0;

/// Share of measurements that are outliers (a wrong edge, a wake, two hulls merged):
/// "same vessel" is a mixture of the sensor's Gaussian error and the traffic spread, so
/// one bad measurement cannot veto a link on its own.
pub const OUTLIER_SHARE: f64 = 0.05;

/// log [(1-ε) N(delta; 0, s) + ε N(delta; 0, d)] - log N(delta; 0, d): the LLR of a
/// difference under "same vessel" (sensor error `s`, outliers ε) against "two vessels"
/// (spread `d`). Bounded below by `ln ε`.
pub fn gauss_llr(delta: f64, s: f64, d: f64) -> f64 {
    let pure = (d / s).ln() - 0.5 * (delta / s).powi(2) + 0.5 * (delta / d).powi(2);
    ((1.0 - OUTLIER_SHARE) * pure.exp() + OUTLIER_SHARE).ln()
}

/// LLR of a categorical attribute given each report's accuracy and the coincidence rate.
fn category_llr(same: bool, acc1: f64, acc2: f64, coincidence: f64, categories: f64) -> f64 {
    let agree = acc1 * acc2 + (1.0 - acc1) * (1.0 - acc2) / categories;
    let agree = agree.clamp(1e-3, 1.0 - 1e-3);
    if same {
        (agree / coincidence).ln()
    } else {
        ((1.0 - agree) / (1.0 - coincidence)).ln()
    }
}

/// Identity evidence between two detections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Identity {
    /// Same imo or mmsi: must be the same vessel.
    Same,
    /// Different imo or mmsi: can never be the same vessel.
    Different,
    Unknown,
}

/// Compares imo and mmsi (hard evidence).
pub fn identity(a: &Observation, b: &Observation) -> Identity {
    let cmp = |x: &Option<String>, y: &Option<String>| match (x, y) {
        (Some(x), Some(y)) => Some(x.trim() == y.trim()),
        _ => None,
    };
    match (cmp(&a.imo, &b.imo), cmp(&a.mmsi, &b.mmsi)) {
        (Some(false), _) | (_, Some(false)) => Identity::Different,
        (Some(true), _) | (_, Some(true)) => Identity::Same,
        _ => Identity::Unknown,
    }
}

/// The attribute LLR of `a` and `b` being the same vessel; `None` when identity forbids it.
/// `compare_containers` is set for links across the sea, where the deck load should not change.
pub fn attribute_llr(
    a: &Observation,
    b: &Observation,
    sensors: &SensorModels,
    compare_containers: bool,
) -> Option<f64> {
    let (ma, mb): (&SensorModel, &SensorModel) = (sensors.get(a.sensor), sensors.get(b.sensor));
    let mut llr = 0.0;
    match identity(a, b) {
        Identity::Different => return None,
        Identity::Same => llr += IDENTITY_LLR,
        Identity::Unknown => {}
    }
    if let (Some(x), Some(y)) = (&a.name, &b.name) {
        llr += if x.trim().eq_ignore_ascii_case(y.trim()) {
            NAME_LLR
        } else {
            -NAME_LLR
        };
    }
    if let (Some(x), Some(y)) = (a.length_m, b.length_m) {
        let s = ma.length_sigma_m.hypot(mb.length_sigma_m);
        let d = s.hypot(TRAFFIC_LENGTH_SIGMA_M * std::f64::consts::SQRT_2);
        llr += gauss_llr(x - y, s, d);
    }
    if let (Some(x), Some(y)) = (a.beam_m, b.beam_m) {
        let s = ma.beam_sigma_m.hypot(mb.beam_sigma_m);
        let d = s.hypot(TRAFFIC_BEAM_SIGMA_M * std::f64::consts::SQRT_2);
        llr += gauss_llr(x - y, s, d);
    }
    if let (Some(x), Some(y)) = (&a.vessel_class, &b.vessel_class) {
        if *x != VesselClass::Unknown && *y != VesselClass::Unknown {
            llr += category_llr(
                x == y,
                ma.class_accuracy,
                mb.class_accuracy,
                CLASS_COINCIDENCE,
                8.0,
            );
        }
    }
    if !a.sensor.is_sar() && !b.sensor.is_sar() {
        if let (Some(x), Some(y)) = (&a.hull_color, &b.hull_color) {
            let same = x.trim().eq_ignore_ascii_case(y.trim());
            llr += category_llr(
                same,
                ma.color_accuracy,
                mb.color_accuracy,
                COLOUR_COINCIDENCE,
                6.0,
            );
        }
    }
    if compare_containers {
        if let (Some(x), Some(y)) = (a.containers, b.containers) {
            let (x, y) = (f64::from(x), f64::from(y));
            let s = (ma.containers_rel_sigma * (x + 1.0))
                .hypot(mb.containers_rel_sigma * (y + 1.0))
                .max(1.0)
                + 2.0;
            let d = s.hypot(TRAFFIC_CONTAINERS_SIGMA * std::f64::consts::SQRT_2);
            llr += gauss_llr(x - y, s, d);
        }
    }
    Some(llr.clamp(-60.0, 60.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::obs;
    use crate::model::Sensor;

    fn ship(len: f64, colour: &str, sensor: Sensor) -> Observation {
        let mut o = obs("x", 130.3, 42.2, 0);
        o.length_m = Some(len);
        o.hull_color = Some(colour.into());
        o.sensor = sensor;
        o
    }

    #[test]
    fn no_attributes_no_evidence() {
        let a = obs("a", 0.0, 0.0, 0);
        assert_eq!(
            attribute_llr(&a, &a.clone(), &SensorModels::default(), true),
            Some(0.0)
        );
    }

    #[test]
    fn similar_length_supports_different_length_refutes() {
        let m = SensorModels::default();
        let a = ship(130.0, "red", Sensor::Planetscope);
        let same = attribute_llr(&a, &ship(132.0, "red", Sensor::Planetscope), &m, false).unwrap();
        let other = attribute_llr(&a, &ship(100.0, "red", Sensor::Planetscope), &m, false).unwrap();
        assert!(same > 1.0, "{same}");
        assert!(other < same - 2.0, "{other} vs {same}");
    }

    #[test]
    fn sar_length_error_is_forgiven_and_colour_ignored() {
        let m = SensorModels::default();
        let a = ship(130.0, "red", Sensor::Sentinel1);
        let b = ship(115.0, "blue", Sensor::Planetscope);
        let llr = attribute_llr(&a, &b, &m, false).unwrap();
        // 15 m apart under a ~16 m SAR error is still mild evidence either way.
        assert!(llr > -1.5, "{llr}");
    }

    #[test]
    fn identity_is_a_hard_constraint() {
        let m = SensorModels::default();
        let mut a = ship(130.0, "red", Sensor::Planetscope);
        let mut b = a.clone();
        a.imo = Some("9123456".into());
        b.imo = Some("9999999".into());
        assert_eq!(attribute_llr(&a, &b, &m, false), None);
        b.imo = Some("9123456".into());
        assert!(attribute_llr(&a, &b, &m, false).unwrap() >= IDENTITY_LLR);
    }

    #[test]
    fn containers_count_only_across_the_sea() {
        let m = SensorModels::default();
        let mut a = ship(130.0, "red", Sensor::Skysat);
        let mut b = a.clone();
        a.containers = Some(120);
        b.containers = Some(10);
        let at_sea = attribute_llr(&a, &b, &m, true).unwrap();
        let in_port = attribute_llr(&a, &b, &m, false).unwrap();
        assert!(at_sea < in_port - 3.0, "{at_sea} vs {in_port}");
    }
}
