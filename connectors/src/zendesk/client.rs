//! Zendesk requests: auth, the two request budgets, list pagination and error classification.

use super::{
    comments,
    config::{Credentials, ZendeskConfig},
    export, models,
    streams::{self, Plan},
};
use crate::{
    Connector, ConnectorError, ErrorKind, Page, PageRequest, PlatformInfo, Record,
    http::{HttpClient, classify_status},
};
use reqwest::{StatusCode, header::HeaderMap};
use serde_json::value::RawValue;

pub(super) const PLATFORM: &str = "zendesk";

pub struct ZendeskConnector {
    pub(super) config: ZendeskConfig,
    http: HttpClient,
    /// `http` also paced to the incremental exports' own, much smaller budget: the account's
    /// budget applies to them as well.
    export_http: HttpClient,
}

impl std::fmt::Debug for ZendeskConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZendeskConnector")
            .field("config", &self.config)
            .field("http", &self.http)
            .finish()
    }
}

impl ZendeskConnector {
    pub fn new(config: ZendeskConfig, http: HttpClient) -> Self {
        let export_http = http.paced("export", config.export_rate_limit);
        Self {
            config,
            http,
            export_http,
        }
    }

    /// `GET {base_url}{path}` and the page's fields, records still raw.
    pub(super) async fn get(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<models::Body, ConnectorError> {
        self.get_with(&self.http, path, query).await
    }

    /// Like [`get`](Self::get), paced to the export budget as well.
    pub(super) async fn get_export(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<models::Body, ConnectorError> {
        self.get_with(&self.export_http, path, query).await
    }

    async fn get_with(
        &self,
        http: &HttpClient,
        path: &str,
        query: &[(String, String)],
    ) -> Result<models::Body, ConnectorError> {
        let url = format!("{}{path}", self.config.base_url);
        let bytes = http
            .send_bytes(
                PLATFORM,
                |c| {
                    let request = c.get(&url).query(query);
                    match &self.config.credentials {
                        Credentials::ApiToken { email, api_token } => {
                            request.basic_auth(format!("{email}/token"), Some(api_token))
                        }
                        Credentials::OAuth { access_token } => request.bearer_auth(access_token),
                    }
                },
                classify,
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ConnectorError::new(
                PLATFORM,
                ErrorKind::Decode,
                format!("{path} is not a Zendesk page: {e}"),
            )
        })
    }

    /// One cursor-paginated page of `path`: its records (under `key`) and the cursor of the
    /// next page, `None` at the end.
    pub(super) async fn list_page(
        &self,
        path: &str,
        key: &str,
        after: Option<&str>,
    ) -> Result<(Vec<Record>, Option<String>), ConnectorError> {
        let mut query = vec![("page[size]".to_owned(), self.config.page_size.to_string())];
        if let Some(after) = after {
            query.push(("page[after]".into(), after.to_owned()));
        }
        let mut body = self.get(path, &query).await?;
        let records = take_records(&mut body, key)?;
        let meta: models::CursorMeta = field(&body, "meta")?;
        let next = match (meta.has_more, meta.after_cursor, records.is_empty()) {
            // has_more with an empty page would loop forever: treat it as the end.
            (true, Some(cursor), false) => Some(cursor),
            _ => None,
        };
        Ok((records, next))
    }
}

/// The records under `key`, each with its id.
pub(super) fn take_records(
    body: &mut models::Body,
    key: &str,
) -> Result<Vec<Record>, ConnectorError> {
    let decode = |m: String| ConnectorError::new(PLATFORM, ErrorKind::Decode, m);
    let raw = body
        .remove(key)
        .ok_or_else(|| decode(format!("page without `{key}`")))?;
    let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get())
        .map_err(|e| decode(format!("`{key}` is not a list: {e}")))?;
    items
        .into_iter()
        .map(|json| {
            let head: models::RecordHead = serde_json::from_str(json.get())
                .map_err(|e| decode(format!("{key} record without id: {e}")))?;
            let id = match head.id {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                other => return Err(decode(format!("{key} record with id {other}"))),
            };
            Ok(Record::new(id, json))
        })
        .collect()
}

/// A pagination field of a page, parsed.
pub(super) fn field<T: serde::de::DeserializeOwned>(
    body: &models::Body,
    key: &str,
) -> Result<T, ConnectorError> {
    let raw = body.get(key).map_or("null", |raw| raw.get());
    serde_json::from_str(raw).map_err(|e| {
        ConnectorError::new(
            PLATFORM,
            ErrorKind::Decode,
            format!("page field `{key}`: {e}"),
        )
    })
}

/// The HTTP status decides the kind; the body only adds the message (it never holds secrets).
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> ConnectorError {
    let message = serde_json::from_str::<models::ErrorResponse>(body)
        .map(|e| e.message())
        .unwrap_or_else(|_| body.chars().take(200).collect());
    classify_status(PLATFORM, status, message)
}

#[async_trait::async_trait]
impl Connector for ZendeskConnector {
    fn info(&self) -> &'static PlatformInfo {
        &streams::INFO
    }

    /// One small ticket page. Not `/users/me`: Zendesk answers it with an anonymous user
    /// instead of a 401 when the credentials are wrong.
    async fn check(&self) -> Result<(), ConnectorError> {
        let query = [("page[size]".to_owned(), "1".to_owned())];
        self.get("/api/v2/tickets.json", &query).await.map(|_| ())
    }

    async fn read_page(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        let plan = streams::plan(&request.stream).ok_or_else(|| {
            ConnectorError::new(
                PLATFORM,
                ErrorKind::Config,
                format!("unknown stream `{}`", request.stream),
            )
        })?;
        match plan {
            Plan::Export(resource) => export::read_page(self, resource, request).await,
            Plan::List(resource) => {
                let path = format!("/api/v2/{resource}.json");
                let (records, next_page_token) = self
                    .list_page(&path, resource, request.page_token.as_deref())
                    .await?;
                Ok(Page {
                    records,
                    next_page_token,
                    cursor: None,
                })
            }
            Plan::TicketComments => comments::read_page(self, request).await,
        }
    }
}
