//! `tenantd serve` with TLS flags, as an operator runs it: flags that need
//! one another and files that do not parse stop the start with a message
//! naming them, and `--health-listen-addr` answers plaintext health checks
//! while the gRPC port demands client certificates.

use std::process::{Output, Stdio};

use super::pki::{Ca, health};
use crate::process::{free_port, tenantd, wait_until_serving};

/// A child process killed when dropped, so a failed assertion leaves no
/// server behind.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(args: &[&str]) -> Output {
    tenantd()
        .args(["serve", "--listen-addr", "127.0.0.1:0"])
        .args(args)
        .env("TENANTD_DATABASE_URL", "sqlite::memory:")
        .output()
        .expect("run tenantd serve")
}

fn refused_with(output: &Output) -> String {
    assert!(!output.status.success(), "tenantd started");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn tls_flags_and_files_are_checked_at_start() {
    let dir = std::env::temp_dir().join(format!("tenantd-tls-start-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    let pair = Ca::new("start CA").server();
    std::fs::write(&cert, &pair.cert).expect("write cert");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nbroken\n").expect("write key");
    let (cert, key) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));

    let alone = refused_with(&serve(&["--tls-cert", cert]));
    assert!(alone.contains("tls-cert: needs --tls-key"), "{alone}");
    let ca_alone = refused_with(&serve(&["--tls-client-ca", cert]));
    assert!(
        ca_alone.contains("tls-client-ca: needs --tls-cert"),
        "{ca_alone}"
    );
    let broken = refused_with(&serve(&["--tls-cert", cert, "--tls-key", key]));
    assert!(
        broken.contains("tls-key") && broken.contains(key),
        "{broken}"
    );
    let mapping = refused_with(&serve(&[
        "--tls-cert",
        cert,
        "--tls-key",
        key,
        "--tls-client-ca",
        cert,
        "--tls-client-services",
        "billing=https://example.org",
    ]));
    assert!(mapping.contains("spiffe://… or CN=…"), "{mapping}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_health_port_answers_in_plaintext_beside_mutual_tls() {
    let dir = std::env::temp_dir().join(format!("tenantd-tls-health-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = Ca::new("health CA");
    let pair = ca.server();
    std::fs::write(dir.join("tls.crt"), &pair.cert).expect("write cert");
    std::fs::write(dir.join("tls.key"), &pair.key).expect("write key");
    std::fs::write(dir.join("ca.crt"), &ca.pem).expect("write ca");
    let (port, health_port) = (free_port(), free_port());
    let database = format!("sqlite://{}?mode=rwc", dir.join("tenantd.db").display());
    let child = tenantd()
        .arg("serve")
        .env("TENANTD_DATABASE_URL", database)
        .env("TENANTD_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "TENANTD_HEALTH_LISTEN_ADDR",
            format!("127.0.0.1:{health_port}"),
        )
        .env("TENANTD_TLS_CERT", dir.join("tls.crt"))
        .env("TENANTD_TLS_KEY", dir.join("tls.key"))
        .env("TENANTD_TLS_CLIENT_CA", dir.join("ca.crt"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start tenantd");
    let mut child = Stopped(child);
    wait_until_serving(health_port, &mut child.0).await;
    let with_certificate = health(port, &ca, Some(ca.client("probe", None))).await;
    let without = health(port, &ca, None).await;
    drop(child);
    let _ = std::fs::remove_dir_all(dir);
    with_certificate.expect("the gRPC port serves a client with a certificate");
    assert!(
        without.is_err(),
        "the gRPC port served a client without one"
    );
}
