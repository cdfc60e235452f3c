//! The fleet-wide check of a change to the defaults or a plan layer: every
//! tenant it reaches must still have an effective configuration that
//! satisfies the schema, or the change is refused naming the first tenant
//! it would break.

use std::collections::HashMap;

use crate::config::configs::{ConfigTarget, Configs};
use crate::config::layered::{LayerHead, LayerRef, LayeredConfig};
use crate::error::{Error, FieldViolation, Result};

impl Configs {
    /// Refuses `changed` (the target's chain with its new version) when a
    /// tenant it reaches would no longer satisfy the schema. A tenant's own
    /// change needs nothing more: its chain was already checked.
    pub(crate) async fn check_fleet(
        &self,
        target: &ConfigTarget,
        changed: &LayeredConfig,
    ) -> Result<()> {
        let plan = match target.layer() {
            LayerRef::Defaults => None,
            LayerRef::Plan(plan) => Some(plan.as_str()),
            LayerRef::Tenant(_) => return Ok(()),
        };
        let tenants = self.store.tenant_layers(target.scope.clone(), plan).await?;
        let mut plan_heads: HashMap<String, LayerHead> = HashMap::new();
        // Tenants without a layer of their own differ only by plan.
        let mut checked_bare_plans: Vec<String> = Vec::new();
        for tenant in tenants {
            if tenant.head.current.is_none() {
                if checked_bare_plans.contains(&tenant.plan) {
                    continue;
                }
                checked_bare_plans.push(tenant.plan.clone());
            }
            let mut chain = changed.chain.clone();
            if plan.is_none() {
                chain.push(
                    self.plan_head(target, &mut plan_heads, &tenant.plan)
                        .await?,
                );
            }
            chain.push(tenant.head);
            let effective = LayeredConfig { chain }.effective().0;
            if let Err(Error::InvalidArgument(violations)) = self.schema.validate(&effective) {
                return Err(Error::InvalidArgument(
                    violations
                        .into_iter()
                        .map(|violation| {
                            FieldViolation::new(
                                violation.field,
                                format!(
                                    "{} (in the effective configuration of {})",
                                    violation.description,
                                    tenant.tenant_id.resource_name()
                                ),
                            )
                        })
                        .collect(),
                ));
            }
        }
        Ok(())
    }

    /// The current head of `plan`'s layer, read once per check.
    async fn plan_head(
        &self,
        target: &ConfigTarget,
        heads: &mut HashMap<String, LayerHead>,
        plan: &str,
    ) -> Result<LayerHead> {
        if let Some(head) = heads.get(plan) {
            return Ok(head.clone());
        }
        let read = self
            .store
            .config_heads(target.scope.clone(), &[LayerRef::Plan(plan.to_owned())])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("no head read for a plan layer"))?;
        heads.insert(plan.to_owned(), read.clone());
        Ok(read)
    }
}
