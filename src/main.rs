//! The tenantd binary: parse the command line and run it ([`tenantd::cli`]).

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    tenantd::cli::run(tenantd::settings::Cli::parse()).await
}
