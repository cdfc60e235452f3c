//! The flag hot path: EvaluateFlag(s) and the flags as resolved for a
//! tenant, read from the in-process cache. When warm, no database row is
//! read: the fleet's definitions and plan overrides are one cached
//! catalogue, each tenant's plan, attributes and overrides one cached
//! entry. The change feed keeps both current ([`Flags::invalidate`]): a
//! flag or plan override change drops the catalogue (and everything else),
//! a tenant change (its overrides, its plan, its labels) drops its entry.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::access::TenantScope;
use crate::error::{Error, Result};
use crate::flags::cache::{FlagCatalogue, TenantFlags};
use crate::flags::directory::Flags;
use crate::flags::eval;
use crate::flags::eval::{ErrorCode, EvalContext, Layers, Outcome, Subject, TenantFacts};
use crate::flags::flag::{Flag, FlagOverride, FlagType, OverrideOwner, OverrideSpec};
use crate::store::scope::Scope;

/// One flag's evaluation, borrowing from the cached definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation<'a> {
    /// The flag key asked for.
    pub flag: &'a str,
    /// What it produced.
    pub outcome: Outcome<'a>,
}

/// What an evaluation call asks for.
#[derive(Debug, Clone, Default)]
pub struct EvaluationRequest {
    /// The flag keys, in the caller's order; every flag when empty.
    pub flags: Vec<String>,
    /// Who asks.
    pub context: EvalContext,
    /// The type the caller expects, checked when given.
    pub expected_type: Option<FlagType>,
}

impl TenantFlags {
    /// What evaluation reads of `tenant`, whose flag overrides are
    /// `overrides`: its plan, its `tenant.*` attributes and its overrides
    /// by flag key.
    fn of(tenant: &crate::tenancy::Tenant, overrides: Vec<FlagOverride>) -> Self {
        let mut attributes = BTreeMap::new();
        attributes.insert("tenant.id".to_owned(), Value::from(tenant.id.to_string()));
        attributes.insert("tenant.slug".to_owned(), Value::from(tenant.slug.clone()));
        attributes.insert("tenant.plan".to_owned(), Value::from(tenant.plan.clone()));
        for (key, value) in &tenant.labels {
            attributes.insert(format!("tenant.labels.{key}"), Value::from(value.clone()));
        }
        TenantFlags {
            tenant_id: tenant.id,
            plan: tenant.plan.clone(),
            facts: TenantFacts { attributes },
            overrides: overrides
                .into_iter()
                .map(|found| (found.flag, found.spec))
                .collect(),
        }
    }
}

/// Each of `keys` failed as not ready, for `message`: OpenFeature's answer
/// for definitions that cannot be loaded.
fn not_ready<'a>(keys: &[&'a str], message: &str) -> Vec<Evaluation<'a>> {
    keys.iter()
        .map(|key| Evaluation {
            flag: key,
            outcome: Outcome::failed(ErrorCode::ProviderNotReady, message.to_owned()),
        })
        .collect()
}

impl Flags {
    /// The catalogue, from the cache or read and cached.
    async fn catalogue(&self, scope: Scope) -> Result<Arc<FlagCatalogue>> {
        if let Some(found) = self.cache.catalogue.get(&()).flatten() {
            return Ok(found);
        }
        let since = self.cache.catalogue.generation();
        let (flags, overrides) = self.store.flag_catalogue(scope).await?;
        let mut plan_overrides: HashMap<String, HashMap<String, OverrideSpec>> = HashMap::new();
        for found in overrides {
            if let OverrideOwner::Plan(plan) = found.owner {
                plan_overrides
                    .entry(plan)
                    .or_default()
                    .insert(found.flag, found.spec);
            }
        }
        let catalogue = Arc::new(FlagCatalogue {
            flags: flags
                .into_iter()
                .map(|flag| (flag.key.clone(), flag))
                .collect(),
            plan_overrides,
        });
        self.cache
            .catalogue
            .put((), Some(Arc::clone(&catalogue)), since);
        Ok(catalogue)
    }

