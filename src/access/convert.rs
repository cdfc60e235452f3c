//! Conversions of the API key messages. Secrets appear only in the
//! responses of CreateApiKey and RotateApiKey; `pb::ApiKey` has no field
//! that could carry one.

use chrono::{DateTime, Utc};
use prost_types::{Duration, Timestamp};

use crate::access::api_key;
use crate::access::api_key::{ApiKey, ApiKeyState, IssuedApiKey, NewApiKey};
use crate::access::api_keys::Rotation;
use crate::common::validate;
use crate::error::{Error, FieldViolation, Result};
use crate::pb;
use crate::rpc::convert::{into_result, timestamp};
use crate::tenancy::truncate_to_micros;

/// The key as callers see it at `now`.
pub fn api_key(key: &ApiKey, now: DateTime<Utc>) -> pb::ApiKey {
    let state = match key.state(now) {
        ApiKeyState::Active => pb::ApiKeyState::Active,
        ApiKeyState::Expired => pb::ApiKeyState::Expired,
        ApiKeyState::Revoked => pb::ApiKeyState::Revoked,
    };
    pb::ApiKey {
        name: key.resource_name(),
        key_id: key.id.to_string(),
        prefix: format!("{}_{}", api_key::KEY_MARKER, key.prefix),
        display_name: key.display_name.clone(),
        scopes: key.scopes.clone(),
        state: state.into(),
        create_time: Some(timestamp(key.create_time)),
        expire_time: key.expire_time.map(timestamp),
        revoke_time: key.revoke_time.map(timestamp),
        rotated_from: key
            .rotated_from
            .map(|id| format!("{}/apiKeys/{id}", key.tenant_id.resource_name()))
            .unwrap_or_default(),
        last_used_time: key.last_used_time.map(timestamp),
    }
}

/// The rotation as returned to its caller.
pub fn rotation(rotation: &Rotation, now: DateTime<Utc>) -> pb::RotateApiKeyResponse {
    pb::RotateApiKeyResponse {
        api_key: Some(api_key(&rotation.issued.key, now)),
        secret: rotation.issued.secret.clone(),
        previous: Some(api_key(&rotation.previous, now)),
    }
}

/// CreateApiKey's answer: the key, and its secret this once.
pub fn issued(issued: IssuedApiKey) -> pb::CreateApiKeyResponse {
    pb::CreateApiKeyResponse {
        api_key: Some(api_key(&issued.key, Utc::now())),
        secret: issued.secret,
    }
}

/// A page of ListApiKeys, each key as it stands now.
pub fn api_keys_page(keys: &[ApiKey], next_page_token: String) -> pb::ListApiKeysResponse {
    let now = Utc::now();
    pb::ListApiKeysResponse {
        api_keys: keys.iter().map(|key| api_key(key, now)).collect(),
        next_page_token,
    }
}

/// A point in time from a caller, kept to the microsecond like every stored
/// time.
pub(crate) fn time(
    value: &Timestamp,
    field: &str,
) -> std::result::Result<DateTime<Utc>, FieldViolation> {
    u32::try_from(value.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(value.seconds, nanos))
        .map(truncate_to_micros)
        .ok_or_else(|| FieldViolation::new(field, "is not a valid timestamp"))
}

/// The settable fields of CreateApiKey's `api_key`, validated.
pub fn new_api_key(request: &pb::CreateApiKeyRequest) -> Result<NewApiKey> {
    let Some(key) = &request.api_key else {
        return Err(Error::invalid_field("api_key", "is required"));
    };
    let mut violations = Vec::new();
    validate::display_name(&key.display_name, "api_key.display_name", &mut violations);
    let scopes = api_key::scopes(&key.scopes, "api_key.scopes", &mut violations);
    let expire_time = match key
        .expire_time
        .as_ref()
        .map(|at| time(at, "api_key.expire_time"))
    {
        Some(Err(violation)) => {
            violations.push(violation);
            None
        }
        Some(Ok(at)) => Some(at),
        None => None,
    };
    let new = NewApiKey {
        display_name: key.display_name.trim().to_owned(),
        scopes,
        expire_time,
    };
    into_result(new, violations)
}

/// RotateApiKey's `overlap`, required.
pub fn overlap(value: Option<&Duration>) -> Result<chrono::Duration> {
    let Some(value) = value else {
        return Err(Error::invalid_field(
            "overlap",
            "is required: how long the old key stays accepted, 0s to end it now",
        ));
    };
    let nanos_in_range = value.nanos.unsigned_abs() < 1_000_000_000;
    let signs_agree =
        value.seconds == 0 || value.nanos == 0 || (value.seconds < 0) == (value.nanos < 0);
    if !nanos_in_range || !signs_agree {
        return Err(Error::invalid_field("overlap", "is not a valid duration"));
    }
    chrono::Duration::try_seconds(value.seconds)
        .and_then(|seconds| {
            seconds.checked_add(&chrono::Duration::nanoseconds(i64::from(value.nanos)))
        })
        .ok_or_else(|| Error::invalid_field("overlap", "is not a valid duration"))
}
