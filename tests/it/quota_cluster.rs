//! Quota counters on a Redis Cluster: three `redis-server` nodes in cluster
//! mode, started by the test on spare ports and stopped after it. Every key
//! of a tenant carries its id as hash tag, so each call's script runs on
//! one node; allocations stay exact and all-or-nothing across quotas.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tenantd::pb;
use tonic::Code;

use crate::quota::{allocate, allocate_concurrently, definition, quotas, tenant_on_plan, used};
use crate::support::{Backend, TestServer};

/// A three-node Redis Cluster of this test's own.
pub struct LocalCluster {
    ports: Vec<u16>,
    nodes: Vec<Child>,
    dir: PathBuf,
}

/// A free port whose cluster bus port (port + 10000) is free too.
fn free_cluster_port() -> u16 {
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not happen in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl LocalCluster {
    /// Starts the nodes and joins them, or `None` (skipped) without
    /// `redis-server`; under `CI=true` that fails instead.
    pub fn start() -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("tenantd-cluster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("cluster directory");
        let mut cluster = Self {
            ports: Vec::new(),
            nodes: Vec::new(),
            dir,
        };
        for _ in 0..3 {
            let port = free_cluster_port();
            let spawned = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--cluster-config-file")
                .arg(cluster.dir.join(format!("nodes-{port}.conf")))
                .arg("--dir")
                .arg(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            match spawned {
                Ok(node) => cluster.nodes.push(node),
                Err(error) if std::env::var("CI").is_ok_and(|value| value == "true") => {
                    panic!("redis-server is required under CI=true: {error}")
                }
                Err(error) => {
                    eprintln!("skipping: cannot run redis-server: {error}");
                    return None;
                }
            }
            cluster.ports.push(port);
            wait_for("a node listening", || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
        }
        let addresses: Vec<String> = cluster
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(created.status.success(), "{created:?}");
        let first = cluster.ports[0].to_string();
        wait_for("the cluster to be ok", || {
            Command::new("redis-cli")
                .args(["-p", &first, "cluster", "info"])
                .output()
                .is_ok_and(|info| {
                    String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok")
                })
        });
        Some(cluster)
    }

    pub fn urls(&self) -> String {
        let urls: Vec<String> = self
            .ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect();
        urls.join(",")
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn allocations_are_exact_and_atomic_on_a_cluster() {
    let Some(cluster) = LocalCluster::start() else {
        return;
    };
    let urls = cluster.urls();
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.redis_url = Some(urls);
        config.redis_cluster = true;
    })
    .await;
    let plan = vec![
        definition("seats", pb::QuotaKind::Allocation, 50),
        definition("projects", pb::QuotaKind::Allocation, 3),
        definition("storage", pb::QuotaKind::Allocation, 1000),
    ];
    let parent = tenant_on_plan(&server, "clustered", plan).await;
    let allowed = allocate_concurrently(&[quotas(&server)], &parent, "seats", 200, 50).await;
    assert_eq!(allowed, 50);
    let mut client = quotas(&server);
    assert_eq!(used(&mut client, &parent, "seats").await, 50);

    // One of three would exceed: nothing is charged.
    let refused = allocate(
        &mut client,
        &parent,
        &[("projects", 2), ("storage", 10), ("seats", 1)],
        pb::QuotaMode::AllOrNothing,
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(used(&mut client, &parent, "projects").await, 0);
    assert_eq!(used(&mut client, &parent, "storage").await, 0);

    // A retry with the same request id charges once.
    let request_id = uuid::Uuid::new_v4().to_string();
    for _ in 0..3 {
        allocate(
            &mut client,
            &parent,
            &[("projects", 1), ("storage", 10)],
            pb::QuotaMode::AllOrNothing,
            &request_id,
        )
        .await
        .expect("idempotent allocation");
    }
    assert_eq!(used(&mut client, &parent, "projects").await, 1);
    assert_eq!(used(&mut client, &parent, "storage").await, 10);
    server.stop().await;
    drop(cluster);
}
