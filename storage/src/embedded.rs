//! The embedded S3 endpoint: a folder served over the S3 protocol, for `listbackup dev` and tests.
//!
//! It is the `s3s` server with SigV4 checked against one access key, over a folder of our own
//! ([`folder`]), so everything above it — aws-sdk-s3, signing, path-style addressing — runs
//! exactly as against a real store; there is no in-process shortcut. Objects live in
//! `root/{bucket}/{key}`, their metadata in `root/.meta/{bucket}/{key}.json`; keys may be as long
//! as S3 allows (1024 bytes).
//!
//! [`EmbeddedS3::start_recording`] also logs the key of every successful PutObject and UploadPart,
//! for tests that assert which objects a job wrote (e.g. that a retry re-uploaded nothing twice),
//! and can hold the answers to chosen writes ([`PutGate`]) for tests that crash a writer mid-upload.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::StorageError;

mod backend;
mod checksums;
mod folder;
mod gate;
mod listing;
mod multipart;
mod recording;

use folder::Folder;
pub use gate::PutGate;
use recording::Recording;

/// How long shutdown waits for open connections (idle keep-alive ones included) to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A running endpoint. Dropping it stops accepting connections; [`shutdown`](Self::shutdown)
/// also waits for the server task to finish.
pub struct EmbeddedS3 {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Keys of successful PutObject / UploadPart requests, in arrival order.
///
/// Entries are object keys *without* the bucket (`accounts/.../part-00001.jsonl.zst.age`), as
/// tests compare them with [`crate::layout`] keys; a multipart upload logs its key once per part.
#[derive(Clone, Default, Debug)]
pub struct PutLog {
    keys: Arc<Mutex<Vec<String>>>,
    gate: PutGate,
}

impl PutLog {
    pub fn keys(&self) -> Vec<String> {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The gate every stored PutObject / UploadPart passes before it is answered (open unless
    /// told to hold).
    pub fn gate(&self) -> &PutGate {
        &self.gate
    }

    fn record(&self, key: String) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key);
    }
}

impl EmbeddedS3 {
    /// Serves `root` (created if missing) on `addr` (port 0 allowed) with SigV4 checked against
    /// the given credentials.
    pub async fn start(
        root: &Path,
        addr: SocketAddr,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Result<Self, StorageError> {
        Self::serve(root, addr, access_key_id, secret_access_key, None).await
    }

    /// Like [`start`](Self::start), and records every successful put in the returned [`PutLog`].
    pub async fn start_recording(
        root: &Path,
        addr: SocketAddr,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Result<(Self, PutLog), StorageError> {
        let log = PutLog::default();
        let server =
            Self::start_recording_into(root, addr, access_key_id, secret_access_key, &log).await?;
        Ok((server, log))
    }

    /// Like [`start_recording`](Self::start_recording), adding to an existing `log`: serving a
    /// stopped endpoint's folder again on its address (as a store back from an outage) keeps
    /// one log of everything written.
    pub async fn start_recording_into(
        root: &Path,
        addr: SocketAddr,
        access_key_id: &str,
        secret_access_key: &str,
        log: &PutLog,
    ) -> Result<Self, StorageError> {
        Self::serve(
            root,
            addr,
            access_key_id,
            secret_access_key,
            Some(log.clone()),
        )
        .await
    }

    async fn serve(
        root: &Path,
        addr: SocketAddr,
        access_key_id: &str,
        secret_access_key: &str,
        log: Option<PutLog>,
    ) -> Result<Self, StorageError> {
        tokio::fs::create_dir_all(root).await?;
        let folder = Folder::open(root)
            .await
            .map_err(|e| StorageError::Embedded(format!("cannot serve {}: {e}", root.display())))?;
        let mut builder = S3ServiceBuilder::new(Recording::new(folder, log));
        builder.set_auth(SimpleAuth::from_single(access_key_id, secret_access_key));
        let service = builder.build();

        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| StorageError::Embedded(format!("bind {addr}: {e}")))?;
        let addr = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, service, shutdown_rx));
        tracing::info!(%addr, root = %root.display(), "embedded s3 endpoint listening");
        Ok(Self {
            addr,
            shutdown: Some(shutdown_tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port`, for [`crate::object_store::S3Config::endpoint`].
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (bounded), and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::warn!(error = %e, "embedded s3 server task failed");
        }
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        // Without this a forgotten endpoint would keep its port until the runtime ends.
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    service: S3Service,
    mut shutdown: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let conn_builder = ConnBuilder::new(TokioExecutor::new());
    // Owning the connection tasks lets shutdown end the ones that outlive the drain timeout.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    // Answers are written as headers, then body: with Nagle's algorithm a small
                    // body (a ranged GET's) would wait for the peer's delayed ACK of the headers.
                    if let Err(e) = socket.set_nodelay(true) {
                        tracing::debug!(%peer, error = %e, "embedded s3: TCP_NODELAY not set");
                    }
                    let conn = conn_builder
                        .serve_connection(TokioIo::new(socket), service.clone())
                        .into_owned();
                    let conn = graceful.watch(conn);
                    connections.spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, error = %e, "embedded s3 connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "embedded s3 accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            // Reap finished connections so the set does not grow with every request.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            // Fires on an explicit shutdown and when the handle is dropped (sender gone).
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!(
            "embedded s3: connections still open after the drain timeout; aborting them"
        );
    }
    connections.shutdown().await;
}

#[cfg(test)]
mod tests;
