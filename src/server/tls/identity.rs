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

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    use super::*;

    fn certificate(common_name: &str, uris: &[&str]) -> CertificateDer<'static> {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.subject_alt_names = uris
            .iter()
            .map(|uri| SanType::URI((*uri).try_into().expect("IA5")))
            .collect();
        let key = KeyPair::generate().expect("key");
        params.self_signed(&key).expect("certificate").der().clone()
    }

    fn mapping(entries: &[(&str, ClientIdentity)]) -> ClientServices {
        let services: Vec<ClientService> = entries
            .iter()
            .map(|(name, identity)| ClientService {
                name: (*name).to_owned(),
                identity: identity.clone(),
            })
            .collect();
        ClientServices::new(&services)
    }

    #[test]
    fn spiffe_ids_win_over_common_names_and_unmapped_names_are_nobody() {
        const BILLING: &str = "spiffe://example.org/ns/prod/sa/billing";
        let services = mapping(&[
            ("billing", ClientIdentity::SpiffeId(BILLING.to_owned())),
            ("reports", ClientIdentity::CommonName("reports".to_owned())),
        ]);
        let name = |der: &CertificateDer<'_>| services.service_of(der).map(|name| name.to_string());
        assert_eq!(
            name(&certificate("anything", &[BILLING])),
            Some("billing".into())
        );
        assert_eq!(name(&certificate("reports", &[])), Some("reports".into()));
        assert_eq!(
            name(&certificate("reports", &[BILLING])),
            Some("billing".into())
        );
        let other = certificate("billing", &["spiffe://example.org/ns/prod/sa/other"]);
        assert_eq!(name(&other), None, "a CN is matched only by a CN= entry");
        assert_eq!(name(&CertificateDer::from(b"not der".to_vec())), None);
        assert_eq!(
            ClientServices::default().service_of(&certificate("reports", &[BILLING])),
            None
        );
    }
}
