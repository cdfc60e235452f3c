//! The `tenantd` binary as an operator runs it: configured through
//! `TENANTD_*` variables, `tenantd migrate`, `--no-migrate` on a database
//! that needs migrating, OTLP export switched on, and a clean exit on
//! SIGTERM.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

pub(crate) fn tenantd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tenantd"))
}

pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn temp_database() -> (std::path::PathBuf, String) {
    let path = std::env::temp_dir().join(format!(
        "tenantd-process-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    (path, url)
}

/// A channel to the server on `port`.
pub(crate) async fn connect(port: u16) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect")
}

/// Polls the health service until it answers SERVING.
pub(crate) async fn wait_until_serving(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            child.try_wait().expect("poll child").is_none(),
            "tenantd exited early"
        );
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .expect("endpoint");
        if let Ok(channel) = endpoint.connect().await
            && let Ok(answer) = HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
        {
            assert_eq!(answer.into_inner().status, 1, "SERVING");
            return;
        }
        assert!(Instant::now() < deadline, "tenantd did not start serving");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits without blocking the runtime, so this process's client connection
/// can answer the server's GOAWAY and let it drain.
async fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            return status;
        }
        assert!(Instant::now() < deadline, "tenantd did not exit in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn migrate_applies_and_is_repeatable() {
    let (path, url) = temp_database();
    for _ in 0..2 {
        let status = tenantd()
            .arg("migrate")
            .env("TENANTD_DATABASE_URL", &url)
            .stdout(Stdio::null())
            .status()
            .expect("run tenantd migrate");
        assert!(status.success());
    }
    assert!(path.exists(), "the SQLite file was created");
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn no_migrate_serves_only_a_migrated_database() {
    let (path, url) = temp_database();
    let refused = tenantd()
        .args(["serve", "--no-migrate", "--listen-addr", "127.0.0.1:0"])
        .env("TENANTD_DATABASE_URL", &url)
        .output()
        .expect("run tenantd serve --no-migrate");
    assert!(!refused.status.success(), "served an unmigrated database");
    let logs = String::from_utf8_lossy(&refused.stdout);
    assert!(
        logs.contains("tenantd migrate") && logs.contains("m0001"),
        "{logs}"
    );

    let migrated = tenantd()
        .arg("migrate")
        .env("TENANTD_DATABASE_URL", &url)
        .stdout(Stdio::null())
        .status()
        .expect("run tenantd migrate");
    assert!(migrated.success());
    let port = free_port();
    let mut child = tenantd()
        .args([
            "serve",
            "--no-migrate",
            "--listen-addr",
            &format!("127.0.0.1:{port}"),
        ])
        .env("TENANTD_DATABASE_URL", &url)
        .stdout(Stdio::null())
        .spawn()
        .expect("start tenantd serve --no-migrate");
    wait_until_serving(port, &mut child).await;
    child.kill().expect("stop tenantd");
    let _ = child.wait();
    let _ = std::fs::remove_file(path);
}

#[test]
fn invalid_configuration_fails_with_a_message() {
    let output = tenantd()
        .args(["serve", "--listen-addr", "not-an-address"])
        .output()
        .expect("run tenantd");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--listen-addr"));
}

/// The raw HTTP/1.1 answer to `GET path` on `127.0.0.1:port`.
pub(crate) fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

/// Creates a tenant through the server on `port` as the operator, and
/// reads it back naming it in `x-tenant-id`; returns its id.
async fn create_and_read_tenant(port: u16, token: &str) -> String {
    use tenantd::pb;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = pb::tenant_service_client::TenantServiceClient::new(channel);
    let mut create = tonic::Request::new(pb::CreateTenantRequest {
        tenant: Some(pb::Tenant {
            slug: "logged".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("ascii");
    create
        .metadata_mut()
        .insert("authorization", bearer.clone());
    let tenant = client
        .create_tenant(create)
        .await
        .expect("create tenant")
        .into_inner();
    let mut get = tonic::Request::new(pb::GetTenantRequest {
        name: tenant.name.clone(),
    });
    get.metadata_mut().insert("authorization", bearer);
    get.metadata_mut()
        .insert("x-tenant-id", tenant.id.parse().expect("ascii"));
    client.get_tenant(get).await.expect("get tenant");
    tenant.id
}

#[tokio::test]
async fn serves_from_environment_and_stops_on_sigterm() {
    let (path, url) = temp_database();
    let port = free_port();
    let token = "process-test-admin-token-5f1c";
    let metrics_port = free_port();
    let mut child = tenantd()
        .env("TENANTD_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("TENANTD_DATABASE_URL", &url)
        .env("TENANTD_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("TENANTD_ADMIN_TOKENS", format!("ops={token}"))
        .env("TENANTD_LOG", "info,tower_http=debug")
        .env("TENANTD_LOG_FORMAT", "json")
        // Export is switched on; nothing listens there, which must not stop serving.
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", free_port()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tenantd");
    wait_until_serving(port, &mut child).await;
    let tenant_id = create_and_read_tenant(port, token).await;
    let metrics = http_get(metrics_port, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = wait_for_exit(&mut child, Duration::from_secs(15)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut logs)
        .expect("read logs");
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"))
        })
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "tenantd stopped"),
        "{logs}"
    );
    // Calls are traced with who made them and for which tenant; the
    // token itself is never logged.
    assert!(
        lines.iter().any(|line| {
            line["span"]["caller.kind"] == "admin" && line["span"]["tenant.id"] == tenant_id
        }),
        "{logs}"
    );
    assert!(!logs.contains(token), "the admin token was logged");
    let _ = std::fs::remove_file(path);
}
