//! The stage-2 candidate search: which later nodes a node's links are scored against.
//!
//! A node's candidates are the nodes of each destination (a port, or the sea) first seen in
//! `[t_last, t_last + window]`. Scoring all of them is quadratic in the traffic of a port;
//! but only the best [`super::MAX_CANDIDATES`] positive weights of each kind are kept. So
//! each destination's nodes are bucketed by length (bins of [`BIN_M`] metres, plus one
//! bucket without a length), each bucket sorted by first sighting, and a query visits the
//! buckets outwards from the node's own length, each in time order, skipping a bucket, or
//! the rest of it, as soon as an upper bound of any weight it can hold (the attribute bound
//! of [`cost::attribute_llr_upper`] over the bucket, plus the caller's non-increasing bound
//! of the other terms at that time gap, plus the best detector term) falls below the
//! current threshold: the `MAX_CANDIDATES`-th best weight found so far, or
//! `MIN_CANDIDATE_WEIGHT`. Pairs with
//! equal imo or mmsi (worth [`cost::IDENTITY_LLR`]) are looked up by identity instead.
//!
//! The result is exactly that of scoring every pair: a skipped pair's weight is below a
//! weight that is kept (or not positive). [`Mode::Exhaustive`] scores every pair, for tests.
//! The walk reads only what it bounds with (each bucket keeps its members' class and colour
//! ids and detector terms side by side), and hands the caller the attribute bound of each
//! node it returns ([`After::attr_upper`]), so that the caller can skip the pair on its
//! exact timing terms before scoring the attributes.
//!
//! Example: a 150 m ship at Najin (stays summed to ~3 m sigma) is compared with the Dunay
//! stays of 140-160 m in the next days, not with the hundreds of tugs and 300 m ships there.

use std::cell::Cell;
use std::collections::HashMap;

use super::cost::{self, AttrsRange};
use super::{Candidate, NodeInfo, MAX_CANDIDATES};
use crate::geodesy::{CapGrid, M_PER_DEG};
use crate::model::Time;

/// Width of a length bucket, metres.
pub const BIN_M: f64 = 5.0;
/// No class or colour.
pub const NONE: u32 = u32::MAX;
/// Slack for rounding between a bound and the weight it bounds.
const MARGIN: f64 = 1e-6;

/// Whether a weight bounded above by `bound` falls short of `threshold` (the pair can be
/// skipped without changing the kept candidates).
pub(super) fn below(bound: f64, threshold: &Cell<f64>) -> bool {
    bound + MARGIN < threshold.get()
}

/// Prune with bounds, or score every pair (the reference, for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pruned,
    Exhaustive,
}

/// Nodes of one destination with a common attribute range.
#[derive(Default)]
struct Bucket {
    /// Nodes in (first sighting, node) order.
    nodes: Vec<usize>,
    t_first: Vec<Time>,
    /// Each member's class and colour ids and detector term (what the walk reads of each
    /// member, side by side).
    class: Vec<u32>,
    colour: Vec<u32>,
    real: Vec<f64>,
    /// Each member's position under its port's projection (metres east and north), in
    /// the cells of [`Search::cells`] only (empty elsewhere).
    xy: Vec<(f64, f64)>,
    /// Each member's image ([`Search::new`]'s `image`), in [`Search::dests`] only; and
    /// where the run of members of one image at one time that it starts ends (the walk
    /// skips a node's own image at once).
    image: Vec<u32>,
    image_run_end: Vec<u32>,
    range: AttrsRange,
    /// Largest detector term (`NodeInfo::real`) of the members.
    max_real: f64,
}

impl Bucket {
    fn push(
        &mut self,
        k: usize,
        n: &NodeInfo,
        cats: &Categories,
        xy: Option<(f64, f64)>,
        image: Option<u32>,
    ) {
        if self.nodes.is_empty() {
            self.max_real = n.real;
        }
        self.nodes.push(k);
        self.xy.extend(xy);
        self.image.extend(image);
        self.t_first.push(n.t_first);
        self.class.push(cats.class[k]);
        self.colour.push(cats.colour[k]);
        self.real.push(n.real);
        self.range.add(&n.attrs);
        self.max_real = self.max_real.max(n.real);
    }

    /// Fills [`Bucket::image_run_end`].
    fn end_image_runs(&mut self) {
        let n = self.image.len();
        self.image_run_end = vec![0; n];
        for i in (0..n).rev() {
            let same_as_next = i + 1 < n
                && self.image[i] != NONE
                && self.image[i + 1] == self.image[i]
                && self.t_first[i + 1] == self.t_first[i];
            self.image_run_end[i] = if same_as_next {
                self.image_run_end[i + 1]
            } else {
                (i + 1) as u32
            };
        }
    }

    /// Positions of the members first seen in `[t0, t0 + window_s]`.
    fn window(&self, t0: Time, window_s: i64) -> (usize, usize) {
        let lo = self.t_first.partition_point(|&t| t < t0);
        let hi = self.t_first.partition_point(|&t| t <= t0 + window_s);
        (lo, hi.max(lo))
    }
}

/// The nodes of one destination.
#[derive(Default)]
struct Dest {
    /// The sea (else a port, or a cell of one): only at sea are two nodes first seen at one
    /// time linked (two at-sea sightings, in node order), so a port's pruned walk starts
    /// just after the node's last sighting.
    sea: bool,
    /// All members (only for [`Mode::Exhaustive`]: it would double the index).
    all: Bucket,
    /// Attribute range and largest detector term of all members (what the pruned walk
    /// bounds the whole destination with).
    range: AttrsRange,
    max_real: Option<f64>,
    /// Length buckets by increasing length, with the first bin's index.
    bins: Vec<Bucket>,
    first_bin: i64,
    /// Members without a length.
    no_length: Bucket,
    /// Members by imo and by mmsi, each in (first sighting, node) order.
    by_imo: HashMap<String, Vec<usize>>,
    by_mmsi: HashMap<String, Vec<usize>>,
    /// Members by name (lower case), in (first sighting, node) order.
    by_name: HashMap<String, Vec<usize>>,
}

