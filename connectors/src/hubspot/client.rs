//! HubSpot requests: auth, list pagination, search pacing and error classification.

use super::{config::HubSpotConfig, models, properties, streams};
use crate::{
    Connector, ConnectorError, ErrorKind, Page, PageRequest, PlatformInfo, Record,
    http::{HttpClient, classify_status},
};
use reqwest::{StatusCode, header::HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

pub(super) const PLATFORM: &str = "hubspot";

pub struct HubSpotConnector {
    pub(super) config: HubSpotConfig,
    /// Paced to the general budget; every request goes through it.
    http: HttpClient,
    /// `http` also paced to the search budget, which is lower than the general one.
    search_http: HttpClient,
    /// Every property name per object type, read once.
    pub(super) properties: Mutex<HashMap<String, Arc<Vec<String>>>>,
}

impl HubSpotConnector {
    /// `http` should already be paced to `config.rate_limit` (the registry does that).
    pub fn new(config: HubSpotConfig, http: HttpClient) -> Self {
        let search_http = http.paced("search", config.search_rate_limit);
        Self {
            config,
            http,
            search_http,
            properties: Mutex::default(),
        }
    }

    /// `GET {base}/crm/v3/{path}` with `query`.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        let url = format!("{}/crm/v3/{path}", self.config.base_url);
        let token = &self.config.access_token;
        let bytes = self
            .http
            .send_bytes(
                PLATFORM,
                |c| c.get(&url).bearer_auth(token).query(query),
                classify,
            )
            .await?;
        decode(&bytes, path)
    }

    /// `POST {base}/crm/v3/objects/{object}/search` with `body`, paced to the search budget.
    pub(super) async fn search(
        &self,
        object: &str,
        body: &Value,
    ) -> Result<models::ListResponse, ConnectorError> {
        let url = format!("{}/crm/v3/objects/{object}/search", self.config.base_url);
        let token = &self.config.access_token;
        let bytes = self
            .search_http
            .send_bytes(
                PLATFORM,
                |c| c.post(&url).bearer_auth(token).json(body),
                classify,
            )
            .await?;
        decode(&bytes, object)
    }

    async fn read_list(&self, stream: &str, request: &PageRequest) -> Result<Page, ConnectorError> {
        if stream == "pipelines" {
            return self.read_pipelines().await;
        }
        let path = if stream == "owners" {
            "owners".to_owned()
        } else {
            format!("objects/{stream}")
        };
        let mut query = vec![("limit", self.config.page_size.to_string())];
        if let Some(after) = &request.page_token {
            query.push(("after", after.clone()));
        }
        let mut list: models::ListResponse = if streams::is_object(stream) {
            self.list_with_properties(stream, &path, query).await?
        } else {
            self.get(&path, &query).await?
        };
        let results = std::mem::take(&mut list.results);
        let next_page_token = list.next_after();
        let mut cursor = request.cursor.as_ref().and_then(Value::as_i64);
        let records = records(stream, results, &mut cursor)?;
        Ok(Page {
            // A next page after an empty one would loop forever: treat it as the end.
            next_page_token: next_page_token.filter(|_| !records.is_empty()),
            records,
            cursor: if streams::is_object(stream) {
                cursor.map(Value::from)
            } else {
                None
            },
        })
    }

    /// One list page of a CRM object with every property, in as many requests as the
    /// property names need (see [`properties`]).
    async fn list_with_properties(
        &self,
        stream: &str,
        path: &str,
        query: Vec<(&str, String)>,
    ) -> Result<models::ListResponse, ConnectorError> {
        let names = self.property_names(stream).await?;
        let mut chunks = properties::chunks(&names, properties::URL_BUDGET).into_iter();
        let with = |chunk: String| {
            let mut query = query.clone();
            query.push(("properties", chunk));
            query
        };
        let first = chunks.next().unwrap_or_default();
        let mut page: models::ListResponse = self.get(path, &with(first)).await?;
        for chunk in chunks {
            let more: models::ListResponse = self.get(path, &with(chunk)).await?;
            page.results = properties::merge(std::mem::take(&mut page.results), &more.results)?;
        }
        Ok(page)
    }

    /// Deal and ticket pipelines: two small unpaged lists, returned as one page.
    async fn read_pipelines(&self) -> Result<Page, ConnectorError> {
        let mut all = Vec::new();
        for object in streams::PIPELINE_OBJECTS {
            let list: models::ListResponse = self.get(&format!("pipelines/{object}"), &[]).await?;
            all.extend(records("pipelines", list.results, &mut None)?);
        }
        Ok(Page {
            records: all,
            next_page_token: None,
            cursor: None,
        })
    }
}

