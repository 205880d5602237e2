//! Run parameters, read from a TOML file (`--config`); every field has a default
//! tuned on the Najin–Dunay scenario, so an empty file is a valid config.

use serde::{Deserialize, Serialize};

use crate::model::Sensor;

/// All parameters of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub ingest: IngestParams,
    pub stays: StayParams,
    pub linking: LinkParams,
    pub routing: RouteParams,
    pub sensors: SensorModels,
}

impl Config {
    /// Parses a TOML config; unknown keys are an error so typos do not pass silently.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks ranges that would make the model meaningless.
    pub fn validate(&self) -> Result<(), String> {
        let l = &self.linking;
        if !(l.min_speed_kn > 0.0 && l.min_speed_kn < l.max_speed_kn) {
            return Err(format!(
                "linking.min_speed_kn ({}) must be > 0 and below linking.max_speed_kn ({})",
                l.min_speed_kn, l.max_speed_kn
            ));
        }
        if l.max_gap_days <= 0.0 {
            return Err("linking.max_gap_days must be > 0".into());
        }
        for (name, v) in [
            ("dwell_days", l.dwell_days),
            ("port_passage_unseen_days", l.port_passage_unseen_days),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("linking.{name} must be > 0, not {v}"));
            }
        }
        if l.voyage_max_unseen_days.is_nan() || l.voyage_max_unseen_days <= 0.0 {
            return Err("linking.voyage_max_unseen_days must be > 0".into());
        }
        if self.routing.clearance_m < 0.0 {
            return Err("routing.clearance_m must be >= 0".into());
        }
        Ok(())
    }
}

/// Ingest checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestParams {
    /// Largest plausible vessel length; longer detections are rejected.
    pub max_length_m: f64,
    /// Observations later than the run's reference time plus this are rejected as future.
    pub max_future_days: f64,
}

impl Default for IngestParams {
    fn default() -> Self {
        IngestParams {
            max_length_m: 500.0,
            max_future_days: 1.0,
        }
    }
}

/// How detections at a port are grouped into stays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StayParams {
    /// Two detections closer than this, within `duplicate_window_s`, with compatible sizes,
    /// are one sighting (overlapping images minutes apart).
    pub duplicate_radius_m: f64,
    pub duplicate_window_s: i64,
    /// A vessel at a berth moves less than this between sightings.
    pub berth_radius_m: f64,
    /// Longest gap between two sightings linked directly inside one stay.
    pub max_gap_hours: f64,
    /// Two stays of one vessel at the same berth, this close in time with no clear scene
    /// between them showing the berth empty, are merged into one stay.
    pub merge_gap_hours: f64,
    /// A scene is clear when its cloud fraction is at most this.
    pub clear_cloud_fraction: f64,
    /// A clear scene "shows" a vessel if it has a detection within this distance.
    pub empty_berth_radius_m: f64,
}

impl Default for StayParams {
    fn default() -> Self {
        StayParams {
            duplicate_radius_m: 120.0,
            duplicate_window_s: 1800,
            berth_radius_m: 250.0,
            max_gap_hours: 30.0,
            merge_gap_hours: 96.0,
            clear_cloud_fraction: 0.2,
            empty_berth_radius_m: 250.0,
        }
    }
}

