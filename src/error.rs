//! The crate's one error type and its one mapping to `tonic::Status`.
//!
//! Every layer returns [`Error`]; only [`Error::into_status`] decides the gRPC
//! code and the google.rpc details a caller sees. Every status carries an
//! `ErrorInfo` (domain [`ERROR_DOMAIN`], an UPPER_SNAKE_CASE reason);
//! INVALID_ARGUMENT adds `BadRequest` field violations and FAILED_PRECONDITION
//! adds `PreconditionFailure` violations. Internal causes are logged once,
//! here, and never shown to the caller.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every error tenantd returns.
pub const ERROR_DOMAIN: &str = "tenantd";

/// Error texts echo what the caller sent, so they are bounded: statuses
/// travel in HTTP/2 headers, which clients refuse past 16 KiB.
const MAX_TEXT_BYTES: usize = 240;
/// The status message, which repeats the violations, is bounded too.
const MAX_MESSAGE_BYTES: usize = 1024;
/// The `RetryInfo` delay of an UNAVAILABLE answer: long enough for a
/// restarting database or a failover to come back, short enough that a
/// caller's retry is not what keeps it waiting.
pub const UNAVAILABLE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
/// At most this many violations are detailed; the count of the rest is
/// given.
const MAX_VIOLATIONS: usize = 10;

/// `text`, cut to at most `max` bytes on a character boundary, with an
/// ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

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

    /// The gRPC code this error is answered with.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::AlreadyExists { .. } => Code::AlreadyExists,
            Error::Aborted { .. } => Code::Aborted,
            Error::FailedPrecondition { .. } => Code::FailedPrecondition,
            Error::Unauthenticated { .. } => Code::Unauthenticated,
            Error::PermissionDenied { .. } => Code::PermissionDenied,
            Error::QuotaExceeded { .. } | Error::OverBudget { .. } => Code::ResourceExhausted,
            Error::Unimplemented { .. } => Code::Unimplemented,
            Error::Unavailable { .. } => Code::Unavailable,
            Error::Internal(_) => Code::Internal,
        }
    }

    /// The `ErrorInfo.reason`: a stable UPPER_SNAKE_CASE identifier.
    pub fn reason(&self) -> String {
        match self {
            Error::InvalidArgument(_) => "INVALID_ARGUMENT".to_owned(),
            Error::NotFound { kind, .. } => format!("{}_NOT_FOUND", kind.to_uppercase()),
            Error::AlreadyExists { reason, .. }
            | Error::Aborted { reason, .. }
            | Error::FailedPrecondition { reason, .. }
            | Error::Unauthenticated { reason, .. }
            | Error::PermissionDenied { reason, .. }
            | Error::OverBudget { reason, .. } => (*reason).to_owned(),
            Error::QuotaExceeded { .. } => "QUOTA_EXCEEDED".to_owned(),
            Error::Unimplemented { .. } => "METHOD_NOT_FOUND".to_owned(),
            Error::Unavailable { .. } => "UNAVAILABLE".to_owned(),
            Error::Internal(_) => "INTERNAL".to_owned(),
        }
    }

    /// The status a caller receives. Internal causes are logged here, once.
    pub fn into_status(self) -> Status {
        let mut details = ErrorDetails::new();
        let mut metadata = HashMap::new();
        let message = match &self {
            Error::Internal(cause) => {
                tracing::error!(error = %error_chain(cause.as_ref()), "internal error");
                "internal error".to_owned()
            }
            other => clip(&other.to_string(), MAX_MESSAGE_BYTES),
        };
        match &self {
            Error::InvalidArgument(violations) => {
                for violation in violations.iter().take(MAX_VIOLATIONS) {
                    details.add_bad_request_violation(
                        clip(&violation.field, MAX_TEXT_BYTES),
                        clip(&violation.description, MAX_TEXT_BYTES),
                    );
                }
            }
            Error::NotFound { name, .. } => {
                metadata.insert("resource".to_owned(), clip(name, MAX_TEXT_BYTES));
            }
            Error::FailedPrecondition { violations, .. } => {
                for violation in violations.iter().take(MAX_VIOLATIONS) {
                    details.add_precondition_failure_violation(
                        violation.kind,
                        clip(&violation.subject, MAX_TEXT_BYTES),
                        clip(&violation.description, MAX_MESSAGE_BYTES),
                    );
                }
            }
            Error::QuotaExceeded {
                violations,
                retry_after,
                ..
            } => {
                let violations: Vec<tonic_types::QuotaViolation> = violations
                    .iter()
                    .take(MAX_VIOLATIONS)
                    .map(|violation| {
                        let mut detail = tonic_types::QuotaViolation::new(
                            clip(&violation.subject, MAX_TEXT_BYTES),
                            clip(&violation.description, MAX_TEXT_BYTES),
                        );
                        detail.quota_id = clip(&violation.quota_id, MAX_TEXT_BYTES);
                        detail.quota_metric = clip(&violation.quota_metric, MAX_TEXT_BYTES);
                        detail.quota_value = violation.quota_value;
                        detail
                    })
                    .collect();
                details.set_quota_failure(violations);
                if let Some(delay) = retry_after {
                    details.set_retry_info(Some(*delay));
                }
            }
            Error::Unavailable { .. } => {
                details.set_retry_info(Some(UNAVAILABLE_RETRY_DELAY));
            }
            Error::OverBudget { retry_after, .. } => {
                details.set_retry_info(Some(*retry_after));
            }
            _ => {}
        }
        details.set_error_info(self.reason(), ERROR_DOMAIN, metadata);
        Status::with_error_details(self.code(), message, details)
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        error.into_status()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_field_violations_and_error_info() {
        let status = Error::invalid_field("tenant.slug", "must be a DNS label").into_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad_request = status
            .get_details_bad_request()
            .expect("bad request details");
        assert_eq!(bad_request.field_violations[0].field, "tenant.slug");
        let info = status.get_details_error_info().expect("error info");
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(info.domain, ERROR_DOMAIN);
    }

    #[test]
    fn echoed_input_is_bounded() {
        let long = "é".repeat(100_000);
        let violations: Vec<FieldViolation> = (0..1000)
            .map(|index| {
                FieldViolation::new(
                    format!("labels.{long}{index}"),
                    format!("{long:?} is not a label"),
                )
            })
            .collect();
        let status = Error::InvalidArgument(violations).into_status();
        assert!(
            status.message().len() <= MAX_MESSAGE_BYTES,
            "{}",
            status.message().len()
        );
        let bad_request = status
            .get_details_bad_request()
            .expect("bad request details");
        assert_eq!(bad_request.field_violations.len(), MAX_VIOLATIONS);
        assert!(bad_request.field_violations[0].description.len() <= MAX_TEXT_BYTES);
        assert!(bad_request.field_violations[0].field.ends_with('…'));
        assert!(
            status.details().len() < 8 * 1024,
            "{}",
            status.details().len()
        );
        let few = Error::InvalidArgument(
            (0..12)
                .map(|index| FieldViolation::new(format!("f{index}"), "bad"))
                .collect(),
        );
        assert!(few.into_status().message().ends_with("and 2 more"));
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééééé", 7), "éé…");
        assert_eq!(clip("ééééé", 6), "é…");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let status = Error::internal("connection reset by peer").into_status();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }
}
