//! What quota checks answer when Redis goes away mid-run, and that they
//! recover when it returns: fail-open counts on the replica's local limiter
//! and says `degraded`; fail-closed answers UNAVAILABLE. Each test runs its
//! own `redis-server` on a spare port, so stopping it touches no other test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tenantd::pb;
use tenantd::quota::limiter::RedisFailure;
use tonic::Code;

use crate::quota::{Quotas, allocate, quotas};
use crate::support::fixtures::create;
use crate::support::{Backend, TestServer};

/// A `redis-server` of this test's own.
pub(crate) struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

impl PrivateRedis {
    /// Starts one, or `None` (test skipped) when `redis-server` is not
    /// installed; under `CI=true` that fails the test instead.
    pub(crate) fn start() -> Option<Self> {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        match redis.spawn() {
            Ok(()) => Some(redis),
            Err(error) if in_ci() => panic!("redis-server is required under CI=true: {error}"),
            Err(error) => {
                eprintln!("skipping: cannot run redis-server: {error}");
                None
            }
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn allocate_one(
    client: &mut Quotas,
    parent: &str,
) -> Result<pb::AllocateQuotaResponse, tonic::Status> {
    allocate(
        client,
        parent,
        &[("users", 1)],
        pb::QuotaMode::AllOrNothing,
        "",
    )
    .await
}

/// Polls until an allocation is answered by Redis again.
async fn until_recovered(client: &mut Quotas, parent: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(answer) = allocate_one(client, parent).await
            && !answer.degraded
        {
            assert!(answer.allowed);
            return;
        }
        assert!(Instant::now() < deadline, "never answered by Redis again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Quota failures counted so far under `policy`, as Prometheus renders
/// them from this test process's recorder.
fn failures_counted(policy: RedisFailure) -> u64 {
    static RECORDER: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    let handle = RECORDER.get_or_init(|| {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("install a metrics recorder")
    });
    let series = format!(
        "{}{{policy=\"{}\"}} ",
        tenantd::quota::limiter::fallback::REDIS_FAILURES,
        policy.label()
    );
    handle
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse().expect("a count"))
}

async fn run(policy: RedisFailure) {
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    let failures_before = failures_counted(policy);
    let url = redis.url();
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.redis_url = Some(url);
        config.redis_failure = policy;
    })
    .await;
    let mut client = quotas(&server);
    // starter: 5 users.
    let acme = create(&mut server.tenants(), "acme").await.name;
    let shared = allocate_one(&mut client, &acme).await.expect("allocate");
    assert!(shared.allowed && !shared.degraded);

    redis.stop();
    match policy {
        RedisFailure::Open => {
            // The local limiter starts empty and enforces the plan alone.
            for _ in 0..5 {
                let local = allocate_one(&mut client, &acme).await.expect("fail-open");
                assert!(local.allowed && local.degraded, "{local:?}");
                assert!(local.results[0].degraded);
            }
            let over = allocate_one(&mut client, &acme).await.unwrap_err();
            assert_eq!(over.code(), Code::ResourceExhausted);
        }
        RedisFailure::Closed => {
            let refused = allocate_one(&mut client, &acme).await.unwrap_err();
            assert_eq!(refused.code(), Code::Unavailable);
        }
    }

    assert!(
        failures_counted(policy) > failures_before,
        "the outage was not counted"
    );
    redis.spawn().expect("restart redis-server");
    until_recovered(&mut client, &acme).await;
    server.stop().await;
}

/// Failing open, a replica starts while Redis is away, answers degraded,
/// and moves to Redis once it appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_starts_without_redis() {
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    redis.stop();
    let url = redis.url();
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.redis_url = Some(url);
        config.redis_failure = RedisFailure::Open;
    })
    .await;
    let mut client = quotas(&server);
    let acme = create(&mut server.tenants(), "acme").await.name;
    let local = allocate_one(&mut client, &acme).await.expect("fail-open");
    assert!(local.allowed && local.degraded, "{local:?}");
    redis.spawn().expect("start redis-server");
    until_recovered(&mut client, &acme).await;
    server.stop().await;
}

/// The same for a Redis Cluster none of whose seed nodes answer: the
/// replica starts and counts locally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_starts_without_its_redis_cluster() {
    let seeds = format!(
        "redis://127.0.0.1:{},redis://127.0.0.1:{}",
        free_port(),
        free_port()
    );
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.redis_url = Some(seeds);
        config.redis_cluster = true;
        config.redis_failure = RedisFailure::Open;
    })
    .await;
    let mut client = quotas(&server);
    let acme = create(&mut server.tenants(), "acme").await.name;
    let local = allocate_one(&mut client, &acme).await.expect("fail-open");
    assert!(local.allowed && local.degraded, "{local:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_counts_locally_and_recovers() {
    run(RedisFailure::Open).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_answers_unavailable_and_recovers() {
    run(RedisFailure::Closed).await;
}
