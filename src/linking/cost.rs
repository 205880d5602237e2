//! The link likelihood model: how much more likely two detections are of the same vessel
//! than of two different ones, as a log-likelihood ratio (LLR, natural log).
//!
//! Each piece compares "same vessel, seen twice with each sensor's error" against "two
//! vessels drawn from the traffic": lengths and beams by Gaussian errors, class and colour
//! by each sensor's accuracy, deck containers (voyages only: cargo does not change at sea)
//! by a relative error, identity (imo/mmsi) as a hard constraint, names as strong evidence.
//! The timing pieces are in [`crate::linking`], where the kind of link is known.
//! See docs/linking.md for the derivation.

use std::sync::Arc;

use crate::config::{SensorModel, SensorModels};
use crate::model::{Observation, Sensor, VesselClass};

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

/// `a.hypot(b)` for the moderate, finite sigmas compared here: glibc's `hypot` guards
/// against overflow at a cost that showed in profiles.
#[inline]
fn norm(a: f64, b: f64) -> f64 {
    (a * a + b * b).sqrt()
}

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

/// What is known of a vessel's attributes from one detection or from all detections of a
/// stay, each with its uncertainty. Kept small: linking holds one per detection or node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attrs {
    /// (estimate, 1-sigma) metres.
    pub length_m: Option<(f64, f64)>,
    pub beam_m: Option<(f64, f64)>,
    /// (class, probability it is right).
    pub class: Option<(VesselClass, f64)>,
    /// (lower-case colour, probability it is right); optical sensors only. Shares the
    /// detection's text when that is lower-case already.
    pub colour: Option<(Arc<str>, f64)>,
    /// Deck containers at the first and last count: (count, 1-sigma).
    pub containers_first: Option<(f64, f64)>,
    pub containers_last: Option<(f64, f64)>,
    /// imo, mmsi and name, when any is known (boxed: most detections carry none).
    pub ids: Option<Box<IdentityTexts>>,
}

/// A vessel's identity texts as the linker compares them ([`identity_str`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentityTexts {
    pub imo: Option<Box<str>>,
    pub mmsi: Option<Box<str>>,
    pub name: Option<Box<str>>,
}

impl IdentityTexts {
    /// The texts, boxed, or `None` when none is known.
    fn boxed(imo: Option<&str>, mmsi: Option<&str>, name: Option<&str>) -> Option<Box<Self>> {
        (imo.is_some() || mmsi.is_some() || name.is_some()).then(|| {
            Box::new(IdentityTexts {
                imo: imo.map(Box::from),
                mmsi: mmsi.map(Box::from),
                name: name.map(Box::from),
            })
        })
    }
}

fn containers_sigma(m: &SensorModel, n: f64) -> f64 {
    (m.containers_rel_sigma * (n + 1.0)).max(1.0)
}

/// A free-text identity field (imo, mmsi, name) as the linker compares it: trimmed, and
/// None when absent, blank or a placeholder for "not known" (all zeros, as AIS-derived data
/// writes a missing imo or mmsi, or `unknown`, `none`, `null`, `n/a`, `na`, `-`, `?`):
/// identity is a hard constraint, and thousands of unrelated ships sharing imo "0" would
/// otherwise be one vessel. The output keeps the text as given.
///
/// ```
/// use shiplink::linking::cost::identity_str;
/// assert_eq!(identity_str(Some(" 9074729 ")), Some("9074729"));
/// assert_eq!(identity_str(Some("0000000")), None);
/// assert_eq!(identity_str(Some("N/A")), None);
/// ```
pub fn identity_str(x: Option<&str>) -> Option<&str> {
    x.map(str::trim).filter(|v| {
        !v.is_empty()
            && !v.bytes().all(|b| b == b'0')
            && !["unknown", "none", "null", "n/a", "na", "-", "?"]
                .iter()
                .any(|p| v.eq_ignore_ascii_case(p))
    })
}