/// How stays and at-sea detections are linked into voyages and tracks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkParams {
    pub min_speed_kn: f64,
    pub max_speed_kn: f64,
    /// Longest time between two linked events.
    pub max_gap_days: f64,
    /// Prior log-odds of a passage link (port to port, or via the sea) before evidence.
    pub passage_prior: f64,
    /// Added to a passage's prior for harbour craft (tug, fishing, naval, passenger); for a
    /// class right with probability `p`, `ln(p e^w + 1 - p)` of it (docs/linking.md).
    pub harbour_craft_passage_prior: f64,
    /// Added to a passage's prior for vessels surely shorter than `small_vessel_m`.
    pub small_vessel_passage_prior: f64,
    pub small_vessel_m: f64,
    /// Prior log-odds of a link inside one stay.
    pub stay_prior: f64,
    /// Prior log-odds of a return to the same port after an unseen absence.
    pub return_prior: f64,
    /// Added to a return's prior for harbour craft and vessels surely shorter than
    /// `small_vessel_m` (those `harbour_craft_passage_prior` and `small_vessel_passage_prior`
    /// apply to): they come back to their own port far more often than they sail away.
    /// Weighed by the class's probability as the passage prior is (not for small vessels).
    pub harbour_craft_return_prior: f64,
    /// Port nodes with fewer than this many return candidates above the candidate floor
    /// (−1) keep their best this-many returns down to −4 as well: too weak to be chosen
    /// alone, they let the track refinement join a vessel's sightings on whole tracks'
    /// attributes (default 4; 0 turns it off). Only at ports no busier than
    /// `low_return_max_per_day` (docs/linking.md, "Weak returns").
    pub low_return_candidates: usize,
    /// Weak returns (`low_return_candidates`) are searched only at ports with at most this
    /// many port nodes (stays and lone sightings) a day on average over the run (default
    /// 20; the simulated Najin–Dunay ports have 1–2.5): in a crowded port nearly every lone
    /// sighting would search its port's weeks of traffic down to −4 (at the bench's million
    /// detections, 2.5 times the time and 1.4 GB).
    pub low_return_max_per_day: f64,
    /// Mean unseen time beyond sailing, days, of a passage with one end at sea (image
    /// cadence and clouds): exponential with this mean from a port to the sea, half of it
    /// from the sea to a port, a quarter between two at-sea sightings.
    pub dwell_days: f64,
    /// Mean unseen time beyond sailing, days, between a port's last sighting and the next
    /// port's first: the wait after the last sighting plus the wait before the first, each
    /// exponential with half this mean, so a gamma of shape 2: a gap that leaves no unseen
    /// time is unlikely (under one exponential it was the likeliest).
    pub port_passage_unseen_days: f64,
    /// Longest unseen absence a return link may bridge, days.
    pub return_window_days: f64,
    /// Links whose posterior probability falls below this are cut.
    pub min_link_probability: f64,
    /// Platt scaling of a voyage's confidence: the product `c` of its links' probabilities
    /// becomes `1 / (1 + exp(-(slope * logit(c) + intercept)))`. Fitted on simulated
    /// scenarios (`examples/quality.rs --fit`, seeds 11-40); slope 1 and intercept 0 leave
    /// the raw product.
    pub confidence_slope: f64,
    pub confidence_intercept: f64,
    /// Rounds of track refinement after the first assignment (each re-weighs every candidate
    /// with the attributes of the tracks found so far and solves again; stops early when the
    /// links settle). 0 keeps the pairwise solution.
    pub refine_rounds: usize,
    /// Weigh stay links against where other vessels actually lie in the port (a smoothed
    /// density of a first solution's stays) instead of uniformly over the zone.
    pub berth_density: bool,
    /// Weigh a passage between two ports by how often the first solution's tracks sail
    /// that pair, against each port's share of the traffic: a port pair vessels seldom
    /// sail between makes its passages less likely (never more; docs/linking.md).
    pub route_shares: bool,
    /// Split a stay where its sightings up to a link and from it on, each combined, are
    /// not surely one vessel (that link's weight, so judged, is under 1 nat), and solve
    /// stage 1 again.
    pub split_stays: bool,
    /// Drop a stay candidate `i → j` when some port sighting `k` between them in time is a
    /// candidate from `i` and to `j`: `j` is then not the next sighting of `i`'s vessel (a
    /// stay link skipping a sighting of its own vessel lets the assignment thread one
    /// vessel's sightings into two interleaved stays at one berth).
    pub stay_next_sighting: bool,
    /// Join whole tracks that are clearly one vessel across gaps no single link could span
    /// (`src/linking/stitch.rs`); no voyage is made across such a join.
    pub stitch_tracks: bool,
    /// After refinement, improve the tracks by moves judged over whole tracks: swapping two
    /// tracks' tails, splicing in what the pairwise links left out, cutting out what does
    /// not belong (`src/linking/swap.rs`).
    pub track_swaps: bool,
    /// Longest unseen time, days, from a stay's last sighting to the next stay's first,
    /// across which a voyage between the two ports is written. Over a longer time the vessel
    /// has most often called somewhere unseen (on the simulated scenarios, 1 such voyage in
    /// 13 over 5 days was right), so the two stays stay in one track but no voyage is made.
    pub voyage_max_unseen_days: f64,
    /// How a voyage's confidence is computed (docs/linking.md, "Confidence").
    pub voyage_confidence: VoyageConfidence,
}