fn bin_of(length_m: f64) -> i64 {
    (length_m / BIN_M).floor() as i64
}

/// Small ids of classes and colours, so that comparing them is cheap.
pub struct Categories {
    /// Per node, [`NONE`] when it has none.
    pub class: Vec<u32>,
    pub colour: Vec<u32>,
    pub imo: Vec<u32>,
    pub mmsi: Vec<u32>,
    /// Names compare without case ([`cost::attribute_llr`]).
    pub name: Vec<u32>,
}

impl Categories {
    pub fn of<'a>(attrs: impl IntoIterator<Item = &'a cost::Attrs> + Clone) -> Categories {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut id_of = |key: Option<String>| -> u32 {
            key.map_or(NONE, |k| {
                let next = ids.len() as u32;
                *ids.entry(k).or_insert(next)
            })
        };
        let class = attrs
            .clone()
            .into_iter()
            .map(|a| id_of(a.class.as_ref().map(|c| format!("class:{:?}", c.0))))
            .collect();
        let colour = attrs
            .clone()
            .into_iter()
            .map(|a| id_of(a.colour.as_ref().map(|c| format!("colour:{}", c.0))))
            .collect();
        let imo = attrs
            .clone()
            .into_iter()
            .map(|a| id_of(a.imo().map(|c| format!("imo:{c}"))))
            .collect();
        let mmsi = attrs
            .clone()
            .into_iter()
            .map(|a| id_of(a.mmsi().map(|c| format!("mmsi:{c}"))))
            .collect();
        let name = attrs
            .into_iter()
            .map(|a| id_of(a.name().map(|c| format!("name:{}", c.to_ascii_lowercase()))))
            .collect();
        Categories {
            class,
            colour,
            imo,
            mmsi,
            name,
        }
    }
}

/// [`cost::identity`] is [`cost::Identity::Same`], on interned imo and mmsi.
fn same_identity(cats: &Categories, u: usize, v: usize) -> bool {
    match (
        same(cats.imo[u], cats.imo[v]),
        same(cats.mmsi[u], cats.mmsi[v]),
    ) {
        (Some(false), _) | (_, Some(false)) => false,
        (Some(true), _) | (_, Some(true)) => true,
        _ => false,
    }
}

/// Whether two category ids agree (`None`: one has none).
pub fn same(x: u32, y: u32) -> Option<bool> {
    (x != NONE && y != NONE).then_some(x == y)
}

/// The cell of a point of port `p` under its projection: (port, column, row).
fn cell_key((kx, ky): (f64, f64), cell_m: f64, p: usize, lon: f64, lat: f64) -> (usize, i64, i64) {
    (
        p,
        (lon * kx / cell_m).floor() as i64,
        (lat * ky / cell_m).floor() as i64,
    )
}

/// A node's position under its port's projection (metres east and north).
type XyOf<'f> = dyn Fn(&NodeInfo) -> (f64, f64) + 'f;

/// Destinations of `count`: `dest_of` gives a node's (or none), in `order`; with `maps`, the
/// identity and name lists too, and each member's image; `xy_of`, when given, each member's
/// projected position.
#[allow(clippy::too_many_arguments)]
fn bucketed(
    info: &[NodeInfo],
    order: &[usize],
    count: usize,
    dest_of: impl Fn(usize, &NodeInfo) -> Option<usize>,
    xy_of: Option<&XyOf>,
    cats: &Categories,
    mode: Mode,
    maps: bool,
    image: &[u32],
) -> Vec<Dest> {
    let mut dests: Vec<Dest> = (0..count).map(|_| Dest::default()).collect();
    // Bin range per destination first, so the bins are one vector.
    let mut span: Vec<Option<(i64, i64)>> = vec![None; count];
    for &k in order {
        let n = &info[k];
        if let (Some((l, _)), Some(d)) = (
            n.attrs.length_m.filter(|(l, _)| l.is_finite()),
            dest_of(k, n),
        ) {
            let b = bin_of(l);
            span[d] = Some(span[d].map_or((b, b), |(lo, hi)| (lo.min(b), hi.max(b))));
        }
    }
    for (d, s) in dests.iter_mut().zip(&span) {
        if let Some((lo, hi)) = s {
            d.first_bin = *lo;
            d.bins = (*lo..=*hi).map(|_| Bucket::default()).collect();
        }
    }
    for &k in order {
        let n = &info[k];
        let Some(d) = dest_of(k, n) else {
            continue;
        };
        let d = &mut dests[d];
        let xy = xy_of.map(|f| f(n));
        let image = maps.then(|| image[k]);
        if mode == Mode::Exhaustive {
            d.all.push(k, n, cats, xy, image);
        }
        d.range.add(&n.attrs);
        d.max_real = Some(d.max_real.map_or(n.real, |m| m.max(n.real)));
        match n.attrs.length_m.filter(|(l, _)| l.is_finite()) {
            Some((l, _)) => {
                let i = (bin_of(l) - d.first_bin) as usize;
                d.bins[i].push(k, n, cats, xy, image);
            }
            None => d.no_length.push(k, n, cats, xy, image),
        }
        if !maps {
            continue;
        }
        if let Some(imo) = n.attrs.imo() {
            d.by_imo.entry(imo.to_string()).or_default().push(k);
        }
        if let Some(mmsi) = n.attrs.mmsi() {
            d.by_mmsi.entry(mmsi.to_string()).or_default().push(k);
        }
        if let (Some(name), Mode::Pruned) = (n.attrs.name(), mode) {
            d.by_name
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push(k);
        }
    }
    if maps {
        for d in &mut dests {
            d.all.end_image_runs();
            d.no_length.end_image_runs();
            d.bins.iter_mut().for_each(Bucket::end_image_runs);
        }
    }
    dests
}

