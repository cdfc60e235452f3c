//! ExportTenant and ImportTenant on PostgreSQL: a SCHEMA tenant with data
//! in its template tables moves to a fresh database under a new id with
//! the same rows; corrupted or truncated archives, and an archive whose
//! rows the database refuses, are refused and leave no tenant, schema or
//! role behind. The POOL round trip is in `tenant_export_pool.rs`.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tenantd::pb;
use tenantd::pb::tenant_archive_chunk::Kind;
use tonic::Code;
use uuid::Uuid;

use crate::provisioning::create_with;
use crate::support::db::postgres_available;
use crate::support::fixtures::{Client, create_domain, name_request};
use crate::support::schemas::{connect, role_exists, schema_exists, schema_of};
use crate::support::status::invalid_fields;
use crate::support::{Backend, TestServer};

/// The example template's tables, referenced ones first.
pub(crate) const DATA_TABLES: [&str; 5] =
    ["companies", "products", "forecasts", "inventory", "sales"];

/// Fills tenant `id`'s template tables through the owner's connection.
pub(crate) async fn seed(owner: &DatabaseConnection, id: &str) {
    let schema = schema_of(id);
    let sql = format!(
        "INSERT INTO {schema}.companies (name, kind, country) VALUES \
           ('Acme', 'supplier', 'NL'), ('Globex', 'customer', NULL), ('O''Brien & \"Co\"', 'partner', 'IE'); \
         INSERT INTO {schema}.products (sku, name, supplier_id, unit_price) \
           SELECT 'SKU-' || n, 'Widget ' || n, (SELECT min(id) FROM {schema}.companies), n * 1.25 \
           FROM generate_series(1, 600) AS n; \
         INSERT INTO {schema}.sales (company_id, product_id, quantity, unit_price) \
           SELECT (SELECT max(id) FROM {schema}.companies), id, 3, unit_price \
           FROM {schema}.products WHERE id % 7 = 0; \
         INSERT INTO {schema}.inventory (product_id, location, on_hand) \
           SELECT id, 'ams-1', 10 FROM {schema}.products WHERE id <= 20; \
         INSERT INTO {schema}.forecasts (product_id, period, quantity) \
           SELECT id, DATE '2026-01-01', 40 FROM {schema}.products WHERE id <= 5"
    );
    owner
        .execute_unprepared(&sql)
        .await
        .expect("seed the tenant's tables");
}

/// Every row of `table` in tenant `id`'s schema, as JSON text, sorted.
pub(crate) async fn rows(owner: &DatabaseConnection, id: &str, table: &str) -> Vec<String> {
    let sql = format!(
        "SELECT row_to_json(t)::text FROM {}.{table} t ORDER BY 1",
        schema_of(id)
    );
    owner
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("read a tenant table")
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("text"))
        .collect()
}

/// The `tenant_*` schemas of a database.
pub(crate) async fn tenant_schemas(owner: &DatabaseConnection) -> Vec<String> {
    owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'",
        ))
        .await
        .expect("list schemas")
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("text"))
        .collect()
}

/// The chunks ExportTenant streams for `name`.
pub(crate) async fn export(client: &mut Client, name: &str) -> Vec<pb::TenantArchiveChunk> {
    let mut stream = client
        .export_tenant(pb::ExportTenantRequest {
            name: name.to_owned(),
        })
        .await
        .expect("export the tenant")
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(message) = stream.message().await.expect("an export chunk") {
        chunks.push(message.chunk.expect("a chunk"));
    }
    chunks
}

/// Imports `chunks` under `tenant_id` and `slug` (empty: the archive's).
pub(crate) async fn import(
    client: &mut Client,
    chunks: Vec<pb::TenantArchiveChunk>,
    tenant_id: &str,
    slug: &str,
) -> Result<pb::Tenant, tonic::Status> {
    let mut messages: Vec<pb::ImportTenantRequest> = chunks
        .into_iter()
        .map(|chunk| pb::ImportTenantRequest {
            chunk: Some(chunk),
            ..Default::default()
        })
        .collect();
    if let Some(first) = messages.first_mut() {
        first.tenant_id = tenant_id.to_owned();
        first.slug = slug.to_owned();
    }
    client
        .import_tenant(tokio_stream::iter(messages))
        .await
        .map(tonic::Response::into_inner)
}

