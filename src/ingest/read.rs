//! Reads one observation file: a GeoJSON document (FeatureCollection, or a bare Feature taken
//! as one feature) or a GeoJSON text sequence (one Feature per line, optional RFC 8142
//! record separators), and validates its features in parallel.
//!
//! Documents are read in chunks of [`CHUNK_BYTES`], hashed as read, and their features found
//! by the incremental scanner ([`super::scan`]) and validated per chunk by rayon, so memory
//! is a chunk plus the longest feature plus the observations kept; a document of any other
//! shape (or with a feature that is not valid JSON) is read again whole and parsed the exact
//! way (`&RawValue` features), which gives the same results and the file-level reasons.
//! Sequences are streamed in batches of about [`BATCH_BYTES`] so memory stays bounded by the
//! batch plus the longest line.
//!
//! Format: by extension (`.geojsonl .geojsons .ndjson` are sequences, `.geojson .json` and
//! files without an extension documents, anything else is read through GDAL with the `gdal`
//! feature — its features, as GeoJSON text, get the same validation — and rejected whole
//! without it); a document starting with a record separator (0x1E) is read as a sequence, and a
//! document whose top-level Feature is followed by more text (newline-delimited features in a
//! `.json` file) is re-read as a sequence. A bare Geometry at top level rejects the file.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use rayon::iter::Either;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::feature::{check_crs, check_feature, truncate_original, Reject, MAX_ORIGINAL_BYTES};
use super::geometry::{readable_geometry, serde_msg, truncate_chars};
use super::scan::Scanner;
use super::walk::{is_geojson, is_sequence};
use super::InputFile;
use crate::config::IngestParams;
use crate::model::{Observation, Rejected, Time};

/// Size of one batch of sequence lines validated together.
pub const BATCH_BYTES: usize = 8 << 20;

/// Size of one chunk of a document read (and its features validated) at a time.
pub const CHUNK_BYTES: usize = 8 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";
const RS: u8 = 0x1E;

/// Where a feature's raw text lies in its file (to quote it again if it turns out a duplicate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    /// Bytes of a GeoJSON file.
    Text { offset: u64, len: u64 },
    /// The feature at this index of a file read through GDAL.
    #[cfg(feature = "gdal")]
    Record(usize),
}

/// Features validated in a run of [`PIECE`] are kept in that run's own vector, which goes
/// on whole to the caller: an observation is moved once from where it is built to its
/// piece and once from there to the final vector.
pub const PIECE: usize = 256;

/// Everything read from one file, in feature order.
pub(crate) struct FileResult {
    pub input: InputFile,
    /// Accepted observations in pieces; in order when the pieces are joined.
    pub accepted: Vec<Vec<Observation>>,
    /// Where each accepted feature lies (parallel to the joined `accepted`).
    pub spans: Vec<Span>,
    pub rejected: Vec<Rejected>,
}

#[derive(Default)]
struct Parsed {
    /// In pieces (see [`FileResult::accepted`]); no piece is empty.
    accepted: Vec<Vec<Observation>>,
    spans: Vec<Span>,
    rejected: Vec<Rejected>,
}

impl Parsed {
    fn accepted_len(&self) -> usize {
        self.accepted.iter().map(Vec::len).sum()
    }

    fn push_piece(&mut self, piece: Vec<Observation>) {
        if !piece.is_empty() {
            self.accepted.push(piece);
        }
    }
}

struct Ctx<'a> {
    source: &'a Arc<str>,
    params: &'a IngestParams,
    now: Time,
}

impl Ctx<'_> {
    fn file_reject(&self, reason: String) -> Rejected {
        Rejected {
            source_file: Arc::clone(self.source),
            feature_index: None,
            id: None,
            reason,
            original: None,
            geometry: None,
        }
    }
}

