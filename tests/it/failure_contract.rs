//! The failure contract: what a caller is told when its request cannot be
//! decoded or stored, when the database is out of reach, and while the
//! replica shuts down. Each answer says who is at fault and whether a
//! retry can help: INVALID_ARGUMENT naming the field, UNAVAILABLE with
//! `RetryInfo`, and a health service that says NOT_SERVING while tenantd
//! cannot serve.

use std::time::Duration;

use tenantd::pb;
use tenantd::pb::config_service_client::ConfigServiceClient;
use tenantd::pb::usage_service_client::UsageServiceClient;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

use crate::support::fixtures::create;
use crate::support::proxy::Proxy;
use crate::support::raw::{self, Presented, Shape};
use crate::support::server::{ADMIN_TOKEN, Credentials, SERVICE_TOKEN};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::usage::{create_metrics, usage_event};
use crate::support::{Backend, TestServer};

/// Every name the health service answers for.
const HEALTH_NAMES: [&str; 6] = [
    "",
    "tenantd.v1.TenantService",
    "tenantd.v1.ConfigService",
    "tenantd.v1.QuotaService",
    "tenantd.v1.UsageService",
    "envoy.service.ratelimit.v3.RateLimitService",
];

crate::backend_tests!(
    undecodable_requests_are_the_callers_mistake,
    text_the_database_cannot_store_is_refused_naming_the_field,
    shutdown_turns_every_service_not_serving,
);

/// An operator's call, as raw bytes.
fn admin() -> Presented {
    Presented {
        secret: Some(ADMIN_TOKEN.to_owned()),
        tenant_id: None,
    }
}

const UNARY: Shape = Shape {
    client_streaming: false,
    server_streaming: false,
};

async fn undecodable_requests_are_the_callers_mistake(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (admin, unary) = (admin(), UNARY);
    let streaming = Shape {
        client_streaming: true,
        server_streaming: true,
    };
    // A length-delimited field whose length runs past the end, and a
    // truncated varint.
    for (path, shape, body) in [
        (
            "/tenantd.v1.TenantService/CreateTenant",
            unary,
            vec![0x0a, 0x7f, 0x01],
        ),
        (
            "/tenantd.v1.TenantService/ListTenants",
            unary,
            vec![0x08, 0xff],
        ),
        (
            "/tenantd.v1.UsageService/StreamUsage",
            streaming,
            vec![0x12, 0x40],
        ),
        // Health decodes with prost's own codec, and answers the same.
        (
            "/grpc.health.v1.Health/Check",
            unary,
            vec![0x0a, 0x7f, 0x01],
        ),
        (
            "/grpc.health.v1.Health/Watch",
            Shape {
                client_streaming: false,
                server_streaming: true,
            },
            vec![0x0a, 0x7f, 0x01],
        ),
    ] {
        let status = raw::call(&server.channel, path, shape, &admin, body)
            .await
            .expect_err(path);
        assert_eq!(invalid_fields(&status), ["request"], "{path}: {status:?}");
    }
    server.stop().await;
}

