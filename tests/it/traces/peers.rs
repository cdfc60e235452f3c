//! What the traces tests run around tenantd: the `tenantd` process itself
//! (the tracing subscriber is process-wide, so export is tested on the real
//! binary), an identity provider whose JWKS endpoint is down and notes the
//! headers it was sent, and the W3C trace context a caller sends.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::collector::Collector;
use crate::process::{free_port, tenantd, wait_until_serving};
use crate::support::db::TestDatabase;
use crate::support::jwt::{AUDIENCE, ISSUER};
use crate::support::server::ADMIN_TOKEN;

/// A caller's span, as a `traceparent` names it.
pub struct Traceparent {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits: the caller's span, the parent of tenantd's.
    pub span_id: String,
}

impl Traceparent {
    /// A sampled span of a new trace.
    pub fn random() -> Self {
        let trace = uuid::Uuid::new_v4().simple().to_string();
        let span = uuid::Uuid::new_v4().simple().to_string();
        Self {
            trace_id: trace,
            span_id: span[..16].to_owned(),
        }
    }

    /// The `traceparent` header's value.
    pub fn header(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.span_id)
    }
}

/// A JWKS endpoint that answers every request 500, noting the
/// `traceparent` each one carried.
pub struct DownIssuer {
    /// Its URL.
    pub url: String,
    /// The `traceparent` of every request, in order.
    traceparents: Arc<Mutex<Vec<Option<String>>>>,
}

impl DownIssuer {
    /// Starts answering.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/jwks.json",
            listener.local_addr().expect("address")
        );
        let traceparents = Arc::new(Mutex::new(Vec::new()));
        let noted = traceparents.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = [0u8; 8192];
                let read = stream.read(&mut head).await.unwrap_or(0);
                let text = String::from_utf8_lossy(&head[..read]);
                let traceparent = text
                    .lines()
                    .skip(1)
                    .filter_map(|line| line.split_once(':'))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("traceparent"))
                    .map(|(_, value)| value.trim().to_owned());
                noted.lock().unwrap().push(traceparent);
                let answer = "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        Self { url, traceparents }
    }

    /// The `traceparent` of every request received.
    pub fn traceparents(&self) -> Vec<Option<String>> {
        self.traceparents.lock().unwrap().clone()
    }

    /// A `--jwt-issuers-file` trusting this issuer, written to a temporary
    /// file.
    fn issuers_file(&self) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "tenantd-traces-issuers-{}.json",
            uuid::Uuid::new_v4().simple()
        ));
        let issuers = serde_json::json!([{
            "issuer": ISSUER,
            "jwks_url": self.url,
            "audiences": [AUDIENCE],
            "algorithms": ["RS256"],
            "tenant_claim": "org_id",
            "jwks_min_refresh_seconds": 0,
        }]);
        std::fs::write(&path, issuers.to_string()).expect("write the issuers file");
        path
    }
}

/// A `tenantd serve` process exporting spans to a collector; killed when
/// dropped, so a failing test leaves no server behind.
pub struct Traced {
    /// Its gRPC port on 127.0.0.1.
    pub port: u16,
    /// The process.
    child: Child,
    /// Its issuers file.
    issuers_file: PathBuf,
}

impl Drop for Traced {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.issuers_file);
    }
}

impl Traced {
    /// Serves `database`, trusting `issuer`, with its quota counters in a
    /// Redis that is not there (failing open), exporting to `collector`
    /// every 50 ms.
    pub async fn start(
        database: &TestDatabase,
        collector: &Collector,
        issuer: &DownIssuer,
    ) -> Self {
        let port = free_port();
        let issuers_file = issuer.issuers_file();
        let child = tenantd()
            .args(["serve", "--listen-addr", &format!("127.0.0.1:{port}")])
            .env("TENANTD_DATABASE_URL", &database.url)
            .env("TENANTD_MIGRATION_DATABASE_URL", &database.owner_url)
            .env("TENANTD_ADMIN_TOKENS", format!("ops={ADMIN_TOKEN}"))
            .env("TENANTD_JWT_ISSUERS_FILE", &issuers_file)
            .env(
                "TENANTD_REDIS_URL",
                format!("redis://127.0.0.1:{}/0", free_port()),
            )
            .env("TENANTD_REDIS_FAILURE", "open")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint)
            .env("OTEL_BSP_SCHEDULE_DELAY", "50")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tenantd");
        let mut traced = Self {
            port,
            child,
            issuers_file,
        };
        wait_until_serving(port, &mut traced.child).await;
        traced
    }
}