/// The index the candidate search uses: per destination (each port, then the sea), the
/// nodes bucketed by length.
pub struct Search<'a> {
    info: &'a [NodeInfo],
    /// Small ids of each node's class, colour, imo and mmsi ([`NONE`]: none).
    cats: Categories,
    dests: Vec<Dest>,
    window_s: i64,
    mode: Mode,
    /// Each port's nodes again, split into square cells of [`CELL_M`] (pruned mode only),
    /// for [`Search::after_return`]; the cell of each (port, column, row), and each port's
    /// projection (metres per degree of longitude and latitude).
    cells: Vec<Dest>,
    cell_at: HashMap<(usize, i64, i64), u32>,
    projection: Vec<(f64, f64)>,
    /// Side of a cell, metres ([`CELL_M`]; tests make it smaller).
    cell_m: f64,
    /// Each node's image ([`NONE`]: none known).
    image: Vec<u32>,
}

/// Side of a cell of [`Search::cells`], metres. Measured on the bench's 1M scenario: 150 m
/// cells made 100k slower (many small walks to open), 400 m and 1 km sped 1M's track
/// candidates up from about 13 s to 9.8 s and 9.3 s, 1 km at no cost at 100k.
pub(super) const CELL_M: f64 = 1000.0;

#[cfg(test)]
thread_local! {
    /// [`CELL_M`] for the searches built on this thread (tests).
    pub(super) static TEST_CELL_M: std::cell::Cell<f64> = const { std::cell::Cell::new(CELL_M) };
}

fn cell_size() -> f64 {
    #[cfg(test)]
    return TEST_CELL_M.with(|c| c.get());
    #[cfg(not(test))]
    CELL_M
}

/// The `MAX_CANDIDATES` best weights above `MIN_CANDIDATE_WEIGHT` found so far; the
/// threshold a new pair has to reach to matter.
pub struct Best<'t> {
    pub cands: Vec<Candidate>,
    top: Vec<f64>,
    threshold: &'t Cell<f64>,
    floor: f64,
    /// Weights in `(floor, cut]` are kept apart, the best `low_keep` of them.
    cut: f64,
    low: Vec<f64>,
    low_keep: usize,
}

