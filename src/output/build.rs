//! Builds the format-neutral output layers (voyages, stays, tracks, links, unmatched, rejected)
//! from the pipeline results. Pure: no file system.

use std::collections::BTreeSet;

use geo::{Geometry, LineString, Point};

use super::layer::{Feature, Field, FieldKind as K, GeomKind, Layer, Value};
use crate::config::SensorModels;
use crate::linking::{cost, derive, LinkKind};
use crate::model::{Event, Observation, Port, Rejected, Stay, Time, Track, Voyage};

/// The names of the layers, in writing order.
pub const LAYER_NAMES: [&str; 6] = [
    "voyages",
    "stays",
    "tracks",
    "links",
    "unmatched",
    "rejected",
];

fn f(name: &str, kind: K) -> Field {
    Field::new(name, kind)
}

fn ids(obs: &[Observation], idx: &[usize]) -> Value {
    Value::StrArray(idx.iter().map(|&i| obs[i].id.clone()).collect())
}

fn opt_int(v: Option<u32>) -> Value {
    v.map_or(Value::Null, |x| Value::Int(i64::from(x)))
}

fn round(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

/// Departure and arrival bounds of a voyage from stays, via times and empty-berth scenes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoyageTimes {
    pub departed_after: Time,
    pub departed_before: Option<Time>,
    pub arrived_after: Option<Time>,
    pub arrived_before: Time,
}

/// departed_after = last seen at the origin; departed_before = the earlier of the first
/// clear empty-berth scene at the origin and the first at-sea sighting (null when neither);
/// arrived_after = the later of the last empty-berth scene at the destination and the last
/// at-sea sighting (null when neither); arrived_before = first seen at the destination.
pub fn voyage_times(v: &Voyage, stays: &[Stay], obs: &[Observation]) -> VoyageTimes {
    let (o, d) = (&stays[v.origin_stay], &stays[v.destination_stay]);
    let first_via = v.via.iter().map(|&i| obs[i].observed_at).min();
    let last_via = v.via.iter().map(|&i| obs[i].observed_at).max();
    let arrived_before = d.first_seen;
    let departed_before = [o.empty_after.filter(|&t| t <= arrived_before), first_via]
        .into_iter()
        .flatten()
        .min();
    let arrived_after = [d.empty_before.filter(|&t| t >= o.last_seen), last_via]
        .into_iter()
        .flatten()
        .max();
    VoyageTimes {
        departed_after: o.last_seen,
        departed_before,
        arrived_after,
        arrived_before,
    }
}

/// Minimum average speed (knots) that makes the voyage possible.
pub fn min_speed_kn(route_km: f64, t: &VoyageTimes) -> f64 {
    crate::geodesy::speed_kn(
        route_km * 1000.0,
        (t.arrived_before - t.departed_after) as f64,
    )
}

/// The voyages layer's schema (no features).
pub fn voyages_schema() -> Layer {
    Layer::new(
        "voyages",
        GeomKind::LineString,
        vec![
            f("voyage_id", K::Str),
            f("vessel_id", K::Str),
            f("from_port", K::Str),
            f("to_port", K::Str),
            f("departed_after", K::DateTime),
            f("departed_before", K::DateTime),
            f("arrived_after", K::DateTime),
            f("arrived_before", K::DateTime),
            f("route_km", K::Real),
            f("route_method", K::Str),
            f("min_speed_kn", K::Real),
            f("confidence", K::Real),
            f("origin_stay_id", K::Str),
            f("destination_stay_id", K::Str),
            f("origin_observation_ids", K::StrArray),
            f("destination_observation_ids", K::StrArray),
            f("via_observation_ids", K::StrArray),
            f("containers_departing", K::Int),
            f("containers_arriving", K::Int),
            f("gap_hours", K::Real),
            f("link_llr", K::Real),
            f("attribute_llr", K::Real),
            f("evidence", K::Str),
        ],
    )
}

