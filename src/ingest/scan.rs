//! Incremental scanner for the top level of a GeoJSON FeatureCollection document: finds
//! the byte range of every feature while the file is read in chunks, so a document of any
//! size is read in one pass with memory bounded by a chunk plus the longest feature.
//!
//! Only the simple shape is handled: `{ "type": "FeatureCollection", ..., "features": [
//! {...}, {...} ], ... }` (members in any order, "crs" before "features", each feature an
//! object, JSON white space only, no BOM but at the start). Anything else — a bare Feature,
//! a sequence, a syntax error, a truncated file, a duplicate member, nesting near serde's
//! depth limit — makes [`Scanner::feed`] return [`Fallback`], and the caller reads the file
//! through the exact (whole-document) path, which gives the reason. Feature texts are not
//! checked here beyond brace matching; the caller parses each, and falls back if one is
//! not valid JSON, so the features found are exactly serde's (`&RawValue`) ones.
//!
//! Positions are byte offsets into the caller's buffer; after the caller drops bytes
//! before [`Scanner::keep_from`] it calls [`Scanner::shift`].
//!
//! ```ignore
//! let mut s = Scanner::default();
//! let doc = br#"{"type":"FeatureCollection","features":[{"a":"}"},{"b":[1]}]}"#;
//! let mut found = Vec::new();
//! assert_eq!(s.feed(doc, true, &mut found), Ok(true));
//! assert_eq!(found, [(40, 49), (50, 59)]);
//! ```

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::feature::check_crs;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Deeper than this (inside a feature or member value) goes to the exact path, which
/// applies serde_json's recursion limit (128) to the whole document.
const MAX_DEPTH: u32 = 100;

/// The document is not of the simple shape (or not valid): read it the exact way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fallback;

/// Bytes that end a run inside a string: `"` and `\`.
const IN_STRING: [bool; 256] = table(b"\"\\");
/// Bytes that matter outside strings: `"` and brackets.
const STRUCTURAL: [bool; 256] = table(b"\"{}[]");

const fn table(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut k = 0;
    while k < bytes.len() {
        t[bytes[k] as usize] = true;
        k += 1;
    }
    t
}

/// Skips one JSON value that starts with `{`, `[` or `"`, resumable across chunks.
#[derive(Debug, Clone, Copy, Default)]
struct Skip {
    depth: u32,
    max_depth: u32,
    in_str: bool,
    esc: bool,
}

impl Skip {
    /// Advances from `i`; Some(end, one past the closing byte) when the value is closed.
    ///
    /// Inside brackets, 64 bytes at a time ([`Skip::block`]); a block with a backslash,
    /// the last bytes of `b`, and the value's first byte go byte by byte
    /// ([`Skip::bytes`]), which the block path matches exactly where it is used.
    fn run(&mut self, b: &[u8], mut i: usize) -> Option<usize> {
        while i < b.len() {
            if self.depth > 0 && !self.esc {
                if let Some(block) = b.get(i..i + 64).and_then(|s| <&[u8; 64]>::try_from(s).ok()) {
                    match self.block(block) {
                        Some(Ok(k)) => return Some(i + k + 1),
                        Some(Err(())) => {
                            i += 64;
                            continue;
                        }
                        None => {}
                    }
                }
            }
            let step = if self.depth == 0 && !self.in_str {
                1
            } else {
                64
            };
            let stop = (i + step).min(b.len());
            if let Some(end) = self.bytes(&b[..stop], i) {
                return Some(end);
            }
            i = stop;
        }
        None
    }

    /// One block inside brackets (`depth > 0`, no escape pending): Some(Ok(k)) when the
    /// value closes at byte k, Some(Err(())) when it goes on past the block, None (nothing
    /// changed) when the block has a backslash. Without backslashes a byte is inside a
    /// string when an odd number of quotes precede it (counting one for a string already
    /// open), and only brackets outside strings change the depth.
    fn block(&mut self, blk: &[u8; 64]) -> Option<Result<usize, ()>> {
        let (quotes, brackets, backslash) = block_masks(blk);
        if backslash {
            return None;
        }
        let mut inside = quotes;
        for shift in [1, 2, 4, 8, 16, 32] {
            inside ^= inside << shift;
        }
        if self.in_str {
            inside = !inside;
        }
        let mut events = brackets & !inside;
        while events != 0 {
            let k = events.trailing_zeros() as usize;
            if matches!(blk[k], b'{' | b'[') {
                self.depth += 1;
                self.max_depth = self.max_depth.max(self.depth);
            } else {
                self.depth -= 1;
                if self.depth == 0 {
                    self.in_str = false;
                    return Some(Ok(k));
                }
            }
            events &= events - 1;
        }
        self.in_str = inside >> 63 == 1;
        Some(Err(()))
    }

