//! The HTTP server: one poem app holding every platform fake plus the control endpoints.
//!
//! Each platform's routes sit behind the same gate, which injects faults and
//! counts answers, so fault and stats behaviour is identical on every platform;
//! only the error bodies differ, and each platform renders those itself.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use poem::listener::TcpAcceptor;
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route, Server};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::faults::Fault;
use crate::{
    Sandbox, activecampaign, control, dropbox, gohighlevel, googledrive, hubspot, keap, mailchimp,
    slack, stripe, zendesk,
};

/// How long in-flight requests (e.g. ones held by `delay_ms`) get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A sandbox serving HTTP. Dropping it stops the server too; [`shutdown`](Self::shutdown)
/// additionally waits until it has stopped.
#[derive(Debug)]
pub struct RunningSandbox {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningSandbox {
    /// The bound address (the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port`, with a wildcard bind address replaced by loopback so clients can use it.
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.signal_stop();
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(%err, "sandbox server stopped with an error"),
                Err(err) => tracing::warn!(%err, "sandbox server task failed"),
            }
        }
    }

    fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may have stopped on its own already; nothing to do then.
            let _ = stop.send(());
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// `http://host:port` for a bound address, loopback for a wildcard one.
fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Binds `addr` and serves `sandbox` in a background task.
pub(crate) async fn serve(sandbox: Sandbox, addr: SocketAddr) -> io::Result<RunningSandbox> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    // Slack names file URLs absolutely: they point at the address the sandbox serves on.
    sandbox.slack().serving_at(&base_url(addr));
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let app = app(sandbox);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                async {
                    // A dropped sender means the handle is gone: stop as well.
                    let _ = stopped.await;
                },
                Some(SHUTDOWN_GRACE),
            )
            .await
    });
    tracing::info!(%addr, "sandbox listening");
    Ok(RunningSandbox {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

fn app(sandbox: Sandbox) -> impl Endpoint<Output = Response> {
    let stripe_routes = stripe::api::routes(sandbox.stripe_arc());
    let mailchimp_routes = mailchimp::api::routes(sandbox.mailchimp_arc());
    let activecampaign_routes = activecampaign::api::routes(sandbox.activecampaign_arc());
    let zendesk_routes = zendesk::api::routes(sandbox.zendesk_arc());
    let hubspot_routes = hubspot::api::routes(sandbox.hubspot_arc());
    let keap_routes = keap::api::routes(sandbox.keap_arc());
    let dropbox_routes = dropbox::api::routes(sandbox.dropbox_arc());
    let gohighlevel_routes =
        gohighlevel::api::routes(sandbox.gohighlevel_arc(), Arc::clone(&sandbox.shared.oauth));
    let googledrive_routes = googledrive::api::routes(sandbox.googledrive_arc());
    let slack_routes = slack::api::routes(sandbox.slack_arc());
    Route::new()
        .nest("/_sandbox", control::routes(sandbox.clone()))
        .nest(
            "/oauth",
            crate::oauth::routes(Arc::clone(&sandbox.shared.oauth)),
        )
        .nest(
            "/3.0",
            platform_gate(
                mailchimp_routes,
                sandbox.clone(),
                mailchimp::api::fault_response,
            ),
        )
        .nest(
            "/api/3",
            platform_gate(
                activecampaign_routes,
                sandbox.clone(),
                activecampaign::api::fault_response,
            ),
        )
        .nest(
            "/api/v2",
            platform_gate(
                zendesk_routes,
                sandbox.clone(),
                zendesk::api::fault_response,
            ),
        )
        .nest(
            "/crm/rest",
            platform_gate(keap_routes, sandbox.clone(), keap::api::fault_response),
        )
        .nest(
            "/gohighlevel",
            platform_gate(
                gohighlevel_routes,
                sandbox.clone(),
                gohighlevel::api::fault_response,
            ),
        )
        .nest(
            "/2",
            platform_gate(
                dropbox_routes,
                sandbox.clone(),
                dropbox::api::fault_response,
            ),
        )
        .nest(
            "/drive/v3",
            platform_gate(
                googledrive_routes,
                sandbox.clone(),
                googledrive::api::fault_response,
            ),
        )
        .nest(
            "/slack",
            platform_gate(slack_routes, sandbox.clone(), slack::api::fault_response),
        )
        .nest(
            "/v1",
            platform_gate(stripe_routes, sandbox.clone(), stripe::api::fault_response),
        )
        .nest(
            "/crm/v3",
            platform_gate(hubspot_routes, sandbox, hubspot::api::fault_response),
        )
        .around(|ep, req| async move {
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            // Paths outside every platform are not platform requests, so they are
            // neither faulted nor counted; Stripe is the default platform, so its
            // 404 shape is the one a lost client sees.
            Ok::<_, poem::Error>(match ep.call(req).await {
                Ok(response) => response.into_response(),
                Err(err) => stripe::api::unrecognized(&err, &method, &path),
            })
        })
}

/// Wraps a platform's routes with fault injection and request counting.
fn platform_gate<E>(
    routes: E,
    sandbox: Sandbox,
    fault_response: fn(Fault) -> Response,
) -> impl Endpoint<Output = Response>
where
    E: Endpoint<Output = Response> + 'static,
{
    routes.around(move |ep, req| {
        let sandbox = sandbox.clone();
        async move {
            let _in_flight = sandbox.stats_counters().begin();
            let decision = sandbox.fault_gate().next_request();
            if !decision.delay.is_zero() {
                tokio::time::sleep(decision.delay).await;
            }
            let response = match decision.fault {
                Some(fault) => with_retry_after(fault_response(fault), fault),
                None => match ep.call(req).await {
                    Ok(response) => response,
                    Err(err) => err.into_response(),
                },
            };
            let response = if sandbox.faults().pretty_json {
                pretty_printed(response).await
            } else {
                response
            };
            if decision.reset {
                sandbox.stats_counters().record_reset();
                return Ok(cut_short(response).await);
            }
            sandbox.stats_counters().record(response.status());
            Ok::<_, poem::Error>(response)
        }
    })
}

/// A JSON answer with its body pretty-printed; any other answer as it is.
async fn pretty_printed(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = body.into_bytes().await.unwrap_or_default();
    let pretty = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| serde_json::to_vec_pretty(&v).ok());
    match pretty {
        Some(pretty) => {
            parts.headers.remove(poem::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, poem::Body::from(pretty))
        }
        None => Response::from_parts(parts, poem::Body::from(body)),
    }
}

fn with_retry_after(mut response: Response, fault: Fault) -> Response {
    if let Fault::RateLimited {
        retry_after_secs: Some(secs),
    } = fault
    {
        response.headers_mut().insert("retry-after", secs.into());
    }
    response
}

/// The answer's status and headers and the first half of its body, then the connection is
/// closed: the client sees the answer end mid-body.
async fn cut_short(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let body = body.into_bytes().await.unwrap_or_default();
    let half = body.slice(..body.len() / 2);
    // The header announces the whole body, so however the server winds the connection down
    // after the stream's error, it cannot end the answer cleanly: it closes.
    parts
        .headers
        .insert(poem::http::header::CONTENT_LENGTH, body.len().into());
    let reset = io::Error::new(
        io::ErrorKind::ConnectionReset,
        "sandbox: connection reset by the fault plan",
    );
    // A pause before the error lets the server flush what it has: the client gets the head.
    let cut = futures::stream::once(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err(reset)
    });
    let chunks = futures::stream::StreamExt::chain(futures::stream::iter([Ok(half)]), cut);
    Response::from_parts(parts, poem::Body::from_bytes_stream(chunks))
}
