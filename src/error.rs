//! The crate's one error type and its one mapping to `tonic::Status`.
//!
//! Every layer returns [`Error`]; only [`Error::into_status`] decides the gRPC
//! code and the google.rpc details a caller sees. Every status carries an
//! `ErrorInfo` (domain [`ERROR_DOMAIN`], an UPPER_SNAKE_CASE reason);
//! INVALID_ARGUMENT adds `BadRequest` field violations and FAILED_PRECONDITION
//! adds `PreconditionFailure` violations. Internal causes are logged once,
//! here, and never shown to the caller.
//!
//! The kinds of error and their constructors are here; the mapping to a
//! status (code, reason, details, the bounds on echoed text) is in `status`,
//! the one file to read for what a caller sees.

mod status;

/// The `ErrorInfo.domain` of every error tenantd returns.
pub const ERROR_DOMAIN: &str = "tenantd";
/// The `RetryInfo` delay of an UNAVAILABLE answer: long enough for a
/// restarting database or a failover to come back, short enough that a
/// caller's retry is not what keeps it waiting.
pub const UNAVAILABLE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

use crate::error::status::{MAX_TEXT_BYTES, MAX_VIOLATIONS, clip};

/// Shorthand for results whose error is the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid field of a request, named by its path (`tenant.slug`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request message.
    pub field: String,
    /// What is wrong with it, in words a caller can act on.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`, described by `description`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Where a validation collects what is wrong with a request, to refuse it
/// as a whole with INVALID_ARGUMENT.
pub trait Violations {
    /// Records that `field` is wrong, as `description` says.
    fn refuse(&mut self, field: impl Into<String>, description: impl Into<String>);
}

impl Violations for Vec<FieldViolation> {
    fn refuse(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.push(FieldViolation::new(field, description));
    }
}

/// One unmet precondition: a `PreconditionFailure.Violation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconditionViolation {
    /// The kind of precondition, e.g. `TENANT_STATE` or `DNS_TXT_RECORD`.
    pub kind: &'static str,
    /// What it is about, e.g. a resource name.
    pub subject: String,
    /// How it failed.
    pub description: String,
}

/// One quota that refused a charge: a `QuotaFailure.Violation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaViolation {
    /// The tenant, `tenants/{id}`.
    pub subject: String,
    /// The quota key.
    pub quota_id: String,
    /// The usage metric the quota counts, if any.
    pub quota_metric: String,
    /// The limit.
    pub quota_value: i64,
    /// E.g. "api_requests: 1000 per minute, 1000 used".
    pub description: String,
}

