//! Which service a verified client certificate is: its URI SANs (a SPIFFE
//! ID) and then its subject's common names are looked up in the configured
//! mapping (`--tls-client-services`), and the first one mapped names the
//! service, so a SPIFFE ID mapping wins over a CN mapping. A certificate
//! none of whose names is mapped is no principal: its calls need
//! credentials like any other.
//!
//! This runs once per connection, after rustls has verified the
//! certificate against the client CA, never on a certificate it refused.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::settings::{ClientIdentity, ClientService};

/// The configured mapping of certificate names to services.
#[derive(Debug, Default)]
pub struct ClientServices {
    /// Service names by SPIFFE ID (shared with every caller they make).
    by_spiffe_id: HashMap<String, Arc<str>>,
    /// Service names by subject common name.
    by_common_name: HashMap<String, Arc<str>>,
}

impl ClientServices {
    /// The mapping `services` configure.
    pub fn new(services: &[ClientService]) -> Self {
        let mut mapping = Self::default();
        for service in services {
            let name: Arc<str> = Arc::from(service.name.as_str());
            match &service.identity {
                ClientIdentity::SpiffeId(id) => mapping.by_spiffe_id.insert(id.clone(), name),
                ClientIdentity::CommonName(cn) => mapping.by_common_name.insert(cn.clone(), name),
            };
        }
        mapping
    }

    /// The service `certificate` (a verified client's leaf) is, if any.
    pub fn service_of(&self, certificate: &CertificateDer<'_>) -> Option<Arc<str>> {
        if self.by_spiffe_id.is_empty() && self.by_common_name.is_empty() {
            return None;
        }
        let (_, parsed) = X509Certificate::from_der(certificate.as_ref()).ok()?;
        let by_uri = parsed
            .subject_alternative_name()
            .ok()
            .flatten()
            .into_iter()
            .flat_map(|san| san.value.general_names.iter())
            .find_map(|name| match name {
                GeneralName::URI(uri) => self.by_spiffe_id.get(*uri),
                _ => None,
            });
        let found = by_uri.or_else(|| {
            parsed
                .subject()
                .iter_common_name()
                .find_map(|cn| self.by_common_name.get(cn.as_str().ok()?))
        });
        found.cloned()
    }
}