/// Inputs of a voyage's confidence: the log-odds of its links' joint probability, then
/// the features weighed by [`VoyageConfidence::weights`].
pub const VOYAGE_CONFIDENCE_INPUTS: usize = 11;

/// A voyage's confidence: a logistic model of the chance that the voyage is right, from
/// the log-odds `z` of the product of its links' probabilities (what the assignment
/// says) and what its ends show, `1 / (1 + exp(-(slope z + intercept + Σ weight x)))`.
/// Fitted on simulated scenarios (`cargo run --release --example quality -- --fit`,
/// seeds 11-40; docs/linking.md). Every weight 0, with `slope` and `intercept` those of
/// `confidence_slope` and `confidence_intercept`, gives the links' scaling alone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoyageConfidence {
    pub slope: f64,
    pub intercept: f64,
    /// Per unit of ln(sightings) in the origin stay, and in the destination stay.
    pub origin_sightings: f64,
    pub destination_sightings: f64,
    /// When every sighting of the origin stay (of the destination stay) is by radar
    /// (Sentinel-1: length ±15 m, no colour).
    pub radar_only_origin: f64,
    pub radar_only_destination: f64,
    /// Per day unseen between the origin's last sighting and the destination's first.
    pub unseen_days: f64,
    /// When the vessel was seen at sea on the way.
    pub via_sea: f64,
    /// Per unit of ln(share of the run's voyages that join the same two ports, either way).
    pub route_share: f64,
    /// Per unit of ln(1 + voyages of the vessel's track, counting at most 10).
    pub track_voyages: f64,
    /// Per unit of ln(highest detector confidence) in the origin stay, and in the
    /// destination stay (1 when none is given).
    pub origin_detector: f64,
    pub destination_detector: f64,
}

impl VoyageConfidence {
    /// The weights of the features, in the order of
    /// [`crate::model::Voyage::confidence_inputs`] after its first.
    pub fn weights(&self) -> [f64; VOYAGE_CONFIDENCE_INPUTS - 1] {
        [
            self.origin_sightings,
            self.destination_sightings,
            self.radar_only_origin,
            self.radar_only_destination,
            self.unseen_days,
            self.via_sea,
            self.route_share,
            self.track_voyages,
            self.origin_detector,
            self.destination_detector,
        ]
    }

    /// The model with `slope`, `intercept` and `weights` in that order (as
    /// [`VoyageConfidence::weights`]).
    pub fn from_coefficients(c: &[f64; VOYAGE_CONFIDENCE_INPUTS + 1]) -> VoyageConfidence {
        VoyageConfidence {
            slope: c[0],
            intercept: c[1],
            origin_sightings: c[2],
            destination_sightings: c[3],
            radar_only_origin: c[4],
            radar_only_destination: c[5],
            unseen_days: c[6],
            via_sea: c[7],
            route_share: c[8],
            track_voyages: c[9],
            origin_detector: c[10],
            destination_detector: c[11],
        }
    }

    /// The confidence of a voyage with these inputs ([`VOYAGE_CONFIDENCE_INPUTS`]).
    pub fn confidence(&self, inputs: &[f64; VOYAGE_CONFIDENCE_INPUTS]) -> f64 {
        let z = self.slope * inputs[0]
            + self.intercept
            + self
                .weights()
                .iter()
                .zip(&inputs[1..])
                .map(|(w, x)| w * x)
                .sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }
}

impl Default for VoyageConfidence {
    fn default() -> Self {
        // `cargo run --release --example quality -- --seeds 11,...,40 --fit`.
        VoyageConfidence {
            slope: 0.1935,
            intercept: -0.4516,
            origin_sightings: 0.3930,
            destination_sightings: 0.3080,
            radar_only_origin: -0.9713,
            radar_only_destination: -0.6208,
            unseen_days: -0.4295,
            via_sea: 0.7228,
            route_share: 0.5900,
            track_voyages: 1.2480,
            origin_detector: 1.1884,
            destination_detector: 0.9697,
        }
    }
}