/// One end of a link or voyage: a stay, or a sighting at sea.
struct Place {
    at: (f64, f64),
    id: String,
    port: Value,
    first: Time,
    last: Time,
}

fn place(stays: &[Stay], obs: &[Observation], e: Event) -> Place {
    match e {
        Event::Stay(s) => {
            let s = &stays[s];
            Place {
                at: (s.lon, s.lat),
                id: s.stay_id.clone(),
                port: Value::Str(s.port_id.clone()),
                first: s.first_seen,
                last: s.last_seen,
            }
        }
        Event::AtSea(i) => {
            let o = &obs[i];
            Place {
                at: (o.lon, o.lat),
                id: o.id.clone(),
                port: Value::Null,
                first: o.observed_at,
                last: o.observed_at,
            }
        }
    }
}

/// Words of an `evidence` text: the two ends' labels and that of the chosen weight.
struct Wording {
    from: &'static str,
    to: &'static str,
    weight: &'static str,
}

const VOYAGE_WORDS: Wording = Wording {
    from: "origin",
    to: "destination",
    weight: "Links",
};

const LINK_WORDS: Wording = Wording {
    from: "from",
    to: "to",
    weight: "Link",
};

/// The `evidence` of a voyage or link between two events compared as a link of `kind`:
/// what each end showed, what each shared attribute says (nats of "one vessel" against
/// "two"), the `gap_hours` of unseen time (and `route`, said after it), and the chosen
/// links' `weight`. Returns `(attribute_llr, text)`.
#[allow(clippy::too_many_arguments)]
fn evidence(
    stays: &[Stay],
    obs: &[Observation],
    sensors: &SensorModels,
    (from, to): (Event, Event),
    kind: &str,
    words: &Wording,
    (gap_hours, route): (f64, &str),
    weight: f64,
) -> (Option<f64>, String) {
    let (a_text, b_text, terms) = derive::link_evidence(obs, stays, from, to, kind, sensors);
    let text = format!(
        "{} {a_text}; {} {b_text}. {}. {gap_hours:.1} h between sightings{route}. {}: \
         {weight:+.1} nats with the tracks' attributes and timing.",
        words.from,
        words.to,
        derive::terms_text(terms.as_deref()),
        words.weight,
    );
    (terms.as_deref().map(cost::terms_total), text)
}

/// Hours of unseen time from one event's last sighting to the next one's first.
fn hours_between(last: Time, first: Time) -> f64 {
    (first - last) as f64 / 3600.0
}

/// The voyages layer's features, sorted by id, built one at a time.
pub fn voyage_features<'a>(
    voyages: &'a [Voyage],
    stays: &'a [Stay],
    obs: &'a [Observation],
    sensors: &'a SensorModels,
) -> impl Iterator<Item = Feature> + 'a {
    by_id(voyages, |v| &v.voyage_id).into_iter().map(move |k| {
        let v = &voyages[k];
        let (o, d) = (&stays[v.origin_stay], &stays[v.destination_stay]);
        let t = voyage_times(v, stays, obs);
        let speed_kn = min_speed_kn(v.route_km, &t);
        let via = match v.via.len() {
            0 => String::new(),
            1 => ", via 1 sighting at sea".to_string(),
            n => format!(", via {n} sightings at sea"),
        };
        let route = format!(" for {:.1} km (at least {speed_kn:.1} kn){via}", v.route_km);
        let ends = (Event::Stay(v.origin_stay), Event::Stay(v.destination_stay));
        let gap_hours = hours_between(o.last_seen, d.first_seen);
        // A voyage's ends compare as a passage's.
        let (attribute_llr, text) = evidence(
            stays,
            obs,
            sensors,
            ends,
            LinkKind::Passage.as_str(),
            &VOYAGE_WORDS,
            (gap_hours, &route),
            -v.cost,
        );
        let line: LineString<f64> = v.geometry.iter().copied().collect();
        Feature {
            id: v.voyage_id.clone(),
            geometry: Some(Geometry::LineString(line)),
            values: vec![
                Value::Str(v.voyage_id.clone()),
                Value::Str(v.vessel_id.clone()),
                Value::Str(o.port_id.clone()),
                Value::Str(d.port_id.clone()),
                Value::Time(t.departed_after),
                t.departed_before.into(),
                t.arrived_after.into(),
                Value::Time(t.arrived_before),
                Value::Real(round(v.route_km, 3)),
                Value::Str(v.route_method.as_str().into()),
                Value::Real(round(speed_kn, 3)),
                Value::Real(round(v.confidence, 4)),
                Value::Str(o.stay_id.clone()),
                Value::Str(d.stay_id.clone()),
                ids(obs, &o.observations),
                ids(obs, &d.observations),
                ids(obs, &v.via),
                opt_int(o.containers_last),
                opt_int(d.containers_first),
                Value::Real(round(gap_hours, 2)),
                Value::Real(round(-v.cost, 3)),
                attribute_llr.map(|x| round(x, 3)).into(),
                Value::Str(text),
            ],
            extra: vec![],
        }
    })
}