/// Reads and validates one file. Never fails: an unreadable file is one [`Rejected`].
pub(crate) fn read_file(path: &Path, params: &IngestParams, now: Time) -> FileResult {
    let source: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    let ctx = Ctx {
        source: &source,
        params,
        now,
    };
    let (parsed, bytes, sha256) = if !is_geojson(path) {
        read_other(path, &ctx)
    } else if is_sequence(path) {
        read_sequence_stream(path, &ctx)
    } else {
        read_document_stream(path, &ctx)
    };
    let accepted = parsed.accepted_len();
    let input = InputFile {
        path: source.to_string(),
        sha256,
        bytes,
        features: accepted + parsed.rejected.len(),
        accepted,
        rejected: parsed.rejected.len(),
    };
    FileResult {
        input,
        accepted: parsed.accepted,
        spans: parsed.spans,
        rejected: parsed.rejected,
    }
}

/// Reads a document in chunks of [`CHUNK_BYTES`], hashing them as they come, finding its
/// features with the incremental [`Scanner`] and validating each chunk's features in
/// parallel; memory is a chunk plus the longest feature plus what is kept. A document
/// the scanner does not take (see [`super::scan`]), or one with a feature that is not
/// valid JSON, is read again whole by [`read_document_whole`] (the exact path): what was
/// found so far is dropped, so the result is the exact path's.
fn read_document_stream(path: &Path, ctx: &Ctx) -> (Parsed, u64, String) {
    read_document_chunked(path, ctx, CHUNK_BYTES)
}

fn read_document_chunked(path: &Path, ctx: &Ctx, chunk_bytes: usize) -> (Parsed, u64, String) {
    let Ok(mut file) = std::fs::File::open(path) else {
        return read_document_whole(path, ctx, None);
    };
    let mut hasher = Sha256::new();
    let mut scanner = Scanner::default();
    let mut buf: Vec<u8> = Vec::with_capacity(chunk_bytes);
    // File offset of buf[0].
    let mut base: u64 = 0;
    let mut total: u64 = 0;
    let mut found: Vec<(usize, usize)> = Vec::new();
    let mut out = Parsed::default();
    let mut next_index = 0usize;
    loop {
        let before = buf.len();
        let n = match (&mut file).take(chunk_bytes as u64).read_to_end(&mut buf) {
            Ok(n) => n,
            Err(_) => return read_document_whole(path, ctx, None),
        };
        total += n as u64;
        let eof = n < chunk_bytes;
        let step = scanner.feed(&buf, eof, &mut found);
        let whole_in_buf = base == 0 && eof;
        let Ok(done) = step else {
            return read_document_whole(path, ctx, whole_in_buf.then_some(buf));
        };
        let crs = &scanner.crs;
        let (_, checked) = rayon::join(
            || hasher.update(&buf[before..]),
            || check_batch(&buf, base, &found, next_index, crs, ctx),
        );
        let Some(checked) = checked else {
            return read_document_whole(path, ctx, whole_in_buf.then_some(buf));
        };
        next_index += found.len();
        found.clear();
        for piece in checked {
            out.push_piece(piece.accepted);
            out.spans.extend(piece.spans);
            out.rejected.extend(piece.rejected);
        }
        if done || eof {
            if !done {
                return read_document_whole(path, ctx, whole_in_buf.then_some(buf));
            }
            break;
        }
        let keep = scanner.keep_from();
        buf.drain(..keep);
        base += keep as u64;
        scanner.shift(keep);
    }
    (out, total, hex(&hasher.finalize()))
}

/// What a run of features of one chunk gave.
#[derive(Default)]
struct Piece {
    accepted: Vec<Observation>,
    spans: Vec<Span>,
    rejected: Vec<Rejected>,
}