/// Default Platt scaling of voyage confidences (see [`LinkParams::confidence_slope`]).
pub const CONFIDENCE_SLOPE: f64 = 0.2994;
pub const CONFIDENCE_INTERCEPT: f64 = 0.8574;

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            min_speed_kn: 3.0,
            max_speed_kn: 20.0,
            max_gap_days: 10.0,
            passage_prior: 1.0,
            harbour_craft_passage_prior: -3.0,
            small_vessel_passage_prior: -2.0,
            small_vessel_m: 60.0,
            stay_prior: 0.0,
            return_prior: 0.0,
            harbour_craft_return_prior: 2.0,
            low_return_candidates: 4,
            low_return_max_per_day: 20.0,
            dwell_days: 2.5,
            port_passage_unseen_days: 2.0,
            return_window_days: 12.0,
            min_link_probability: 0.01,
            confidence_slope: CONFIDENCE_SLOPE,
            confidence_intercept: CONFIDENCE_INTERCEPT,
            refine_rounds: 10,
            berth_density: true,
            route_shares: true,
            split_stays: true,
            stay_next_sighting: true,
            stitch_tracks: true,
            track_swaps: true,
            voyage_max_unseen_days: 5.0,
            voyage_confidence: VoyageConfidence::default(),
        }
    }
}

/// Sea routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteParams {
    /// Distance kept from the coast where the water is wide enough.
    pub clearance_m: f64,
    /// End points on land are moved to the nearest water within this distance.
    pub max_snap_m: f64,
}

impl Default for RouteParams {
    fn default() -> Self {
        RouteParams {
            clearance_m: 300.0,
            max_snap_m: 5000.0,
        }
    }
}

/// Measurement error of one sensor (1-sigma) and what it can see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensorModel {
    pub length_sigma_m: f64,
    pub beam_sigma_m: f64,
    /// Probability that a reported hull colour is right.
    pub color_accuracy: f64,
    /// Standard deviation of a container count, as a fraction of the count (plus 1).
    pub containers_rel_sigma: f64,
    /// Probability that a reported vessel class is right.
    pub class_accuracy: f64,
}

impl Default for SensorModel {
    fn default() -> Self {
        // The conservative default for unknown sensors.
        SensorModel {
            length_sigma_m: 15.0,
            beam_sigma_m: 6.0,
            color_accuracy: 0.6,
            containers_rel_sigma: 0.3,
            class_accuracy: 0.6,
        }
    }
}

/// Error models per known sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensorModels {
    pub sentinel_1: SensorModel,
    pub sentinel_2: SensorModel,
    pub planetscope: SensorModel,
    pub skysat: SensorModel,
    pub worldview: SensorModel,
    pub maxar: SensorModel,
    pub other: SensorModel,
}

impl Default for SensorModels {
    fn default() -> Self {
        let m = |l, b, c, k, cls| SensorModel {
            length_sigma_m: l,
            beam_sigma_m: b,
            color_accuracy: c,
            containers_rel_sigma: k,
            class_accuracy: cls,
        };
        SensorModels {
            sentinel_1: m(15.0, 6.0, 0.5, 0.5, 0.67),
            sentinel_2: m(10.0, 4.0, 0.87, 0.4, 0.78),
            planetscope: m(6.0, 2.5, 0.94, 0.25, 0.8),
            skysat: m(2.0, 1.0, 0.98, 0.05, 0.95),
            worldview: m(2.0, 1.0, 0.98, 0.05, 0.95),
            maxar: m(2.0, 1.0, 0.98, 0.05, 0.95),
            other: SensorModel::default(),
        }
    }
}

impl SensorModels {
    pub fn get(&self, s: Sensor) -> &SensorModel {
        match s {
            Sensor::Sentinel1 => &self.sentinel_1,
            Sensor::Sentinel2 => &self.sentinel_2,
            Sensor::Planetscope => &self.planetscope,
            Sensor::Skysat => &self.skysat,
            Sensor::Worldview => &self.worldview,
            Sensor::Maxar => &self.maxar,
            Sensor::Other => &self.other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_toml_is_the_default() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn partial_toml_overrides_one_field() {
        let c = Config::from_toml("[linking]\nmax_speed_kn = 14.0\n").unwrap();
        assert_eq!(c.linking.max_speed_kn, 14.0);
        assert_eq!(c.linking.min_speed_kn, 3.0);
    }

    #[test]
    fn unknown_keys_and_bad_ranges_are_errors() {
        assert!(Config::from_toml("[linking]\nmax_sped_kn = 14.0\n").is_err());
        assert!(Config::from_toml("[linking]\nmin_speed_kn = 30.0\n").is_err());
    }
}
