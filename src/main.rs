//! The tenantd binary: parse the configuration, start telemetry, run the
//! command.

use std::process::ExitCode;

use clap::Parser;
use tenantd::error::error_chain;
use tenantd::settings::tenants::TenantsCommand;
use tenantd::settings::{Cli, Command, Config, ServeArgs, UsageCommand, redact_url};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands whose output is data keep stdout for it.
    let to_stderr = matches!(cli.command, Some(Command::Usage(_) | Command::Tenants(_)));
    let _telemetry =
        match tenantd::telemetry::init(cli.common.log_format, &cli.common.log_filter, to_stderr) {
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
            tenantd::server::migrate(url).await
        }
        Some(Command::Usage(UsageCommand::Export(args))) => {
            tenantd::server::export_usage(&cli.common.database_url, &args)
                .await
                .map(|written| tracing::info!(rollups = written, "usage exported"))
        }
        Some(Command::Usage(UsageCommand::Reaggregate(args))) => {
            let retention =
                chrono::Duration::days(i64::from(args.retention.usage_event_retention_days));
            tenantd::server::reaggregate_usage(
                &cli.common.database_url,
                (args.from, args.to),
                retention,
            )
            .await
        }
        Some(Command::Tenants(command)) => tenants_command(&cli.common, command).await,
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

async fn tenants_command(
    common: &tenantd::settings::CommonArgs,
    command: TenantsCommand,
) -> Result<(), tenantd::error::Error> {
    let concurrency = match &command {
        TenantsCommand::Migrate(args) => args.concurrency,
        TenantsCommand::Purge(_) | TenantsCommand::Export(_) | TenantsCommand::Import(_) => 1,
    };
    let (store, tenants) = tenantd::server::tenants::operator_tenants(common, concurrency).await?;
    let outcome = match command {
        TenantsCommand::Purge(args) => {
            let now = args.now.map(tenantd::common::ids::TenantId::from_uuid);
            tenantd::cli::tenant_purge::run(tenants, now).await
        }
        TenantsCommand::Migrate(args) => tenantd::cli::rollout::run(tenants, &args).await,
        TenantsCommand::Export(args) => {
            let tenant_id = tenantd::common::ids::TenantId::from_uuid(args.tenant_id);
            tenantd::cli::tenant_archive::export(&tenants, tenant_id, std::io::stdout().lock())
                .await
                .map(|chunks| tracing::info!(tenant.id = %tenant_id, chunks, "tenant exported"))
        }
        TenantsCommand::Import(args) => {
            let options = tenantd::tenancy::tenant_archive::ImportOptions {
                tenant_id: args
                    .tenant_id
                    .map(tenantd::common::ids::TenantId::from_uuid),
                slug: args.slug,
            };
            tenantd::cli::tenant_archive::import(&tenants, options, std::io::stdin().lock())
                .await
                .map(|tenant| tracing::info!(tenant.id = %tenant.id, slug = %tenant.slug, "tenant imported"))
        }
    };
    store.close().await?;
    outcome
}

async fn serve_until_signal(
    common: &tenantd::settings::CommonArgs,
    serve: &ServeArgs,
) -> Result<(), tenantd::error::Error> {
    let config = Config::new(common, serve)?;
    if let Some(address) = serve.metrics_addr {
        tenantd::telemetry::serve_metrics(address)?;
    }
    let listener = tokio::net::TcpListener::bind(serve.listen_addr)
        .await
        .map_err(tenantd::error::Error::internal)?;
    tenantd::server::run(config, listener, tenantd::server::shutdown_signal()).await
}
