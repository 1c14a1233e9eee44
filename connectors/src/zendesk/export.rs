//! Tickets and users through Zendesk's cursor-based incremental exports.
//!
//! The first sync asks for `start_time` (0, or a Unix time saved as the cursor); every later
//! request passes the previous page's `after_cursor`. When a page says `end_of_stream`, its
//! `after_cursor` is the stream cursor: Zendesk leaves out items changed in the last minute,
//! and those sort after that cursor, so the next sync returns them — nothing is lost and
//! nothing is returned twice.

use super::client::{PLATFORM, ZendeskConnector, field, take_records};
use crate::{ConnectorError, ErrorKind, Page, PageRequest};
use serde_json::Value;

pub(super) async fn read_page(
    connector: &ZendeskConnector,
    resource: &'static str,
    request: &PageRequest,
) -> Result<Page, ConnectorError> {
    let mut query = vec![(
        "per_page".to_owned(),
        connector.config.export_page_size.to_string(),
    )];
    let position = match (&request.page_token, &request.since) {
        (Some(token), _) => ("cursor", token.clone()),
        (None, Some(Value::String(cursor))) => ("cursor", cursor.clone()),
        (None, Some(Value::Number(start))) if start.as_i64().is_some_and(|s| s >= 0) => {
            ("start_time", start.to_string())
        }
        (None, None | Some(Value::Null)) => ("start_time", "0".to_owned()),
        (None, Some(other)) => {
            return Err(ConnectorError::new(
                PLATFORM,
                ErrorKind::Config,
                format!("{resource}: saved cursor {other} is neither an export cursor nor a time"),
            ));
        }
    };
    query.push((position.0.to_owned(), position.1));
    let path = format!("/api/v2/incremental/{resource}/cursor.json");
    let mut body = connector.get_export(&path, &query).await?;
    let records = take_records(&mut body, resource)?;
    let after_cursor: Option<String> = field(&body, "after_cursor")?;
    let end_of_stream: bool = field(&body, "end_of_stream")?;
    // Without a new cursor the position stays where this run (or the last sync) left it.
    let cursor = after_cursor
        .clone()
        .map(Value::from)
        .or_else(|| request.cursor.clone())
        .or_else(|| request.since.clone());
    let next_page_token = match (end_of_stream, after_cursor, records.is_empty()) {
        // An empty page that is not the end would loop forever: treat it as the end.
        (false, Some(after), false) => Some(after),
        _ => None,
    };
    Ok(Page {
        records,
        next_page_token,
        cursor,
    })
}