impl Attrs {
    /// The attributes of one detection under its sensor's error model.
    pub fn of(o: &Observation, sensors: &SensorModels) -> Attrs {
        let m = sensors.get(o.sensor);
        let cont = o
            .containers
            .map(|n| (f64::from(n), containers_sigma(m, f64::from(n))));
        Attrs {
            length_m: o.length_m.map(|l| (l, m.length_sigma_m)),
            beam_m: o.beam_m.map(|b| (b, m.beam_sigma_m)),
            class: o
                .vessel_class
                .clone()
                .filter(|c| *c != VesselClass::Unknown)
                .map(|c| (c, m.class_accuracy)),
            colour: if o.sensor.is_sar() {
                None
            } else {
                o.hull_color
                    .as_ref()
                    .and_then(Colour::of)
                    .map(|c| (c.into_arc(), m.color_accuracy))
            },
            containers_first: cont,
            containers_last: cont,
            ids: IdentityTexts::boxed(
                identity_str(o.imo()),
                identity_str(o.mmsi()),
                identity_str(o.name()),
            ),
        }
    }

    pub fn imo(&self) -> Option<&str> {
        self.ids.as_ref()?.imo.as_deref()
    }

    pub fn mmsi(&self) -> Option<&str> {
        self.ids.as_ref()?.mmsi.as_deref()
    }

    pub fn name(&self) -> Option<&str> {
        self.ids.as_ref()?.name.as_deref()
    }

    /// The combined attributes of several detections (time-ordered) of one vessel: lengths
    /// and beams by a precision-weighted mean after dropping values more than 3 sigma from
    /// the weighted median; class and colour by the most supported value, more certain the
    /// more reports agree; the first and last container counts.
    pub fn combine(obs: &[&Observation], sensors: &SensorModels) -> Attrs {
        // Read straight from the detections (what `Attrs::of` would give each, without
        // building it): this runs for every track window refinement and the swaps weigh.
        let mut lengths: Vec<(f64, f64)> = Vec::with_capacity(obs.len());
        let mut beams: Vec<(f64, f64)> = Vec::with_capacity(obs.len());
        let mut classes: Vec<(&str, f64)> = Vec::new();
        let mut colours: Vec<(Colour, f64)> = Vec::new();
        let (mut containers_first, mut containers_last) = (None, None);
        let (mut imo, mut mmsi, mut name) = (None, None, None);
        // Each sensor's vote support, worked out once per call rather than per report.
        let mut supports = Supports::default();
        for o in obs {
            let m = sensors.get(o.sensor);
            if let Some(l) = o.length_m {
                lengths.push((l, m.length_sigma_m));
            }
            if let Some(b) = o.beam_m {
                beams.push((b, m.beam_sigma_m));
            }
            if let Some(c) = o
                .vessel_class
                .as_ref()
                .filter(|c| **c != VesselClass::Unknown)
            {
                classes.push((c.as_str(), supports.class(o.sensor, m.class_accuracy)));
            }
            if !o.sensor.is_sar() {
                if let Some(c) = o.hull_color.as_ref().and_then(Colour::of) {
                    colours.push((c, supports.colour(o.sensor, m.color_accuracy)));
                }
            }
            if let Some(n) = o.containers {
                let c = (f64::from(n), containers_sigma(m, f64::from(n)));
                containers_first.get_or_insert(c);
                containers_last = Some(c);
            }
            if o.identity.is_some() {
                imo = imo.or_else(|| identity_str(o.imo()));
                mmsi = mmsi.or_else(|| identity_str(o.mmsi()));
                name = name.or_else(|| identity_str(o.name()));
            }
        }
        Attrs {
            length_m: robust_mean(&lengths),
            beam_m: robust_mean(&beams),
            class: vote(classes).map(|(c, p)| (VesselClass::from_text(c), p)),
            colour: vote(colours).map(|(c, p)| (c.into_arc(), p)),
            containers_first,
            containers_last,
            ids: IdentityTexts::boxed(imo, mmsi, name),
        }
    }
}

