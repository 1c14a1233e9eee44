//! Mailchimp requests: auth, offset pagination of the full streams, error classification.

use super::config::{Credential, MailchimpConfig};
use super::{members, models, streams};
use crate::{
    Connector, ConnectorError, ErrorKind, Page, PageRequest, PlatformInfo, Record,
    http::{HttpClient, classify_status},
};
use reqwest::{StatusCode, header::HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::{Value, value::RawValue};

pub(super) const PLATFORM: &str = "mailchimp";

pub struct MailchimpConnector {
    config: MailchimpConfig,
    http: HttpClient,
}

/// One collection page: its raw records and the collection's size.
pub(super) struct CollectionPage {
    pub(super) records: Vec<Box<RawValue>>,
    pub(super) total_items: u64,
}

pub(super) fn decode_error(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::new(PLATFORM, ErrorKind::Decode, format!("{what}: {e}"))
}

impl MailchimpConnector {
    pub fn new(config: MailchimpConfig, http: HttpClient) -> Self {
        Self { config, http }
    }

    pub(super) fn page_size(&self) -> u32 {
        self.config.page_size
    }

    /// `GET {base}{path}` with `query`, parsed as `T`.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        let url = format!("{}{path}", self.config.base_url);
        let bytes = self
            .http
            .send_bytes(
                PLATFORM,
                |c| {
                    let request = c.get(&url).query(query);
                    match &self.config.credential {
                        // Mailchimp ignores the user name; the key is the password.
                        Credential::ApiKey(key) => request.basic_auth("listbackup", Some(key)),
                        Credential::OAuth(token) => request.bearer_auth(token),
                    }
                },
                classify,
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| decode_error(path, e))
    }

    /// One page of the collection at `path`, whose records sit under `field`.
    pub(super) async fn collection(
        &self,
        path: &str,
        field: &str,
        query: &[(&str, String)],
    ) -> Result<CollectionPage, ConnectorError> {
        let mut body: models::Collection = self.get(path, query).await?;
        let total_items = body
            .get("total_items")
            .and_then(|raw| serde_json::from_str::<u64>(raw.get()).ok())
            .ok_or_else(|| decode_error(path, "no `total_items`"))?;
        let records = match body.remove(field) {
            Some(raw) => serde_json::from_str(raw.get())
                .map_err(|e| decode_error(path, format!("`{field}` is not an array: {e}")))?,
            None => return Err(decode_error(path, format!("no `{field}`"))),
        };
        Ok(CollectionPage {
            records,
            total_items,
        })
    }

    /// A page of a stream read in full: offset paging in the stream's stable order.
    async fn read_full(&self, stream: &str, token: Option<&str>) -> Result<Page, ConnectorError> {
        let offset = match token {
            None => 0,
            Some(t) => t.parse::<u64>().map_err(|_| {
                ConnectorError::new(
                    PLATFORM,
                    ErrorKind::InvalidRequest,
                    format!("bad page token `{t}`"),
                )
            })?,
        };
        let mut query = vec![
            ("count", self.config.page_size.to_string()),
            ("offset", offset.to_string()),
        ];
        query.extend(
            streams::stable_order(stream)
                .iter()
                .map(|(k, v)| (*k, (*v).to_owned())),
        );
        let page = self
            .collection(&format!("/{stream}"), stream, &query)
            .await?;
        let records = page
            .records
            .into_iter()
            .map(|json| Ok(Record::new(head(stream, &json)?.0, json)))
            .collect::<Result<Vec<_>, ConnectorError>>()?;
        let next = offset + records.len() as u64;
        // An empty page before `total_items` would loop forever: treat it as the end.
        let next_page_token =
            (!records.is_empty() && next < page.total_items).then(|| next.to_string());
        Ok(Page {
            records,
            next_page_token,
            cursor: None,
        })
    }
}

/// A record's id (strings as they are, template ids as numbers) and its `last_changed`.
pub(super) fn head(
    stream: &str,
    json: &RawValue,
) -> Result<(String, Option<String>), ConnectorError> {
    let head: models::ObjectHead = serde_json::from_str(json.get())
        .map_err(|e| decode_error(stream, format!("object without id: {e}")))?;
    let id = match head.id {
        Value::String(s) => s,
        other => other.to_string(),
    };
    Ok((id, head.last_changed))
}

/// Mailchimp errors are problem documents. Heavy throttling sometimes arrives as a 403 whose
/// body says so; only then is a 403 a rate limit, otherwise it is a permission problem.
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> ConnectorError {
    let problem = serde_json::from_str::<models::Problem>(body).unwrap_or_default();
    let message = if problem.title.is_empty() && problem.detail.is_empty() {
        body.chars().take(200).collect()
    } else {
        format!("{}: {}", problem.title, problem.detail)
    };
    let throttled = {
        let text = message.to_ascii_lowercase();
        [
            "throttl",
            "too many requests",
            "rate limit",
            "simultaneous connections",
        ]
        .iter()
        .any(|needle| text.contains(needle))
    };
    if status == StatusCode::FORBIDDEN && throttled {
        let mut err = classify_status(PLATFORM, StatusCode::TOO_MANY_REQUESTS, message);
        err.kind = ErrorKind::RateLimited;
        return err;
    }
    classify_status(PLATFORM, status, message)
}

#[async_trait::async_trait]
impl Connector for MailchimpConnector {
    fn info(&self) -> &'static PlatformInfo {
        &streams::INFO
    }

    /// The API root: one small request that any valid key may make.
    async fn check(&self) -> Result<(), ConnectorError> {
        self.get::<serde_json::Map<String, Value>>("/", &[])
            .await
            .map(|_| ())
    }

    async fn read_page(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        let stream = request.stream.as_str();
        match stream {
            "members" => members::read_page(self, request).await,
            _ if streams::INFO.stream(stream).is_some() => {
                self.read_full(stream, request.page_token.as_deref()).await
            }
            _ => Err(ConnectorError::new(
                PLATFORM,
                ErrorKind::Config,
                format!("unknown stream `{stream}`"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_403_is_a_rate_limit_only_when_the_body_says_so() {
        let throttled = r#"{"title":"Forbidden","status":403,"detail":"You have been throttled: too many requests."}"#;
        let forbidden = r#"{"title":"Forbidden","status":403,"detail":"You don't have permission to access this resource."}"#;
        let headers = HeaderMap::new();
        let err = classify(StatusCode::FORBIDDEN, &headers, throttled);
        assert_eq!(err.kind, ErrorKind::RateLimited);
        assert!(err.is_temporary());
        assert_eq!(
            classify(StatusCode::FORBIDDEN, &headers, forbidden).kind,
            ErrorKind::Forbidden
        );
        let revoked =
            r#"{"title":"API Key Invalid","status":401,"detail":"Your API key may be invalid."}"#;
        let err = classify(StatusCode::UNAUTHORIZED, &headers, revoked);
        assert_eq!(err.kind, ErrorKind::Unauthorized);
        assert!(err.message.contains("API Key Invalid"));
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &headers, "").kind,
            ErrorKind::RateLimited
        );
    }
}