/// The stays layer's schema (no features); `stay_features` takes the vessel id of each stay.
pub fn stays_schema() -> Layer {
    Layer::new(
        "stays",
        GeomKind::Point,
        vec![
            f("stay_id", K::Str),
            f("vessel_id", K::Str),
            f("port", K::Str),
            f("first_seen", K::DateTime),
            f("last_seen", K::DateTime),
            f("observation_count", K::Int),
            f("observation_ids", K::StrArray),
            f("length_m", K::Real),
            f("beam_m", K::Real),
            f("vessel_class", K::Str),
            f("hull_color", K::Str),
            f("containers_first", K::Int),
            f("containers_last", K::Int),
        ],
    )
}

/// The stays layer's features, sorted by id, built one at a time.
pub fn stay_features<'a>(
    stays: &'a [Stay],
    vessel_of_stay: &'a [String],
    obs: &'a [Observation],
) -> impl Iterator<Item = Feature> + 'a {
    by_id(stays, |s| &s.stay_id).into_iter().map(move |k| {
        let s = &stays[k];
        Feature {
            id: s.stay_id.clone(),
            geometry: Some(Geometry::Point(Point::new(s.lon, s.lat))),
            values: vec![
                Value::Str(s.stay_id.clone()),
                Value::Str(vessel_of_stay.get(k).cloned().unwrap_or_default()),
                Value::Str(s.port_id.clone()),
                Value::Time(s.first_seen),
                Value::Time(s.last_seen),
                Value::Int(s.observations.len() as i64),
                ids(obs, &s.observations),
                s.length_m.map(|x| round(x, 2)).into(),
                s.beam_m.map(|x| round(x, 2)).into(),
                s.vessel_class
                    .as_ref()
                    .map(|c| c.as_str().to_string())
                    .into(),
                s.hull_color.clone().into(),
                opt_int(s.containers_first),
                opt_int(s.containers_last),
            ],
            extra: vec![],
        }
    })
}

/// The tracks layer's schema (no features): a line through each vessel's stays and at-sea
/// sightings in time order.
pub fn tracks_schema() -> Layer {
    Layer::new(
        "tracks",
        GeomKind::LineString,
        vec![
            f("vessel_id", K::Str),
            f("first_seen", K::DateTime),
            f("last_seen", K::DateTime),
            f("voyage_count", K::Int),
            f("stay_count", K::Int),
            f("length_m", K::Real),
        ],
    )
}