impl<'t> Best<'t> {
    pub fn new(threshold: &'t Cell<f64>) -> Best<'t> {
        Best::with_floor(threshold, super::MIN_CANDIDATE_WEIGHT)
    }

    /// Keeps weights above `floor` instead of `MIN_CANDIDATE_WEIGHT`.
    pub fn with_floor(threshold: &'t Cell<f64>, floor: f64) -> Best<'t> {
        Best::tiered(threshold, floor, floor, 0)
    }

    /// The best [`MAX_CANDIDATES`] weights above `cut` and, while fewer than `low_keep`
    /// are above it, the best `low_keep` in `(floor, cut]` ([`Best::into_kept`]): until
    /// that many are above the cut, the threshold is the lower tier's.
    pub fn tiered(threshold: &'t Cell<f64>, cut: f64, floor: f64, low_keep: usize) -> Best<'t> {
        let floor = if low_keep == 0 { cut } else { floor };
        threshold.set(floor);
        Best {
            cands: Vec::new(),
            top: Vec::new(),
            threshold,
            floor,
            cut,
            low: Vec::new(),
            low_keep,
        }
    }

    /// The candidates kept: the best [`MAX_CANDIDATES`] above the cut, then, when fewer
    /// than `low_keep` are, the best `low_keep` down to the floor.
    pub fn into_kept(self) -> Vec<Candidate> {
        let cut = self.cut;
        let (high, low): (Vec<Candidate>, Vec<Candidate>) =
            self.cands.into_iter().partition(|c| c.weight > cut);
        let mut kept = super::keep_best(vec![high], cut);
        if kept.len() < self.low_keep {
            let mut low = super::keep_best(vec![low], self.floor);
            low.truncate(self.low_keep);
            kept.extend(low);
        }
        kept
    }

    pub fn push(&mut self, c: Candidate) {
        if c.weight.is_finite() && c.weight > self.floor {
            let (list, keep) = if c.weight > self.cut {
                (&mut self.top, MAX_CANDIDATES)
            } else {
                (&mut self.low, self.low_keep)
            };
            let at = list.partition_point(|&w| w >= c.weight);
            if at < keep {
                list.insert(at, c.weight);
                list.truncate(keep);
                // Above the cut: the `keep`-th best, else the cut. Below it, only while
                // fewer than `low_keep` are above it: the `low_keep`-th best, else the floor.
                let high = if self.top.len() == MAX_CANDIDATES {
                    self.top[MAX_CANDIDATES - 1]
                } else {
                    self.cut
                };
                let t = if self.top.len() >= self.low_keep {
                    high
                } else if self.low.len() == self.low_keep {
                    self.low[self.low_keep - 1]
                } else {
                    self.floor
                };
                self.threshold.set(t);
            }
        }
        self.cands.push(c);
    }
}

impl<'a> Search<'a> {
    /// Indexes `info` (destination `port`, or `ports` for the sea) in `order` (by first
    /// sighting, then node). `image` gives each node's image as a small id ([`NONE`]: not
    /// known): the caller never links two nodes of one image, so the walk skips them (at
    /// sea, one image of a busy coast holds thousands of sightings at one time, and each
    /// would otherwise visit all the others).
    pub(super) fn new(
        info: &'a [NodeInfo],
        order: &[usize],
        ports: usize,
        window_s: i64,
        mode: Mode,
        image: Vec<u32>,
    ) -> Search<'a> {
        let cats = Categories::of(info.iter().map(|n| &n.attrs));
        let mut dests = bucketed(
            info,
            order,
            ports + 1,
            |_, n| Some(n.port.unwrap_or(ports).min(ports)),
            None,
            &cats,
            mode,
            true,
            &image,
        );
        dests[ports].sea = true;
        // Cells: a projection per port from its first node's latitude (any fixed one will
        // do: a port spans a few kilometres).
        let mut projection = vec![(M_PER_DEG, M_PER_DEG); ports];
        let mut seen = vec![false; ports];
        for &k in order {
            if let Some(p) = info[k].port.filter(|&p| p < ports && !seen[p]) {
                seen[p] = true;
                projection[p].0 = M_PER_DEG * info[k].lat.to_radians().cos().max(0.01);
            }
        }
        let cell_m = cell_size();
        let mut cell_at: HashMap<(usize, i64, i64), u32> = HashMap::new();
        let mut cell_of = vec![u32::MAX; info.len()];
        if mode == Mode::Pruned {
            for &k in order {
                let n = &info[k];
                if let Some(p) = n.port.filter(|&p| p < ports) {
                    let key = cell_key(projection[p], cell_m, p, n.lon, n.lat);
                    let next = cell_at.len() as u32;
                    cell_of[k] = *cell_at.entry(key).or_insert(next);
                }
            }
        }
        let cells = bucketed(
            info,
            order,
            cell_at.len(),
            |k, _| (cell_of[k] != u32::MAX).then_some(cell_of[k] as usize),
            Some(&|n: &NodeInfo| {
                let (kx, ky) = projection[n.port.unwrap_or(0)];
                (n.lon * kx, n.lat * ky)
            }),
            &cats,
            mode,
            false,
            &image,
        );
        Search {
            info,
            cats,
            dests,
            window_s,
            mode,
            cells,
            cell_at,
            projection,
            cell_m,
            image,
        }
    }

    /// Nodes of destination `dest` (a port index, or the number of ports for the sea) first
    /// seen in `[t0, t0 + window]` that may score at least `threshold` against `a`
    /// (at a port, the pruned walk leaves out the buckets' members first seen at `t0`
    /// itself: see `Dest::sea`):
    /// `rest(dt_s)` must bound, from above, every weight term but the attributes and the
    /// destination's detector term, at a first-sighting gap of `dt_s`, and must not increase
    /// with `dt_s`. Attributes are compared as [`cost::attribute_llr`] does with
    /// `compare_containers` and `drift`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn after<'s, R: Fn(f64) -> f64>(
        &'s self,
        dest: usize,
        u: usize,
        t0: Time,
        compare_containers: bool,
        drift: f64,
        rest: R,
        threshold: &'s Cell<f64>,
    ) -> After<'s, R> {
        let d = &self.dests[dest];
        self.after_in(d, u, t0, compare_containers, drift, rest, threshold)
    }

    /// [`Search::after`] over the members of `d`.
    #[allow(clippy::too_many_arguments)]
    fn after_in<'s, R: Fn(f64) -> f64>(
        &'s self,
        d: &'s Dest,
        u: usize,
        t0: Time,
        compare_containers: bool,
        drift: f64,
        rest: R,
        threshold: &'s Cell<f64>,
    ) -> After<'s, R> {
        let a = &self.info[u];
        let mut same_identity = Vec::new();
        let (mut same_name, mut name_apart) = (Vec::new(), false);
        let mut centre = 0;
        let (mut attr_rest, mut len_range) = (0.0, None);
        if self.mode == Mode::Pruned {
            for (key, map) in [(a.attrs.imo(), &d.by_imo), (a.attrs.mmsi(), &d.by_mmsi)] {
                let Some(list) = key.and_then(|k| map.get(k)) else {
                    continue;
                };
                // A link may not skip a sighting of its identity (see `identity.rs`), so
                // once a member w seen wholly after t0 is passed, members first seen after
                // w's last sighting cannot be linked: w's identified sighting lies between.
                // This keeps an identity on thousands of detections from costing pairs.
                let start = list.partition_point(|&v| self.info[v].t_first < t0);
                let mut cut = t0 + self.window_s;
                for &v in &list[start..] {
                    let n = &self.info[v];
                    if n.t_first > cut {
                        break;
                    }
                    if cost::same_vessel(&a.attrs, &n.attrs) {
                        same_identity.push(v);
                    }
                    if n.t_first > t0 {
                        cut = cut.min(n.t_last);
                    }
                }
            }
            same_identity.sort_unstable();
            same_identity.dedup();
            // Members of the same name (worth `cost::NAME_LLR`; another name costs as much)
            // are looked up by name too, so that the walk's bounds need not allow for it: in
            // a port where many ships are named, a named ship's bound would otherwise admit
            // every stay of its length.
            if let Some(name) = a.attrs.name() {
                name_apart = true;
                if let Some(list) = d.by_name.get(&name.to_ascii_lowercase()) {
                    let start = list.partition_point(|&v| self.info[v].t_first < t0);
                    same_name = list[start..]
                        .iter()
                        .copied()
                        .take_while(|&v| self.info[v].t_first <= t0 + self.window_s)
                        // As the walk: members of the same identity come from the identity
                        // lists (or not at all).
                        .filter(|&v| {
                            same_identity.is_empty() || !self::same_identity(&self.cats, u, v)
                        })
                        .collect();
                }
            }
            // Over the whole destination, but the length.
            let mut all = d.range.clone();
            all.length_m = None;
            all.name &= !name_apart;
            let up = cost::attribute_llr_upper(&a.attrs, &all, compare_containers, drift);
            attr_rest = up.any() - up.length;
            len_range = d.range.length_m;
            if let Some((x, _)) = a.attrs.length_m.filter(|(l, _)| l.is_finite()) {
                centre = (bin_of(x) - d.first_bin).clamp(0, d.bins.len() as i64) as usize;
            }
        }
        After {
            search: self,
            dest: d,
            a,
            u,
            class: self.cats.class[u],
            colour: self.cats.colour[u],
            image: self.image[u],
            t0,
            compare_containers,
            drift,
            rest,
            threshold,
            same_identity,
            next_identity: 0,
            same_name,
            next_name: 0,
            name_apart,
            // Members at a port first seen at `t0` itself are never linked (see `Dest::sea`);
            // the exhaustive reference still returns them.
            from_t: if d.sea || self.mode == Mode::Exhaustive {
                t0
            } else {
                t0.saturating_add(1)
            },
            stage: Stage::Start,
            down: centre,
            up: centre,
            attr_rest,
            len_range,
            scan: None,
            last_upper: f64::INFINITY,
            rest_cache: (f64::NAN, f64::NAN),
            disc: None,
        }
    }
}

