//! Stripe requests: auth, pagination and error classification.

use super::{config::StripeConfig, models, streams};
use crate::{
    Connector, ConnectorError, ErrorKind, Page, PageRequest, PlatformInfo, Record,
    http::{HttpClient, classify_status},
};
use reqwest::{StatusCode, header::HeaderMap};
use serde_json::Value;

const PLATFORM: &str = "stripe";

pub struct StripeConnector {
    config: StripeConfig,
    http: HttpClient,
}

impl StripeConnector {
    pub fn new(config: StripeConfig, http: HttpClient) -> Self {
        Self { config, http }
    }

    async fn list(
        &self,
        stream: &str,
        query: Vec<(String, String)>,
    ) -> Result<models::ListResponse, ConnectorError> {
        let url = format!("{}/v1/{stream}", self.config.base_url);
        let bytes = self
            .http
            .send_bytes(
                PLATFORM,
                |c| c.get(&url).bearer_auth(&self.config.api_key).query(&query),
                classify,
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ConnectorError::new(
                PLATFORM,
                ErrorKind::Decode,
                format!("{stream} page is not a Stripe list: {e}"),
            )
        })
    }
}

/// Stripe errors are `{"error": {"type": …, "message": …}}`; the HTTP status decides the kind.
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> ConnectorError {
    let message = serde_json::from_str::<models::ErrorResponse>(body)
        .map(|e| format!("{} ({})", e.error.message, e.error.kind))
        .unwrap_or_else(|_| body.chars().take(200).collect());
    classify_status(PLATFORM, status, message)
}

#[async_trait::async_trait]
impl Connector for StripeConnector {
    fn info(&self) -> &'static PlatformInfo {
        &streams::INFO
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.list("customers", vec![("limit".into(), "1".into())])
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
        let mut query = vec![("limit".to_owned(), self.config.page_size.to_string())];
        query.extend(
            streams::extra_params(stream)
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        // Streams read in full ignore a saved cursor: their objects change after creation.
        let since = request
            .since
            .as_ref()
            .and_then(Value::as_i64)
            .filter(|_| info.incremental);
        if let Some(since) = since {
            query.push(("created[gte]".into(), since.to_string()));
        }
        if let Some(after) = &request.page_token {
            query.push(("starting_after".into(), after.clone()));
        }
        let list = self.list(stream, query).await?;

        let mut cursor = request.cursor.as_ref().and_then(Value::as_i64);
        let mut oldest = None;
        let mut records = Vec::with_capacity(list.data.len());
        for json in list.data {
            let head: models::ObjectHead = serde_json::from_str(json.get()).map_err(|e| {
                ConnectorError::new(
                    PLATFORM,
                    ErrorKind::Decode,
                    format!("{stream} object without id: {e}"),
                )
            })?;
            if let Some(created) = head.created {
                cursor = Some(cursor.map_or(created, |c| c.max(created)));
                oldest = Some(oldest.map_or(created, |o: i64| o.min(created)));
            }
            records.push(Record::new(head.id, json));
        }
        let next_page_token = match (list.has_more, records.last()) {
            (true, Some(last)) => Some(last.id.clone()),
            // has_more with an empty page would loop forever: treat it as the end.
            _ => None,
        };
        if stream == "events"
            && next_page_token.is_none()
            && let Some(since) = since
            && let Some(gap) = streams::expired_events(since, oldest, request.page_token.is_none())
        {
            tracing::warn!(
                platform = PLATFORM,
                stream,
                since,
                oldest_listed = gap.oldest_listed,
                "Stripe keeps events for 30 days and no longer lists some created since the last \
                 sync: they are missing from this backup; sync at least every 30 days to keep \
                 the event log whole"
            );
        }
        Ok(Page {
            records,
            next_page_token,
            cursor: cursor.filter(|_| info.incremental).map(Value::from),
        })
    }
}