/// Validates the features found in one chunk (numbered from `first`), in parallel runs of
/// [`PIECE`]; None when one is not valid JSON or UTF-8 (the exact path then decides about
/// the whole file).
fn check_batch(
    buf: &[u8],
    base: u64,
    found: &[(usize, usize)],
    first: usize,
    crs: &Result<(), String>,
    ctx: &Ctx,
) -> Option<Vec<Piece>> {
    found
        .par_chunks(PIECE)
        .enumerate()
        .map(|(c, run)| {
            let mut piece = Piece {
                accepted: Vec::with_capacity(run.len()),
                spans: Vec::with_capacity(run.len()),
                rejected: Vec::new(),
            };
            for (k, &(s, e)) in run.iter().enumerate() {
                let i = first + c * PIECE + k;
                let raw = std::str::from_utf8(&buf[s..e]).ok()?;
                let span = Span::Text {
                    offset: base + s as u64,
                    len: (e - s) as u64,
                };
                let r = match crs {
                    Ok(()) => check_feature(raw, ctx.source, i, ctx.params, ctx.now),
                    Err(reason) => Err(Reject {
                        id: peek_id(raw),
                        reason: format!("file {reason}"),
                        geometry: None,
                    }),
                };
                match r {
                    Ok(o) => {
                        piece.accepted.push(o);
                        piece.spans.push(span);
                    }
                    Err(r) => {
                        // An accepted feature was parsed whole; a rejected one may not be JSON.
                        serde_json::from_str::<serde::de::IgnoredAny>(raw).ok()?;
                        piece
                            .rejected
                            .push(r.into_rejected(raw, ctx.source, Some(i)));
                    }
                }
            }
            Some(piece)
        })
        .collect()
}

/// Reads a document whole (or takes it, when the caller already holds all of it) and
/// parses it the exact way.
fn read_document_whole(path: &Path, ctx: &Ctx, data: Option<Vec<u8>>) -> (Parsed, u64, String) {
    let data = match data.map_or_else(|| std::fs::read(path), Ok) {
        Ok(d) => d,
        Err(e) => {
            let mut p = Parsed::default();
            p.rejected
                .push(ctx.file_reject(format!("cannot read file: {e}")));
            return (p, 0, hex(&Sha256::digest(b"")));
        }
    };
    let (sha, parsed) = rayon::join(
        || hex(&Sha256::digest(&data)),
        || parse_document(&data, ctx),
    );
    (parsed, data.len() as u64, sha)
}

/// A file in another format: read through GDAL, or (without the `gdal` feature) rejected
/// whole. Its bytes and sha256 are those of the named file alone (not a Shapefile's
/// `.dbf`/`.shx` parts).
fn read_other(path: &Path, ctx: &Ctx) -> (Parsed, u64, String) {
    let (hashed, parsed) = rayon::join(|| hash_file(path), || parse_other(path, ctx));
    match hashed {
        Ok((bytes, sha)) => (parsed, bytes, sha),
        Err(e) => {
            let mut p = Parsed::default();
            p.rejected
                .push(ctx.file_reject(format!("cannot read file: {e}")));
            (p, 0, hex(&Sha256::digest(b"")))
        }
    }
}

/// Streams a file through sha256; returns (bytes, hex digest).
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((bytes, hex(&hasher.finalize())))
}

#[cfg(feature = "gdal")]
fn parse_other(path: &Path, ctx: &Ctx) -> Parsed {
    let mut out = Parsed::default();
    let features = match crate::gdal_io::read_vector_features(path) {
        Ok(f) => f,
        Err(e) => {
            let reason = match e {
                crate::error::Error::BadFile { message, .. } => message,
                other => other.to_string(),
            };
            out.rejected.push(ctx.file_reject(reason));
            return out;
        }
    };
    let ((accepted, spans), rejected): ((Vec<_>, Vec<_>), Vec<_>) = features
        .par_iter()
        .map(
            |(i, raw)| match check_feature(raw, ctx.source, *i, ctx.params, ctx.now) {
                Ok(o) => Either::Left((o, Span::Record(*i))),
                Err(r) => Either::Right(r.into_rejected(raw, ctx.source, Some(*i))),
            },
        )
        .partition_map(|e| e);
    out.push_piece(accepted);
    out.spans = spans;
    out.rejected = rejected;
    out
}

#[cfg(not(feature = "gdal"))]
fn parse_other(path: &Path, ctx: &Ctx) -> Parsed {
    let mut out = Parsed::default();
    out.rejected.push(ctx.file_reject(format!(
        "built without the gdal feature: cannot read {} (only GeoJSON and GeoJSONSeq)",
        super::walk::format_name(path)
    )));
    out
}

pub(crate) fn hex(d: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(d.len() * 2);
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[derive(Deserialize)]
struct Top<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    features: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    crs: Option<&'a RawValue>,
}

