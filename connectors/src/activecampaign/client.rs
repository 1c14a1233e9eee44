//! ActiveCampaign requests: the `Api-Token` header, keyset and offset paging, the
//! `updated_after` cursor, and error classification.

use super::{
    config::ActiveCampaignConfig,
    models,
    streams::{self, Paging},
};
use crate::{
    Connector, ConnectorError, ErrorKind, Page, PageRequest, PlatformInfo, Record,
    http::{HttpClient, classify_status},
};
use reqwest::{StatusCode, header::HeaderMap};
use serde_json::Value;

const PLATFORM: &str = "activecampaign";

pub struct ActiveCampaignConnector {
    config: ActiveCampaignConfig,
    /// `https://<account>.api-us1.com/api/3`, already validated.
    api_root: String,
    http: HttpClient,
}

impl ActiveCampaignConnector {
    /// `api_root` comes from [`super::api_root`]; `http` should be paced per account.
    pub fn new(config: ActiveCampaignConfig, api_root: reqwest::Url, http: HttpClient) -> Self {
        Self {
            config,
            api_root: api_root.as_str().trim_end_matches('/').to_owned(),
            http,
        }
    }

    async fn list(
        &self,
        stream: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<models::ListPage, ConnectorError> {
        let url = format!("{}/{stream}", self.api_root);
        let bytes = self
            .http
            .send_bytes(
                PLATFORM,
                |c| {
                    c.get(&url)
                        .header("Api-Token", &self.config.api_key)
                        .query(&query)
                },
                classify,
            )
            .await?;
        models::list_page(stream, &bytes).map_err(|e| {
            ConnectorError::new(
                PLATFORM,
                ErrorKind::Decode,
                format!("{stream} page is not an ActiveCampaign list: {e}"),
            )
        })
    }
}

/// ActiveCampaign answers a missing, wrong or revoked token with 403 (`{"message": "No Result
/// found for Subscriber with id 0"}`), not 401: that is a refused credential. A 403 about
/// permissions is a user lacking access to one resource.
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> ConnectorError {
    let message = serde_json::from_str::<models::ErrorResponse>(body)
        .ok()
        .and_then(|e| {
            e.message
                .or_else(|| e.errors.into_iter().next().map(|i| i.title))
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    if status == StatusCode::FORBIDDEN && !message.to_ascii_lowercase().contains("permission") {
        return ConnectorError::new(
            PLATFORM,
            ErrorKind::Unauthorized,
            format!("HTTP 403: the API token was refused ({message})"),
        );
    }
    classify_status(PLATFORM, status, message)
}

fn config_error(message: String) -> ConnectorError {
    ConnectorError::new(PLATFORM, ErrorKind::Config, message)
}

/// `candidate` when it is a later instant than `cursor` (or the cursor is unreadable);
/// `None` to keep the cursor. An unreadable candidate never moves the cursor.
fn later(cursor: Option<&str>, candidate: &str) -> Option<String> {
    let at = models::parse_timestamp(candidate)?;
    match cursor.and_then(models::parse_timestamp) {
        Some(current) if current >= at => None,
        _ => Some(candidate.to_owned()),
    }
}

#[async_trait::async_trait]
impl Connector for ActiveCampaignConnector {
    fn info(&self) -> &'static PlatformInfo {
        &streams::INFO
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.list("contacts", vec![("limit", "1".into())])
            .await
            .map(|_| ())
    }

    async fn read_page(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        let stream = request.stream.as_str();
        let Some(info) = streams::INFO.stream(stream) else {
            return Err(config_error(format!("unknown stream `{stream}`")));
        };
        let limit = self.config.page_size;
        let paging = streams::paging(stream);
        let mut query = vec![("limit", limit.to_string())];
        let offset = match (paging, &request.page_token) {
            (Paging::Keyset, token) => {
                query.push(("orders[id]", "ASC".into()));
                if let Some(after) = token {
                    after
                        .parse::<u64>()
                        .map_err(|_| config_error(format!("bad page token `{after}`")))?;
                    query.push(("id_greater", after.clone()));
                }
                0
            }
            (Paging::Offset, None) => 0,
            (Paging::Offset, Some(token)) => token
                .parse::<u64>()
                .map_err(|_| config_error(format!("bad page token `{token}`")))?,
        };
        if paging == Paging::Offset {
            query.push(("offset", offset.to_string()));
        }
        let updated_field = streams::updated_field(stream).filter(|_| info.incremental);
        let since = match (&request.since, updated_field) {
            (Some(Value::String(since)), Some(_)) => {
                models::parse_timestamp(since).ok_or_else(|| {
                    config_error(format!("saved cursor `{since}` is not a timestamp"))
                })?;
                query.push(("filters[updated_after]", since.clone()));
                Some(since.clone())
            }
            (None | Some(Value::Null), _) | (_, None) => None,
            (Some(other), Some(_)) => {
                return Err(config_error(format!(
                    "saved cursor {other} is not a timestamp"
                )));
            }
        };
        let page = self.list(stream, query).await?;

        // Never move the cursor back: start from this run's cursor, else the saved one.
        let mut cursor = match &request.cursor {
            Some(Value::String(c)) => Some(c.clone()),
            _ => since,
        };
        let mut records = Vec::with_capacity(page.records.len());
        for json in page.records {
            let head: models::RecordHead = serde_json::from_str(json.get()).map_err(|e| {
                ConnectorError::new(
                    PLATFORM,
                    ErrorKind::Decode,
                    format!("{stream} record without id: {e}"),
                )
            })?;
            let id = head.id().ok_or_else(|| {
                ConnectorError::new(PLATFORM, ErrorKind::Decode, format!("{stream} record id"))
            })?;
            if let Some(next) = updated_field
                .and_then(|f| head.updated(f))
                .and_then(|updated| later(cursor.as_deref(), updated))
            {
                cursor = Some(next);
            }
            records.push(Record::new(id, json));
        }
        let returned = records.len() as u64;
        let total = page.meta.total();
        // A short page, or as many as the total, is the end; an empty page always is.
        let more = returned > 0
            && returned >= u64::from(limit)
            && total
                .is_none_or(|t| t > returned + if paging == Paging::Offset { offset } else { 0 });
        let next_page_token = match (more, paging, records.last()) {
            (true, Paging::Keyset, Some(last)) => Some(last.id.clone()),
            (true, Paging::Offset, _) => Some((offset + returned).to_string()),
            _ => None,
        };
        Ok(Page {
            records,
            next_page_token,
            cursor: updated_field.and(cursor.map(Value::from)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_token_is_unauthorized_and_permissions_are_forbidden() {
        let headers = HeaderMap::new();
        let refused = classify(
            StatusCode::FORBIDDEN,
            &headers,
            r#"{"message":"No Result found for Subscriber with id 0"}"#,
        );
        assert_eq!(refused.kind, ErrorKind::Unauthorized);
        assert!(!refused.is_temporary());
        let denied = classify(
            StatusCode::FORBIDDEN,
            &headers,
            r#"{"message":"You do not have permission to access deals"}"#,
        );
        assert_eq!(denied.kind, ErrorKind::Forbidden);
        let limited = classify(StatusCode::TOO_MANY_REQUESTS, &headers, "slow down");
        assert_eq!(limited.kind, ErrorKind::RateLimited);
        let invalid = classify(
            StatusCode::BAD_REQUEST,
            &headers,
            r#"{"errors":[{"title":"Invalid date format"}]}"#,
        );
        assert!(invalid.message.contains("Invalid date format"), "{invalid}");
    }

    #[test]
    fn the_cursor_only_moves_forward_in_time() {
        let winter = "2021-03-14T01:59:00-06:00";
        let summer = "2021-03-14T03:01:00-05:00";
        assert_eq!(later(Some(winter), summer).as_deref(), Some(summer));
        assert_eq!(later(Some(summer), winter), None);
        assert_eq!(later(None, winter).as_deref(), Some(winter));
        assert_eq!(later(Some(winter), "garbage"), None);
    }
}
