//! How far a SCHEMA tenant's provisioning has come; the rules that move
//! it are in [`crate::tenancy::lifecycle`]. Each step (the role, the
//! schema, each template file) is reported after it has committed, as a
//! `ProvisioningStep` change of the tenant, which writes its
//! `tenant.provisioning_step` event.
//!
//! Invariants:
//! - progress only moves forward within one attempt: a step is recorded
//!   only when its number is above the one recorded, so a provisioning run
//!   again after a crash (every step is idempotent) reports only the steps
//!   not reported before, and a step's event is never written twice;
//! - a step is recorded only while the tenant is PROVISIONING;
//! - progress is set while PROVISIONING, kept on FAILED (the last step
//!   that succeeded), cleared on ACTIVE, and starts again from step 0 when
//!   a FAILED tenant is retried (a new attempt reports every step again).

use serde::Serialize;

/// The steps before the template files: the role, then the schema.
pub const STEPS_BEFORE_TEMPLATE: i32 = 2;

/// A provisioning's progress: `step` of `total_steps` are done, the last
/// being `step_name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvisioningProgress {
    /// The number of the last step finished, 0 before the first.
    pub step: i32,
    /// How many steps the provisioning has: the role, the schema and one
    /// per template file.
    pub total_steps: i32,
    /// What the last finished step did, e.g. `create role`; empty before
    /// the first.
    pub step_name: String,
}

impl ProvisioningProgress {
    /// Nothing done yet of `total_steps`.
    pub fn start(total_steps: i32) -> Self {
        Self {
            step: 0,
            total_steps,
            step_name: String::new(),
        }
    }

    /// Step 1: the tenant's role exists.
    pub fn role(total_steps: i32) -> Self {
        Self::done(1, total_steps, "create role".to_owned())
    }

    /// Step 2: the tenant's schema exists, owned by its role.
    pub fn schema(total_steps: i32) -> Self {
        Self::done(2, total_steps, "create schema".to_owned())
    }

    /// Step 2 + `version`: template file `name` is applied.
    pub fn template_file(version: i32, name: &str, total_steps: i32) -> Self {
        let step = STEPS_BEFORE_TEMPLATE.saturating_add(version);
        let files = total_steps.saturating_sub(STEPS_BEFORE_TEMPLATE);
        Self::done(
            step,
            total_steps,
            format!("apply template file {name} ({version} of {files})"),
        )
    }

    fn done(step: i32, total_steps: i32, step_name: String) -> Self {
        Self {
            step,
            total_steps,
            step_name,
        }
    }
}