/// Parses a whole GeoJSON document held in memory.
fn parse_document(data: &[u8], ctx: &Ctx) -> Parsed {
    let mut out = Parsed::default();
    let bom = if data.starts_with(BOM) { BOM.len() } else { 0 };
    let body = &data[bom..];
    let first = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(first) = first else {
        out.rejected.push(ctx.file_reject("file is empty".into()));
        return out;
    };
    if body[first] == RS {
        sequence_chunk(body, bom as u64, &mut 0, ctx, &mut out);
        return out;
    }
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            let at = bom + e.valid_up_to();
            out.rejected.push(ctx.file_reject(format!(
                "invalid utf-8 at byte {at} (line {})",
                1 + data[..at].iter().filter(|b| **b == b'\n').count()
            )));
            return out;
        }
    };
    match body[first] {
        b'{' => {}
        b'[' => {
            out.rejected.push(ctx.file_reject(
                "top level is a JSON array, not a GeoJSON FeatureCollection or Feature".into(),
            ));
            return out;
        }
        _ => {
            let e = serde_json::from_str::<serde::de::IgnoredAny>(text)
                .err()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            out.rejected.push(ctx.file_reject(format!(
                "not a GeoJSON object: the first character is {:?}{e}",
                text[first..].chars().next().unwrap_or(' ')
            )));
            return out;
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let top = match Top::deserialize(&mut de) {
        Ok(t) => t,
        Err(e) => {
            let why = match e.classify() {
                serde_json::error::Category::Eof => "file is truncated",
                serde_json::error::Category::Syntax => "not valid JSON",
                _ => "not a GeoJSON object",
            };
            out.rejected
                .push(ctx.file_reject(format!("{why} ({})", serde_msg(&e))));
            return out;
        }
    };
    let kind = top.kind.as_deref().unwrap_or("");
    if let Err(e) = de.end() {
        if kind == "Feature" {
            // Newline-delimited features in a .json file: read it as a sequence.
            sequence_chunk(body, bom as u64, &mut 0, ctx, &mut out);
        } else {
            out.rejected.push(ctx.file_reject(format!(
                "trailing characters after the top-level object ({e})"
            )));
        }
        return out;
    }
    match kind {
        "FeatureCollection" => {
            let Some(features) = top.features else {
                out.rejected
                    .push(ctx.file_reject("feature collection has no features array".into()));
                return out;
            };
            let crs = check_crs(top.crs);
            let ((accepted, spans), rejected): ((Vec<_>, Vec<_>), Vec<_>) = features
                .par_iter()
                .enumerate()
                .map(|(i, raw)| {
                    let span = Span::Text {
                        offset: (bom + (raw.get().as_ptr() as usize - text.as_ptr() as usize))
                            as u64,
                        len: raw.get().len() as u64,
                    };
                    let r = match &crs {
                        Ok(()) => check_feature(raw.get(), ctx.source, i, ctx.params, ctx.now),
                        Err(reason) => Err(Reject {
                            id: peek_id(raw.get()),
                            reason: format!("file {reason}"),
                            geometry: None,
                        }),
                    };
                    match r {
                        Ok(o) => Either::Left((o, span)),
                        Err(r) => Either::Right(r.into_rejected(raw.get(), ctx.source, Some(i))),
                    }
                })
                .partition_map(|e| e);
            out.push_piece(accepted);
            out.spans = spans;
            out.rejected = rejected;
        }
        "Feature" => {
            let span = Span::Text {
                offset: (bom + first) as u64,
                len: text[first..].trim_end().len() as u64,
            };
            let raw = text[first..].trim_end();
            match check_feature(raw, ctx.source, 0, ctx.params, ctx.now) {
                Ok(o) => {
                    out.push_piece(vec![o]);
                    out.spans.push(span);
                }
                Err(r) => out.rejected.push(r.into_rejected(raw, ctx.source, Some(0))),
            }
        }
        "Point" | "MultiPoint" | "LineString" | "MultiLineString" | "Polygon" | "MultiPolygon"
        | "GeometryCollection" => {
            let mut r = ctx.file_reject(format!(
                "top level is a bare {kind} geometry, not a Feature or FeatureCollection"
            ));
            r.geometry = readable_geometry(text);
            r.original = Some(truncate_original(text));
            out.rejected.push(r);
        }
        "" => out.rejected.push(ctx.file_reject(
            "top-level object has no type (expected FeatureCollection or Feature)".into(),
        )),
        other => out.rejected.push(ctx.file_reject(format!(
            "top-level type {:?} is not FeatureCollection or Feature",
            truncate_chars(other, 40)
        ))),
    }
    out
}

/// The id of a feature whose content is otherwise not checked.
fn peek_id(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly<'a> {
        #[serde(borrow, default)]
        id: Option<&'a RawValue>,
    }
    let f: IdOnly = serde_json::from_str(raw).ok()?;
    let id = f.id?;
    let t = id.get().trim();
    match t.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(t).ok(),
        Some(b'-') | Some(b'0'..=b'9') => Some(t.to_string()),
        _ => None,
    }
}