/// A walk of [`Search::after`], boxed.
type Part<'s> = After<'s, Box<dyn Fn(f64) -> f64 + 's>>;

/// Several walks one after the other ([`Search::after_return`]).
pub struct Chained<'s> {
    parts: Vec<Part<'s>>,
    at: usize,
}

impl<'s> Chained<'s> {
    pub fn one(part: Part<'s>) -> Chained<'s> {
        Chained {
            parts: vec![part],
            at: 0,
        }
    }

    /// [`After::attr_upper`] of the part that returned the last node.
    pub fn attr_upper(&self) -> f64 {
        self.parts
            .get(self.at)
            .map_or(f64::INFINITY, After::attr_upper)
    }
}

impl Iterator for Chained<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while let Some(part) = self.parts.get_mut(self.at) {
            if let Some(v) = part.next() {
                return Some(v);
            }
            self.at += 1;
        }
        None
    }
}

impl<'a> Search<'a> {
    /// [`Search::after`] for a return to the node's own port `dest`, where the weight falls
    /// with the distance from the node's berth as well as with time: `rest(dt_s, d_m)`
    /// bounds every term but the attributes and the destination's detector term for members
    /// first seen `dt_s` after `t0` at least `d_m` (great circle) from the node, and does not
    /// increase in either. Attributes are compared without containers.
    ///
    /// In a busy port a short return to the same berth (an interrupted stay) may be worth far
    /// more than one anywhere else, and a bound at the berth would make the walk visit a
    /// day of the port's stays of that length. So the smallest radius beyond which nothing
    /// reaches the threshold is found first (by bisection), and only the cells within it are
    /// walked, with the bound at the berth. The result is the same as [`Search::after`]'s.
    pub(super) fn after_return<F: Fn(f64, f64) -> f64 + 'a>(
        &'a self,
        dest: usize,
        u: usize,
        t0: Time,
        rest: F,
        threshold: &'a Cell<f64>,
    ) -> Chained<'a> {
        let d = &self.dests[dest];
        let a = &self.info[u];
        let rest = std::rc::Rc::new(rest);
        let at = |radius_m: f64| {
            let r = std::rc::Rc::clone(&rest);
            Box::new(move |dt: f64| r(dt, radius_m)) as Box<dyn Fn(f64) -> f64 + 'a>
        };
        let whole = |rest| Chained::one(self.after_in(d, u, t0, false, 0.0, rest, threshold));
        if self.mode == Mode::Exhaustive || dest >= self.projection.len() {
            return whole(at(0.0));
        }
        let mut range = d.range.clone();
        range.name &= a.attrs.name().is_none(); // same names are looked up by name
        let best = cost::attribute_llr_upper(&a.attrs, &range, false, 0.0).any()
            + d.max_real.unwrap_or(0.0);
        let reaches = |d_m: f64| !below(best + rest(0.0, d_m), threshold);
        if !reaches(0.0) || reaches(MAX_NEAR_M) {
            // Nothing reaches the threshold, or too much does for a split to help.
            return whole(at(0.0));
        }
        let (mut lo, mut hi) = (0.0, MAX_NEAR_M);
        while hi - lo > 1.0 {
            let mid = 0.5 * (lo + hi);
            if reaches(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let radius_m = hi;
        // The cells within the radius.
        let (kx, ky) = self.projection[dest];
        // The projection's scale is exact at its own latitude: east-west it stretches
        // distances by cos(its latitude) / cos(the point's), at most this much within the
        // radius (a wide port zone spans latitudes).
        let lat_far = (a.lat.abs() + radius_m / M_PER_DEG).min(89.0).to_radians();
        let stretch = (kx / M_PER_DEG / lat_far.cos()).max(1.0);
        let reach = radius_m * stretch * 1.01 + 1.0;
        let (x, y) = (a.lon * kx, a.lat * ky);
        let (c0, r0) = ((x - reach) / self.cell_m, (y - reach) / self.cell_m);
        let (c1, r1) = ((x + reach) / self.cell_m, (y + reach) / self.cell_m);
        let mut near: Vec<u32> = Vec::new();
        for col in c0.floor() as i64..=c1.floor() as i64 {
            for row in r0.floor() as i64..=r1.floor() as i64 {
                let dx = (col as f64 * self.cell_m - x)
                    .max(x - (col + 1) as f64 * self.cell_m)
                    .max(0.0);
                let dy = (row as f64 * self.cell_m - y)
                    .max(y - (row + 1) as f64 * self.cell_m)
                    .max(0.0);
                if dx * dx + dy * dy > reach * reach {
                    continue;
                }
                if let Some(&c) = self.cell_at.get(&(dest, col, row)) {
                    near.push(c);
                }
            }
        }
        // Beyond the radius nothing reaches the threshold (that is how it was chosen): of
        // the whole port only the identity and name lists are walked (its buckets are not
        // opened, as their bounds would only rule them out), and no member of a near cell
        // twice.
        let mut far = self.after_in(d, u, t0, false, 0.0, at(radius_m), threshold);
        far.stage = Stage::Done;
        let mut parts = Vec::with_capacity(near.len() + 1);
        for &c in &near {
            let mut part = self.after_in(
                &self.cells[c as usize],
                u,
                t0,
                false,
                0.0,
                at(0.0),
                threshold,
            );
            // Members farther than `reach` (projected) are farther than the radius.
            part.disc = Some((x, y, reach * reach));
            // Its members of the node's identity come from the whole port's lists.
            part.same_identity = far.same_identity.clone();
            part.next_identity = part.same_identity.len();
            parts.push(part);
        }
        parts.insert(0, far);
        Chained { parts, at: 0 }
    }
}

