//! The API as a generic client sees it: reflection (v1 and v1alpha, as
//! grpcurl and buf use them), the standard health service, the error details
//! every failure carries, and UNIMPLEMENTED for services that a later change
//! builds.

use prost::Message;
use tenantd::pb;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::status::assert_error;
use crate::support::{Backend, TestServer};

/// The services every tenantd serves.
const SERVICES: [&str; 7] = [
    "grpc.health.v1.Health",
    "tenantd.v1.ConfigService",
    "tenantd.v1.QuotaService",
    "tenantd.v1.TenantService",
    "tenantd.v1.UsageService",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// One reflection round trip per protocol version; both modules generate
/// the same types, so one body serves both.
macro_rules! reflection_checks {
    ($version:ident) => {
        mod $version {
            use tonic_reflection::pb::$version::ServerReflectionRequest;
            use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;

            /// Sends one reflection request and returns its answer.
            pub async fn ask(
                channel: tonic::transport::Channel,
                request: MessageRequest,
            ) -> MessageResponse {
                let mut client = ServerReflectionClient::new(channel);
                let request = ServerReflectionRequest {
                    host: String::new(),
                    message_request: Some(request),
                };
                let mut answers = client
                    .server_reflection_info(tokio_stream::iter(vec![request]))
                    .await
                    .expect("reflection call")
                    .into_inner();
                answers
                    .message()
                    .await
                    .expect("reflection answer")
                    .and_then(|answer| answer.message_response)
                    .expect("a message response")
            }

            /// The services listed by reflection.
            pub async fn services(channel: tonic::transport::Channel) -> Vec<String> {
                match ask(channel, MessageRequest::ListServices(String::new())).await {
                    MessageResponse::ListServicesResponse(list) => list
                        .service
                        .into_iter()
                        .map(|service| service.name)
                        .collect(),
                    other => panic!("unexpected answer {other:?}"),
                }
            }

            /// The encoded file descriptors that define `symbol`.
            pub async fn files_for(
                channel: tonic::transport::Channel,
                symbol: &str,
            ) -> Vec<Vec<u8>> {
                match ask(
                    channel,
                    MessageRequest::FileContainingSymbol(symbol.to_owned()),
                )
                .await
                {
                    MessageResponse::FileDescriptorResponse(files) => files.file_descriptor_proto,
                    other => panic!("unexpected answer {other:?}"),
                }
            }
        }
    };
}

reflection_checks!(v1);
reflection_checks!(v1alpha);

fn file_names(encoded: &[Vec<u8>]) -> Vec<String> {
    encoded
        .iter()
        .map(|bytes| {
            prost_types::FileDescriptorProto::decode(bytes.as_slice())
                .expect("descriptor")
                .name()
                .to_owned()
        })
        .collect()
}

async fn reflection_v1_and_v1alpha(backend: Backend) {
    let server = TestServer::start(backend).await;
    let listed_v1 = v1::services(server.channel.clone()).await;
    let listed_v1alpha = v1alpha::services(server.channel.clone()).await;
    for service in SERVICES {
        assert!(
            listed_v1.iter().any(|name| name == service),
            "v1 lists {service}: {listed_v1:?}"
        );
        assert!(
            listed_v1alpha.iter().any(|name| name == service),
            "v1alpha lists {service}"
        );
    }
    let files_v1 =
        file_names(&v1::files_for(server.channel.clone(), "tenantd.v1.TenantService").await);
    let files_v1alpha =
        file_names(&v1alpha::files_for(server.channel.clone(), "tenantd.v1.TenantService").await);
    assert!(
        files_v1.contains(&"tenantd/v1/tenant.proto".to_owned()),
        "{files_v1:?}"
    );
    assert!(
        files_v1alpha.contains(&"tenantd/v1/tenant.proto".to_owned()),
        "{files_v1alpha:?}"
    );
    // Clients decode error details through reflection too.
    let details =
        file_names(&v1alpha::files_for(server.channel.clone(), "google.rpc.ErrorInfo").await);
    assert!(
        details.contains(&"google/rpc/error_details.proto".to_owned()),
        "{details:?}"
    );
    server.stop().await;
}

async fn health_reports_serving(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut health = HealthClient::new(server.channel.clone());
    for service in ["", "tenantd.v1.TenantService"] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("health check")
            .into_inner();
        assert_eq!(answer.status(), ServingStatus::Serving, "{service:?}");
    }
    server.stop().await;
}

async fn request_id_is_echoed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let mut request = tonic::Request::new(pb::GetTenantRequest {
        name: "tenants/slug:nobody".into(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", "trace-me-42".parse().expect("metadata"));
    let status = client.get_tenant(request).await.unwrap_err();
    assert_error(&status, Code::NotFound, "TENANT_NOT_FOUND");
    assert_eq!(
        status
            .metadata()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok()),
        Some("trace-me-42")
    );
    let answer = client
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .expect("list");
    assert!(
        answer.metadata().get("x-request-id").is_some(),
        "a request id is made when the caller sends none"
    );
    server.stop().await;
}

crate::backend_tests!(
    reflection_v1_and_v1alpha,
    health_reports_serving,
    request_id_is_echoed,
);