/// Splits a buffer of sequence text into records (lines, further split at record
/// separators), numbers them from `next_index`, and validates them in parallel.
fn sequence_chunk(
    buf: &[u8],
    base_offset: u64,
    next_index: &mut usize,
    ctx: &Ctx,
    out: &mut Parsed,
) {
    let mut records: Vec<(usize, usize, usize)> = Vec::new();
    let mut line_start = 0;
    for line in buf.split(|b| *b == b'\n') {
        for part in line.split(|b| *b == RS) {
            let part_start = line_start + (part.as_ptr() as usize - line.as_ptr() as usize);
            let s = part.iter().position(|b| !b.is_ascii_whitespace());
            if let Some(s) = s {
                let e = part
                    .iter()
                    .rposition(|b| !b.is_ascii_whitespace())
                    .unwrap_or(s)
                    + 1;
                records.push((*next_index, part_start + s, part_start + e));
                *next_index += 1;
            }
        }
        line_start += line.len() + 1;
    }
    let ((accepted, spans), rejected): ((Vec<_>, Vec<_>), Vec<_>) = records
        .par_iter()
        .map(|&(i, s, e)| {
            let bytes = &buf[s..e];
            let span = Span::Text {
                offset: base_offset + s as u64,
                len: (e - s) as u64,
            };
            let r = match std::str::from_utf8(bytes) {
                Ok(raw) => check_feature(raw, ctx.source, i, ctx.params, ctx.now)
                    .map(|o| (o, span))
                    .map_err(|r| r.into_rejected(raw, ctx.source, Some(i))),
                Err(err) => {
                    let lossy = String::from_utf8_lossy(bytes);
                    Err(Reject {
                        id: None,
                        reason: format!(
                            "invalid utf-8 at byte {} of the record",
                            err.valid_up_to()
                        ),
                        geometry: None,
                    }
                    .into_rejected(&lossy, ctx.source, Some(i)))
                }
            };
            match r {
                Ok(a) => Either::Left(a),
                Err(r) => Either::Right(r),
            }
        })
        .partition_map(|e| e);
    out.push_piece(accepted);
    out.spans.extend(spans);
    out.rejected.extend(rejected);
}

/// Streams a GeoJSON text sequence in batches; returns what was parsed, bytes read and sha256.
fn read_sequence_stream(path: &Path, ctx: &Ctx) -> (Parsed, u64, String) {
    let mut out = Parsed::default();
    let mut hasher = Sha256::new();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            out.rejected
                .push(ctx.file_reject(format!("cannot read file: {e}")));
            return (out, 0, hex(&hasher.finalize()));
        }
    };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf: Vec<u8> = Vec::new();
    let mut offset: u64 = 0;
    let mut next_index = 0usize;
    let mut total: u64 = 0;
    loop {
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(e) => {
                out.rejected.push(ctx.file_reject(format!(
                    "read error after {} bytes: {e}",
                    total + buf.len() as u64
                )));
                break;
            }
        };
        let eof = n == 0;
        if eof || buf.len() >= BATCH_BYTES {
            hasher.update(&buf);
            total += buf.len() as u64;
            let skip = if offset == 0 && buf.starts_with(BOM) {
                BOM.len()
            } else {
                0
            };
            sequence_chunk(
                &buf[skip..],
                offset + skip as u64,
                &mut next_index,
                ctx,
                &mut out,
            );
            offset += buf.len() as u64;
            buf.clear();
            if buf.capacity() > 4 * BATCH_BYTES {
                buf.shrink_to(BATCH_BYTES);
            }
        }
        if eof {
            break;
        }
    }
    if next_index == 0 && out.rejected.is_empty() {
        out.rejected
            .push(ctx.file_reject("file is empty (no features)".into()));
    }
    (out, total, hex(&hasher.finalize()))
}