/// Largest radius [`Search::after_return`] splits a port at, metres: when returns farther
/// away than this may still reach the threshold, the walk visits the port whole.
const MAX_NEAR_M: f64 = 2_000.0;

enum Stage {
    Start,
    NoLength,
    Bins,
    Done,
}

struct Scan<'s> {
    bucket: &'s Bucket,
    pos: usize,
    end: usize,
    /// Bound of the bucket's attributes, and of any member's plus the best detector term.
    upper: cost::AttrUpper,
    attr: f64,
}

/// The iterator of [`Search::after`].
pub struct After<'s, R> {
    search: &'s Search<'s>,
    dest: &'s Dest,
    a: &'s NodeInfo,
    /// The node `a`.
    u: usize,
    class: u32,
    colour: u32,
    /// The node's image ([`NONE`]: none known).
    image: u32,
    t0: Time,
    /// The buckets' members are walked from this first sighting on (`t0`, or just after
    /// it at a port).
    from_t: Time,
    compare_containers: bool,
    drift: f64,
    rest: R,
    threshold: &'s Cell<f64>,
    same_identity: Vec<usize>,
    next_identity: usize,
    /// Members of the node's name (not of its identity), returned after those; when the
    /// node has a name (`name_apart`) the walk skips them and bounds the rest without the
    /// name term.
    same_name: Vec<usize>,
    next_name: usize,
    name_apart: bool,
    stage: Stage,
    /// Next bins to visit below (`down - 1`) and from (`up`) the node's own length.
    down: usize,
    up: usize,
    /// Attribute bound over the destination without the length term, and its length range.
    attr_rest: f64,
    len_range: Option<(f64, f64, f64, f64)>,
    scan: Option<Scan<'s>>,
    /// Attribute bound of the node last returned.
    last_upper: f64,
    /// `rest` at a recent gap (seconds, value): a bound for gaps up to [`REST_STEP_S`]
    /// longer too, as it does not increase.
    rest_cache: (f64, f64),
    /// For a cell's walk in [`Search::after_return`]: the node's projected position and
    /// the square of the distance (projected metres) beyond which no member can reach the
    /// threshold. Members outside are skipped on their position alone.
    disc: Option<(f64, f64, f64)>,
}

/// How far a computed value of `rest` is reused, seconds (members come in images, many
/// at one time).
const REST_STEP_S: f64 = 900.0;

impl<'s, R: Fn(f64) -> f64> After<'s, R> {
    fn pruned(&self, bound: f64) -> bool {
        below(bound, self.threshold)
    }

    /// An upper bound of `rest(dt)`: its value at a gap up to [`REST_STEP_S`] shorter.
    fn rest_at(&mut self, dt: f64) -> f64 {
        let (at, value) = self.rest_cache;
        if dt >= at && dt <= at + REST_STEP_S {
            return value;
        }
        let value = (self.rest)(dt);
        self.rest_cache = (dt, value);
        value
    }

    /// An upper bound of [`cost::attribute_llr`] between the node and the node last
    /// returned (infinite when there is none: equal identities, [`Mode::Exhaustive`]), for
    /// the caller to skip a pair before scoring it, on bounds of its other terms.
    pub fn attr_upper(&self) -> f64 {
        self.last_upper
    }

    /// Starts scanning `bucket` unless its bound rules it out.
    fn open(&mut self, bucket: &'s Bucket) {
        let until = self.t0.saturating_add(self.search.window_s);
        let (pos, end) = bucket.window(self.from_t, until - self.from_t);
        if pos >= end {
            return;
        }
        let mut range = bucket.range.clone();
        range.name &= !self.name_apart;
        let upper =
            cost::attribute_llr_upper(&self.a.attrs, &range, self.compare_containers, self.drift);
        let attr = if self.search.mode == Mode::Exhaustive {
            f64::INFINITY
        } else {
            upper.any() + bucket.max_real
        };
        let dt = (bucket.t_first[pos] - self.t0) as f64;
        if self.pruned(attr + (self.rest)(dt)) {
            return;
        }
        self.scan = Some(Scan {
            bucket,
            pos,
            end,
            upper,
            attr,
        });
    }