async fn text_the_database_cannot_store_is_refused_naming_the_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let acme = create(&mut tenants, "acme").await;

    let mut tenant = crate::support::fixtures::tenant("nul-name");
    tenant.display_name = "Acme\0Corp".into();
    let status = tenants
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(tenant),
            ..Default::default()
        })
        .await
        .expect_err("a NUL in a display name is refused");
    assert_eq!(invalid_fields(&status), ["tenant.display_name"]);

    // The same behind a group, which decoders skip (found by fuzzing: the
    // text once went past the check to the database).
    let mut tenant = crate::support::fixtures::tenant("nul-behind-group");
    tenant.display_name = "Acme\0Corp".into();
    let mut body = vec![0x23, 0x24];
    body.extend(prost::Message::encode_to_vec(&pb::CreateTenantRequest {
        tenant: Some(tenant),
        ..Default::default()
    }));
    let status = raw::call(
        &server.channel,
        "/tenantd.v1.TenantService/CreateTenant",
        UNARY,
        &admin(),
        body,
    )
    .await
    .expect_err("a NUL behind a group is refused");
    assert_eq!(invalid_fields(&status), ["tenant.display_name"]);

    let mut tenant = crate::support::fixtures::tenant("nul-label");
    tenant.labels.insert("env".into(), "prod\0".into());
    let status = tenants
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(tenant),
            ..Default::default()
        })
        .await
        .expect_err("a NUL in a label value is refused");
    assert_eq!(invalid_fields(&status), ["tenant.labels.env"]);

    let mut config = ConfigServiceClient::with_interceptor(
        server.channel.clone(),
        Credentials::bearer(ADMIN_TOKEN),
    );
    let values = prost_types::Struct {
        fields: [(
            "branding".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StructValue(prost_types::Struct {
                    fields: [(
                        "email_sender_name".to_owned(),
                        prost_types::Value {
                            kind: Some(prost_types::value::Kind::StringValue("Acme\0".into())),
                        },
                    )]
                    .into(),
                })),
            },
        )]
        .into(),
    };
    let status = config
        .update_config(pb::UpdateConfigRequest {
            config: Some(pb::Config {
                name: format!("{}/config", acme.name),
                values: Some(values),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("a NUL in a configuration value is refused");
    assert_eq!(
        invalid_fields(&status),
        ["config.values.branding.email_sender_name"]
    );
    let status = config
        .update_config(pb::UpdateConfigRequest {
            config: Some(pb::Config {
                name: format!("{}/config", acme.name),
                ..Default::default()
            }),
            comment: "why\0".into(),
            ..Default::default()
        })
        .await
        .expect_err("a NUL in a comment is refused");
    assert_eq!(invalid_fields(&status), ["comment"]);

    // Nothing of it was stored, and the tenant reads as before.
    let read = tenants
        .get_tenant(crate::support::fixtures::name_request(&acme.name))
        .await
        .expect("the tenant still reads")
        .into_inner();
    assert_eq!(read, acme);
    server.stop().await;
}

async fn health_of(channel: &tonic::transport::Channel, name: &str) -> ServingStatus {
    let answer = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: name.to_owned(),
        })
        .await
        .expect("the health service answers")
        .into_inner();
    answer.status()
}

/// Polls until every health name answers `wanted`, for at most `within`.
async fn wait_for_health(
    channel: &tonic::transport::Channel,
    wanted: ServingStatus,
    within: Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut all = true;
        for name in HEALTH_NAMES {
            all &= health_of(channel, name).await == wanted;
        }
        if all {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health did not turn {wanted:?} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn shutdown_turns_every_service_not_serving(backend: Backend) {
    let server = TestServer::start(backend).await;
    wait_for_health(
        &server.channel,
        ServingStatus::Serving,
        Duration::from_secs(5),
    )
    .await;
    let mut watches = Vec::new();
    for name in HEALTH_NAMES {
        let mut stream = HealthClient::new(server.channel.clone())
            .watch(HealthCheckRequest {
                service: name.to_owned(),
            })
            .await
            .expect("watch health")
            .into_inner();
        let first = stream.message().await.expect("a status").expect("a status");
        assert_eq!(first.status(), ServingStatus::Serving, "{name:?}");
        watches.push((name, stream));
    }
    let stopping = tokio::spawn(server.stop());
    for (name, mut stream) in watches {
        let next = tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await
            .unwrap_or_else(|_| panic!("{name:?}: no status after shutdown began"))
            .expect("the watch goes on until NOT_SERVING")
            .expect("a status");
        assert_eq!(next.status(), ServingStatus::NotServing, "{name:?}");
    }
    stopping.await.expect("the server stops");
}

/// The server under test reaches PostgreSQL through a proxy the test cuts,
/// as a database restart or a partition would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_answers_unavailable_and_not_serving() {
    if !crate::support::db::postgres_available().await {
        return;
    }
    let database = crate::support::db::TestDatabase::create(Backend::Postgres).await;
    let target = "127.0.0.1:5432".parse().expect("address");
    let proxy = Proxy::start(target).await;
    let through = proxy.url_through(&database.url);
    let server = TestServer::start_on(&database, |config| {
        config.database_url = through;
        config.health_probe_interval = Duration::from_millis(100);
        config.pool.acquire_timeout = Duration::from_secs(1);
    })
    .await;
    let mut tenants = server.tenants();
    let acme = create(&mut tenants, "acme").await;
    create_metrics(
        &server.channel,
        &[("api_calls", pb::MetricAggregation::Sum, "")],
    )
    .await;

    let mut usage = UsageServiceClient::with_interceptor(
        server.channel.clone(),
        Credentials::bearer(SERVICE_TOKEN),
    );
    let (batches, received) = tokio::sync::mpsc::channel(4);
    let mut acks = usage
        .stream_usage(tokio_stream::wrappers::ReceiverStream::new(received))
        .await
        .expect("open the stream")
        .into_inner();
    let batch = |sequence: i64| pb::StreamUsageRequest {
        sequence,
        events: vec![usage_event(
            &format!("event-{sequence}"),
            &acme.name,
            "api_calls",
            1.0,
            chrono::Utc::now(),
        )],
    };
    batches.send(batch(1)).await.expect("send");
    let ack = acks.message().await.expect("an ack").expect("an ack");
    assert_eq!((ack.sequence, ack.accepted_count), (1, 1));

    proxy.cut();
    let status = tenants
        .get_tenant(crate::support::fixtures::name_request(&acme.name))
        .await
        .expect_err("no database, no answer");
    assert_error(&status, Code::Unavailable, "UNAVAILABLE");
    assert!(status.get_details_retry_info().is_some(), "{status:?}");
    batches.send(batch(2)).await.expect("send");
    let ended = acks.message().await.expect_err("the stream ends");
    assert_error(&ended, Code::Unavailable, "UNAVAILABLE");
    wait_for_health(
        &server.channel,
        ServingStatus::NotServing,
        Duration::from_secs(5),
    )
    .await;

    proxy.restore();
    wait_for_health(
        &server.channel,
        ServingStatus::Serving,
        Duration::from_secs(5),
    )
    .await;
    let read = tenants
        .get_tenant(crate::support::fixtures::name_request(&acme.name))
        .await
        .expect("the database answers again")
        .into_inner();
    assert_eq!(read.id, acme.id);
    server.stop().await;
    database.drop_database().await;
}