/// A detection's hull colour as compared: trimmed and lower case, sharing the detection's
/// text when it is that already; `None` when blank.
enum Colour<'a> {
    Shared(&'a Arc<str>),
    Owned(String),
}

impl<'a> Colour<'a> {
    fn of(c: &'a Arc<str>) -> Option<Colour<'a>> {
        let lower = c.trim();
        if lower.is_empty() {
            None
        } else if lower.bytes().all(|b| !b.is_ascii_uppercase()) && lower.len() == c.len() {
            Some(Colour::Shared(c))
        } else {
            Some(Colour::Owned(lower.to_ascii_lowercase()))
        }
    }

    fn text(&self) -> &str {
        match self {
            Colour::Shared(c) => c,
            Colour::Owned(c) => c,
        }
    }

    fn into_arc(self) -> Arc<str> {
        match self {
            Colour::Shared(c) => Arc::clone(c),
            Colour::Owned(c) => Arc::from(c),
        }
    }
}

/// Keys of a vote, compared by their text.
trait VoteKey {
    fn key(&self) -> &str;
}

impl VoteKey for &str {
    fn key(&self) -> &str {
        self
    }
}

impl VoteKey for Colour<'_> {
    fn key(&self) -> &str {
        self.text()
    }
}

/// Precision-weighted mean of `(value, 1-sigma)` after dropping values more than 3 sigma
/// from the weighted median (all of them if that drops every one); `(mean, 1-sigma)`.
fn robust_mean(vals: &[(f64, f64)]) -> Option<(f64, f64)> {
    if vals.is_empty() {
        return None;
    }
    // The median from a sorted copy; the mean over the values in their given order.
    let mut sorted: Vec<(f64, f64)> = vals.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = sorted.iter().map(|v| 1.0 / (v.1 * v.1)).sum();
    let mut acc = 0.0;
    let mut median = sorted[0].0;
    for v in &sorted {
        acc += 1.0 / (v.1 * v.1);
        if acc >= total / 2.0 {
            median = v.0;
            break;
        }
    }
    let near = |v: &&(f64, f64)| (v.0 - median).abs() <= 3.0 * v.1;
    let any_near = vals.iter().any(|v| near(&v));
    let kept = |v: &&(f64, f64)| !any_near || near(v);
    let w: f64 = vals.iter().filter(kept).map(|v| 1.0 / (v.1 * v.1)).sum();
    let mean = vals
        .iter()
        .filter(kept)
        .map(|v| v.0 / (v.1 * v.1))
        .sum::<f64>()
        / w;
    Some((mean, (1.0 / w).sqrt()))
}

/// The log-odds a report of accuracy `acc` lends its value in [`vote`].
fn support(acc: f64) -> f64 {
    (acc / (1.0 - acc).max(1e-3)).ln()
}

/// Each sensor's [`support`] for class and for colour reports, computed when first asked
/// (a combination reads hundreds of reports from a few sensors).
#[derive(Default)]
struct Supports {
    class: [Option<f64>; Sensor::COUNT],
    colour: [Option<f64>; Sensor::COUNT],
}

impl Supports {
    fn class(&mut self, s: Sensor, acc: f64) -> f64 {
        *self.class[s as usize].get_or_insert_with(|| support(acc))
    }

    fn colour(&mut self, s: Sensor, acc: f64) -> f64 {
        *self.colour[s as usize].get_or_insert_with(|| support(acc))
    }
}

