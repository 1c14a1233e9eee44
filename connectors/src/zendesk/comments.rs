//! Ticket comments: every ticket's `GET /api/v2/tickets/{id}/comments.json`.
//!
//! Zendesk has no account-wide comment list, so the stream walks the tickets (cursor
//! pagination) and, for each, its comments (cursor pagination again). Each `read_page` reads
//! one page of one ticket's comments; the walk's position — the ticket list cursor, the ticket
//! ids of the current ticket page still to read, and the comment cursor — travels in the page
//! token, so a run resumes mid-ticket after a checkpoint.

use super::client::{PLATFORM, ZendeskConnector};
use crate::{ConnectorError, ErrorKind, Page, PageRequest};
use serde::{Deserialize, Serialize};

/// Where the walk is. Serialized as the page token.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Walk {
    /// The cursor of the ticket page after the current one; `None` when it was the last.
    #[serde(rename = "t")]
    tickets_after: Option<String>,
    /// Ticket ids of the current ticket page not finished yet; the first is being read.
    #[serde(rename = "p")]
    pending: Vec<String>,
    /// The cursor into the first pending ticket's comments.
    #[serde(rename = "c")]
    comments_after: Option<String>,
}

fn bad_token(e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::new(
        PLATFORM,
        ErrorKind::Config,
        format!("ticket_comments: unreadable page token: {e}"),
    )
}

pub(super) async fn read_page(
    connector: &ZendeskConnector,
    request: &PageRequest,
) -> Result<Page, ConnectorError> {
    let (mut walk, mut started) = match &request.page_token {
        Some(token) => (serde_json::from_str(token).map_err(bad_token)?, true),
        None => (Walk::default(), false),
    };
    while walk.pending.is_empty() {
        if started && walk.tickets_after.is_none() {
            return Ok(done(Vec::new()));
        }
        let (tickets, next) = connector
            .list_page(
                "/api/v2/tickets.json",
                "tickets",
                walk.tickets_after.as_deref(),
            )
            .await?;
        started = true;
        walk.pending = tickets.into_iter().map(|t| t.id).collect();
        walk.tickets_after = next;
        walk.comments_after = None;
    }
    let ticket = walk.pending[0].clone();
    let path = format!("/api/v2/tickets/{ticket}/comments.json");
    let (records, next) = match connector
        .list_page(&path, "comments", walk.comments_after.as_deref())
        .await
    {
        Ok(page) => page,
        // Deleted since the ticket page was read: nothing left to back up for it.
        Err(err) if err.status == Some(404) => (Vec::new(), None),
        Err(err) => return Err(err),
    };
    match next {
        Some(cursor) => walk.comments_after = Some(cursor),
        None => {
            walk.pending.remove(0);
            walk.comments_after = None;
        }
    }
    if walk.pending.is_empty() && walk.tickets_after.is_none() {
        return Ok(done(records));
    }
    let token = serde_json::to_string(&walk).map_err(bad_token)?;
    Ok(Page {
        records,
        next_page_token: Some(token),
        cursor: None,
    })
}

fn done(records: Vec<crate::Record>) -> Page {
    Page {
        records,
        next_page_token: None,
        cursor: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_round_trips_through_a_token() {
        let walk = Walk {
            tickets_after: Some("abc".into()),
            pending: vec!["7".into(), "8".into()],
            comments_after: None,
        };
        let token = serde_json::to_string(&walk).unwrap();
        assert_eq!(serde_json::from_str::<Walk>(&token).unwrap(), walk);
        assert!(serde_json::from_str::<Walk>("not json").is_err());
    }
}