/// Asserts the database holds no trace of tenant `id`.
pub(crate) async fn assert_nothing_of(client: &mut Client, owner: &DatabaseConnection, id: &str) {
    let status = client
        .get_tenant(name_request(&format!("tenants/{id}")))
        .await
        .expect_err("no tenant");
    assert_eq!(status.code(), Code::NotFound);
    assert!(!schema_exists(owner, &schema_of(id)).await, "schema left");
    assert!(!role_exists(owner, &schema_of(id)).await, "role left");
    assert!(tenant_schemas(owner).await.is_empty(), "a tenant schema");
}

pub(crate) fn manifest(chunks: &[pb::TenantArchiveChunk]) -> &pb::TenantArchiveManifest {
    match &chunks[0].kind {
        Some(Kind::Manifest(manifest)) => manifest,
        other => panic!("the first chunk is not a manifest: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_tenant_moves_to_a_fresh_database_under_a_new_id() {
    if !postgres_available().await {
        return;
    }
    let source = TestServer::start(Backend::Postgres).await;
    let mut client = source.tenants();
    let tenant = create_with(&mut client, "acme-export", "", pb::IsolationModel::Schema)
        .await
        .expect("create a SCHEMA tenant");
    assert_eq!(tenant.state(), pb::TenantState::Active);
    create_domain(&mut client, &tenant.name, "shop.acme-export.example").await;
    let source_owner = connect(&source.database().owner_url).await;
    seed(&source_owner, &tenant.id).await;

    let chunks = export(&mut client, &tenant.name).await;
    let listed = manifest(&chunks);
    assert_eq!(listed.format_version, 1);
    assert_eq!(listed.tenant_id, tenant.id);
    assert_eq!(listed.isolation, "SCHEMA");
    assert_eq!(listed.template_version, tenant.template_version);
    let names: Vec<&str> = listed.sections.iter().map(|s| s.name.as_str()).collect();
    let products = names.iter().position(|name| *name == "schema/products");
    let sales = names.iter().position(|name| *name == "schema/sales");
    assert!(products < sales, "referenced tables first: {names:?}");
    assert!(matches!(
        chunks.last().and_then(|c| c.kind.as_ref()),
        Some(Kind::Trailer(_))
    ));

    let target = TestServer::start(Backend::Postgres).await;
    let mut target_client = target.tenants();
    let new_id = Uuid::now_v7().to_string();
    let imported = import(&mut target_client, chunks, &new_id, "acme-moved")
        .await
        .expect("import into the fresh database");
    assert_eq!(imported.id, new_id);
    assert_eq!(imported.slug, "acme-moved");
    assert_eq!(imported.state(), pb::TenantState::Active);
    assert_eq!(imported.isolation(), pb::IsolationModel::Schema);
    assert_eq!(imported.template_version, tenant.template_version);

    let target_owner = connect(&target.database().owner_url).await;
    for table in DATA_TABLES {
        let before = rows(&source_owner, &tenant.id, table).await;
        assert!(!before.is_empty(), "{table} was seeded");
        assert_eq!(rows(&target_owner, &new_id, table).await, before, "{table}");
    }
    let domains = target_client
        .list_domains(pb::ListDomainsRequest {
            parent: imported.name.clone(),
            ..Default::default()
        })
        .await
        .expect("list domains")
        .into_inner();
    assert_eq!(domains.domains[0].hostname, "shop.acme-export.example");
    let trail = target_client
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: imported.name.clone(),
            ..Default::default()
        })
        .await
        .expect("the imported tenant's audit trail")
        .into_inner()
        .audit_events;
    let actions: Vec<&str> = trail.iter().map(|event| event.action.as_str()).collect();
    assert_eq!(actions, ["ImportTenant"], "the source's trail stays behind");
    // The identity sequences moved past the imported ids.
    let next = target_owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "INSERT INTO {}.companies (name) VALUES ('Initech') RETURNING id",
                schema_of(&new_id)
            ),
        ))
        .await
        .expect("insert after the import")
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("an id");
    assert_eq!(next, 4);

    source_owner.close().await.ok();
    target_owner.close().await.ok();
    source.stop().await;
    target.stop().await;
}

