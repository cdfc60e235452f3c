//! The tower stack every call passes through, outermost first, and the
//! serving loop that runs it until the stop signal and the grace period.
//!
//! The order is the point of this file: each layer's comment says why it
//! sits where it does.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::pb::health_server::HealthServer;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::error::{Error, Result};
use crate::server::observe::ObserveLayer;
use crate::server::tenant_context::TenantContextLayer;
use crate::server::tls::Tls;
use crate::server::{catch_panic, trace};
use crate::settings::ConnectionSettings;

/// Serves `routes` behind the stack on `listener` (over `tls` when set)
/// until `stop` turns true, then lets in-flight calls finish for at most
/// `grace`; connections age as `connections` says. `tenant_context` is
/// `None` only when measuring what the layer costs.
pub(super) async fn serve(
    (listener, tls): (TcpListener, Option<Tls>),
    routes: Routes,
    (observe, tenant_context): (ObserveLayer, Option<TenantContextLayer>),
    stop: watch::Receiver<bool>,
    (grace, connections): (Duration, &ConnectionSettings),
) -> Result<()> {
    let layers = ServiceBuilder::new()
        // First, so every later layer and the handler see a request id.
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // Spans carry the request id and the outcome of every call.
        .layer(trace::layer())
        // Inside the span, outside the panic layer: a panicking handler is
        // counted as the INTERNAL its caller sees, and every refusal of the
        // tenant context layer is counted too.
        .layer(observe)
        // Echoes the request id in the response so callers can quote it.
        .layer(PropagateRequestIdLayer::x_request_id())
        // Inside the span, so a panic is logged in its call's span, and
        // outside the gate, so a panicking gate answers INTERNAL too.
        .layer(catch_panic::layer())
        // Health and reflection decode with prost's codec: their
        // undecodable requests become INVALID_ARGUMENT as well.
        .map_response(crate::rpc::codec::refuse_undecodable)
        // Innermost, inside the span: nothing reaches a handler without a
        // tenant context, and refusals are traced like any answer.
        .option_layer(tenant_context);
    let router = builder(connections).layer(layers).add_routes(routes);
    let mut serve_stop = stop.clone();
    let until_stopped = async move {
        let _ = serve_stop.wait_for(|stopping| *stopping).await;
    };
    let serve = async move {
        match tls {
            Some(tls) => {
                router
                    .serve_with_incoming_shutdown(tls.incoming(listener), until_stopped)
                    .await
            }
            None => {
                router
                    .serve_with_incoming_shutdown(plaintext(listener), until_stopped)
                    .await
            }
        }
    };
    let mut grace_stop = stop;
    let grace_expired = async move {
        let _ = grace_stop.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = serve => served.map_err(Error::internal)?,
        () = grace_expired => tracing::warn!(grace_seconds = grace.as_secs(), "calls still in flight after the grace period were cut off"),
    }
    Ok(())
}

/// The server, with connections aged and pinged as `connections` says:
/// an aged connection gets a GOAWAY, so its client reconnects through
/// the load balancer to any replica, and its calls get the grace to end.
fn builder(connections: &ConnectionSettings) -> Server {
    let mut server = Server::builder()
        .http2_keepalive_interval(connections.keepalive_interval)
        .http2_keepalive_timeout(Some(connections.keepalive_timeout));
    if let Some(max_age) = connections.max_age {
        server = server
            .max_connection_age(max_age)
            .max_connection_age_grace(connections.max_age_grace);
    }
    server
}

/// The plaintext connections of `listener`.
fn plaintext(listener: TcpListener) -> TcpIncoming {
    // Without TCP_NODELAY, small answers wait on Nagle's algorithm for the
    // client's delayed ACK: tens of milliseconds on a hot path (the TLS
    // port sets it too).
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Serves `health` alone, in plaintext, on `address` until `stop` turns
/// true: for probes that cannot speak TLS or present a client certificate.
pub(super) async fn spawn_health(
    address: SocketAddr,
    health: HealthServer<impl tonic_health::pb::health_server::Health>,
    mut stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>> {
    let listener = TcpListener::bind(address).await.map_err(Error::internal)?;
    let serving = Server::builder()
        .add_service(health)
        .serve_with_incoming_shutdown(plaintext(listener), async move {
            let _ = stop.wait_for(|stopping| *stopping).await;
        });
    Ok(tokio::spawn(async move {
        if let Err(error) = serving.await {
            tracing::error!(%error, "the health port stopped serving");
        }
    }))
}
