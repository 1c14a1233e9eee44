//! Connecting to a Temporal frontend: the dev server locally, a cluster or Temporal Cloud in
//! production (TLS with an optional client certificate, or an API key).

use crate::TemporalError;
use std::time::{Duration, Instant};
use temporalio_client::{
    Client, ClientOptions, ConnectionOptions, TlsOptions, Url,
    grpc::OperatorService,
    tonic::{Code, IntoRequest},
};
use temporalio_common::protos::temporal::api::{
    enums::v1::IndexedValueType, operatorservice::v1::AddSearchAttributesRequest,
};

/// Paths of PEM files for TLS.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub ca_cert: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

/// Where Temporal is and how to authenticate to it.
#[derive(Clone)]
pub struct TemporalSettings {
    /// `host:port` or a URL (`http://` or `https://`).
    pub address: String,
    pub namespace: String,
    pub api_key: Option<String>,
    pub tls: Option<TlsFiles>,
}

impl std::fmt::Debug for TemporalSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporalSettings")
            .field("address", &self.address)
            .field("namespace", &self.namespace)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .finish()
    }
}

impl TemporalSettings {
    pub fn local(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            namespace: "default".into(),
            api_key: None,
            tls: None,
        }
    }

    /// The address as a URL: `https` when TLS or an API key is configured.
    pub fn url(&self) -> Result<Url, TemporalError> {
        let text = if self.address.contains("://") {
            self.address.clone()
        } else if self.tls.is_some() || self.api_key.is_some() {
            format!("https://{}", self.address)
        } else {
            format!("http://{}", self.address)
        };
        Url::parse(&text).map_err(|_| TemporalError::InvalidAddress(self.address.clone()))
    }

    fn tls_options(&self) -> Result<Option<TlsOptions>, TemporalError> {
        let Some(files) = &self.tls else {
            return Ok(None);
        };
        let read =
            |what: &'static str, path: &Option<String>| -> Result<Option<Vec<u8>>, TemporalError> {
                path.as_ref()
                    .map(|p| {
                        std::fs::read(p).map_err(|source| TemporalError::ReadFile {
                            what,
                            path: p.clone(),
                            source,
                        })
                    })
                    .transpose()
            };
        let client = match (
            read("client certificate", &files.client_cert)?,
            read("client key", &files.client_key)?,
        ) {
            (Some(client_cert), Some(client_private_key)) => Some(
                temporalio_client::ClientTlsOptions::builder()
                    .client_cert(client_cert)
                    .client_private_key(client_private_key)
                    .build(),
            ),
            _ => None,
        };
        Ok(Some(
            TlsOptions::builder()
                .maybe_server_root_ca_cert(read("CA certificate", &files.ca_cert)?)
                .maybe_client_tls_options(client)
                .build(),
        ))
    }
}

/// Connects once.
pub async fn connect(settings: &TemporalSettings) -> Result<Client, TemporalError> {
    let url = settings.url()?;
    let conn = ConnectionOptions::new(url)
        .identity(format!("listbackup@{}", std::process::id()))
        .maybe_tls_options(settings.tls_options()?)
        .maybe_api_key(settings.api_key.clone())
        .build();
    Client::connect(conn, ClientOptions::new(settings.namespace.clone()).build())
        .await
        .map_err(|e| TemporalError::Connect {
            address: settings.address.clone(),
            message: e.to_string(),
        })
}

/// A client for a process that serves the API without a Temporal frontend — tests of resources
/// that never start a workflow. Nothing goes over the network: every call fails at once with
/// `unavailable` (health reports Temporal as down; starting a job answers 503).
pub async fn unreachable_client(namespace: &str) -> Result<Client, TemporalError> {
    use temporalio_client::{
        RetryOptions,
        callback_based::{CallbackBasedGrpcService, GrpcRequest, GrpcSuccessResponse},
        tonic::{Status, codegen::http::HeaderMap},
    };
    type Answer =
        std::pin::Pin<Box<dyn Future<Output = Result<GrpcSuccessResponse, Status>> + Send>>;
    let service = CallbackBasedGrpcService {
        callback: std::sync::Arc::new(|req: GrpcRequest| -> Answer {
            Box::pin(async move {
                if req.rpc == "GetSystemInfo" {
                    // An empty message: a server without optional capabilities.
                    return Ok(GrpcSuccessResponse {
                        headers: HeaderMap::new(),
                        proto: Vec::new(),
                    });
                }
                Err(Status::unavailable("no Temporal frontend is configured"))
            })
        }),
    };
    let url = Url::parse("http://temporal.invalid:7233")
        .map_err(|_| TemporalError::InvalidAddress("temporal.invalid:7233".into()))?;
    let conn = ConnectionOptions::new(url)
        .service_override(service)
        .dns_load_balancing(None)
        .retry_options(RetryOptions::no_retries())
        .build();
    Client::connect(conn, ClientOptions::new(namespace.to_owned()).build())
        .await
        .map_err(|e| TemporalError::Connect {
            address: "(none)".into(),
            message: e.to_string(),
        })
}

/// Connects, retrying until `patience` runs out (a frontend that is still starting up).
pub async fn connect_with_retry(
    settings: &TemporalSettings,
    patience: Duration,
) -> Result<Client, TemporalError> {
    let deadline = Instant::now() + patience;
    loop {
        match connect(settings).await {
            Ok(client) => return Ok(client),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "Temporal not reachable yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Registers ListBackup's search attributes on the namespace; already registered ones are fine.
pub async fn ensure_search_attributes(
    client: &Client,
    namespace: &str,
) -> Result<(), TemporalError> {
    let request = AddSearchAttributesRequest {
        namespace: namespace.to_owned(),
        search_attributes: workflows::search::ALL
            .iter()
            .map(|name| ((*name).to_owned(), IndexedValueType::Keyword as i32))
            .collect(),
    };
    match OperatorService::add_search_attributes(&mut client.clone(), request.into_request()).await
    {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::AlreadyExists => Ok(()),
        Err(status) => Err(TemporalError::Rpc {
            operation: "add_search_attributes",
            message: status.message().to_owned(),
        }),
    }
}
