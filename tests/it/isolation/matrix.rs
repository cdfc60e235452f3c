//! The isolation matrix run: every RPC asked by every caller, each answer
//! checked against the access table, and tenant B shown to learn nothing
//! of tenant A.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tonic::transport::Channel;

use super::bodies::{Named, body};
use super::report::Report;
use super::rpcs::{Rpc, rpcs};
use super::{
    CONCURRENT_RPCS, Caller, MatrixA, Shared, TENANT_SERVICE, WRONG_TOKEN, expected, matrix_a,
    shared, tenant_a, user_token,
};
use crate::support::dns::TestDns;
use crate::support::fixtures::Client;
use crate::support::jwt::{Issuer, RSA_1, rsa};
use crate::support::raw::{Answer, Presented};
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::{Backend, TestServer};
use tenantd::access::jwt::TenantClaim;

/// Calls `rpc` as every caller and reports each answer that differs from
/// the table's.
async fn check_rpc(
    channel: &Channel,
    admin: &mut Client,
    rpc: &Rpc,
    matrix: &MatrixA,
    shared: &Shared,
    report: &mut Report,
) {
    for caller in Caller::ALL {
        // An admitted service or key may change tenant A (delete its domain,
        // revoke its key), so each gets a tenant A of its own; the operator,
        // last, gets the matrix's, which the refused calls left unchanged.
        let fresh = if caller.admitted(rpc.rule) && caller != Caller::Admin {
            Some(tenant_a(admin).await)
        } else {
            None
        };
        let tenant = fresh.as_ref().unwrap_or(&matrix.tenant);
        let secret = match caller {
            Caller::NoCredentials => None,
            Caller::WrongToken => Some(WRONG_TOKEN.to_owned()),
            Caller::RevokedKey => Some(matrix.revoked.clone()),
            Caller::ExpiredKey => Some(matrix.expired.clone()),
            Caller::SuspendedTenantKey => Some(shared.suspended.clone()),
            Caller::TenantBKey => Some(shared.tenant_b.clone()),
            Caller::TenantBUser => Some(shared.user_b.clone()),
            Caller::LackingScopeKey => Some(matrix.lacking_scope.clone()),
            Caller::Service => Some(SERVICE_TOKEN.to_owned()),
            Caller::TenantAKey => Some(tenant.secret.clone()),
            Caller::TenantAUser => Some(user_token(&tenant.named.id)),
            Caller::Admin => Some(ADMIN_TOKEN.to_owned()),
        };
        let presented = Presented {
            secret,
            tenant_id: Some(tenant.named.id.clone()),
        };
        let (request_body, admitted) = body(rpc, &tenant.named);
        let answer = rpc.call(channel, &presented, request_body).await;
        let wanted = expected(caller, rpc.rule, admitted);
        report.check(rpc, caller.label(), wanted, &answer);
        if caller == Caller::TenantBKey {
            tenant_b_learns_nothing(channel, rpc, &tenant.named, shared, &answer, report).await;
        }
    }
}

/// Tenant B's key gets the same answer naming A as naming a tenant that
/// does not exist: in the metadata, and (TenantService) in the body alone.
async fn tenant_b_learns_nothing(
    channel: &Channel,
    rpc: &Rpc,
    tenant_a: &Named,
    shared: &Shared,
    naming_a: &Answer,
    report: &mut Report,
) {
    let as_b = |named: Option<&Named>| Presented {
        secret: Some(shared.tenant_b.clone()),
        tenant_id: named.map(|named| named.id.clone()),
    };
    let ghost = &shared.ghost;
    let naming_ghost = rpc
        .call(channel, &as_b(Some(ghost)), body(rpc, ghost).0)
        .await;
    report.same(
        rpc,
        "tenant B key naming no tenant",
        naming_a,
        &naming_ghost,
    );
    if rpc.service != TENANT_SERVICE {
        return;
    }
    let (body_naming_a, admitted) = body(rpc, tenant_a);
    let in_body_a = rpc.call(channel, &as_b(None), body_naming_a).await;
    let wanted = expected(Caller::TenantBKey, rpc.rule, admitted);
    report.check(rpc, "tenant B key, A in the body only", wanted, &in_body_a);
    let in_body_ghost = rpc.call(channel, &as_b(None), body(rpc, ghost).0).await;
    let caller = "tenant B key, no tenant in the body only";
    report.same(rpc, caller, &in_body_a, &in_body_ghost);
}

/// Runs `work` on every item, up to [`CONCURRENT_RPCS`] at once, and
/// returns the results in the items' order. The calls wait on the network
/// far longer than on the CPU, so overlapping them keeps the matrix fast.
async fn concurrently<I, T, Fut>(items: Vec<I>, mut work: impl FnMut(I) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(CONCURRENT_RPCS));
    let tasks: Vec<_> = items
        .into_iter()
        .map(|item| {
            let permits = permits.clone();
            let future = work(item);
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.expect("open semaphore");
                future.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("a matrix task panicked"));
    }
    results
}

async fn every_rpc_answers_every_caller_as_the_table_says(backend: Backend) {
    let rpcs = rpcs();
    // Verification asks this empty server rather than the network, and
    // finds no record.
    let dns = TestDns::start().await;
    let resolver = dns.address;
    // End users' tokens name their tenant by id; their roles are scopes.
    let issuer = Issuer::start().await;
    issuer.publish("rsa-1", &rsa(RSA_1), jsonwebtoken::Algorithm::RS256);
    let issuers = vec![issuer.config(TenantClaim::Id, &[])];
    let server = TestServer::start_with(backend, move |config| {
        config.dns_resolver = Some(resolver);
        config.jwt_issuers = issuers;
    })
    .await;
    let admin = server.tenants();
    let shared = Arc::new(shared(&mut admin.clone()).await);
    let rules = rpcs.iter().map(|rpc| rpc.rule).collect();
    let matrices = concurrently(rules, |rule| {
        let mut admin = admin.clone();
        async move { matrix_a(&mut admin, rule).await }
    })
    .await;
    // The gate compares expiry with the wall clock, which paused tokio time
    // does not move: wait once, for every matrix's key at the same time.
    if let Some(last) = matrices.iter().map(|matrix| matrix.expire_time).max() {
        let left = (last - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(left + Duration::from_millis(200)).await;
    }
    let work = rpcs.into_iter().zip(matrices).collect();
    let reports = concurrently(work, |(rpc, matrix)| {
        let channel = server.channel.clone();
        let mut admin = admin.clone();
        let shared = shared.clone();
        async move {
            let mut report = Report::default();
            check_rpc(&channel, &mut admin, &rpc, &matrix, &shared, &mut report).await;
            report
        }
    })
    .await;
    let mut report = Report::default();
    for part in reports {
        report.checked += part.checked;
        report.differences.extend(part.differences);
    }
    assert!(
        report.differences.is_empty(),
        "{} of {} answers differ from the access table:\n{}",
        report.differences.len(),
        report.checked,
        report.table()
    );
    server.stop().await;
}

crate::backend_tests!(every_rpc_answers_every_caller_as_the_table_says,);