    /// Whether no bin from `bin` outwards can reach the threshold (the bound over the whole
    /// destination with the length term at that bin's nearest length).
    fn beyond(&self, bin: usize) -> bool {
        let lo = (self.dest.first_bin + bin as i64) as f64 * BIN_M;
        let len = self
            .len_range
            .map(|(_, _, slo, shi)| (lo, lo + BIN_M, slo, shi));
        let bound = cost::clamp_llr(self.attr_rest + cost::length_llr_upper(&self.a.attrs, len))
            + self.dest.max_real.unwrap_or(0.0)
            + (self.rest)(0.0);
        self.pruned(bound)
    }

    /// The next bin to open, outwards from the node's own length; `None` when the rest are
    /// all ruled out.
    fn next_bin(&mut self) -> Option<usize> {
        let n = self.dest.bins.len();
        loop {
            let has_up = self.up < n;
            let has_down = self.down > 0;
            if !has_up && !has_down {
                return None;
            }
            let x = self.a.attrs.length_m.map_or(0.0, |l| l.0);
            let dist = |bin: usize| {
                let lo = (self.dest.first_bin + bin as i64) as f64 * BIN_M;
                (lo - x).max(x - lo - BIN_M).max(0.0)
            };
            let take_up = has_up && (!has_down || dist(self.up) <= dist(self.down - 1));
            let bin = if take_up { self.up } else { self.down - 1 };
            if self.a.attrs.length_m.is_some() && self.beyond(bin) {
                // Bounds only fall further out: close this direction.
                if take_up {
                    self.up = n;
                } else {
                    self.down = 0;
                }
                continue;
            }
            if take_up {
                self.up += 1;
            } else {
                self.down -= 1;
            }
            return Some(bin);
        }
    }
}

impl<'s, R: Fn(f64) -> f64> Iterator for After<'s, R> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        loop {
            if let Some(scan) = &mut self.scan {
                if scan.pos < scan.end {
                    let v = scan.bucket.nodes[scan.pos];
                    scan.pos += 1;
                    let (attr, upper, bucket, at) =
                        (scan.attr, scan.upper, scan.bucket, scan.pos - 1);
                    let dt = (bucket.t_first[at] - self.t0) as f64;
                    if self.search.mode == Mode::Exhaustive {
                        self.last_upper = f64::INFINITY;
                        return Some(v);
                    }
                    if self.image != NONE && bucket.image.get(at) == Some(&self.image) {
                        // The node's own image (never linked): skip the run at this time.
                        if let Some(scan) = &mut self.scan {
                            scan.pos = bucket.image_run_end[at] as usize;
                        }
                        continue;
                    }
                    let rest = self.rest_at(dt);
                    if self.pruned(attr + rest) {
                        // Later members only have larger gaps.
                        self.scan = None;
                        continue;
                    }
                    if let (Some((x, y, r2)), Some(&(px, py))) = (self.disc, bucket.xy.get(at)) {
                        if (px - x).powi(2) + (py - y).powi(2) > r2 {
                            continue;
                        }
                    }
                    let class = same(self.class, bucket.class[at]);
                    let colour = same(self.colour, bucket.colour[at]);
                    let member_upper = upper.with(class, colour);
                    if self.pruned(member_upper + bucket.real[at] + rest) {
                        continue;
                    }
                    if !self.same_identity.is_empty() && same_identity(&self.search.cats, self.u, v)
                    {
                        continue; // given by identity
                    }
                    if self.name_apart && self.search.cats.name[v] == self.search.cats.name[self.u]
                    {
                        continue; // given by name
                    }
                    self.last_upper = member_upper;
                    return Some(v);
                }
                self.scan = None;
            }
            if self.next_identity < self.same_identity.len() {
                self.next_identity += 1;
                self.last_upper = f64::INFINITY;
                return Some(self.same_identity[self.next_identity - 1]);
            }
            if self.next_name < self.same_name.len() {
                self.next_name += 1;
                self.last_upper = f64::INFINITY;
                return Some(self.same_name[self.next_name - 1]);
            }
            match self.stage {
                Stage::Start => {
                    self.stage = if self.search.mode == Mode::Exhaustive {
                        self.open(&self.dest.all);
                        Stage::Done
                    } else {
                        self.open(&self.dest.no_length);
                        Stage::NoLength
                    };
                }
                Stage::NoLength => {
                    if self.a.attrs.length_m.is_none() {
                        // Every bin is as good: visit them all (each still bounded).
                        self.down = 0;
                        self.up = 0;
                    }
                    self.stage = Stage::Bins;
                }
                Stage::Bins => match self.next_bin() {
                    Some(bin) => self.open(&self.dest.bins[bin]),
                    None => self.stage = Stage::Done,
                },
                Stage::Done => return None,
            }
        }
    }
}

/// The stage-1 search: port detections in cells of [`BERTH_CELL_M`] on the sphere
/// ([`CapGrid`]), each cell's detections sorted by time, so that a query reads the cells its
/// circle touches (a binary search per row of cells), each from its window's start to its
/// end. Far cheaper than the R-tree over space, time and length it replaces, whose descent
/// cost most of stage 1 at berths crowded over months (a perf profile of the 1M bench
/// scenario put it at about 7.7 µs a query).
pub struct BerthIndex {
    grid: CapGrid,
    /// Each occupied cell and its run of `points`, by cell.
    cells: Vec<([i32; 2], u32, u32)>,
    /// The detections grouped by cell, each group by time (then index).
    points: Vec<BerthPoint>,
}

