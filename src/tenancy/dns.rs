//! The DNS resolver used to verify custom domains: the system's resolvers,
//! or one name server chosen by the operator (`--dns-resolver`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{ResolveError, TokioResolver};

use crate::error::{Error, Result};
use crate::tenancy::verification::{TxtAnswer, TxtResolver};

/// TXT lookups through hickory, uncached so a freshly published record is
/// seen at once.
pub struct DnsTxtResolver {
    /// The resolver.
    resolver: TokioResolver,
}

impl DnsTxtResolver {
    /// Asks `server` when given, the system's resolvers otherwise.
    pub fn new(server: Option<SocketAddr>) -> Result<Self> {
        let provider = TokioConnectionProvider::default();
        let mut builder = match server {
            Some(address) => {
                let servers =
                    NameServerConfigGroup::from_ips_clear(&[address.ip()], address.port(), true);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, vec![], servers),
                    provider,
                )
            }
            None => TokioResolver::builder(provider).map_err(|error| Error::Unavailable {
                message: format!("cannot read the system's DNS configuration: {error}"),
            })?,
        };
        let options = builder.options_mut();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(3);
        options.attempts = 2;
        Ok(Self {
            resolver: builder.build(),
        })
    }
}

fn is_absent(error: &ResolveError) -> bool {
    error.is_no_records_found() || error.is_nx_domain()
}

impl TxtResolver for DnsTxtResolver {
    fn lookup_txt<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<TxtAnswer>> + Send + 'a>> {
        Box::pin(async move {
            // A trailing dot makes the name absolute: no search domains.
            let absolute = format!("{name}.");
            match self.resolver.txt_lookup(absolute).await {
                Ok(lookup) => Ok(TxtAnswer::Records(
                    lookup
                        .iter()
                        .map(|txt| {
                            txt.txt_data()
                                .iter()
                                .map(|part| String::from_utf8_lossy(part).into_owned())
                                .collect::<String>()
                        })
                        .collect(),
                )),
                Err(error) if is_absent(&error) => Ok(TxtAnswer::NoRecords),
                Err(error) => Err(Error::Unavailable {
                    message: format!("DNS lookup of {name} failed: {error}"),
                }),
            }
        })
    }
}
