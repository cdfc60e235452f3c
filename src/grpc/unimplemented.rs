//! The services whose methods arrive with later changes. Their generated
//! default stubs answer `UNIMPLEMENTED`, so the whole contract is served
//! (and visible through reflection) from the start.

use crate::pb::config_service_server::ConfigService;
use crate::pb::usage_service_server::UsageService;

/// Serves ConfigService and UsageService with `UNIMPLEMENTED`
/// answers until their implementations land.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotYetImplemented;

#[tonic::async_trait]
impl ConfigService for NotYetImplemented {}

#[tonic::async_trait]
impl UsageService for NotYetImplemented {}
