//! The REST API server.

use poem::{Server, listener::TcpAcceptor};
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

/// A bound, not yet serving API listener, so callers learn the port before serving.
pub struct ApiListener {
    listener: tokio::net::TcpListener,
}

impl ApiListener {
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            listener: tokio::net::TcpListener::bind(addr).await?,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` is cancelled, then lets open requests finish (up to 10 s).
    pub async fn serve(self, state: api::AppState, stop: CancellationToken) -> std::io::Result<()> {
        let acceptor = TcpAcceptor::from_tokio(self.listener)?;
        // The activity log's retention pass lives as long as the server.
        let retention = tokio::spawn(api::retention::run(state.db.clone(), api::retention::EVERY));
        // So does the pass that ends jobs whose workflow run was terminated behind their back.
        let reconcile = tokio::spawn(api::reconcile::run(
            state.db.clone(),
            state.temporal.client.clone(),
            api::reconcile::EVERY,
        ));
        // And the sender of job-outcome emails (with no SMTP server, it keeps the outbox tidy).
        let notifications = tokio::spawn(api::notifications::run(
            state.db.clone(),
            state.auth.mail(),
            api::notifications::EVERY,
        ));
        let served = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                api::app(state),
                async move { stop.cancelled().await },
                Some(std::time::Duration::from_secs(10)),
            )
            .await;
        retention.abort();
        reconcile.abort();
        notifications.abort();
        served
    }
}
