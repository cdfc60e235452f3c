//! `tenantd tenants export ID > file` and `tenantd tenants import < file`
//! with the real binary on PostgreSQL: a SCHEMA tenant with data moves to a
//! fresh database under a new id and slug, stdout carrying only the
//! archive; a truncated file, or one with a flipped byte, is refused and leaves nothing behind.

use std::io::Write;
use std::process::{Output, Stdio};

use tenantd::pb;
use uuid::Uuid;

use crate::process::tenantd;
use crate::provisioning::create_with;
use crate::support::db::{TestDatabase, postgres_available};
use crate::support::fixtures::name_request;
use crate::support::schemas::connect;
use crate::support::{Backend, TestServer};
use crate::tenant_export::{DATA_TABLES, assert_nothing_of, rows, seed};

/// Runs `tenantd tenants <args>` on `database`, feeding it `input`.
fn run_tenants(database: &TestDatabase, args: &[&str], input: &[u8]) -> Output {
    let mut child = tenantd()
        .arg("tenants")
        .args(args)
        .env("TENANTD_DATABASE_URL", &database.url)
        .env("TENANTD_MIGRATION_DATABASE_URL", &database.owner_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tenantd tenants");
    // A command that fails before reading all its input closes the pipe;
    // its exit status and stderr then say why.
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("tenantd tenants ends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_exports_to_stdout_and_imports_from_stdin() {
    if !postgres_available().await {
        return;
    }
    let source = TestServer::start(Backend::Postgres).await;
    let mut client = source.tenants();
    let tenant = create_with(&mut client, "cli-export", "", pb::IsolationModel::Schema)
        .await
        .expect("create a SCHEMA tenant");
    let source_owner = connect(&source.database().owner_url).await;
    seed(&source_owner, &tenant.id).await;

    let exported = run_tenants(source.database(), &["export", &tenant.id], b"");
    assert!(exported.status.success(), "{exported:?}");
    let archive = exported.stdout;
    assert!(!archive.is_empty());

    let target = TestServer::start(Backend::Postgres).await;
    let mut target_client = target.tenants();
    let target_owner = connect(&target.database().owner_url).await;
    let new_id = Uuid::now_v7().to_string();
    // Answering a call, the server has migrated its database.
    assert_nothing_of(&mut target_client, &target_owner, &new_id).await;

    let cut = run_tenants(
        target.database(),
        &["import", "--tenant-id", &new_id],
        &archive[..archive.len() - 40],
    );
    assert!(!cut.status.success(), "a truncated file is refused");
    let said = String::from_utf8_lossy(&cut.stderr);
    assert!(said.contains("corrupt"), "{said}");
    assert_nothing_of(&mut target_client, &target_owner, &new_id).await;

    let mut flipped = archive.clone();
    let at = flipped
        .windows(6)
        .position(|window| window == b"Widget")
        .expect("a product row in the file");
    flipped[at] ^= 0x20;
    let damaged = run_tenants(
        target.database(),
        &["import", "--tenant-id", &new_id],
        &flipped,
    );
    assert!(!damaged.status.success(), "a flipped byte is refused");
    let said = String::from_utf8_lossy(&damaged.stderr);
    assert!(said.contains("schema/products"), "{said}");
    assert_nothing_of(&mut target_client, &target_owner, &new_id).await;

    let imported = run_tenants(
        target.database(),
        &["import", "--tenant-id", &new_id, "--slug", "cli-moved"],
        &archive,
    );
    assert!(imported.status.success(), "{imported:?}");
    assert!(imported.stdout.is_empty(), "logs stay on stderr");
    let moved = target_client
        .get_tenant(name_request(&format!("tenants/{new_id}")))
        .await
        .expect("the imported tenant")
        .into_inner();
    assert_eq!(moved.slug, "cli-moved");
    assert_eq!(moved.state(), pb::TenantState::Active);
    for table in DATA_TABLES {
        assert_eq!(
            rows(&target_owner, &new_id, table).await,
            rows(&source_owner, &tenant.id, table).await,
            "{table}"
        );
    }

    source_owner.close().await.ok();
    target_owner.close().await.ok();
    source.stop().await;
    target.stop().await;
}
