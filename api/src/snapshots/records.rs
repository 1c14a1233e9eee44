//! Pages of a stream's records: cursors that name a part and a record in it, and reading just
//! the parts a page needs.
//!
//! A cursor is URL-safe base64 of `{snapshot_id}/{stream}/{part_no}/{offset}`: the next page
//! starts at record `offset` (0-based) of part `part_no`. It is validated against the manifest,
//! so a cursor of another stream or snapshot, or one past the end, is a 400 naming `cursor`.
//! A page is read part by part: each part is fetched, checked against its sha256, decrypted as
//! a stream and read line by line up to the page's end, so only the parts a page spans are read
//! and at most one part's ciphertext and one page of records are held in memory.

use crate::error::ApiError;
use age::x25519::Identity;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use storage::{
    manifest::{ManifestPart, ManifestStream},
    object_store::ObjectStore,
    reader,
};

/// Records per page when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 100;
/// The largest `limit` accepted: records are small lines, and a page is held in memory.
pub const MAX_LIMIT: u64 = 1000;

/// Where a page starts: the index of a part in the stream's manifest entry, and a record in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub part: usize,
    pub offset: u64,
}

/// One page: JSON lines, and where the next page starts (absent after the last record).
#[derive(Debug)]
pub struct RecordsPage {
    pub body: Vec<u8>,
    pub records: u64,
    pub next: Option<Position>,
}

/// Reads `limit` (1..=1000, default 100) and where to start; bad values are 400s naming
/// `limit` or `cursor`.
pub fn parse_request(
    snapshot_id: &str,
    stream: &ManifestStream,
    limit: Option<u64>,
    cursor: Option<&str>,
) -> Result<(u64, Position), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_param(
            "limit",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let start = match cursor.filter(|c| !c.is_empty()) {
        None => Position { part: 0, offset: 0 },
        Some(c) => decode_cursor(snapshot_id, stream, c).ok_or_else(|| {
            ApiError::bad_param(
                "cursor",
                "`cursor` is not one this API returned for this stream",
            )
        })?,
    };
    Ok((limit, start))
}

pub fn encode_cursor(snapshot_id: &str, stream: &ManifestStream, at: Position) -> String {
    let part_no = stream.parts.get(at.part).map_or(0, |p| p.part_no);
    URL_SAFE_NO_PAD.encode(format!(
        "{snapshot_id}/{}/{part_no}/{}",
        stream.name, at.offset
    ))
}

fn decode_cursor(snapshot_id: &str, stream: &ManifestStream, cursor: &str) -> Option<Position> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let mut fields = text.rsplitn(3, '/');
    let offset: u64 = fields.next()?.parse().ok()?;
    let part_no: u32 = fields.next()?.parse().ok()?;
    let owner = fields.next()?;
    if owner != format!("{snapshot_id}/{}", stream.name) {
        return None;
    }
    let part = stream.parts.iter().position(|p| p.part_no == part_no)?;
    (offset < stream.parts[part].records).then_some(Position { part, offset })
}

/// The position after `n` more records from `at`, skipping to the next part at a part's end;
/// `None` past the last record.
fn advance(parts: &[ManifestPart], mut at: Position) -> Option<Position> {
    while at.part < parts.len() && at.offset >= parts[at.part].records {
        at = Position {
            part: at.part + 1,
            offset: 0,
        };
    }
    (at.part < parts.len()).then_some(at)
}

/// Reads up to `limit` records from `start`.
pub async fn read_page(
    store: &ObjectStore,
    identity: &Identity,
    stream: &ManifestStream,
    start: Position,
    limit: u64,
) -> Result<RecordsPage, storage::StorageError> {
    let mut page = RecordsPage {
        body: Vec::new(),
        records: 0,
        next: advance(&stream.parts, start),
    };
    while page.records < limit {
        let Some(at) = page.next else { break };
        let part = &stream.parts[at.part];
        let body = reader::fetch_part(store, part).await?;
        let wanted = (limit - page.records).min(part.records - at.offset);
        let (identity, entry) = (identity.clone(), part.clone());
        let mut out = std::mem::take(&mut page.body);
        // Decompressing is CPU work: off the async threads.
        let (out, read) = tokio::task::spawn_blocking(move || {
            let mut lines = reader::part_lines(&identity, &entry, body)?;
            lines.skip(at.offset)?;
            let mut read = 0;
            while read < wanted && lines.next_into(&mut out)? {
                read += 1;
            }
            Ok::<_, storage::StorageError>((out, read))
        })
        .await
        .map_err(|e| storage::StorageError::Decode(format!("reading a part: {e}")))??;
        if read < wanted {
            return Err(storage::StorageError::Decode(format!(
                "{} holds fewer records than its manifest entry",
                part.key
            )));
        }
        page.body = out;
        page.records += read;
        page.next = advance(
            &stream.parts,
            Position {
                part: at.part,
                offset: at.offset + read,
            },
        );
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(counts: &[u64]) -> ManifestStream {
        ManifestStream {
            name: "customers".into(),
            records: counts.iter().sum(),
            raw_bytes: 0,
            stored_bytes: 0,
            cursor: None,
            parts: counts
                .iter()
                .enumerate()
                .map(|(i, &records)| ManifestPart {
                    key: format!("k{i}"),
                    part_no: i as u32 + 1,
                    records,
                    raw_bytes: 0,
                    stored_bytes: 0,
                    sha256: String::new(),
                    blobs: Vec::new(),
                    index: None,
                })
                .collect(),
            full: None,
        }
    }

    #[test]
    fn cursors_round_trip_and_are_checked_against_the_stream() {
        let s = stream(&[3, 2]);
        let at = Position { part: 1, offset: 1 };
        let cursor = encode_cursor("snp_1", &s, at);
        assert_eq!(decode_cursor("snp_1", &s, &cursor), Some(at));
        assert_eq!(
            decode_cursor("snp_2", &s, &cursor),
            None,
            "another snapshot"
        );
        let mut other = s.clone();
        other.name = "invoices".into();
        assert_eq!(decode_cursor("snp_1", &other, &cursor), None);
        let past = encode_cursor("snp_1", &s, Position { part: 1, offset: 2 });
        assert_eq!(
            decode_cursor("snp_1", &s, &past),
            None,
            "past the part's end"
        );
        assert_eq!(decode_cursor("snp_1", &s, "!!"), None);
        let e = parse_request("snp_1", &s, Some(0), None).unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        assert!(parse_request("snp_1", &s, Some(MAX_LIMIT + 1), None).is_err());
        assert!(parse_request("snp_1", &s, None, Some("bad")).is_err());
    }

    #[test]
    fn advancing_skips_part_ends_and_stops_after_the_last_record() {
        let s = stream(&[2, 0, 1]);
        let at = |part, offset| Position { part, offset };
        assert_eq!(advance(&s.parts, at(0, 1)), Some(at(0, 1)));
        assert_eq!(advance(&s.parts, at(0, 2)), Some(at(2, 0)));
        assert_eq!(advance(&s.parts, at(2, 1)), None);
        assert_eq!(advance(&stream(&[]).parts, at(0, 0)), None);
    }
}
