//! The metrics port: `GET /metrics` answers the recorder's families and
//! the per-tenant ones in the Prometheus text format; anything else is 404.
//! HTTP/1.1 only, as Prometheus scrapes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::TenantMetrics;
use crate::error::{Error, Result};

/// What a scrape answers.
#[derive(Clone)]
struct Scrape {
    /// Every family recorded through `metrics`.
    recorder: PrometheusHandle,
    /// The per-tenant families.
    tenants: Arc<TenantMetrics>,
}

impl Scrape {
    fn answer(
        &self,
        request: &http::Request<hyper::body::Incoming>,
    ) -> http::Response<Full<Bytes>> {
        if request.method() != http::Method::GET || request.uri().path() != "/metrics" {
            let mut response = http::Response::new(Full::new(Bytes::from_static(b"not found\n")));
            *response.status_mut() = http::StatusCode::NOT_FOUND;
            return response;
        }
        let mut text = self.recorder.render();
        self.tenants.render(&mut text);
        let mut response = http::Response::new(Full::new(Bytes::from(text)));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        response
    }
}

/// Serves the metrics port on `address` until `stop` turns true.
pub(in crate::server) async fn spawn(
    address: SocketAddr,
    recorder: PrometheusHandle,
    tenants: Arc<TenantMetrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>> {
    let listener = TcpListener::bind(address).await.map_err(Error::internal)?;
    tracing::info!(%address, "serving Prometheus metrics");
    let scrape = Scrape { recorder, tenants };
    Ok(tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.wait_for(|stopping| *stopping) => return,
            };
            let Ok((stream, _)) = accepted else {
                continue;
            };
            let scrape = scrape.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let answer = scrape.answer(&request);
                    async move { Ok::<_, Infallible>(answer) }
                });
                if let Err(error) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%error, "a metrics scrape's connection failed");
                }
            });
        }
    }))
}
