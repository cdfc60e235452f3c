//! The command line: what `tenantd` runs for each command (`serve`, the
//! default, and the operator commands that run once and exit: migrations,
//! template rollout, tenant purge, tenant archive files, tenants' service
//! levels, usage export and reaggregation, and the event tail).

pub mod events_tail;
mod progress;
pub mod reaggregate;
pub mod rollout;
pub mod tenant_archive;
pub mod tenant_health;
pub mod tenant_purge;

use std::process::ExitCode;

use crate::common::ids::TenantId;
use crate::error::Result;
use crate::error::error_chain;
use crate::server::tenants::with_provisioning;
use crate::settings::CommonArgs;
use crate::settings::EventsCommand;
use crate::settings::events::TailArgs;
use crate::settings::tenants::TenantsCommand;
use crate::settings::{Cli, Command, Config, ServeArgs, UsageCommand, redact_url};
use crate::settings::{ExportFormat, UsageExportArgs};
use crate::store::{PoolOptions, Store};
use crate::tenancy::dns::DnsTxtResolver;
use crate::tenancy::tenants::{TenantSettings, Tenants};
use crate::usage::alerts::UsageChanges;
use crate::usage::event::UsageSettings;
use crate::usage::export::{ExportQuery, Exports};
use crate::usage::rollups::{RetentionSettings, Rollups};
use std::sync::Arc;

/// `tenantd usage export`: writes the rollups `args` select to standard
/// output; answers how many were written.
pub async fn export_usage(database_url: &str, args: &UsageExportArgs) -> Result<usize> {
    let tenants = args
        .tenants
        .iter()
        .copied()
        .map(TenantId::from_uuid)
        .collect();
    let query = ExportQuery::new(tenants, args.metrics.clone(), (args.from, args.to))?;
    let store = Store::connect(database_url, &PoolOptions::default()).await?;
    let exports = Exports::new(store.clone(), UsageSettings::default());
    let written = match args.format {
        ExportFormat::Csv => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            exports.write_csv(query, &mut out).await
        }
    };
    store.close().await?;
    written
}

/// Recomputes the usage rollups of the days `from..=to` (`tenantd usage
/// reaggregate`), showing progress on the terminal.
pub async fn reaggregate_usage(
    database_url: &str,
    days: (chrono::NaiveDate, chrono::NaiveDate),
    retention: chrono::Duration,
) -> Result<()> {
    let store = Store::connect(database_url, &PoolOptions::default()).await?;
    store.ensure_migrated().await?;
    let settings = RetentionSettings {
        usage: UsageSettings::default(),
        retention,
    };
    // Nobody alerts from an operator's command: the serving replicas do.
    let rollups = Rollups::new(store.clone(), settings, UsageChanges::default());
    let outcome = crate::cli::reaggregate::run(rollups, days).await;
    store.close().await?;
    outcome
}

/// The directory an operator command reads tenants through, on the
/// database URL, without provisioning.
pub async fn operator_directory(common: &CommonArgs) -> Result<(Store, Tenants)> {
    let store = Store::connect(&common.database_url, &PoolOptions::default()).await?;
    store.ensure_migrated().await?;
    let settings = TenantSettings {
        purge_after: chrono::Duration::days(30),
        base_domain: None,
        domain_claim_ttl: chrono::Duration::days(7),
    };
    let resolver = Arc::new(DnsTxtResolver::new(None)?);
    let tenants = Tenants::new(store.clone(), settings, resolver);
    Ok((store, tenants))
}

/// The directory an operator command works with: the database URL for the
/// control plane, the migration URL (the owner's) for schema DDL, for
/// `concurrency` tenants at once.
pub async fn operator_tenants(common: &CommonArgs, concurrency: u32) -> Result<(Store, Tenants)> {
    let (store, tenants) = operator_directory(common).await?;
    let migration_url = common
        .migration_database_url
        .as_deref()
        .filter(|url| !url.is_empty())
        .unwrap_or(&common.database_url);
    let template_dir = common.template.tenant_template_dir.as_deref();
    let tenants = with_provisioning(
        tenants,
        &store,
        migration_url,
        (template_dir, concurrency, None),
    )
    .await?;
    Ok((store, tenants))
}

