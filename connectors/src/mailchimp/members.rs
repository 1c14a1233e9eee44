//! The members stream: every audience's members, audience after audience.
//!
//! The page token is `<audience position>:<audience id>:<offset>`. Audiences are listed oldest
//! first (`date_created ASC`), so an audience created during a walk comes after the ones
//! already read; members are listed by `timestamp_signup ASC`, so a member added during a walk
//! appears at the end of its audience and an updated one keeps its place: a walk never skips.
//! (During an incremental walk a member updated mid-walk can join the filtered set before the
//! current offset and push one already-read member onto the next page: a duplicate, never a
//! gap. Backups keep the last copy of an id.)
//!
//! Incremental syncs send `since_last_changed`, which Mailchimp applies as "changed after".
//! Timestamps have whole seconds, so a member changed in the same second as the saved cursor,
//! after it was read, would be lost by an exclusive filter; the connector asks for one second
//! earlier and accepts re-reading the members changed in the cursor's own second.

use super::client::{MailchimpConnector, PLATFORM, decode_error, head};
use super::{streams, time};
use crate::{ConnectorError, ErrorKind, Page, PageRequest, Record};
use serde_json::Value;

/// Where a members walk is.
#[derive(Debug, PartialEq, Eq)]
struct Position {
    /// The audience's index in `date_created ASC` order.
    list: u64,
    list_id: String,
    offset: u64,
}

impl Position {
    fn token(&self) -> String {
        format!("{}:{}:{}", self.list, self.list_id, self.offset)
    }

    fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split(':');
        let position = Self {
            list: parts.next()?.parse().ok()?,
            list_id: valid_id(parts.next()?)?.to_owned(),
            offset: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(position)
    }
}

/// Audience ids go into the URL path: letters and digits only.
fn valid_id(id: &str) -> Option<&str> {
    (!id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(id)
}

/// The highest `last_changed` seen, kept as Mailchimp wrote it.
struct Cursor(Option<(i64, String)>);

impl Cursor {
    fn from_value(value: Option<&Value>) -> Self {
        Cursor(
            value
                .and_then(Value::as_str)
                .and_then(|s| time::parse(s).map(|at| (at, s.to_owned()))),
        )
    }

    fn see(&mut self, last_changed: &str) {
        if let Some(at) = time::parse(last_changed)
            && self.0.as_ref().is_none_or(|(max, _)| at > *max)
        {
            self.0 = Some((at, last_changed.to_owned()));
        }
    }

    fn into_value(self) -> Option<Value> {
        self.0.map(|(_, text)| Value::String(text))
    }
}

/// The id of the audience at `position` in the stable order, `None` past the last one.
async fn audience_at(
    c: &MailchimpConnector,
    position: u64,
) -> Result<Option<String>, ConnectorError> {
    let mut query = vec![("count", "1".to_owned()), ("offset", position.to_string())];
    query.extend(
        streams::stable_order("lists")
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned())),
    );
    let page = c.collection("/lists", "lists", &query).await?;
    let Some(first) = page.records.first() else {
        return Ok(None);
    };
    let (id, _) = head("lists", first)?;
    valid_id(&id)
        .map(|id| Some(id.to_owned()))
        .ok_or_else(|| decode_error("/lists", format!("audience id `{id}` is not alphanumeric")))
}

pub(super) async fn read_page(
    c: &MailchimpConnector,
    request: &PageRequest,
) -> Result<Page, ConnectorError> {
    let since = match &request.since {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_str().and_then(time::parse).ok_or_else(|| {
            ConnectorError::new(
                PLATFORM,
                ErrorKind::Config,
                format!("saved cursor {value} is not an ISO 8601 time"),
            )
        })?),
    };
    // Without changes a sync must still hand back a cursor: start from the saved one.
    let mut cursor = Cursor::from_value(request.cursor.as_ref().or(request.since.as_ref()));
    let position = match request.page_token.as_deref() {
        Some(token) => Position::parse(token).ok_or_else(|| {
            ConnectorError::new(
                PLATFORM,
                ErrorKind::InvalidRequest,
                format!("bad members page token `{token}`"),
            )
        })?,
        None => match audience_at(c, 0).await? {
            Some(list_id) => Position {
                list: 0,
                list_id,
                offset: 0,
            },
            None => {
                return Ok(Page {
                    records: Vec::new(),
                    next_page_token: None,
                    cursor: cursor.into_value(),
                });
            }
        },
    };

    let mut query = vec![
        ("count", c.page_size().to_string()),
        ("offset", position.offset.to_string()),
    ];
    query.extend(
        streams::stable_order("members")
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned())),
    );
    if let Some(since) = since {
        query.push(("since_last_changed", time::format(since.saturating_sub(1))));
    }
    let path = format!("/lists/{}/members", position.list_id);
    let page = c.collection(&path, "members", &query).await?;

    let mut records = Vec::with_capacity(page.records.len());
    for json in page.records {
        let (id, last_changed) = head("members", &json)?;
        if let Some(last_changed) = last_changed {
            cursor.see(&last_changed);
        }
        // A member's id is the hash of its email, the same in every audience it belongs to.
        records.push(Record::new(format!("{}/{id}", position.list_id), json));
    }
    let next = position.offset + records.len() as u64;
    let next_position = if !records.is_empty() && next < page.total_items {
        Some(Position {
            offset: next,
            ..position
        })
    } else {
        let list = position.list + 1;
        audience_at(c, list).await?.map(|list_id| Position {
            list,
            list_id,
            offset: 0,
        })
    };
    Ok(Page {
        records,
        next_page_token: next_position.map(|p| p.token()),
        cursor: cursor.into_value(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_anything_else() {
        let p = Position {
            list: 2,
            list_id: "a1b2c3d4e5".into(),
            offset: 1000,
        };
        assert_eq!(Position::parse(&p.token()), Some(p));
        for bad in [
            "",
            "1",
            "1:abc",
            "x:abc:0",
            "1:../x:0",
            "1:abc:0:9",
            "1::0",
            "1:abc:-1",
        ] {
            assert_eq!(Position::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_cursor_keeps_the_latest_time() {
        let mut cursor = Cursor::from_value(Some(&Value::from("2020-01-01T00:00:00+00:00")));
        cursor.see("2019-12-31T23:59:59+00:00");
        cursor.see("not a time");
        cursor.see("2020-01-01T00:00:01+00:00");
        assert_eq!(
            cursor.into_value(),
            Some(Value::from("2020-01-01T00:00:01+00:00"))
        );
        assert_eq!(Cursor::from_value(None).into_value(), None);
    }
}
