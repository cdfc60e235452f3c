//! Access: who calls (operator and service tokens, tenant API keys), for
//! which tenant (resolution by key, id, slug, external id or host), from
//! where (a tenant's allowed source ranges behind trusted proxies), and whether that
//! caller may call that method for that tenant (the access table and the
//! gate). Also the API keys' own lifecycle, and Envoy's external
//! authorization ([`ext_authz`]), the gate's door for a gateway's HTTP
//! requests.

pub mod api_key;
pub mod api_keys;
mod authorize;
mod cache;
pub mod caller;
pub mod convert;
pub mod ext_authz;
pub mod gate;
pub mod grpc_context;
pub mod headers;
pub mod jwt;
pub mod key_uses;
pub mod methods;
pub mod named_tokens;
pub mod resolve;
pub mod source;
mod store;
mod tokens;

pub use api_keys::ApiKeys;
pub use caller::Caller;
pub use caller::PlatformScope;
pub use caller::Reach;
pub use caller::TenantContext;
pub use caller::TenantScope;
pub use convert as key_convert;
pub(crate) use convert::time;
pub use gate::Gate;
pub use grpc_context::{context, open, open_platform};
pub use jwt::MAX_TOKEN_BYTES;
pub use resolve::ResolveTarget;
pub use resolve::ResolvedBy;
