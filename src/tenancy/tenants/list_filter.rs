//! The ListTenants filter: which AIP-160 comparisons it takes (`state`,
//! `plan` and `labels.{key}`, each with `=`) and how each narrows the query.

use crate::common::filter;
use crate::common::filter::{Comparison, Op};
use crate::error::{Error, Result};
use crate::tenancy::tenant::{TenantQuery, TenantState};

const TENANT_FILTER_FIELDS: &str = "state, plan and labels.{key}, each with =";

/// Applies one comparison of a ListTenants filter to `query`.
pub fn apply_tenant_filter(query: &mut TenantQuery, comparison: &Comparison) -> Result<()> {
    if comparison.op != Op::Eq {
        return Err(filter::unsupported(
            comparison,
            "filter",
            TENANT_FILTER_FIELDS,
        ));
    }
    let value = comparison.value.clone();
    match comparison.field.as_str() {
        "state" => {
            let spelled = value.strip_prefix("TENANT_STATE_").unwrap_or(&value);
            let state = TenantState::parse(spelled).ok_or_else(|| {
                Error::invalid_field(
                    "filter",
                    format!(
                        "unknown state {value:?}; use ACTIVE, SUSPENDED, PROVISIONING, FAILED or DELETED"
                    ),
                )
            })?;
            // Asking for deleted tenants by state shows them.
            if state == TenantState::Deleted {
                query.show_deleted = true;
            }
            query.states.push(state);
        }
        "plan" => query.plans.push(value),
        field => match field.strip_prefix("labels.") {
            Some(key)
                if !key.is_empty()
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                query.labels.push((key.to_owned(), value));
            }
            _ => {
                return Err(filter::unsupported(
                    comparison,
                    "filter",
                    TENANT_FILTER_FIELDS,
                ));
            }
        },
    }
    Ok(())
}