/// The archive's rows of `section` changed by `change`, checksums redone
/// so that only the database can refuse them.
fn resealed(
    chunks: &[pb::TenantArchiveChunk],
    section: &str,
    change: impl Fn(&str) -> String,
) -> Vec<pb::TenantArchiveChunk> {
    let mut assembler = tenantd::tenancy::grpc::archive::Assembler::default();
    for chunk in chunks.iter().cloned() {
        assembler.push(chunk).expect("a valid chunk");
    }
    let archive = assembler.finish().expect("a whole archive");
    let manifest = &archive.manifest;
    let described = (
        manifest.tenant_id,
        manifest.slug.as_str(),
        manifest.isolation,
        manifest.template_version,
    );
    let mut sections = archive.sections.clone();
    for part in sections.iter_mut().filter(|part| part.name == section) {
        part.rows = part.rows.iter().map(|row| change(row)).collect();
    }
    let changed = tenantd::tenancy::archive::Archive::new(described, sections);
    tenantd::tenancy::grpc::archive::chunks(&changed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_refused_archive_leaves_nothing_behind() {
    if !postgres_available().await {
        return;
    }
    let source = TestServer::start(Backend::Postgres).await;
    let mut client = source.tenants();
    let tenant = create_with(&mut client, "corrupt-src", "", pb::IsolationModel::Schema)
        .await
        .expect("create a SCHEMA tenant");
    let source_owner = connect(&source.database().owner_url).await;
    seed(&source_owner, &tenant.id).await;
    let chunks = export(&mut client, &tenant.name).await;

    let target = TestServer::start(Backend::Postgres).await;
    let mut target_client = target.tenants();
    let target_owner = connect(&target.database().owner_url).await;
    let new_id = Uuid::now_v7().to_string();

    // One byte of one row of a data chunk flipped.
    let mut flipped = chunks.clone();
    let data = flipped
        .iter_mut()
        .find_map(|chunk| match &mut chunk.kind {
            Some(Kind::Rows(rows)) if rows.section == "schema/products" => Some(rows),
            _ => None,
        })
        .expect("a products chunk");
    let mut bytes = data.rows[0].clone().into_bytes();
    let at = bytes.iter().position(|byte| *byte == b'W').expect("a W");
    bytes[at] ^= 0x20;
    data.rows[0] = String::from_utf8(bytes).expect("still text");
    let status = import(&mut target_client, flipped, &new_id, "")
        .await
        .expect_err("a flipped byte is refused");
    assert_eq!(invalid_fields(&status), ["chunk"]);
    assert!(status.message().contains("schema/products"), "{status:?}");
    assert_nothing_of(&mut target_client, &target_owner, &new_id).await;

    // The archive cut short: its last data chunk and trailer are lost.
    let truncated = chunks[..chunks.len() - 2].to_vec();
    let status = import(&mut target_client, truncated, &new_id, "")
        .await
        .expect_err("a truncated archive is refused");
    assert_eq!(invalid_fields(&status), ["chunk"]);
    assert!(status.message().contains("truncated"), "{status:?}");
    assert_nothing_of(&mut target_client, &target_owner, &new_id).await;

    // Checksums intact, but a sale of a product that does not exist: the
    // database refuses it after the schema and control rows were written.
    let dangling = resealed(&chunks, "schema/sales", |row| {
        let mut value: serde_json::Value = serde_json::from_str(row).expect("json");
        value["product_id"] = serde_json::json!(999_999);
        value.to_string()
    });
    let status = import(&mut target_client, dangling, &new_id, "")
        .await
        .expect_err("a dangling reference is refused");
    assert_ne!(status.code(), Code::Ok);
    assert_nothing_of(&mut target_client, &target_owner, &new_id).await;

    // The archive itself is fine: it imports afterwards.
    import(&mut target_client, chunks, &new_id, "")
        .await
        .expect("the intact archive imports");
    assert!(schema_exists(&target_owner, &schema_of(&new_id)).await);

    source_owner.close().await.ok();
    target_owner.close().await.ok();
    source.stop().await;
    target.stop().await;
}
