//! Flags of Envoy's external authorization answers (`serve`).

use clap::Args;

use crate::access::ext_authz::{DEFAULT_HEADER_PREFIX, ExtAuthzSettings};
use crate::error::{Error, Result};

/// What ext_authz answers put on the requests they let through.
#[derive(Debug, Clone, Args)]
pub struct ExtAuthzArgs {
    /// Prefix of the headers ext_authz sets upstream: `{prefix}id`,
    /// `{prefix}slug`, `{prefix}plan` and `{prefix}caller`. Lowercase
    /// letters, digits and hyphens.
    #[arg(
        long,
        env = "TENANTD_EXT_AUTHZ_HEADER_PREFIX",
        default_value = DEFAULT_HEADER_PREFIX
    )]
    pub ext_authz_header_prefix: String,
    /// Remove the credential header (`authorization` or `x-api-key`) from
    /// the requests ext_authz lets through, so upstreams never see it.
    #[arg(long, env = "TENANTD_EXT_AUTHZ_STRIP_CREDENTIALS")]
    pub ext_authz_strip_credentials: bool,
}

impl ExtAuthzArgs {
    /// The settings, with the prefix checked.
    pub fn settings(&self) -> Result<ExtAuthzSettings> {
        let prefix = &self.ext_authz_header_prefix;
        let valid = !prefix.is_empty()
            && prefix
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if !valid {
            return Err(Error::invalid_field(
                "ext-authz-header-prefix",
                "must be lowercase letters, digits and hyphens",
            ));
        }
        Ok(ExtAuthzSettings {
            header_prefix: prefix.clone(),
            strip_credentials: self.ext_authz_strip_credentials,
        })
    }
}