    /// The tenant's plan, attributes and overrides, from the cache or read
    /// and cached.
    async fn tenant_flags(&self, scope: &TenantScope) -> Result<Arc<TenantFlags>> {
        let tenant_id = scope.tenant_id();
        self.cache
            .tenants
            .through_found(&tenant_id, async || {
                let tenant = self.tenants.get(scope).await?;
                let overrides = self
                    .store
                    .tenant_flag_overrides(Scope::from(scope), tenant_id)
                    .await?;
                Ok(Arc::new(TenantFlags::of(&tenant, overrides)))
            })
            .await
    }

    /// Evaluates `request` for the scope's tenant and hands the results to
    /// `encode`, which may borrow them: nothing is copied out of the cache
    /// on the way. Evaluation problems are outcomes; an error means the
    /// call itself could not be served.
    pub async fn evaluate<R>(
        &self,
        scope: &TenantScope,
        request: &EvaluationRequest,
        encode: impl FnOnce(&[Evaluation<'_>]) -> R,
    ) -> Result<R> {
        let keys: Vec<&str> = request.flags.iter().map(String::as_str).collect();
        let catalogue = match self.catalogue(Scope::from(scope)).await {
            Ok(catalogue) => catalogue,
            Err(Error::Unavailable { message }) => return Ok(encode(&not_ready(&keys, &message))),
            Err(other) => return Err(other),
        };
        let tenant = self.tenant_flags(scope).await?;
        let keys: Vec<&str> = if keys.is_empty() {
            catalogue.flags.keys().map(String::as_str).collect()
        } else {
            keys
        };
        let problem = request.context.problem();
        let subject = Subject {
            context: &request.context,
            tenant: &tenant.facts,
        };
        let plan_overrides = catalogue.plan_overrides.get(&tenant.plan);
        let evaluations: Vec<Evaluation<'_>> = keys
            .into_iter()
            .map(|key| {
                let outcome = match catalogue.flags.get(key) {
                    None => Outcome::failed(
                        ErrorCode::FlagNotFound,
                        format!("no flag has the key {key:?}"),
                    ),
                    Some(flag) => match (request.expected_type, &problem) {
                        (Some(expected), _) if expected != flag.value_type => Outcome::failed(
                            ErrorCode::TypeMismatch,
                            format!(
                                "flag {key:?} is of type {}, not {}",
                                flag.value_type.as_str(),
                                expected.as_str()
                            ),
                        ),
                        (_, Some(problem)) => {
                            Outcome::failed(ErrorCode::InvalidContext, problem.clone())
                        }
                        _ => {
                            let layers = Layers {
                                tenant: tenant.overrides.get(key),
                                plan: plan_overrides.and_then(|found| found.get(key)),
                            };
                            eval::evaluate(flag, layers, subject)
                        }
                    },
                };
                Evaluation { flag: key, outcome }
            })
            .collect();
        Ok(encode(&evaluations))
    }

    /// Every flag as resolved for the scope's tenant, by key, as
    /// `WatchConfigSnapshot` documents it: a local evaluator that follows
    /// the order documented on `message Flag` with these definitions (and
    /// no overrides) answers as [`Self::evaluate`] does.
    pub async fn resolved_for(&self, scope: &TenantScope) -> Result<Vec<Flag>> {
        let catalogue = self.catalogue(Scope::from(scope)).await?;
        let tenant = self.tenant_flags(scope).await?;
        let plan_overrides = catalogue.plan_overrides.get(&tenant.plan);
        Ok(catalogue
            .flags
            .values()
            .map(|flag| {
                let layers = Layers {
                    tenant: tenant.overrides.get(&flag.key),
                    plan: plan_overrides.and_then(|found| found.get(&flag.key)),
                };
                eval::resolve(flag, layers)
            })
            .collect())
    }
}