/// The tracks layer's features, sorted by id, built one at a time.
pub fn track_features<'a>(
    tracks: &'a [Track],
    stays: &'a [Stay],
    obs: &'a [Observation],
) -> impl Iterator<Item = Feature> + 'a {
    by_id(tracks, |t| &t.vessel_id).into_iter().map(move |k| {
        let t = &tracks[k];
        let mut coords: Vec<(f64, f64)> = t
            .events
            .iter()
            .map(|e| match *e {
                Event::Stay(s) => (stays[s].lon, stays[s].lat),
                Event::AtSea(i) => (obs[i].lon, obs[i].lat),
            })
            .collect();
        coords.dedup();
        if coords.len() == 1 {
            coords.push(coords[0]);
        }
        let stay_count = t
            .events
            .iter()
            .filter(|e| matches!(e, Event::Stay(_)))
            .count();
        Feature {
            id: t.vessel_id.clone(),
            geometry: Some(Geometry::LineString(coords.into_iter().collect())),
            values: vec![
                Value::Str(t.vessel_id.clone()),
                Value::Time(t.first_seen),
                Value::Time(t.last_seen),
                Value::Int(t.voyage_count as i64),
                Value::Int(stay_count as i64),
                t.length_m.map(|x| round(x, 2)).into(),
            ],
            extra: vec![],
        }
    })
}

/// The links layer's schema (no features): every link the tracks are made of.
pub fn links_schema() -> Layer {
    Layer::new(
        "links",
        GeomKind::LineString,
        vec![
            f("link_id", K::Str),
            f("vessel_id", K::Str),
            f("voyage_id", K::Str),
            f("kind", K::Str),
            f("from_id", K::Str),
            f("to_id", K::Str),
            f("from_port", K::Str),
            f("to_port", K::Str),
            f("from_time", K::DateTime),
            f("to_time", K::DateTime),
            f("gap_hours", K::Real),
            f("confidence", K::Real),
            f("link_llr", K::Real),
            f("attribute_llr", K::Real),
            f("evidence", K::Str),
        ],
    )
}

/// The links layer's features, by vessel and then time (`link-0001`, ...), built one at a
/// time: a straight line from each event of a track to the next (a stay's point, or the
/// detection at sea), with the link's kind, confidence and evidence.
pub fn link_features<'a>(
    tracks: &'a [Track],
    stays: &'a [Stay],
    voyages: &'a [Voyage],
    obs: &'a [Observation],
    sensors: &'a SensorModels,
) -> impl Iterator<Item = Feature> + 'a {
    // Each track (in id order) with the number of its first link.
    let total: usize = tracks.iter().map(|t| t.links.len()).sum();
    let mut first = 0;
    let starts: Vec<(usize, usize)> = by_id(tracks, |t| &t.vessel_id)
        .into_iter()
        .map(|t| {
            let start = first;
            first += tracks[t].links.len();
            (t, start)
        })
        .collect();
    starts.into_iter().flat_map(move |(t, start)| {
        let track = &tracks[t];
        track.links.iter().enumerate().map(move |(p, l)| {
            let id = derive::make_id("link", start + p, total);
            let ends = (track.events[p], track.events[p + 1]);
            let (a, b) = (place(stays, obs, ends.0), place(stays, obs, ends.1));
            let gap_hours = hours_between(a.last, b.first);
            let (attribute_llr, text) = evidence(
                stays,
                obs,
                sensors,
                ends,
                l.kind,
                &LINK_WORDS,
                (gap_hours, ""),
                l.weight,
            );
            Feature {
                id: id.clone(),
                geometry: Some(Geometry::LineString(vec![a.at, b.at].into_iter().collect())),
                values: vec![
                    Value::Str(id),
                    Value::Str(track.vessel_id.clone()),
                    l.voyage.map(|v| voyages[v].voyage_id.clone()).into(),
                    Value::Str(l.kind.to_string()),
                    Value::Str(a.id),
                    Value::Str(b.id),
                    a.port,
                    b.port,
                    Value::Time(a.last),
                    Value::Time(b.first),
                    Value::Real(round(gap_hours, 2)),
                    Value::Real(round(l.confidence, 4)),
                    Value::Real(round(l.weight, 3)),
                    attribute_llr.map(|x| round(x, 3)).into(),
                    Value::Str(text),
                ],
                extra: vec![],
            }
        })
    })
}