/// Quotes features again from their files (for duplicates found after parsing). A file read
/// through GDAL is read again whole, once for a run of quotes from it.
#[derive(Default)]
pub(crate) struct Quoter {
    /// The last GDAL file read: its path and feature texts.
    #[cfg(feature = "gdal")]
    last: Option<(String, Vec<(usize, String)>)>,
}

impl Quoter {
    pub(crate) fn quote(&mut self, path: &str, span: Span) -> Option<String> {
        match span {
            Span::Text { offset, len } => read_span(path, offset, len),
            #[cfg(feature = "gdal")]
            Span::Record(index) => self.record(path, index).map(truncate_original),
        }
    }

    /// The outline of a feature that was accepted, read again from its file (observations
    /// do not keep it); None for a point, or when the file can no longer be read.
    pub(crate) fn outline(&mut self, path: &str, span: Span) -> Option<geo::Polygon<f64>> {
        match span {
            Span::Text { offset, len } => {
                let bytes = read_bytes(path, offset, len)?;
                super::feature::outline_of(std::str::from_utf8(&bytes).ok()?)
            }
            #[cfg(feature = "gdal")]
            Span::Record(index) => super::feature::outline_of(self.record(path, index)?),
        }
    }

    #[cfg(feature = "gdal")]
    fn record(&mut self, path: &str, index: usize) -> Option<&str> {
        if self.last.as_ref().is_none_or(|(p, _)| p != path) {
            let features = crate::gdal_io::read_vector_features(Path::new(path)).ok()?;
            self.last = Some((path.to_string(), features));
        }
        let (_, features) = self.last.as_ref()?;
        let (_, text) = features.get(index)?;
        Some(text)
    }
}

