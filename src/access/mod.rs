//! Access: who calls (operator and service tokens, tenant API keys), for
//! which tenant (resolution by key, id, slug or host), and whether that
//! caller may call that method for that tenant (the access table and the
//! gate). Also the API keys' own lifecycle.

pub mod api_key;
pub mod api_keys;
pub mod context;
pub mod convert;
pub mod gate;
pub mod grpc_context;
pub mod key_uses;
pub mod methods;
pub mod named_tokens;
pub mod resolve;
mod store;
mod tokens;
