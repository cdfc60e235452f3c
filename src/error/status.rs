//! The one mapping of [`Error`] to `tonic::Status`: its code, its
//! `ErrorInfo` reason, and the google.rpc details each kind carries.
//!
//! Error texts echo what the caller sent, so every text put in a status is
//! clipped here: statuses travel in HTTP/2 headers, which clients refuse
//! past 16 KiB.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{ERROR_DOMAIN, Error, QuotaViolation, UNAVAILABLE_RETRY_DELAY, error_chain};

/// Error texts echo what the caller sent, so they are bounded.
pub(super) const MAX_TEXT_BYTES: usize = 240;
/// The status message, which repeats the violations, is bounded too.
const MAX_MESSAGE_BYTES: usize = 1024;
/// At most this many violations are detailed; the count of the rest is
/// given.
pub(super) const MAX_VIOLATIONS: usize = 10;

/// `text`, cut to at most `max` bytes on a character boundary, with an
/// ellipsis when cut.
pub(super) fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl Error {
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
            Error::OutOfRange { .. } => Code::OutOfRange,
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
            | Error::OutOfRange { reason, .. }
            | Error::OverBudget { reason, .. } => (*reason).to_owned(),
            Error::QuotaExceeded { .. } => "QUOTA_EXCEEDED".to_owned(),
            Error::Unimplemented { .. } => "METHOD_NOT_FOUND".to_owned(),
            Error::Unavailable { .. } => "UNAVAILABLE".to_owned(),
            Error::Internal(_) => "INTERNAL".to_owned(),
        }
    }
    /// The status a caller receives. Internal causes are logged here, once.
    pub fn into_status(self) -> Status {
        let message = match &self {
            Error::Internal(cause) => {
                tracing::error!(error = %error_chain(cause.as_ref()), "internal error");
                "internal error".to_owned()
            }
            other => clip(&other.to_string(), MAX_MESSAGE_BYTES),
        };
        let mut details = ErrorDetails::new();
        let metadata = self.add_details(&mut details);
        details.set_error_info(self.reason(), ERROR_DOMAIN, metadata);
        Status::with_error_details(self.code(), message, details)
    }

    /// Adds the details of this kind of error to `details`, and returns the
    /// `ErrorInfo` metadata.
    fn add_details(&self, details: &mut ErrorDetails) -> HashMap<String, String> {
        let mut metadata = HashMap::new();
        match self {
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
                details.set_quota_failure(quota_failure(violations));
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
            Error::OutOfRange { metadata: kept, .. } => {
                for (key, value) in kept {
                    metadata.insert(key.clone(), clip(value, MAX_TEXT_BYTES));
                }
            }
            _ => {}
        }
        metadata
    }
}

/// The `QuotaFailure` violations of the first refusing quotas, clipped.
fn quota_failure(violations: &[QuotaViolation]) -> Vec<tonic_types::QuotaViolation> {
    violations
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
        .collect()
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        error.into_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldViolation;

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