/// Up to `len` bytes at `offset` of a file.
fn read_bytes(path: &str, offset: u64, len: u64) -> Option<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Quotes `len` bytes at `offset` of a file.
fn read_span(path: &str, offset: u64, len: u64) -> Option<String> {
    let want = len.min(MAX_ORIGINAL_BYTES as u64 + 4);
    let bytes = read_bytes(path, offset, want)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if len > want {
        Some(format!(
            "{}…[truncated: {} bytes in all]",
            text.trim_end_matches('\u{fffd}'),
            len
        ))
    } else {
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Time = 1_710_000_000;

    fn feat(id: &str, extra: &str) -> String {
        format!(
            r#"{{"type":"Feature","id":"{id}","geometry":{{"type":"Point","coordinates":[130.3,42.2]}},"properties":{{"observed_at":"2024-03-01T12:00:00Z"{extra}}}}}"#
        )
    }

    /// Reads `body` chunked at many sizes and whole (the exact path): every result equal.
    fn same_as_exact(body: &[u8]) -> String {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.geojson");
        std::fs::write(&p, body).unwrap();
        let source: Arc<str> = Arc::from(p.to_string_lossy().as_ref());
        let params = IngestParams::default();
        let ctx = Ctx {
            source: &source,
            params: &params,
            now: NOW,
        };
        let show = |(parsed, bytes, sha): (Parsed, u64, String)| {
            format!(
                "{:?}\n{:?}\n{:?}\n{bytes} {sha}",
                parsed.accepted.concat(),
                parsed.spans,
                parsed.rejected
            )
        };
        let exact = show(read_document_whole(&p, &ctx, None));
        for chunk in [1, 2, 3, 5, 7, 16, 64, 100, 1 << 20] {
            let streamed = show(read_document_chunked(&p, &ctx, chunk));
            assert_eq!(streamed, exact, "chunk {chunk}");
        }
        exact
    }

    #[test]
    fn streamed_documents_match_the_exact_path() {
        let tricky = r#","note":"a } ] { [ \" \\ \u0041 }","nested":{"a":[{"b":{}}],"c":"]"}"#;
        let features = [
            feat("a", ""),
            feat("b", tricky),
            feat("c", r#","observed_at2":1"#),
            feat("d", r#","length_m":"long""#), // rejected: quoted exactly
            r#"{"type":"Feature","geometry":null,"properties":{}}"#.to_string(),
        ];
        let plain = format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        );
        let out = same_as_exact(plain.as_bytes());
        assert!(out.contains("long"), "{out}");
        // White space everywhere, a BOM, members around features, features not last.
        let spaced = format!(
            "\u{feff} \r\n{{ \"name\" : \"x{{\" ,\"bbox\":[1,2,3,4], \"type\" :\t\"FeatureCollection\",\n \"features\" : [ \n{} \n] , \"extra\": {{\"k\":[null,true,-1.5e3]}}, \"n\": 12 }}\n\n",
            features.join(" ,\n ")
        );
        same_as_exact(spaced.as_bytes());
        // type after features; crs (WGS84 and not) before them.
        let type_last = format!(
            r#"{{"features":[{}],"type":"FeatureCollection"}}"#,
            features[0]
        );
        same_as_exact(type_last.as_bytes());
        let crs_bad = format!(
            r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"EPSG:3857"}}}},"features":[{}]}}"#,
            features.join(",")
        );
        assert!(same_as_exact(crs_bad.as_bytes()).contains("EPSG:3857"));
        let crs_after = format!(
            r#"{{"type":"FeatureCollection","features":[{}],"crs":{{"type":"name","properties":{{"name":"EPSG:3857"}}}}}}"#,
            features[0]
        );
        assert!(same_as_exact(crs_after.as_bytes()).contains("EPSG:3857"));
        same_as_exact(br#"{"type":"FeatureCollection","features":[]}"#);
    }

    #[test]
    fn broken_documents_fall_back_to_the_same_rejections() {
        let f = feat("a", "");
        let cases: Vec<Vec<u8>> = vec![
            format!(r#"{{"type":"FeatureCollection","features":[{f},{f}"#).into_bytes(),
            format!(r#"{{"type":"FeatureCollection","features":[{f}"#)[..60].into(),
            format!(r#"{{"type":"FeatureCollection","features":[{f},]}}"#).into_bytes(),
            format!(r#"{{"type":"FeatureCollection","features":[{f}]}} x"#).into_bytes(),
            format!(r#"{{"type":"FeatureCollection","features":[{f},1]}}"#).into_bytes(),
            br#"{"type":"FeatureCollection","features":[{"type":"Feature","x":tru}]}"#.to_vec(),
            format!(r#"{{"type":"FeatureCollection","features":[{f}],"features":[]}}"#)
                .into_bytes(),
            format!(r#"{{"type":"Feature","features":[{f}]}}"#).into_bytes(),
            format!(r#"{{"features":[{f}]}}"#).into_bytes(),
            br#"{"type":"FeatureCollection"}"#.to_vec(),
            format!("{f}\n{f}\n").into_bytes(),
            format!("\x1e{f}\n").into_bytes(),
            b"\x0c{}".to_vec(),
            b"  ".to_vec(),
            b"\xef\xbb\xbf".to_vec(),
            [
                br#"{"type":"FeatureCollection","features":[{"type":"Feature","id":""#.as_slice(),
                b"\xff\"}]}",
            ]
            .concat(),
            format!(
                r#"{{"type":"FeatureCollection","features":[{{"a":{}{}}}]}}"#,
                "[".repeat(126),
                "]".repeat(126)
            )
            .into_bytes(),
            format!(r#"{{"type":"FeatureCollection","n":01,"features":[{f}]}}"#).into_bytes(),
            format!(r#"{{"type":"FeatureCollection","fe\u0061tures":[{f}]}}"#).into_bytes(),
        ];
        for body in &cases {
            same_as_exact(body);
        }
        let truncated =
            same_as_exact(format!(r#"{{"type":"FeatureCollection","features":[{f}"#).as_bytes());
        assert!(truncated.contains("file is truncated"), "{truncated}");
    }
}