/// Turns raw results into records, raising `cursor` to the newest last-modified time seen.
pub(super) fn records(
    stream: &str,
    results: Vec<Box<serde_json::value::RawValue>>,
    cursor: &mut Option<i64>,
) -> Result<Vec<Record>, ConnectorError> {
    let property = streams::modified_property(stream);
    results
        .into_iter()
        .map(|json| {
            let head: models::RecordHead = serde_json::from_str(json.get()).map_err(|e| {
                ConnectorError::new(PLATFORM, ErrorKind::Decode, format!("{stream} record: {e}"))
            })?;
            let id = head.id().ok_or_else(|| {
                ConnectorError::new(
                    PLATFORM,
                    ErrorKind::Decode,
                    format!("{stream} record without id"),
                )
            })?;
            if let Some(modified) = head
                .modified_ms(property)
                .filter(|_| streams::is_object(stream))
            {
                *cursor = Some(cursor.map_or(modified, |c| c.max(modified)));
            }
            Ok(Record::new(id, json))
        })
        .collect()
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ConnectorError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ConnectorError::new(
            PLATFORM,
            ErrorKind::Decode,
            format!("{what} answer is not what HubSpot documents: {e}"),
        )
    })
}

/// HubSpot errors are `{"status": "error", "message", "category", …}`. The status decides
/// the kind, except that a `RATE_LIMITS` category is throttling whatever the status.
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> ConnectorError {
    let parsed = serde_json::from_str::<models::ErrorResponse>(body).ok();
    let message = match &parsed {
        Some(e) => format!("{} ({})", e.message, e.category),
        None => body.chars().take(200).collect(),
    };
    let mut err = classify_status(PLATFORM, status, message);
    if parsed.is_some_and(|e| e.category == "RATE_LIMITS") {
        err.kind = ErrorKind::RateLimited;
    }
    err
}

#[async_trait::async_trait]
impl Connector for HubSpotConnector {
    fn info(&self) -> &'static PlatformInfo {
        &streams::INFO
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.get::<models::ListResponse>("objects/contacts", &[("limit", "1".to_owned())])
            .await
            .map(|_| ())
    }

    async fn read_page(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        let stream = request.stream.as_str();
        let Some(info) = streams::INFO.stream(stream) else {
            return Err(ConnectorError::new(
                PLATFORM,
                ErrorKind::Config,
                format!("unknown stream `{stream}`"),
            ));
        };
        match request.since.as_ref() {
            Some(since) if info.incremental => {
                let since = since.as_i64().ok_or_else(|| {
                    ConnectorError::new(
                        PLATFORM,
                        ErrorKind::Config,
                        format!("{stream}: saved cursor {since} is not epoch milliseconds"),
                    )
                })?;
                self.read_changes(stream, since, request).await
            }
            _ => self.read_list(stream, request).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_status_and_category() {
        let headers = HeaderMap::new();
        let body = r#"{"status":"error","message":"nope","category":"INVALID_AUTHENTICATION"}"#;
        let err = classify(StatusCode::UNAUTHORIZED, &headers, body);
        assert_eq!(err.kind, ErrorKind::Unauthorized);
        assert!(!err.is_temporary());
        let limited = r#"{"status":"error","message":"slow down","category":"RATE_LIMITS"}"#;
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &headers, limited).kind,
            ErrorKind::RateLimited
        );
        assert_eq!(
            classify(StatusCode::FORBIDDEN, &headers, limited).kind,
            ErrorKind::RateLimited
        );
        assert_eq!(
            classify(StatusCode::BAD_GATEWAY, &headers, "<html>").kind,
            ErrorKind::Unavailable
        );
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, &headers, "{}").kind,
            ErrorKind::InvalidRequest
        );
    }
}
