//! The TLS flags of `serve` and what they validate into: a certificate and
//! key to serve, optionally a client CA that makes client certificates
//! mandatory, and the mapping of client certificates to named services.
//!
//! Only the flags are checked here (which go together, the mapping's
//! syntax); the files are read, and refused by name, when the server loads
//! them at start.

use std::path::PathBuf;

use clap::Args;

use crate::access::named_tokens::is_usable_name;
use crate::error::{Error, Result};

/// The TLS flags of `serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// PEM certificate chain served on the gRPC port (leaf first); with
    /// `--tls-key`, the port speaks TLS only. Both files are read again
    /// when they change.
    #[arg(long, env = "TENANTD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert` (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "TENANTD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates client certificates must chain to; when set,
    /// every client must present a valid certificate (mutual TLS).
    #[arg(long, env = "TENANTD_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// Client certificates that act as service callers, comma-separated,
    /// each `NAME=spiffe://…` (the certificate's URI SAN, its SPIFFE ID)
    /// or `NAME=CN=…` (its subject's common name).
    #[arg(long, env = "TENANTD_TLS_CLIENT_SERVICES", value_delimiter = ',')]
    pub tls_client_services: Vec<String>,
}

/// What a client certificate is recognised by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientIdentity {
    /// A URI SAN equal to this SPIFFE ID.
    SpiffeId(String),
    /// A subject common name equal to this.
    CommonName(String),
}

/// A client certificate identity that acts as a named service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientService {
    /// The service's name, as for a service token: the caller is
    /// `service:NAME` in the audit log.
    pub name: String,
    /// The certificate it is recognised by.
    pub identity: ClientIdentity,
}

/// Validated TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The certificate chain file.
    pub cert: PathBuf,
    /// The private key file.
    pub key: PathBuf,
    /// The client CA file; client certificates are required when set.
    pub client_ca: Option<PathBuf>,
    /// Which verified client certificates are which services.
    pub client_services: Vec<ClientService>,
}

impl TlsSettings {
    /// The TLS settings of `args`, `None` when TLS is off; flags that need
    /// one another are refused alone.
    pub fn from_args(args: &TlsArgs) -> Result<Option<Self>> {
        let client_services = parse_client_services(&args.tls_client_services)?;
        let (cert, key) = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            (Some(_), None) => return Err(needs("tls-cert", "--tls-key")),
            (None, Some(_)) => return Err(needs("tls-key", "--tls-cert")),
            (None, None) if args.tls_client_ca.is_some() => {
                return Err(needs("tls-client-ca", "--tls-cert and --tls-key"));
            }
            (None, None) if !client_services.is_empty() => {
                return Err(needs("tls-client-services", "--tls-client-ca"));
            }
            (None, None) => return Ok(None),
        };
        if args.tls_client_ca.is_none() && !client_services.is_empty() {
            return Err(needs("tls-client-services", "--tls-client-ca"));
        }
        Ok(Some(Self {
            cert,
            key,
            client_ca: args.tls_client_ca.clone(),
            client_services,
        }))
    }
}

fn needs(flag: &str, other: &str) -> Error {
    Error::invalid_field(flag, format!("needs {other}"))
}

/// Parses `NAME=spiffe://…` and `NAME=CN=…` entries. A service may have
/// several identities; an identity belongs to one service only.
fn parse_client_services(entries: &[String]) -> Result<Vec<ClientService>> {
    const FLAG: &str = "tls-client-services";
    let mut services: Vec<ClientService> = Vec::new();
    for entry in entries.iter().map(|entry| entry.trim()) {
        if entry.is_empty() {
            continue;
        }
        let invalid = |description: String| Error::invalid_field(FLAG, description);
        let (name, identity) = entry
            .split_once('=')
            .map(|(name, identity)| (name.trim(), identity.trim()))
            .ok_or_else(|| invalid(format!("{entry:?} is not NAME=spiffe://… or NAME=CN=…")))?;
        if !is_usable_name(name) {
            return Err(invalid(format!(
                "{name:?}: names are letters, digits, '-', '_' and '.'"
            )));
        }
        let identity = if identity.starts_with("spiffe://") && identity.len() > "spiffe://".len() {
            ClientIdentity::SpiffeId(identity.to_owned())
        } else if let Some(common_name) = identity.strip_prefix("CN=").filter(|cn| !cn.is_empty()) {
            ClientIdentity::CommonName(common_name.to_owned())
        } else {
            return Err(invalid(format!(
                "the identity of {name} must be spiffe://… or CN=…"
            )));
        };
        if services.iter().any(|known| known.identity == identity) {
            return Err(invalid(format!("the identity of {name} is mapped twice")));
        }
        services.push(ClientService {
            name: name.to_owned(),
            identity,
        });
    }
    Ok(services)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cert: bool, key: bool, ca: bool, services: &[&str]) -> TlsArgs {
        TlsArgs {
            tls_cert: cert.then(|| "server.crt".into()),
            tls_key: key.then(|| "server.key".into()),
            tls_client_ca: ca.then(|| "ca.crt".into()),
            tls_client_services: services.iter().map(|entry| (*entry).to_owned()).collect(),
        }
    }

    fn refusal(args: &TlsArgs) -> String {
        TlsSettings::from_args(args)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn flags_that_need_one_another_are_refused_alone() {
        assert_eq!(TlsSettings::from_args(&TlsArgs::default()).ok(), Some(None));
        assert!(refusal(&args(true, false, false, &[])).contains("tls-cert: needs --tls-key"));
        assert!(refusal(&args(false, true, false, &[])).contains("tls-key: needs --tls-cert"));
        assert!(refusal(&args(false, false, true, &[])).contains("tls-client-ca: needs"));
        let unverified = args(true, true, false, &["billing=CN=billing"]);
        assert!(refusal(&unverified).contains("tls-client-services: needs --tls-client-ca"));
        let mutual = TlsSettings::from_args(&args(true, true, true, &[]))
            .expect("valid")
            .expect("on");
        assert_eq!(mutual.client_ca, Some("ca.crt".into()));
    }

    #[test]
    fn client_services_map_spiffe_ids_and_common_names() {
        let entries = [
            "billing=spiffe://example.org/ns/prod/sa/billing",
            " reports = CN=reports ",
            "billing=spiffe://example.org/ns/staging/sa/billing",
        ];
        let settings = TlsSettings::from_args(&args(true, true, true, &entries))
            .expect("valid")
            .expect("on");
        let services = settings.client_services;
        assert_eq!(services.len(), 3);
        assert_eq!(
            services[0].identity,
            ClientIdentity::SpiffeId("spiffe://example.org/ns/prod/sa/billing".to_owned())
        );
        assert_eq!(services[1].name, "reports");
        assert_eq!(
            services[1].identity,
            ClientIdentity::CommonName("reports".to_owned())
        );
        for bad in [
            "billing",
            "billing=https://example.org",
            "billing=CN=",
            "billing=spiffe://",
            "a b=CN=x",
            "=CN=x",
        ] {
            assert!(
                TlsSettings::from_args(&args(true, true, true, &[bad])).is_err(),
                "{bad}"
            );
        }
        let twice = ["a=CN=same", "b=CN=same"];
        assert!(refusal(&args(true, true, true, &twice)).contains("mapped twice"));
    }
}
