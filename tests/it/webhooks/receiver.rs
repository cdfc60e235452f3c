//! The webhook receiver the tests post to: `fixtures/webhook_receiver.py`,
//! which verifies every delivery with PyPI's `standardwebhooks` (installed
//! here when missing), and the clients the tests manage endpoints with.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use serde_json::Value;
use tenantd::pb;
use tenantd::pb::webhook_service_client::WebhookServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::server::{ADMIN_TOKEN, Credentials};

/// A WebhookService client sending fixed credentials.
pub type Webhooks = WebhookServiceClient<InterceptedService<Channel, Credentials>>;

/// A WebhookService client acting as the operator.
pub fn admin(channel: &Channel) -> Webhooks {
    as_caller(channel, Credentials::bearer(ADMIN_TOKEN))
}

/// A WebhookService client sending `credentials`.
pub fn as_caller(channel: &Channel, credentials: Credentials) -> Webhooks {
    WebhookServiceClient::with_interceptor(channel.clone(), credentials)
}

/// Makes sure `standardwebhooks` can be imported, installing it once.
fn ensure_standardwebhooks() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let importable = || {
            Command::new("python3")
                .args(["-c", "import standardwebhooks"])
                .status()
                .is_ok_and(|status| status.success())
        };
        if importable() {
            return;
        }
        let installed = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "standardwebhooks==1.1.0",
            ])
            .status()
            .expect("run pip");
        assert!(
            installed.success() && importable(),
            "standardwebhooks could not be installed"
        );
    });
}

/// A running receiver.
pub struct Receiver {
    /// The Python process.
    child: Child,
    /// Where it listens.
    pub port: u16,
    http: reqwest::Client,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    /// Starts a receiver answering 204.
    pub fn start() -> Self {
        ensure_standardwebhooks();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/fixtures/webhook_receiver.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the receiver");
        let stdout = child.stdout.take().expect("receiver stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("receiver port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("receiver said {line:?}"));
        Self {
            child,
            port,
            http: reqwest::Client::new(),
        }
    }

    /// Its URL at `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn control(&self, body: Value) {
        let answer = self
            .http
            .post(self.url("/_control"))
            .body(body.to_string())
            .send()
            .await
            .expect("control the receiver");
        assert!(answer.status().is_success());
    }

    /// Verifies deliveries with `secret` from now on.
    pub async fn set_secret(&self, secret: &str) {
        self.control(serde_json::json!({ "secret": secret })).await;
    }

    /// Answers deliveries with `status` from now on.
    pub async fn set_status(&self, status: u16) {
        self.control(serde_json::json!({ "status": status })).await;
    }

    /// Every delivery received so far, oldest first.
    pub async fn records(&self) -> Vec<Value> {
        let text = self
            .http
            .get(self.url("/_records"))
            .send()
            .await
            .expect("read the receiver")
            .text()
            .await
            .expect("records");
        serde_json::from_str(&text).expect("records as JSON")
    }

    /// The records once `done` holds of them, failing after `within`.
    pub async fn wait_for(&self, within: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let records = self.records().await;
            if done(&records) {
                return records;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver did not get what was expected; got {} records: {records:?}",
                records.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Creates an endpoint under `parent` posting to `url`; answers it and its
/// secret.
pub async fn create_endpoint(
    client: &mut Webhooks,
    parent: &str,
    url: &str,
    types: &[&str],
) -> (pb::WebhookEndpoint, String) {
    let created = client
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            parent: parent.to_owned(),
            webhook_endpoint: Some(pb::WebhookEndpoint {
                url: url.to_owned(),
                event_types: types.iter().map(|t| (*t).to_owned()).collect(),
                ..Default::default()
            }),
        })
        .await
        .expect("create webhook endpoint")
        .into_inner();
    (created.webhook_endpoint.expect("endpoint"), created.secret)
}

/// The deliveries of `endpoint`, newest first.
pub async fn deliveries(client: &mut Webhooks, endpoint: &str) -> Vec<pb::WebhookDelivery> {
    client
        .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest {
            parent: endpoint.to_owned(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list deliveries")
        .into_inner()
        .webhook_deliveries
}
