//! The RPCs the isolation matrix calls: every method of the services
//! tenantd serves, read from the compiled descriptor set (Envoy's, which
//! come generated from `envoy-types`, from the access table's list of
//! them) and checked against the access table, so neither can gain an RPC
//! the other lacks.

use std::collections::BTreeSet;

use prost::Message;
use prost_types::FileDescriptorSet;
use tenantd::access::methods as access;
use tenantd::access::methods::MethodAccess;
use tenantd::pb;
use tonic::transport::Channel;

use crate::support::raw::{self, Answer, Presented, Shape};

/// One RPC as the descriptor set declares it, with its row of the table.
pub(super) struct Rpc {
    /// The service as the access table names it: without the package for
    /// tenantd's own (`TenantService`), fully qualified for Envoy's.
    pub(super) service: String,
    /// The method (`GetTenant`).
    pub(super) method: String,
    /// Whether the client sends a stream.
    pub(super) client_streaming: bool,
    /// Whether the server answers with a stream.
    pub(super) server_streaming: bool,
    /// Its row of the access table.
    pub(super) rule: &'static MethodAccess,
}

impl Rpc {
    pub(super) fn label(&self) -> String {
        format!("{}.{}", self.service, self.method)
    }

    /// Calls this RPC with `body`.
    pub(super) async fn call(
        &self,
        channel: &Channel,
        presented: &Presented,
        body: Vec<u8>,
    ) -> Answer {
        let path = format!("/{}/{}", self.rule.full_service(), self.method);
        let shape = Shape {
            client_streaming: self.client_streaming,
            server_streaming: self.server_streaming,
        };
        raw::call(channel, &path, shape, presented, body).await
    }
}

/// Every RPC served as (service, method, client streaming, server
/// streaming): tenantd's from the descriptor set, Envoy's (all unary) from
/// the list the access table keeps of them.
fn served() -> Vec<(String, String, bool, bool)> {
    let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("the descriptor set");
    let mut served = Vec::new();
    for file in set
        .file
        .iter()
        .filter(|file| file.package() == access::PACKAGE)
    {
        for service in &file.service {
            for method in &service.method {
                served.push((
                    service.name().to_owned(),
                    method.name().to_owned(),
                    method.client_streaming(),
                    method.server_streaming(),
                ));
            }
        }
    }
    for (service, methods) in access::ENVOY_SERVICES {
        for method in *methods {
            served.push(((*service).to_owned(), (*method).to_owned(), false, false));
        }
    }
    served
}

/// Every RPC served, after checking that the descriptor set (with Envoy's
/// services) and the access table list the same RPCs of exactly six
/// services (tenantd's six, Envoy's rate limit and authorization).
pub(super) fn rpcs() -> Vec<Rpc> {
    let mut services = BTreeSet::new();
    let mut rpcs = Vec::new();
    let mut unclassified = Vec::new();
    for (name, method, client_streaming, server_streaming) in served() {
        services.insert(name.clone());
        let rule = access::METHODS
            .iter()
            .find(|rule| rule.service == name && rule.method == method);
        let Some(rule) = rule else {
            unclassified.push(format!("{name}.{method}"));
            continue;
        };
        rpcs.push(Rpc {
            service: name,
            method,
            client_streaming,
            server_streaming,
            rule,
        });
    }
    assert!(
        unclassified.is_empty(),
        "RPCs without a row in access::METHODS: {unclassified:?}"
    );
    let stale: Vec<String> = access::METHODS
        .iter()
        .filter(|rule| {
            !rpcs
                .iter()
                .any(|rpc| rpc.service == rule.service && rpc.method == rule.method)
        })
        .map(|rule| format!("{}.{}", rule.service, rule.method))
        .collect();
    assert!(
        stale.is_empty(),
        "rows of access::METHODS without an RPC: {stale:?}"
    );
    assert_eq!(services.len(), 8, "the services: {services:?}");
    rpcs
}