/// The value with the most support among reports `(value, log-odds support)` (see
/// [`support`]), and how sure the reports make it (ties: the smallest value).
fn vote<K: VoteKey>(vals: Vec<(K, f64)>) -> Option<(K, f64)> {
    // (value, log-odds support), in order of first report; few distinct values.
    let mut score: Vec<(K, f64)> = Vec::new();
    for (v, support) in vals {
        match score.iter_mut().find(|e| e.0.key() == v.key()) {
            Some(e) => e.1 += support,
            None => score.push((v, support)),
        }
    }
    score.sort_by(|a, b| a.0.key().cmp(b.0.key()));
    let total: f64 = score.iter().map(|s| s.1).sum();
    let (best, support) = score
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.key().cmp(a.0.key())))?;
    // Support of the winner net of the others, back to a probability.
    let net = 2.0 * support - total;
    let p = 1.0 / (1.0 + (-net).exp());
    Some((best, p.clamp(0.5, 0.98)))
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
pub fn identity(a: &Attrs, b: &Attrs) -> Identity {
    let cmp = |x: Option<&str>, y: Option<&str>| match (x, y) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    };
    match (cmp(a.imo(), b.imo()), cmp(a.mmsi(), b.mmsi())) {
        (Some(false), _) | (_, Some(false)) => Identity::Different,
        (Some(true), _) | (_, Some(true)) => Identity::Same,
        _ => Identity::Unknown,
    }
}

/// Whether `a` and `b` carry the same imo or mmsi (and no different one): the same
/// vessel, whatever else says.
pub fn same_vessel(a: &Attrs, b: &Attrs) -> bool {
    identity(a, b) == Identity::Same
}

/// The attribute LLR of `a` (earlier) and `b` (later) being the same vessel; `None` when
/// identity forbids it. With `compare_containers` (links across the sea, where the deck
/// load does not change) `a`'s last count is compared with `b`'s first, with
/// `containers_drift` of the count added to the error (loading before departure or after
/// arrival that no image saw).
pub fn attribute_llr(
    a: &Attrs,
    b: &Attrs,
    compare_containers: bool,
    containers_drift: f64,
) -> Option<f64> {
    let mut llr = 0.0;
    each_attribute_term(a, b, compare_containers, containers_drift, |_, x| llr += x)?;
    Some(clamp_llr(llr))
}

