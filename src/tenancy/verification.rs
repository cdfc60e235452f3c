//! The DNS lookup that proves control of a custom domain, behind a trait so
//! the directory does not depend on a resolver library.

use std::future::Future;
use std::pin::Pin;

use crate::error::Result;

/// What a TXT lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtAnswer {
    /// The TXT strings at the name (each record's strings joined).
    Records(Vec<String>),
    /// The name does not exist or has no TXT record.
    NoRecords,
}

/// Looks up TXT records.
pub trait TxtResolver: Send + Sync + 'static {
    /// The TXT records at `name`. Fails with UNAVAILABLE when DNS cannot be
    /// asked.
    fn lookup_txt<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<TxtAnswer>> + Send + 'a>>;
}