/// Runs the command `cli` names (serving when it names none); answers the
/// process's exit code.
pub async fn run(cli: Cli) -> ExitCode {
    // Commands whose output is data keep stdout for it.
    let to_stderr = matches!(
        cli.command,
        Some(Command::Usage(_) | Command::Tenants(_) | Command::Events(_))
    );
    let _telemetry =
        match crate::telemetry::init(cli.common.log_format, &cli.common.log_filter, to_stderr) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("tenantd: {error}");
                return ExitCode::FAILURE;
            }
        };
    let outcome = match cli.command {
        Some(Command::Migrate) => {
            let url = cli
                .common
                .migration_database_url
                .as_deref()
                .filter(|url| !url.is_empty())
                .unwrap_or(&cli.common.database_url);
            crate::server::migrate(url).await
        }
        Some(Command::Usage(UsageCommand::Export(args))) => {
            export_usage(&cli.common.database_url, &args)
                .await
                .map(|written| tracing::info!(rollups = written, "usage exported"))
        }
        Some(Command::Usage(UsageCommand::Reaggregate(args))) => {
            let retention =
                chrono::Duration::days(i64::from(args.retention.usage_event_retention_days));
            reaggregate_usage(&cli.common.database_url, (args.from, args.to), retention).await
        }
        Some(Command::Tenants(command)) => tenants_command(&cli.common, command).await,
        Some(Command::Events(EventsCommand::Tail(args))) => tail_events(&cli.common, &args).await,
        Some(Command::Serve(serve)) => serve_until_signal(&cli.common, &serve).await,
        None => serve_until_signal(&cli.common, &ServeArgs::from_env()).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error_chain(&error), database = %redact_url(&cli.common.database_url), "tenantd failed");
            ExitCode::FAILURE
        }
    }
}

/// `tenantd events tail`: prints events to standard output.
pub async fn tail_events(common: &CommonArgs, args: &TailArgs) -> Result<()> {
    let store = Store::connect(&common.database_url, &PoolOptions::default()).await?;
    store.ensure_migrated().await?;
    let outcome = crate::cli::events_tail::run(store.clone(), args, std::io::stdout().lock()).await;
    store.close().await?;
    outcome
}

/// Runs one `tenantd tenants …` command.
pub async fn tenants_command(
    common: &crate::settings::CommonArgs,
    command: TenantsCommand,
) -> Result<(), crate::error::Error> {
    let (store, tenants) = match &command {
        // Reads only: neither the owner's URL nor the provisioner.
        TenantsCommand::Health(_) => operator_directory(common).await?,
        TenantsCommand::Migrate(args) => operator_tenants(common, args.concurrency).await?,
        TenantsCommand::Purge(_) | TenantsCommand::Export(_) | TenantsCommand::Import(_) => {
            operator_tenants(common, 1).await?
        }
    };
    let outcome = match command {
        TenantsCommand::Purge(args) => {
            let now = args.now.map(crate::common::ids::TenantId::from_uuid);
            crate::cli::tenant_purge::run(tenants, now).await
        }
        TenantsCommand::Migrate(args) => crate::cli::rollout::run(tenants, &args).await,
        TenantsCommand::Export(args) => {
            let tenant_id = crate::common::ids::TenantId::from_uuid(args.tenant_id);
            crate::cli::tenant_archive::export(&tenants, tenant_id, std::io::stdout().lock())
                .await
                .map(|chunks| tracing::info!(tenant.id = %tenant_id, chunks, "tenant exported"))
        }
        TenantsCommand::Import(args) => {
            let options = crate::tenancy::tenant_archive::ImportOptions {
                tenant_id: args.tenant_id.map(crate::common::ids::TenantId::from_uuid),
                slug: args.slug,
            };
            crate::cli::tenant_archive::import(&tenants, options, std::io::stdin().lock())
                .await
                .map(|tenant| tracing::info!(tenant.id = %tenant.id, slug = %tenant.slug, "tenant imported"))
        }
        TenantsCommand::Health(args) => {
            crate::cli::tenant_health::run(
                &store,
                &tenants,
                &args.tenants,
                std::io::stdout().lock(),
            )
            .await
        }
    };
    store.close().await?;
    outcome
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn serve_until_signal(
    common: &crate::settings::CommonArgs,
    serve: &ServeArgs,
) -> Result<(), crate::error::Error> {
    let config = Config::new(common, serve)?;
    let listener = tokio::net::TcpListener::bind(serve.listen_addr)
        .await
        .map_err(crate::error::Error::internal)?;
    crate::server::run(config, listener, crate::server::shutdown_signal()).await
}