/// Calls `term(name, nats)` for each term of [`attribute_llr`] in order (only those both
/// sides have); `None` (and no call) when identity forbids. One definition for the score
/// and its explanation ([`attribute_terms`]).
#[inline]
fn each_attribute_term(
    a: &Attrs,
    b: &Attrs,
    compare_containers: bool,
    containers_drift: f64,
    mut term: impl FnMut(&'static str, f64),
) -> Option<()> {
    match identity(a, b) {
        Identity::Different => return None,
        Identity::Same => term("imo/mmsi", IDENTITY_LLR),
        Identity::Unknown => {}
    }
    if let (Some(x), Some(y)) = (a.name(), b.name()) {
        let same = x.eq_ignore_ascii_case(y);
        term("name", if same { NAME_LLR } else { -NAME_LLR });
    }
    if let (Some((x, sx)), Some((y, sy))) = (a.length_m, b.length_m) {
        let s = norm(sx, sy);
        let d = norm(s, TRAFFIC_LENGTH_SIGMA_M * std::f64::consts::SQRT_2);
        term("length", gauss_llr(x - y, s, d));
    }
    if let (Some((x, sx)), Some((y, sy))) = (a.beam_m, b.beam_m) {
        let s = norm(sx, sy);
        let d = norm(s, TRAFFIC_BEAM_SIGMA_M * std::f64::consts::SQRT_2);
        term("beam", gauss_llr(x - y, s, d));
    }
    if let (Some((x, px)), Some((y, py))) = (&a.class, &b.class) {
        term(
            "class",
            category_llr(x == y, *px, *py, CLASS_COINCIDENCE, 8.0),
        );
    }
    if let (Some((x, px)), Some((y, py))) = (&a.colour, &b.colour) {
        term(
            "colour",
            category_llr(x == y, *px, *py, COLOUR_COINCIDENCE, 6.0),
        );
    }
    if compare_containers {
        if let (Some((x, sx)), Some((y, sy))) = (a.containers_last, b.containers_first) {
            let s = norm(norm(sx, sy), containers_drift * x.max(y)) + 1.0;
            let d = norm(s, TRAFFIC_CONTAINERS_SIGMA * std::f64::consts::SQRT_2);
            term("containers", gauss_llr(x - y, s, d));
        }
    }
    Some(())
}

/// The total of [`attribute_terms`]: their sum, clamped (what [`attribute_llr`] gives).
pub fn terms_total(terms: &[(&'static str, f64)]) -> f64 {
    clamp_llr(terms.iter().fold(0.0, |acc, t| acc + t.1))
}

/// The terms of [`attribute_llr`] one by one, `(name, nats)`, in the order it adds them
/// (`imo/mmsi`, `name`, `length`, `beam`, `class`, `colour`, `containers`; only those both
/// sides have): their sum, clamped, is `attribute_llr`. `None` when identity forbids. For
/// explaining a link (the voyages' `evidence`), not for scoring.
pub fn attribute_terms(
    a: &Attrs,
    b: &Attrs,
    compare_containers: bool,
    containers_drift: f64,
) -> Option<Vec<(&'static str, f64)>> {
    let mut terms = Vec::new();
    each_attribute_term(a, b, compare_containers, containers_drift, |name, x| {
        terms.push((name, x))
    })?;
    Some(terms)
}

/// What a set of nodes can bring to [`attribute_llr`] against a fixed earlier node: the
/// ranges of their attributes and uncertainties, for [`attribute_llr_upper`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttrsRange {
    /// (least, greatest length, least, greatest 1-sigma), metres, over members with a length.
    pub length_m: Option<(f64, f64, f64, f64)>,
    /// Least beam 1-sigma, metres.
    pub beam_sigma_m: Option<f64>,
    /// Least and greatest probability that the reported class / colour is right.
    pub class_p: Option<(f64, f64)>,
    pub colour_p: Option<(f64, f64)>,
    /// Least 1-sigma of the first container count.
    pub containers_sigma: Option<f64>,
    /// Some member has a name.
    pub name: bool,
}

fn widen(r: Option<(f64, f64)>, x: f64) -> Option<(f64, f64)> {
    Some(r.map_or((x, x), |(lo, hi)| (lo.min(x), hi.max(x))))
}

fn least(r: Option<f64>, x: f64) -> Option<f64> {
    Some(r.map_or(x, |lo| lo.min(x)))
}

impl AttrsRange {
    /// Widens the range to cover `b`.
    pub fn add(&mut self, b: &Attrs) {
        if let Some((x, s)) = b.length_m {
            self.length_m = Some(match self.length_m {
                None => (x, x, s, s),
                Some((lo, hi, slo, shi)) => (lo.min(x), hi.max(x), slo.min(s), shi.max(s)),
            });
        }
        if let Some((_, s)) = b.beam_m {
            self.beam_sigma_m = least(self.beam_sigma_m, s);
        }
        if let Some((_, p)) = &b.class {
            self.class_p = widen(self.class_p, *p);
        }
        if let Some((_, p)) = &b.colour {
            self.colour_p = widen(self.colour_p, *p);
        }
        if let Some((_, s)) = b.containers_first {
            self.containers_sigma = least(self.containers_sigma, s);
        }
        self.name |= b.name().is_some();
    }

    /// Widens the range to cover `other`.
    pub fn merge(&mut self, other: &AttrsRange) {
        if let Some((lo, hi, slo, shi)) = other.length_m {
            self.length_m = Some(match self.length_m {
                None => (lo, hi, slo, shi),
                Some((a, b, c, d)) => (a.min(lo), b.max(hi), c.min(slo), d.max(shi)),
            });
        }
        if let Some(s) = other.beam_sigma_m {
            self.beam_sigma_m = least(self.beam_sigma_m, s);
        }
        if let Some((lo, hi)) = other.class_p {
            self.class_p = widen(widen(self.class_p, lo), hi);
        }
        if let Some((lo, hi)) = other.colour_p {
            self.colour_p = widen(widen(self.colour_p, lo), hi);
        }
        if let Some(s) = other.containers_sigma {
            self.containers_sigma = least(self.containers_sigma, s);
        }
        self.name |= other.name;
    }
}

/// Largest [`gauss_llr`]`(delta, s, hypot(s, spread))` over `|delta| >= delta_min` and
/// `s` in `[s_lo, s_hi]`. For a fixed `s` it falls with `|delta|`; in `u = s^2` it rises up to
/// the root of `u^2 + (D^2 - 2 delta^2) u - delta^2 D^2` (D = spread) and falls after.
fn gauss_llr_upper(delta_min: f64, s_lo: f64, s_hi: f64, spread: f64) -> f64 {
    let dd = delta_min * delta_min;
    let d2 = spread * spread;
    let b = d2 - 2.0 * dd;
    let c = dd * d2;
    let disc = (b * b + 4.0 * c).sqrt();
    // The positive root, without cancellation.
    let root = if b > 0.0 {
        2.0 * c / (b + disc)
    } else {
        (disc - b) / 2.0
    };
    let u = root.clamp(s_lo * s_lo, (s_hi * s_hi).max(s_lo * s_lo));
    let s = u.sqrt();
    gauss_llr(delta_min, s, norm(s, spread))
}

/// Largest [`category_llr`] over the other report's accuracy in `[lo, hi]`, when the
/// values agree (`same`) or not (the agreement is linear in that accuracy, so the ends
/// bound it).
fn category_llr_upper(
    same: bool,
    acc1: f64,
    (lo, hi): (f64, f64),
    coincidence: f64,
    categories: f64,
) -> f64 {
    [lo, hi]
        .map(|acc2| category_llr(same, acc1, acc2, coincidence, categories))
        .into_iter()
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Upper bounds of the terms of [`attribute_llr`] over a range of later nodes; see
/// [`attribute_llr_upper`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttrUpper {
    /// Name, beam and containers.
    pub other: f64,
    /// Class and colour terms when the values agree and when they differ (0 when either
    /// side has none).
    pub class: [f64; 2],
    pub colour: [f64; 2],
    /// Length term.
    pub length: f64,
}

impl AttrUpper {
    /// The bound for any member.
    pub fn any(&self) -> f64 {
        let either = |t: [f64; 2]| t[0].max(t[1]).max(0.0);
        clamp_llr(self.other + self.length + either(self.class) + either(self.colour))
    }

    /// The bound for a member whose class and colour agree with the node's or not (`None`:
    /// one side has none, no term).
    pub fn with(&self, class_same: Option<bool>, colour_same: Option<bool>) -> f64 {
        let pick = |t: [f64; 2], same: Option<bool>| match same {
            Some(true) => t[0],
            Some(false) => t[1],
            None => 0.0,
        };
        clamp_llr(
            self.other
                + self.length
                + pick(self.class, class_same)
                + pick(self.colour, colour_same),
        )
    }
}

/// Upper bounds of [`attribute_llr`]`(a, b, ..)` over every `b` in `range` whose identity
/// with `a` is not [`Identity::Same`] (those are looked up by identity instead), by term.
/// Used to prune the candidate search without changing its result; keep in step with
/// [`attribute_llr`].
pub fn attribute_llr_upper(
    a: &Attrs,
    range: &AttrsRange,
    compare_containers: bool,
    containers_drift: f64,
) -> AttrUpper {
    let mut other = 0.0;
    if a.name().is_some() && range.name {
        other += NAME_LLR;
    }
    if let (Some((_, sa)), Some(sb)) = (a.beam_m, range.beam_sigma_m) {
        let s = norm(sa, sb);
        other +=
            gauss_llr_upper(0.0, s, s, TRAFFIC_BEAM_SIGMA_M * std::f64::consts::SQRT_2).max(0.0);
    }
    if compare_containers {
        if let (Some((x, sx)), Some(sy)) = (a.containers_last, range.containers_sigma) {
            let s = norm(norm(sx, sy), containers_drift * x) + 1.0;
            other += gauss_llr_upper(
                0.0,
                s,
                s,
                TRAFFIC_CONTAINERS_SIGMA * std::f64::consts::SQRT_2,
            )
            .max(0.0);
        }
    }
    let mut class = [0.0; 2];
    if let (Some((_, pa)), Some(pb)) = (&a.class, range.class_p) {
        class = [true, false].map(|same| category_llr_upper(same, *pa, pb, CLASS_COINCIDENCE, 8.0));
    }
    let mut colour = [0.0; 2];
    if let (Some((_, pa)), Some(pb)) = (&a.colour, range.colour_p) {
        colour =
            [true, false].map(|same| category_llr_upper(same, *pa, pb, COLOUR_COINCIDENCE, 6.0));
    }
    AttrUpper {
        other,
        class,
        colour,
        length: length_llr_upper(a, range.length_m),
    }
}

/// The length part of [`attribute_llr_upper`] against members with lengths in `[lo, hi]`
/// and 1-sigma in `[s_lo, s_hi]` (`None`: no member has a length, no term).
pub fn length_llr_upper(a: &Attrs, length_m: Option<(f64, f64, f64, f64)>) -> f64 {
    match (a.length_m, length_m) {
        (Some((x, sa)), Some((lo, hi, slo, shi))) => {
            let delta_min = (lo - x).max(x - hi).max(0.0);
            gauss_llr_upper(
                delta_min,
                norm(sa, slo),
                norm(sa, shi),
                TRAFFIC_LENGTH_SIGMA_M * std::f64::consts::SQRT_2,
            )
        }
        _ => 0.0,
    }
}

/// The clamp [`attribute_llr`] applies to its sum.
pub fn clamp_llr(llr: f64) -> f64 {
    llr.clamp(-60.0, 60.0)
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

    /// The terms shown as evidence, totalled as the outputs total them (`terms_total`), are
    /// the weight scored, bit for bit, whatever the two sides report, and are missing
    /// exactly where the score forbids the link. (Both read `each_attribute_term`; this
    /// guards the totalling and the forbidding, and that every kind of term shows.)
    #[test]
    fn attribute_terms_add_up_to_the_llr() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let sensors = SensorModels::default();
        let sensor_list = [Sensor::Sentinel1, Sensor::Planetscope, Sensor::Worldview];
        let random = |rng: &mut rand_chacha::ChaCha8Rng| {
            let mut o = ship(
                rng.gen_range(60.0..200.0),
                ["red", "Blue", " white "][rng.gen_range(0..3)],
                sensor_list[rng.gen_range(0..3)],
            );
            if rng.gen_bool(0.5) {
                o.beam_m = Some(rng.gen_range(10.0..30.0));
            }
            if rng.gen_bool(0.5) {
                o.vessel_class =
                    Some([VesselClass::Cargo, VesselClass::Roro][rng.gen_range(0..2)].clone());
            }
            if rng.gen_bool(0.3) {
                o.containers = Some(rng.gen_range(0..200));
            }
            if rng.gen_bool(0.2) {
                o.identity_mut().imo = Some(["9000001", "9000002"][rng.gen_range(0..2)].into());
            }
            if rng.gen_bool(0.2) {
                o.identity_mut().name = Some(["Angara", "MARIA"][rng.gen_range(0..2)].into());
            }
            Attrs::of(&o, &sensors)
        };
        let (mut forbidden, mut kinds) = (0, std::collections::BTreeSet::new());
        for _ in 0..2000 {
            let (a, b) = (random(&mut rng), random(&mut rng));
            let cmp = rng.gen_bool(0.5);
            let llr = attribute_llr(&a, &b, cmp, 0.05);
            match attribute_terms(&a, &b, cmp, 0.05) {
                None => {
                    assert_eq!(llr, None);
                    forbidden += 1;
                }
                Some(terms) => {
                    assert_eq!(Some(terms_total(&terms)), llr, "{terms:?}");
                    kinds.extend(terms.iter().map(|t| t.0));
                }
            }
        }
        assert!(forbidden > 0);
        assert_eq!(kinds.len(), 7, "{kinds:?}");
    }

    #[test]
    fn no_attributes_no_evidence() {
        let a = obs("a", 0.0, 0.0, 0);
        assert_eq!(
            attribute_llr(
                &Attrs::of(&a, &SensorModels::default()),
                &Attrs::of(&a, &SensorModels::default()),
                true,
                0.0
            ),
            Some(0.0)
        );
    }

    #[test]
    fn similar_length_supports_different_length_refutes() {
        let m = SensorModels::default();
        let a = ship(130.0, "red", Sensor::Planetscope);
        let same = attribute_llr(
            &Attrs::of(&a, &m),
            &Attrs::of(&ship(132.0, "red", Sensor::Planetscope), &m),
            false,
            0.0,
        )
        .unwrap();
        let other = attribute_llr(
            &Attrs::of(&a, &m),
            &Attrs::of(&ship(100.0, "red", Sensor::Planetscope), &m),
            false,
            0.0,
        )
        .unwrap();
        assert!(same > 1.0, "{same}");
        assert!(other < same - 2.0, "{other} vs {same}");
    }

    #[test]
    fn sar_length_error_is_forgiven_and_colour_ignored() {
        let m = SensorModels::default();
        let a = ship(130.0, "red", Sensor::Sentinel1);
        let b = ship(115.0, "blue", Sensor::Planetscope);
        let llr = attribute_llr(&Attrs::of(&a, &m), &Attrs::of(&b, &m), false, 0.0).unwrap();
        // 15 m apart under a ~16 m SAR error is still mild evidence either way.
        assert!(llr > -1.5, "{llr}");
    }

    #[test]
    fn placeholder_identities_are_no_identity() {
        let m = SensorModels::default();
        let mut a = ship(130.0, "red", Sensor::Planetscope);
        let mut b = ship(60.0, "blue", Sensor::Planetscope);
        for placeholder in ["0", "000000000", "Unknown", " n/a "] {
            a.identity_mut().imo = Some(placeholder.into());
            b.identity_mut().imo = Some(placeholder.into());
            a.identity_mut().mmsi = Some(placeholder.into());
            b.identity_mut().mmsi = Some(placeholder.into());
            let (x, y) = (Attrs::of(&a, &m), Attrs::of(&b, &m));
            assert_eq!(identity(&x, &y), Identity::Unknown, "{placeholder}");
        }
        a.identity_mut().imo = Some("9074729".into());
        b.identity_mut().imo = Some("9074729".into());
        assert_eq!(
            identity(&Attrs::of(&a, &m), &Attrs::of(&b, &m)),
            Identity::Same
        );
    }

    #[test]
    fn identity_is_a_hard_constraint() {
        let m = SensorModels::default();
        let mut a = ship(130.0, "red", Sensor::Planetscope);
        let mut b = a.clone();
        a.identity_mut().imo = Some("9123456".into());
        b.identity_mut().imo = Some("9999999".into());
        assert_eq!(
            attribute_llr(&Attrs::of(&a, &m), &Attrs::of(&b, &m), false, 0.0),
            None
        );
        b.identity_mut().imo = Some("9123456".into());
        assert!(
            attribute_llr(&Attrs::of(&a, &m), &Attrs::of(&b, &m), false, 0.0).unwrap()
                >= IDENTITY_LLR
        );
    }

    #[test]
    fn containers_count_only_across_the_sea() {
        let m = SensorModels::default();
        let mut a = ship(130.0, "red", Sensor::Skysat);
        let mut b = a.clone();
        a.containers = Some(120);
        b.containers = Some(10);
        let at_sea = attribute_llr(&Attrs::of(&a, &m), &Attrs::of(&b, &m), true, 0.0).unwrap();
        let in_port = attribute_llr(&Attrs::of(&a, &m), &Attrs::of(&b, &m), false, 0.0).unwrap();
        assert!(at_sea < in_port - 2.5, "{at_sea} vs {in_port}");
    }
}