/// Side of a [`BerthIndex`] cell, metres: about half the typical search radius (which
/// the weight's bound shrinks below the berth radius), so that a query reads a few cells
/// and little outside its circle.
const BERTH_CELL_M: f64 = 50.0;

/// One detection in a [`BerthIndex`].
struct BerthPoint {
    t: Time,
    ecef: [f64; 3],
    /// Length in metres, NaN when unknown (then any length range holds it).
    length_m: f64,
    index: usize,
}

impl BerthIndex {
    /// The detections indexed, by cell and time: queries made in this order read the
    /// same cells one after another, from the cache.
    pub fn in_cell_order(&self) -> impl Iterator<Item = usize> + '_ {
        self.points.iter().map(|p| p.index)
    }

    /// Indexes the detections `members` (indices into `obs`, lengths from `attrs`).
    pub fn new(
        obs: &[crate::model::Observation],
        attrs: &[cost::Attrs],
        members: &[usize],
    ) -> BerthIndex {
        use rayon::prelude::*;
        let grid = CapGrid::new(BERTH_CELL_M);
        let mut points: Vec<([i32; 2], BerthPoint)> = members
            .par_iter()
            .map(|&i| {
                let o = &obs[i];
                let length_m = attrs[i]
                    .length_m
                    .map(|(l, _)| l)
                    .filter(|l| l.is_finite())
                    .unwrap_or(f64::NAN);
                let point = BerthPoint {
                    t: o.observed_at,
                    ecef: crate::geodesy::to_ecef_m(o.lon, o.lat),
                    length_m,
                    index: i,
                };
                (grid.cell(o.lon, o.lat), point)
            })
            .collect();
        points.par_sort_unstable_by_key(|(k, p)| (*k, p.t, p.index));
        let mut cells = Vec::new();
        let mut start = 0;
        for run in points.chunk_by(|a, b| a.0 == b.0) {
            let end = start + run.len();
            cells.push((run[0].0, start as u32, end as u32));
            start = end;
        }
        BerthIndex {
            grid,
            cells,
            points: points.into_iter().map(|(_, p)| p).collect(),
        }
    }
}

/// [`BerthIndex::forward_within`]'s test of distance, alone: whether a point is within
/// `radius_m` of a centre, as an ECEF chord.
pub struct Near {
    centre: [f64; 3],
    chord2: f64,
}

impl Near {
    pub fn new((lon, lat): (f64, f64), radius_m: f64) -> Near {
        let chord = crate::geodesy::chord_for_m(radius_m);
        Near {
            centre: crate::geodesy::to_ecef_m(lon, lat),
            chord2: chord * chord,
        }
    }

    pub fn holds(&self, (lon, lat): (f64, f64)) -> bool {
        self.holds_ecef(&crate::geodesy::to_ecef_m(lon, lat))
    }

    /// [`Near::holds`] for a point already in ECEF metres.
    fn holds_ecef(&self, g: &[f64]) -> bool {
        let p = &self.centre;
        (g[0] - p[0]).powi(2) + (g[1] - p[1]).powi(2) + (g[2] - p[2]).powi(2) <= self.chord2
    }
}

impl BerthIndex {
    /// Detections within `radius_m` (great circle) of `lon, lat`, observed in
    /// `[t, t + window_s]`, with a length in `length_m` (or none), sorted ascending.
    pub fn forward_within(
        &self,
        (lon, lat): (f64, f64),
        t: Time,
        radius_m: f64,
        window_s: f64,
        (len_lo, len_hi): (f64, f64),
    ) -> Vec<usize> {
        let centre = Near::new((lon, lat), radius_m);
        let t1 = t.saturating_add(window_s.max(0.0).ceil() as i64);
        let mut v: Vec<usize> = Vec::new();
        self.grid.cap((lon, lat), radius_m, |row, first, last| {
            let from = self.cells.partition_point(|c| c.0 < [row, first]);
            for &(_, a, b) in self.cells[from..].iter().take_while(|c| c.0 <= [row, last]) {
                let run = &self.points[a as usize..b as usize];
                let start = run.partition_point(|q| q.t < t);
                v.extend(
                    run[start..]
                        .iter()
                        .take_while(|q| q.t <= t1)
                        .filter(|q| !(q.length_m < len_lo || q.length_m > len_hi))
                        .filter(|q| centre.holds_ecef(&q.ecef))
                        .map(|q| q.index),
                );
            }
        });
        v.sort_unstable();
        v
    }
}

/// The widest length difference `delta` at which [`cost::length_llr_upper`] of `a` against
/// members with 1-sigma in `sigma_m` still reaches `floor`; `None` when it does at any
/// difference (the term's own floor is above `floor`).
pub fn length_reach(a: &cost::Attrs, sigma_m: (f64, f64), floor: f64) -> Option<f64> {
    let (x, _) = a.length_m?;
    let at =
        |delta: f64| cost::length_llr_upper(a, Some((x + delta, x + delta, sigma_m.0, sigma_m.1)));
    if at(1e6) >= floor {
        return None;
    }
    if at(0.0) < floor {
        return Some(0.0);
    }
    // Bisection: at(lo) >= floor > at(hi).
    // Any bracket does (the answer is where the bound surely falls short); a centimetre is
    // close enough.
    let (mut lo, mut hi) = (0.0, 1e3);
    if at(hi) >= floor {
        hi = 1e4;
        if at(hi) >= floor {
            return None;
        }
    }
    for _ in 0..20 {
        let mid = 0.5 * (lo + hi);
        if at(mid) >= floor {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}