/// The unmatched layer: observations in no stay and no voyage, with all their properties.
/// `port_of[i]` names the port zone an observation fell in.
pub fn unmatched_layer(
    obs: &[Observation],
    idx: &[usize],
    port_of: &[Option<usize>],
    ports: &[Port],
) -> Layer {
    with_features(
        unmatched_schema(),
        unmatched_features(obs, idx, port_of, ports),
    )
}

/// The unmatched layer's schema (no features): the observation fields, then `port`.
pub fn unmatched_schema() -> Layer {
    let mut layer = observations_schema("unmatched");
    layer.fields.push(f("port", K::Str));
    layer
}

/// The unmatched layer's features, sorted by id, built one at a time.
pub fn unmatched_features<'a>(
    obs: &'a [Observation],
    idx: &[usize],
    port_of: &'a [Option<usize>],
    ports: &'a [Port],
) -> impl Iterator<Item = Feature> + 'a {
    let declared = declared_names(&unmatched_schema());
    let mut order = idx.to_vec();
    // Stable, as Layer::sort: equal ids keep their order in `idx`.
    order.sort_by(|&a, &b| obs[a].id.cmp(&obs[b].id));
    order.into_iter().map(move |i| {
        let mut feat = observation_feature(&obs[i]);
        feat.values
            .push(port_of[i].map(|p| ports[p].port_id.clone()).into());
        rename_extras(&declared, &mut feat);
        feat
    })
}

/// A point layer of observations with every typed property (then the input's extra
/// properties); no features.
pub fn observations_schema(name: &str) -> Layer {
    Layer::new(
        name,
        GeomKind::Point,
        vec![
            f("observation_id", K::Str),
            f("observed_at", K::DateTime),
            f("sensor", K::Str),
            f("scene_id", K::Str),
            f("confidence", K::Real),
            f("length_m", K::Real),
            f("beam_m", K::Real),
            f("heading_deg", K::Real),
            f("vessel_class", K::Str),
            f("hull_color", K::Str),
            f("containers", K::Int),
            f("name", K::Str),
            f("imo", K::Str),
            f("mmsi", K::Str),
            f("source_file", K::Str),
            f("feature_index", K::Int),
        ],
    )
}

/// One observation as a feature of [`observations_schema`].
pub fn observation_feature(o: &Observation) -> Feature {
    Feature {
        id: o.id.clone(),
        geometry: Some(Geometry::Point(Point::new(o.lon, o.lat))),
        values: vec![
            Value::Str(o.id.clone()),
            Value::Time(o.observed_at),
            o.sensor_text.as_deref().into(),
            o.scene_id.as_deref().into(),
            o.confidence.into(),
            o.length_m.into(),
            o.beam_m.into(),
            o.heading_deg.into(),
            o.vessel_class
                .as_ref()
                .map(|c| c.as_str().to_string())
                .into(),
            o.hull_color.as_deref().into(),
            opt_int(o.containers),
            o.name().into(),
            o.imo().into(),
            o.mmsi().into(),
            Value::Str(o.source_file.to_string()),
            Value::Int(o.feature_index as i64),
        ],
        extra: o.extra.clone(),
    }
}

/// Input properties whose names clash with a declared field (or repeat) are renamed
/// `input_<key>` (then `input_<key>_2`, …), so no feature has two properties of one name.
pub fn rename_clashing_extras(layer: &mut Layer) {
    let declared = declared_names(layer);
    for feat in &mut layer.features {
        rename_extras(&declared, feat);
    }
}

fn declared_names(layer: &Layer) -> BTreeSet<String> {
    layer.fields.iter().map(|f| f.name.clone()).collect()
}

