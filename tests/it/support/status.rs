//! Assertions on gRPC statuses and their google.rpc details.

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Asserts the code and the `ErrorInfo` reason and domain of `status`.
#[track_caller]
pub fn assert_error(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.reason, reason, "unexpected reason in {status:?}");
    assert_eq!(info.domain, "tenantd");
}

/// Asserts INVALID_ARGUMENT and returns the fields of its `BadRequest`.
#[track_caller]
pub fn invalid_fields(status: &Status) -> Vec<String> {
    assert_error(status, Code::InvalidArgument, "INVALID_ARGUMENT");
    status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("no BadRequest in {status:?}"))
        .field_violations
        .into_iter()
        .map(|violation| violation.field)
        .collect()
}