/// Every way a tenantd operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; each violation names a field.
    #[error("invalid argument: {}", describe_violations(.0))]
    InvalidArgument(Vec<FieldViolation>),

    /// The named resource does not exist (or is not visible to the caller).
    #[error("{kind} {name:?} not found")]
    NotFound {
        /// The resource kind, lowercase (`tenant`, `domain`).
        kind: &'static str,
        /// The name the caller asked for.
        name: String,
    },

    /// A resource with the same unique key already exists.
    #[error("{message}")]
    AlreadyExists {
        /// UPPER_SNAKE_CASE reason, e.g. `SLUG_ALREADY_EXISTS`.
        reason: &'static str,
        /// What collided with what.
        message: String,
    },

    /// A concurrency check failed (stale etag); re-read and retry.
    #[error("{message}")]
    Aborted {
        /// UPPER_SNAKE_CASE reason, e.g. `ETAG_MISMATCH`.
        reason: &'static str,
        /// What changed underneath the caller.
        message: String,
    },

    /// The system is not in a state the operation needs.
    #[error("{message}")]
    FailedPrecondition {
        /// UPPER_SNAKE_CASE reason, e.g. `TENANT_DELETED`.
        reason: &'static str,
        /// What is in the way.
        message: String,
        /// The unmet preconditions.
        violations: Vec<PreconditionViolation>,
    },

    /// The caller sent no credentials, or ones tenantd does not accept.
    #[error("{message}")]
    Unauthenticated {
        /// UPPER_SNAKE_CASE reason, e.g. `CREDENTIALS_MISSING`.
        reason: &'static str,
        /// What to send instead.
        message: String,
    },

    /// The caller is known but may not do this, or not to this tenant.
    #[error("{message}")]
    PermissionDenied {
        /// UPPER_SNAKE_CASE reason, e.g. `TENANT_SUSPENDED`.
        reason: &'static str,
        /// What is missing.
        message: String,
    },

    /// A charge does not fit a tenant's quotas.
    #[error("{message}")]
    QuotaExceeded {
        /// Which quotas refused.
        message: String,
        /// One per refusing quota.
        violations: Vec<QuotaViolation>,
        /// When the same call may succeed; `None` when only a release can
        /// make room.
        retry_after: Option<std::time::Duration>,
    },

    /// A tenant is over its share of this replica (its concurrency or
    /// rate budget); the same call may succeed after `retry_after`.
    #[error("{message}")]
    OverBudget {
        /// UPPER_SNAKE_CASE reason, e.g. `TENANT_CONCURRENCY_EXCEEDED`.
        reason: &'static str,
        /// Which budget, and its size.
        message: String,
        /// When a retry may be admitted.
        retry_after: std::time::Duration,
    },

    /// A position the caller named is outside what is kept (an event
    /// sequence pruned or not yet reached).
    #[error("{message}")]
    OutOfRange {
        /// UPPER_SNAKE_CASE reason, e.g. `SEQUENCE_OUT_OF_RANGE`.
        reason: &'static str,
        /// What is available instead.
        message: String,
        /// `ErrorInfo` metadata: the position asked for and what is kept.
        metadata: Vec<(String, String)>,
    },

    /// The method does not exist.
    #[error("{message}")]
    Unimplemented {
        /// Which method.
        message: String,
    },

    /// A dependency (the database, DNS) could not be reached; retry later.
    #[error("{message}")]
    Unavailable {
        /// What was unreachable.
        message: String,
    },

    /// A bug or an unexpected failure of a dependency.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn describe_violations(violations: &[FieldViolation]) -> String {
    let mut described: Vec<String> = violations
        .iter()
        .take(MAX_VIOLATIONS)
        .map(|violation| {
            format!(
                "{}: {}",
                clip(&violation.field, MAX_TEXT_BYTES),
                clip(&violation.description, MAX_TEXT_BYTES)
            )
        })
        .collect();
    if violations.len() > MAX_VIOLATIONS {
        described.push(format!("and {} more", violations.len() - MAX_VIOLATIONS));
    }
    described.join("; ")
}

impl Error {
    /// ABORTED `CONCURRENT_MODIFICATION`: another writer changed the
    /// resource between this call's read and its write, which was not made.
    pub fn concurrent_modification(message: impl Into<String>) -> Self {
        Self::Aborted {
            reason: "CONCURRENT_MODIFICATION",
            message: message.into(),
        }
    }

    /// ABORTED `ETAG_MISMATCH`: `name` changed since the caller read
    /// `etag`.
    pub fn stale(name: &str, etag: &str) -> Self {
        Error::Aborted {
            reason: "ETAG_MISMATCH",
            message: format!("{name} has changed since etag {etag:?} was read; read it again"),
        }
    }

    /// ABORTED `ETAG_MISMATCH`: `name` changed between this update's read
    /// and its write.
    pub fn changed_meanwhile(name: &str) -> Self {
        Error::Aborted {
            reason: "ETAG_MISMATCH",
            message: format!("{name} changed during the update; read it again"),
        }
    }

    /// Refuses with [`Self::stale`] when the caller pinned an `expected`
    /// etag that is not `current`; `name` names the resource.
    pub fn check_etag(
        expected: Option<&str>,
        current: &str,
        name: impl FnOnce() -> String,
    ) -> Result<()> {
        match expected {
            Some(etag) if etag != current => Err(Error::stale(&name(), etag)),
            _ => Ok(()),
        }
    }

    /// An INVALID_ARGUMENT error about one field.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// A FAILED_PRECONDITION error with one violation about `subject`.
    pub fn failed_precondition(
        reason: &'static str,
        kind: &'static str,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        Error::FailedPrecondition {
            reason,
            violations: vec![PreconditionViolation {
                kind,
                subject: subject.into(),
                description: message.clone(),
            }],
            message,
        }
    }

    /// An INTERNAL error wrapping `cause`.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal(cause.into())
    }
}

/// Renders an error with its sources, `outer: inner: innermost`.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut rendered = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        rendered.push_str(": ");
        rendered.push_str(&cause.to_string());
        source = cause.source();
    }
    rendered
}