/// [`rename_clashing_extras`] for one feature, given the declared field names.
fn rename_extras(declared: &BTreeSet<String>, feat: &mut Feature) {
    // Names this feature's extras already use.
    let mut used: BTreeSet<String> = BTreeSet::new();
    let taken =
        |name: &str, used: &BTreeSet<String>| declared.contains(name) || used.contains(name);
    for (k, _) in feat.extra.iter_mut() {
        if taken(k, &used) {
            let base = format!("input_{k}");
            let mut name = base.clone();
            let mut n = 2;
            while taken(&name, &used) {
                name = format!("{base}_{n}");
                n += 1;
            }
            *k = name;
        }
        used.insert(k.clone());
    }
}

/// The rejected layer's schema (no features): reason, where it came from, and the original
/// feature text.
pub fn rejected_schema() -> Layer {
    Layer::new(
        "rejected",
        GeomKind::Any,
        vec![
            f("reject_reason", K::Str),
            f("source_file", K::Str),
            f("feature_index", K::Int),
            f("feature_id", K::Str),
            f("original", K::Str),
        ],
    )
}

/// The rejected layer's features, built one at a time from the `n` rejected features.
/// Ids of rejected features may repeat (duplicates) or be missing: they are numbered
/// `rejected-0001`… (digits enough for `n`) in the order given, which is input order
/// (source file, feature index) as ingest sorts them.
pub fn numbered_rejected_features<'a>(
    rejected: impl IntoIterator<Item = &'a Rejected> + 'a,
    n: usize,
) -> impl Iterator<Item = Feature> + 'a {
    rejected.into_iter().enumerate().map(move |(k, r)| Feature {
        id: crate::linking::derive::make_id("rejected", k, n),
        geometry: r.geometry.clone(),
        values: vec![
            Value::Str(r.reason.clone()),
            Value::Str(r.source_file.to_string()),
            r.feature_index
                .map_or(Value::Null, |i| Value::Int(i as i64)),
            r.id.clone().into(),
            r.original.clone().into(),
        ],
        extra: vec![],
    })
}

/// `schema` with `features` appended.
fn with_features(mut schema: Layer, features: impl Iterator<Item = Feature>) -> Layer {
    schema.features.extend(features);
    schema
}

/// Indices of `items` sorted by id, stably (the order [`Layer::sort`] gives their features).
fn by_id<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| id(&items[a]).cmp(id(&items[b])));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::obs;

    #[test]
    fn unmatched_features_come_sorted_by_id_whatever_the_index_order() {
        let o = vec![
            obs("c", 130.3, 42.236, 0),
            obs("a", 130.3, 42.236, 10),
            obs("b", 131.0, 42.5, 20),
        ];
        let ports = crate::ports::builtin();
        let l = unmatched_layer(&o, &[0, 2, 1], &[Some(0), None, None], &ports);
        let ids: Vec<&str> = l.features.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        // `port` is the last field and filled from port_of.
        assert_eq!(l.fields.last().map(|f| f.name.as_str()), Some("port"));
        assert_eq!(
            l.features[2].values.last(),
            Some(&Value::Str(ports[0].port_id.clone()))
        );
        assert!(unmatched_layer(&o, &[], &[None; 3], &ports)
            .features
            .is_empty());
    }

    #[test]
    fn extras_never_clash_with_declared_fields() {
        let mut o = obs("a", 130.3, 42.236, 0);
        o.extra = vec![
            ("port".into(), "\"x\"".into()),
            ("input_port".into(), "1".into()),
            ("observation_id".into(), "2".into()),
            ("note".into(), "3".into()),
        ];
        let l = unmatched_layer(&[o], &[0], &[None], &crate::ports::builtin());
        let keys: Vec<&str> = l.features[0]
            .extra
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "input_port",
                "input_input_port",
                "input_observation_id",
                "note"
            ]
        );
    }
}