    /// Byte by byte from `i` to the end of `b`.
    fn bytes(&mut self, b: &[u8], mut i: usize) -> Option<usize> {
        while i < b.len() {
            if self.in_str {
                if self.esc {
                    self.esc = false;
                    i += 1;
                    continue;
                }
                while i < b.len() && !IN_STRING[b[i] as usize] {
                    i += 1;
                }
                if i == b.len() {
                    return None;
                }
                if b[i] == b'\\' {
                    self.esc = true;
                } else {
                    self.in_str = false;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                i += 1;
                continue;
            }
            while i < b.len() && !STRUCTURAL[b[i] as usize] {
                i += 1;
            }
            if i == b.len() {
                return None;
            }
            match b[i] {
                b'"' => self.in_str = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    self.max_depth = self.max_depth.max(self.depth);
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is zero (exact, no borrow between bytes).
fn zero_bytes(x: u64) -> u64 {
    !(((x & !HI).wrapping_add(!HI)) | x) & HI
}

/// Bit k set for byte k of a word whose high bit is set (high bits only in `hi`).
fn gather(hi: u64) -> u64 {
    (hi >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// For 64 bytes, eight at a time in a u64: bit k set where byte k is `"`, where it is a
/// bracket (`{ } [ ]`: with bit 0x20 set, `[` and `]` read as `{` and `}`), and whether
/// any byte is a backslash.
fn block_masks(blk: &[u8; 64]) -> (u64, u64, bool) {
    let (mut quotes, mut brackets, mut backslash) = (0u64, 0u64, 0u64);
    for (k, c) in blk.chunks_exact(8).enumerate() {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        let w = u64::from_le_bytes(a);
        quotes |= gather(zero_bytes(w ^ (LO * u64::from(b'"')))) << (8 * k);
        let f = w | (LO * 0x20);
        let br = zero_bytes(f ^ (LO * u64::from(b'{'))) | zero_bytes(f ^ (LO * u64::from(b'}')));
        brackets |= gather(br) << (8 * k);
        // Any zero byte (the cheap test: exact about whether there is one).
        let x = w ^ (LO * u64::from(b'\\'));
        backslash |= x.wrapping_sub(LO) & !x & HI;
    }
    (quotes, brackets, backslash != 0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Type,
    Crs,
    Features,
    Other,
}

#[derive(Debug, Clone, Copy)]
enum St {
    Start,
    Open,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,`: a key.
    Key,
    InKey(usize),
    Colon(Member),
    Value(Member),
    InValue(Member, usize, Skip),
    InScalar(usize),
    /// After `,` or `}` of a member value.
    AfterValue,
    /// After `[` of features: a feature or `]`.
    FirstFeature,
    Feature,
    InFeature(usize, Skip),
    AfterFeature,
    End,
}

/// State of the scan of one document (see the module docs).
#[derive(Debug)]
pub(crate) struct Scanner {
    st: St,
    pos: usize,
    seen_type: bool,
    seen_crs: bool,
    seen_features: bool,
    /// The verdict of the document's `crs` member on its features (Ok without one).
    pub crs: Result<(), String>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            st: St::Start,
            pos: 0,
            seen_type: false,
            seen_crs: false,
            seen_features: false,
            crs: Ok(()),
        }
    }
}

fn depth_exceeded(v: &[u8]) -> bool {
    let mut s = Skip::default();
    s.run(v, 0);
    s.max_depth > MAX_DEPTH
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

impl Scanner {
    /// Scans `b` (all bytes kept so far; `eof` when the file has no more) from where the
    /// last call stopped, pushing the (start, end) of each feature closed. Ok(true) when
    /// the document is complete (then `eof`), Ok(false) when more bytes are needed.
    pub(crate) fn feed(
        &mut self,
        b: &[u8],
        eof: bool,
        found: &mut Vec<(usize, usize)>,
    ) -> Result<bool, Fallback> {
        loop {
            if let St::Start = self.st {
                if b.len() < BOM.len() && !eof && BOM.starts_with(b) {
                    return Ok(false);
                }
                if b.starts_with(BOM) {
                    self.pos = BOM.len();
                }
                self.st = St::Open;
            }
            // Structural states first skip white space.
            let structural = matches!(
                self.st,
                St::Open
                    | St::FirstKey
                    | St::Key
                    | St::Colon(_)
                    | St::Value(_)
                    | St::AfterValue
                    | St::FirstFeature
                    | St::Feature
                    | St::AfterFeature
                    | St::End
            );
            if structural {
                while self.pos < b.len() && is_ws(b[self.pos]) {
                    self.pos += 1;
                }
                if self.pos == b.len() {
                    return match (eof, self.st) {
                        (false, _) => Ok(false),
                        (true, St::End) => self.finish(),
                        (true, _) => Err(Fallback),
                    };
                }
            }
            let c = b.get(self.pos).copied();
            self.st = match (self.st, c) {
                (St::Open, Some(b'{')) => St::FirstKey,
                (St::FirstKey | St::Key, Some(b'"')) => St::InKey(self.pos),
                (St::FirstKey, Some(b'}')) => St::End,
                (St::InKey(start), _) => {
                    let Some(k) = b[self.pos..].iter().position(|&c| c == b'"' || c == b'\\')
                    else {
                        self.pos = b.len();
                        if eof {
                            return Err(Fallback);
                        }
                        return Ok(false);
                    };
                    self.pos += k;
                    if b[self.pos] == b'\\' {
                        return Err(Fallback);
                    }
                    let key = &b[start..=self.pos];
                    serde_json::from_slice::<IgnoredAny>(key).map_err(|_| Fallback)?;
                    let m = match &key[1..key.len() - 1] {
                        b"type" => Member::Type,
                        b"crs" => Member::Crs,
                        b"features" => Member::Features,
                        _ => Member::Other,
                    };
                    St::Colon(m)
                }
                (St::Colon(m), Some(b':')) => St::Value(m),
                (St::Value(Member::Features), Some(b'[')) => {
                    if self.seen_features {
                        return Err(Fallback);
                    }
                    self.seen_features = true;
                    St::FirstFeature
                }
                (St::Value(Member::Features), _) => return Err(Fallback),
                (St::Value(m), Some(b'{' | b'[' | b'"')) => {
                    St::InValue(m, self.pos, Skip::default())
                }
                (St::Value(m), Some(_)) => {
                    if m != Member::Other {
                        // A scalar type or crs (null, a number): the exact path decides.
                        return Err(Fallback);
                    }
                    St::InScalar(self.pos)
                }
                (St::InValue(m, start, mut skip), _) => match skip.run(b, self.pos) {
                    Some(end) => {
                        self.pos = end;
                        self.member(m, &b[start..end])?;
                        self.st = St::AfterValue;
                        continue;
                    }
                    None => {
                        self.pos = b.len();
                        self.st = St::InValue(m, start, skip);
                        if eof {
                            return Err(Fallback);
                        }
                        return Ok(false);
                    }
                },
                (St::InScalar(start), _) => {
                    let Some(k) = b[self.pos..]
                        .iter()
                        .position(|&c| is_ws(c) || matches!(c, b',' | b'}' | b']'))
                    else {
                        self.pos = b.len();
                        if eof {
                            return Err(Fallback);
                        }
                        return Ok(false);
                    };
                    self.pos += k;
                    serde_json::from_slice::<IgnoredAny>(&b[start..self.pos])
                        .map_err(|_| Fallback)?;
                    self.st = St::AfterValue;
                    continue;
                }
                (St::AfterValue, Some(b',')) => St::Key,
                (St::AfterValue, Some(b'}')) => St::End,
                (St::FirstFeature, Some(b']')) => St::AfterValue,
                (St::FirstFeature | St::Feature, Some(b'{')) => {
                    St::InFeature(self.pos, Skip::default())
                }
                (St::InFeature(start, mut skip), _) => match skip.run(b, self.pos) {
                    Some(end) => {
                        if skip.max_depth > MAX_DEPTH {
                            return Err(Fallback);
                        }
                        found.push((start, end));
                        self.pos = end;
                        self.st = St::AfterFeature;
                        continue;
                    }
                    None => {
                        self.pos = b.len();
                        self.st = St::InFeature(start, skip);
                        if eof {
                            return Err(Fallback);
                        }
                        return Ok(false);
                    }
                },
                (St::AfterFeature, Some(b',')) => St::Feature,
                (St::AfterFeature, Some(b']')) => St::AfterValue,
                _ => return Err(Fallback),
            };
            // The byte that made the transition is consumed, except the first byte of a
            // member value or feature, which its own state reads again.
            if !matches!(
                self.st,
                St::InValue(..) | St::InFeature(..) | St::InScalar(_)
            ) {
                self.pos += 1;
            }
        }
    }

    /// Checks a member value other than features once it is complete.
    fn member(&mut self, m: Member, v: &[u8]) -> Result<(), Fallback> {
        if depth_exceeded(v) {
            return Err(Fallback);
        }
        match m {
            Member::Type => {
                if self.seen_type {
                    return Err(Fallback);
                }
                self.seen_type = true;
                match serde_json::from_slice::<Option<String>>(v) {
                    Ok(Some(t)) if t == "FeatureCollection" => Ok(()),
                    _ => Err(Fallback),
                }
            }
            Member::Crs => {
                // Features already checked without it cannot be checked again here.
                if self.seen_crs || self.seen_features {
                    return Err(Fallback);
                }
                self.seen_crs = true;
                let text = std::str::from_utf8(v).map_err(|_| Fallback)?;
                let raw: Option<&RawValue> = serde_json::from_str(text).map_err(|_| Fallback)?;
                self.crs = check_crs(raw);
                Ok(())
            }
            Member::Features => Err(Fallback),
            Member::Other => serde_json::from_slice::<IgnoredAny>(v)
                .map(|_| ())
                .map_err(|_| Fallback),
        }
    }

    fn finish(&self) -> Result<bool, Fallback> {
        if self.seen_type && self.seen_features {
            Ok(true)
        } else {
            Err(Fallback)
        }
    }

    /// The first byte still needed: the start of a key, value or feature not yet closed.
    pub(crate) fn keep_from(&self) -> usize {
        match self.st {
            St::InKey(s) | St::InValue(_, s, _) | St::InScalar(s) | St::InFeature(s, _) => s,
            _ => self.pos,
        }
    }

    /// The caller dropped the first `n` bytes of its buffer (`n <= keep_from()`).
    pub(crate) fn shift(&mut self, n: usize) {
        self.pos -= n;
        self.st = match self.st {
            St::InKey(s) => St::InKey(s - n),
            St::InValue(m, s, k) => St::InValue(m, s - n, k),
            St::InScalar(s) => St::InScalar(s - n),
            St::InFeature(s, k) => St::InFeature(s - n, k),
            other => other,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `doc` in chunks of `chunk` bytes, dropping bytes as the reader does; returns
    /// the feature texts found, or Fallback.
    fn scan(doc: &[u8], chunk: usize) -> Result<Vec<String>, Fallback> {
        let mut s = Scanner::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut found = Vec::new();
        let mut texts = Vec::new();
        let mut at = 0;
        loop {
            let end = (at + chunk).min(doc.len());
            buf.extend_from_slice(&doc[at..end]);
            at = end;
            let eof = at == doc.len();
            let done = s.feed(&buf, eof, &mut found)?;
            texts.extend(
                found
                    .drain(..)
                    .map(|(a, b)| String::from_utf8_lossy(&buf[a..b]).into_owned()),
            );
            if done {
                return Ok(texts);
            }
            assert!(!eof, "feed returned Ok(false) at eof");
            let keep = s.keep_from();
            buf.drain(..keep);
            s.shift(keep);
        }
    }

    /// The features serde finds in a valid FeatureCollection.
    fn serde_features(doc: &str) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Top<'a> {
            #[serde(borrow)]
            features: Vec<&'a RawValue>,
        }
        let t: Top = serde_json::from_str(doc.trim_start_matches('\u{feff}')).unwrap();
        t.features.iter().map(|r| r.get().to_string()).collect()
    }

    #[test]
    fn finds_features_across_chunk_boundaries() {
        let docs = [
            r#"{"type":"FeatureCollection","features":[{"a":"}"},{"b":[1,{"c":"\"}{"}]}]}"#,
            "\u{feff}{ \"features\" :[\n {\"s\":\"\\\\\"} ,{}\t] ,\"type\":\"FeatureCollection\" , \"z\":null}\r\n",
            r#"{"name":"[{","type":"FeatureCollection","features":[],"n":-1.5}"#,
            r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},"features":[{"p":{"q":{"r":"}}}"}}}]}"#,
        ];
        for doc in docs {
            let want = serde_features(doc);
            for chunk in [1, 2, 3, 4, 9, 1000] {
                assert_eq!(
                    scan(doc.as_bytes(), chunk),
                    Ok(want.clone()),
                    "{doc} {chunk}"
                );
            }
        }
    }

    #[test]
    fn other_shapes_fall_back() {
        let docs: [&[u8]; 12] = [
            b"",
            b"   ",
            br#"{"type":"FeatureCollection","features":[{}]"#,
            br#"{"type":"FeatureCollection","features":[{}],}"#,
            br#"{"type":"FeatureCollection","features":[{}]} {}"#,
            br#"{"type":"FeatureCollection","features":[1]}"#,
            br#"{"type":"Feature","geometry":null}"#,
            br#"{"type":null,"features":[]}"#,
            br#"{"type":"FeatureCollection","features":[],"type":"FeatureCollection"}"#,
            br#"{"type":"FeatureCollection","features":[],"crs":null}"#,
            b"\x1e{\"type\":\"Feature\"}",
            br#"{"type":"FeatureCollection","features":[{}] ,"n":1 2}"#,
        ];
        for doc in docs {
            for chunk in [1, 5, 1000] {
                assert_eq!(
                    scan(doc, chunk),
                    Err(Fallback),
                    "{}",
                    String::from_utf8_lossy(doc)
                );
            }
        }
    }

    #[test]
    fn crs_before_features_is_judged() {
        let doc = br#"{"crs":{"type":"name","properties":{"name":"EPSG:3857"}},"type":"FeatureCollection","features":[{}]}"#;
        let mut s = Scanner::default();
        let mut found = Vec::new();
        assert_eq!(s.feed(doc, true, &mut found), Ok(true));
        assert!(s.crs.as_ref().is_err_and(|e| e.contains("EPSG:3857")));
        assert_eq!(found.len(), 1);
    }

    /// The block path gives what byte-by-byte skipping gives (end, depth, string state),
    /// on random bracket/quote/backslash soup fed in random chunks, values of either kind.
    #[test]
    fn blocks_skip_like_bytes() {
        let alphabet = b"{}[]\"\\ab,:";
        let mut seed = 0x5EED_u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000u64 {
            let len = (rnd() % 700) as usize;
            let mut v: Vec<u8> = vec![if round % 2 == 0 { b'{' } else { b'"' }];
            v.extend((0..len).map(|_| {
                let r = rnd();
                let c = alphabet[(r / 3 % alphabet.len() as u64) as usize];
                match (r % 3, c) {
                    (0, b'\\') if round % 3 == 0 => b'y',
                    (0, c) => c,
                    _ => b'x',
                }
            }));
            let chunk = 1 + (rnd() % 150) as usize;
            let (mut fast, mut slow) = (Skip::default(), Skip::default());
            let (mut at, mut end) = (0, 0);
            loop {
                end = (end + chunk).min(v.len());
                let (a, b) = (fast.run(&v[..end], at), slow.bytes(&v[..end], at));
                assert_eq!(a, b, "{:?}", String::from_utf8_lossy(&v));
                assert_eq!(fast.max_depth, slow.max_depth);
                if a.is_some() || end == v.len() {
                    break;
                }
                assert_eq!(
                    (fast.depth, fast.in_str, fast.esc),
                    (slow.depth, slow.in_str, slow.esc)
                );
                at = end;
            }
        }
    }
}
